"""``risk``: which flagged account-days matter most, where the calibrated ``score`` saturates.

The calibrated probability answers "is this account-day distilling?" and, on clear cases, it
saturates: hundreds of account-days a day score exactly 1.000 and a sort by score orders them
by account id. What an analyst (and a gateway deciding whom to cut first) needs next is "how
much is being taken away": a harvester pulling 40M output tokens a day matters more than one
pulling 40k. ``risk`` is the expected distilled output of the account-day, log-scaled::

    risk = log10(1 + score * output_tokens)

- ``score``: the verdict's score (the model's calibrated probability, lifted by acting rules to
  their score; 0-1), read as the probability that the day's output goes into someone's
  training set;
- ``output_tokens``: the account-day's completion tokens (feature ``vol_output_tokens``; missing
  usage counts as 0, as in the feature);
- so ``score * output_tokens`` is the expected number of distilled output tokens, and risk is
  its order of magnitude: 6.0 = about a million tokens expected to be distilled, 0 = none.

Properties: monotone in both the score and the volume; at a saturated score it orders by output
volume; a score of 0 or no output gives 0; an account-day at score 0.5 with 2M tokens ranks
above one at 1.0 with 100k (both are worth a look; the first is where more is at stake, the
second is more certain: sort by score for certainty first). The score itself never changes.
Computed for every verdict (allowed ones too: an analyst clearing an account keeps its risk).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Feature holding the account-day's output (completion) tokens.
OUTPUT_TOKENS = "vol_output_tokens"


def verdict_risk(score: np.ndarray | pd.Series, output_tokens: np.ndarray | pd.Series | None
                 ) -> np.ndarray:
    """``log10(1 + score * output_tokens)`` per row; a missing score or volume counts as 0."""
    p = np.clip(np.nan_to_num(np.asarray(score, dtype=float), nan=0.0), 0.0, 1.0)
    if output_tokens is None:
        return np.zeros(len(p))
    t = pd.to_numeric(pd.Series(np.asarray(output_tokens, dtype=object)), errors="coerce")
    t = np.clip(np.nan_to_num(t.to_numpy(dtype=float), nan=0.0, posinf=0.0), 0.0, None)
    return np.log10(1.0 + p * t)


def frame_risk(frame: pd.DataFrame, score: np.ndarray | pd.Series) -> np.ndarray:
    """Risk of the verdicts ``score`` of the account-days of ``frame`` (row-aligned)."""
    tokens = frame[OUTPUT_TOKENS].to_numpy() if OUTPUT_TOKENS in frame.columns else None
    return verdict_risk(score, tokens)
