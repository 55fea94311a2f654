import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def labelled():
    """Two overlapping populations over two informative features and one noise feature."""
    rng = np.random.default_rng(0)
    n = 2000
    y = (rng.random(n) < 0.3).astype(int)
    frame = pd.DataFrame({
        "account_id": [f"a{i // 2}" for i in range(n)],
        "date": pd.to_datetime("2026-11-24").date(),
        "hv_logprobs_share": np.clip(rng.normal(0.2 + 0.5 * y, 0.2), 0, 1),
        "div_distinct_prompt_ratio": np.clip(rng.normal(0.5 + 0.3 * y, 0.2), 0, 1),
        "vol_noise": rng.normal(0, 1, n),
        "is_distiller": y,
    })
    frame.loc[::7, "vol_noise"] = np.nan  # missing values are allowed
    return frame
