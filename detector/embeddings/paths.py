"""Where the embedding stage keeps its artefacts under a home (the one place these paths are
built): ``embeddings/cache`` (vectors per prompt hash, one folder per model), ``centroids``
(per account-day) and ``models`` (the distilled static model)."""

from __future__ import annotations

from pathlib import Path

from detector.settings import Settings


def embeddings_root(settings: Settings) -> Path:
    return settings.home / "embeddings"


def cache_root(settings: Settings) -> Path:
    """The vector cache: ``model=<slug>/part-*.parquet``."""
    return embeddings_root(settings) / "cache"


def centroids_root(settings: Settings) -> Path:
    """The centroids: a ``date=D`` folder per day (:func:`centroids_path`)."""
    return embeddings_root(settings) / "centroids"


def centroids_path(settings: Settings, day: str) -> Path:
    """Per-account centroids of ``day`` (the file may not exist)."""
    return centroids_root(settings) / f"date={day}" / "part-0.parquet"
