"""Feature engine: per-account-day behaviour features over the request lake (Ibis on DuckDB or
Spark), 7-day windows from daily partials, population percentiles, and the catalog.

Public API (other stages call these):

- :func:`compute` ``(settings, dates) -> list[str]``: writes ``features/daily``, ``weekly``,
  ``percentiles`` for ``dates`` (incremental; returns the days recomputed).
- :func:`detector.features.assemble.account_features` ``(con, settings, dates) -> str``.
- :func:`detector.features.catalog.known_columns` and ``catalog.FEATURES``.
- :func:`detector.features.percentiles.account_percentiles` ``(settings, account_id, day)``.
"""

from detector.features.compute import compute

__all__ = ["compute"]
