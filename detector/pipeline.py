"""The batch pipeline for a set of days: features -> embeddings -> clusters -> decide -> campaigns.

This is the public Python API behind ``detector run`` (and ``detector daily``); notebooks call it
too. Each stage reads only what the stages before it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from detector.settings import Settings


@dataclass
class PipelineResult:
    dates: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    verdict_rows: dict[str, int] = field(default_factory=dict)
    #: change-control warnings (``detector.decide.review_load``): dicts with a ``message``
    warnings: list[dict] = field(default_factory=list)


def _stages(settings: Settings) -> list[tuple[str, Callable[[Settings, list[str]], object]]]:
    from detector import clusters, decide, features
    from detector.clusters import campaigns

    stages: list[tuple[str, Callable[[Settings, list[str]], object]]] = [("features", features.compute)]
    if settings.embedding_backend != "off":
        from detector import embeddings

        stages.append(("embeddings", embeddings.compute))
    stages.append(("clusters", clusters.compute))
    stages.append(("decide", decide.score))
    stages.append(("campaigns", campaigns.compute))  # shown with verdicts, never fed back
    return stages


def feature_stages(settings: Settings, dates: list[str]) -> dict[str, float]:
    """Every stage that produces account features (no scoring): used to build training data."""
    seconds = {}
    for name, fn in _stages(settings):
        if name in ("decide", "campaigns"):  # scoring, and what reads the scores
            continue
        t0 = time.perf_counter()
        fn(settings, dates)
        seconds[name] = round(time.perf_counter() - t0, 2)
    return seconds


def run_pipeline(settings: Settings, dates: list[str],
                 on_stage: Callable[[str], None] | None = None) -> PipelineResult:
    """Compute every stage for ``dates`` and write their verdicts."""
    settings.ensure_dirs()
    result = PipelineResult(dates=sorted(dates))
    for name, fn in _stages(settings):
        if on_stage:
            on_stage(name)
        t0 = time.perf_counter()
        out = fn(settings, result.dates)
        result.seconds[name] = round(time.perf_counter() - t0, 2)
        if name == "decide":
            result.verdict_rows = dict(out)
    from detector.decide.review_load import review_load_warnings

    result.warnings = review_load_warnings(settings, result.dates)
    return result
