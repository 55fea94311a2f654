"""Retention per artefact (``detector retention``, the daily job, after each ingest).

Each artefact has a setting in days (``0`` keeps it forever; ``-1``, the default, follows
``retention_days``, so that setting one number bounds everything derived from the requests):

| setting | artefact |
|---|---|
| ``retention_days`` | ``lake/requests/date=D``, ``lake/quarantine/date=Q`` (:mod:`detector.ingest.retention`) |
| ``features_retention_days`` | ``features/*/date=D`` (daily, weekly, partials, coverage, cluster, percentiles), ``features/state/date=D.json``, ``embeddings/centroids/date=D``, ``embeddings/manifest/date=D.json`` |
| ``embeddings_cache_retention_days`` | rows of ``embeddings/cache`` created before the cut-off |
| ``clusters_retention_days`` | ``clusters/date=D`` (edges with raw IPs, prefixes, payment fingerprints) |
| ``verdicts_retention_days`` | ``verdicts/date=D``; never fewer days than ``block_expiry_days`` (a block in force stays answerable) |
| ``returning_lookback_days`` / ``returning_prefix_days`` | ``state/returning``, counted from today when ``retention_days`` > 0 (``run`` prunes it from the newest scored day anyway) |
| ``ingest_held_retention_days`` (default 30; never over ``retention_days`` when set) | ``state/ingest/held/`` files held before the cut-off (:mod:`detector.ingest.held`; also pruned after every ingest) |
| ``cases_retention_days`` (default 0) | case store: accounts whose case was last changed before the cut-off and is not ``blocked``, and their decisions, labels and ended allow-list entries, are pseudonymised as by ``detector erase`` (the records stay; the id and notes go); ended page sessions and expired case claims after a day |
"""

from __future__ import annotations

import contextlib
import fcntl
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.embeddings.paths import cache_root, embeddings_root
from detector.lake.days import drop_partitions_before
from detector.lake.io import write_parquet_atomic
from detector.settings import Settings
from detector.verdicts import drop_days_before


def effective_days(settings: Settings, name: str) -> int:
    """The retention of one artefact in days (0 = forever); -1 follows ``retention_days``."""
    value = int(getattr(settings, name))
    return int(settings.retention_days) if value < 0 else value


def _cutoff(today: date, days: int) -> str:
    return (today - timedelta(days=days)).isoformat()


def _features(settings: Settings, today: date) -> list[str]:
    n = effective_days(settings, "features_retention_days")
    if n <= 0:
        return []
    cut = _cutoff(today, n)
    emb = embeddings_root(settings)
    tables = [p for p in settings.features_dir.iterdir() if p.is_dir() and p.name != "state"] \
        if settings.features_dir.exists() else []
    state = settings.features_dir / "state"
    return (drop_partitions_before(tables, cut)
            + drop_partitions_before([state], cut, "date=*.json")
            + drop_partitions_before([emb / "centroids"], cut)
            + drop_partitions_before([emb / "manifest"], cut, "date=*.json"))


def _cache(settings: Settings, today: date) -> list[str]:
    n = effective_days(settings, "embeddings_cache_retention_days")
    root = cache_root(settings)
    if n <= 0 or not root.exists():
        return []
    cut = pa.scalar(datetime.combine(today - timedelta(days=n), datetime.min.time(), UTC),
                    pa.timestamp("us", tz="UTC"))
    changed = []
    for folder in sorted(root.glob("model=*")):
        with open(folder / ".lock", "w") as fh:  # the cache's own writer lock
            fcntl.flock(fh, fcntl.LOCK_EX)
            for path in sorted(folder.glob("part-*.parquet")):
                t = pq.read_table(path)
                old = pc.fill_null(pc.less(t["created_at"], cut), False)
                n_old = int(pc.sum(old).as_py() or 0)
                if n_old == t.num_rows:
                    path.unlink()
                elif n_old:
                    write_parquet_atomic(path, t.filter(pc.invert(old)))
                if n_old:
                    changed.append(f"{path} ({n_old} vectors)")
            fcntl.flock(fh, fcntl.LOCK_UN)
    return changed


def _clusters(settings: Settings, today: date) -> list[str]:
    n = effective_days(settings, "clusters_retention_days")
    return drop_partitions_before([settings.home / "clusters"], _cutoff(today, n)) if n > 0 else []


def _verdicts(settings: Settings, today: date) -> list[str]:
    n = effective_days(settings, "verdicts_retention_days")
    if n <= 0:
        return []
    if settings.block_expiry_days > 0:
        n = max(n, int(settings.block_expiry_days))
    return drop_days_before(settings, _cutoff(today, n))


def _returning(settings: Settings, today: date) -> list[str]:
    if settings.retention_days <= 0:  # else only `run` prunes it, from the newest scored day
        return []
    from detector.decide import returning

    root = returning.index_dir(settings)
    if not root.exists():
        return []
    before = {str(p): p.stat().st_mtime_ns for p in root.glob("date=*/keys.parquet")}
    returning._retain(settings, today.isoformat(), returning.Params.from_settings(settings))
    return [p for p, m in before.items()
            if not Path(p).exists() or Path(p).stat().st_mtime_ns != m]


def _cases(settings: Settings, today: date) -> list[str]:
    if not settings.cases_db.exists():
        return []
    from detector.cases import CaseStore
    from detector.privacy.erase import EraseResult, _erase_cases, pseudonym

    store = CaseStore(settings)
    day_ago = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with store.db.transaction() as conn:
        n_sessions = conn.execute("DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?",
                                  (day_ago, day_ago)).rowcount
        n_claims = conn.execute("DELETE FROM claims WHERE expires_at < ?", (day_ago,)).rowcount
    out = [f"{n_sessions} ended page sessions"] if n_sessions else []
    out += [f"{n_claims} expired case claims"] if n_claims else []
    n = int(settings.cases_retention_days)
    if n <= 0:
        return out
    cut = _cutoff(today, n)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    active = {r["account_id"] for r in store.db.query(
        "SELECT account_id FROM allowlist WHERE account_id IS NOT NULL AND revoked_at IS NULL "
        "AND (until IS NULL OR until > ?)", [now])}
    old = [r["account_id"] for r in store.db.query(
        "SELECT account_id FROM cases WHERE updated_at < ? AND status <> 'blocked' "
        "AND account_id NOT LIKE 'erased:%'", [cut])]
    for account_id in old:
        if account_id in active:
            continue
        res = EraseResult(pseudonym(settings, account_id))
        _erase_cases(settings, account_id, res.account_pseudonym, "retention", res,
                     lambda res=res: {"removed": res.removed, "reason": "cases_retention_days"})
        out.append(f"case {res.account_pseudonym} pseudonymised")
    return out


def apply_all_retention(settings: Settings, today: date | None = None) -> dict[str, Any]:
    """Apply every artefact's retention as of ``today`` (UTC); {artefact: what went}."""
    from detector.ingest.held import prune_held
    from detector.ingest.retention import apply_retention

    today = today or datetime.now(UTC).date()
    out: dict[str, Any] = {}
    for name, fn in (("lake", lambda: apply_retention(settings, today=today)),
                     ("ingest_held", lambda: prune_held(settings, today)),
                     ("features", lambda: _features(settings, today)),
                     ("embeddings_cache", lambda: _cache(settings, today)),
                     ("clusters", lambda: _clusters(settings, today)),
                     ("verdicts", lambda: _verdicts(settings, today)),
                     ("returning", lambda: _returning(settings, today)),
                     ("cases", lambda: _cases(settings, today))):
        with contextlib.suppress(FileNotFoundError):
            out[name] = fn()
    return out
