"""Embedding coverage features: how much of the semantic space an account sweeps.

Public API (see docs/embeddings.md):

* ``compute(settings, dates)``: the stage ``detector run`` calls; writes
  ``features/coverage/date=D/part-0.parquet`` and ``embeddings/centroids/date=D/part-0.parquet``.
* ``run_days(settings, dates, ...)``: the same, returning what each day did.
* ``catalog.COLUMNS``: the ``cov_*`` columns (name, family, grain, dtype, unit, meaning, why).
* ``load_centroids(settings, date)``: account ids and their unit centroids, for clustering.

Imports are lazy: ``detector.embeddings.catalog`` can be read without loading torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLUMNS", "COLUMN_NAMES", "EmbeddingConfig", "compute", "load_centroids", "run_days"]

_LAZY = {
    "COLUMNS": "detector.embeddings.catalog",
    "COLUMN_NAMES": "detector.embeddings.catalog",
    "EmbeddingConfig": "detector.embeddings.config",
    "compute": "detector.embeddings.stage",
    "run_days": "detector.embeddings.stage",
    "load_centroids": "detector.embeddings.stage",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'detector.embeddings' has no attribute {name!r}")
