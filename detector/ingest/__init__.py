"""Ingest: request logs (native JSON Lines and adapters) -> date-partitioned Parquet lake.

Public API (what the CLI and other stages call)::

    ingest_paths(settings, paths, fmt="auto", progress=True) -> IngestResult
    dirty_dates(settings) -> list[str]          # days changed since last scored
    mark_scored(settings, dates) -> None
    apply_retention(settings, days=None) -> list[str]

See ``docs/ingest.md`` for the canonical schema mapping, the quarantine and the crash-safety
protocol.
"""

from detector.ingest.manifest import dirty_dates, mark_scored
from detector.ingest.pipeline import ingest_paths
from detector.ingest.result import IngestResult
from detector.ingest.retention import apply_retention

__all__ = ["IngestResult", "apply_retention", "dirty_dates", "ingest_paths", "mark_scored"]
