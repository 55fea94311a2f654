"""In-memory index of each account's latest verdict, for the gateway lookup and the queue.

Grain: one entry per account_id: its verdict of the latest day (within ``max_days`` of the
newest verdict file) that has one; with sticky blocks (the service), an account's newest
unexpired ``block`` row instead, from any verdict file (blocks stay until an analyst clears
them or ``block_expiry_days`` ends them). Built from the verdict store's files
(``detector.verdicts``) with DuckDB and held column-wise (numpy / Arrow arrays plus a dict account_id -> row), about 200 bytes per
account, so 1M accounts fit in ~200 MB and a lookup is a dict probe (microseconds).
:class:`VerdictIndexHolder` rebuilds it in a background thread when the files change and swaps
it in atomically, so requests never wait on a reload.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from detector.api.reloader import Reloader
from detector.lake.db import open_duckdb
from detector.verdicts import files_signature, source_sql, verdict_files

log = logging.getLogger(__name__)

DECISION_CODES = ("allow", "review", "block")
_CODE = {d: i for i, d in enumerate(DECISION_CODES)}


#: The verdict columns the index reads, and its select list over them (date as text).
_READ = ["account_id", "date", "score", "decision", "reasons", "cluster_id", "org_id",
         "model_version", "risk"]
_COLUMNS = ("account_id, CAST(date AS VARCHAR) AS date, score, decision, reasons, cluster_id, "
            "org_id, model_version, risk")


def standing_block_start(newest_day: str, block_expiry_days: int) -> str | None:
    """The earliest block day still in force when the newest verdict day is ``newest_day``
    (None: blocks never expire). A block of day B has expired once ``newest - B >= expiry``."""
    if block_expiry_days <= 0:
        return None
    newest = dt.date.fromisoformat(newest_day[:10])
    return (newest - dt.timedelta(days=block_expiry_days - 1)).isoformat()


@dataclass
class VerdictIndex:
    """Column-wise latest verdict per account. Build with :meth:`load`."""

    rows: dict[str, int]
    account_id: pa.Array
    score: np.ndarray            # float64, NaN when missing
    risk: np.ndarray             # float64, NaN when missing (files written before risk)
    decision: np.ndarray         # int8 codes into DECISION_CODES
    date_code: np.ndarray        # int32 codes into dates
    dates: list[str]
    reasons: pa.Array
    cluster_id: pa.Array
    org_id: pa.Array
    model_version: pa.Array
    signature: tuple = ()
    loaded_at: float = 0.0
    load_seconds: float = 0.0
    first_flagged: pa.Array | None = None  # earliest review/block day in the window (str)

    @classmethod
    def empty(cls) -> VerdictIndex:
        s = pa.array([], pa.string())
        return cls({}, s, np.zeros(0), np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int32),
                   [], s, s, s, s)

    @classmethod
    def load(cls, folder: Path, max_days: int = 30, sticky_blocks: bool = False,
             block_expiry_days: int = 0) -> VerdictIndex:
        """Read the latest ``max_days`` verdict files; keep each account's newest row.

        With ``sticky_blocks`` a block stays: an account whose newest ``block`` verdict (in
        any verdict file, however old) is not expired answers that block row (its date,
        score and reasons) even when later days scored it ``allow``/``review`` or it went
        quiet. ``block_expiry_days`` > 0 ends a block once the newest verdict day is that many
        days after the account's last block day (0: blocks never expire). Analyst decisions
        and allow-list entries apply on top (:func:`detector.api.overrides.apply_overrides`).
        """
        t0 = time.perf_counter()
        sig = files_signature(folder)
        every = verdict_files(folder)
        files = every[-max_days:] if max_days > 0 else []
        if not files:
            idx = cls.empty()
            idx.signature, idx.loaded_at = sig, time.time()
            return idx
        block_files = []
        if sticky_blocks:
            first = standing_block_start(files[-1][0], block_expiry_days)
            block_files = [p for day, p in every if first is None or day >= first]
        con = open_duckdb()
        try:
            con.execute("SET TimeZone = 'UTC'")
            fields = ("date", "score", "decision", "reasons", "cluster_id", "org_id",
                      "model_version", "risk")
            packed = ", ".join(f"{f} := {f}" for f in fields)
            src = f"({source_sql(con, [p for _, p in files], _READ)})"
            # hash aggregate keeping each account's newest row (a struct is never NULL, so
            # NULL columns of the newest row stay NULL instead of falling back to older rows)
            # first_flagged: the earliest review/block day in the window (the queue's case age)
            latest = (f"SELECT account_id, arg_max(struct_pack({packed}), date) AS v, "
                      "min(date) FILTER (WHERE lower(decision) IN ('review', 'block')) "
                      f"AS first_flagged FROM (SELECT {_COLUMNS} FROM {src} "
                      "WHERE account_id IS NOT NULL) GROUP BY account_id")
            if block_files:
                bsrc = f"({source_sql(con, block_files, _READ)})"
                blocks = (f"SELECT account_id, arg_max(struct_pack({packed}), date) AS v FROM ("
                          f"SELECT {_COLUMNS} FROM {bsrc} WHERE account_id IS NOT "
                          "NULL AND lower(CAST(decision AS VARCHAR)) = 'block') "
                          "GROUP BY account_id")
                merged = (f"SELECT account_id, coalesce(b.v, l.v) AS v, "
                          "coalesce(l.first_flagged, b.v.date) AS first_flagged "
                          f"FROM ({latest}) l FULL OUTER JOIN ({blocks}) b USING (account_id)")
            else:
                merged = latest
            table = con.sql(
                f"SELECT account_id, {', '.join(f'v.{f} AS {f}' for f in fields)}, "
                "first_flagged "
                f"FROM ({merged}) ORDER BY account_id"
            ).to_arrow_table()
        finally:
            con.close()
        idx = cls._from_table(table)
        idx.signature, idx.loaded_at = sig, time.time()
        idx.load_seconds = time.perf_counter() - t0
        return idx

    @classmethod
    def _from_table(cls, t: pa.Table) -> VerdictIndex:
        ids = t["account_id"].combine_chunks()
        dec = _decision_codes(t["decision"])
        date_dict = t["date"].combine_chunks().dictionary_encode()
        score = t["score"].to_numpy(zero_copy_only=False).astype(np.float64)
        risk = t["risk"].to_numpy(zero_copy_only=False).astype(np.float64)
        return cls(
            rows=dict(zip(ids.to_pylist(), range(t.num_rows), strict=True)),
            account_id=ids, score=score, risk=risk, decision=dec,
            date_code=date_dict.indices.to_numpy(zero_copy_only=False).astype(np.int32),
            dates=date_dict.dictionary.to_pylist(),
            reasons=t["reasons"].combine_chunks(), cluster_id=t["cluster_id"].combine_chunks(),
            org_id=t["org_id"].combine_chunks(), model_version=t["model_version"].combine_chunks(),
            first_flagged=(t["first_flagged"].combine_chunks() if "first_flagged" in
                           t.column_names else None),
        )

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, account_id: str) -> dict[str, Any] | None:
        """The account's latest verdict as a dict, or None when it has none."""
        i = self.rows.get(account_id)
        return None if i is None else self.row(i)

    def row(self, i: int) -> dict[str, Any]:
        """Entry ``i`` as a dict (reasons split into a list)."""
        reasons = self.reasons[i].as_py()
        score = float(self.score[i])
        risk = float(self.risk[i])
        return {
            "account_id": self.account_id[i].as_py(),
            "decision": DECISION_CODES[int(self.decision[i])],
            "score": None if score != score else score,
            "reasons": [r for r in (reasons or "").split(";") if r],
            "cluster_id": self.cluster_id[i].as_py(),
            "org_id": self.org_id[i].as_py(),
            "date": self.dates[int(self.date_code[i])],
            "model_version": self.model_version[i].as_py(),
            "risk": None if risk != risk else risk,
        }

    @property
    def latest_date(self) -> str | None:
        return max(self.dates) if self.dates else None


def _decision_codes(col: pa.ChunkedArray) -> np.ndarray:
    enc = col.combine_chunks().dictionary_encode()
    lut = np.array([_CODE.get(str(d).lower(), 1) for d in enc.dictionary.to_pylist()] or [1],
                   dtype=np.int8)
    return lut[enc.indices.to_numpy(zero_copy_only=False)]


class VerdictIndexHolder(Reloader):
    """Holds the current :class:`VerdictIndex`; a daemon thread reloads it when the verdict
    files change (checked every ``check_every_s`` seconds)."""

    thread_name = "verdict-index"

    def __init__(self, folder: Path, check_every_s: float = 2.0, max_days: int = 30,
                 sticky_blocks: bool = False, block_expiry_days: int = 0) -> None:
        super().__init__(check_every_s)
        self.folder = Path(folder)  # the verdict store's folder (detector.verdicts.root)
        self.max_days = max_days
        self.sticky_blocks = sticky_blocks
        self.block_expiry_days = block_expiry_days
        self.index = VerdictIndex.empty()
        self.reloads = 0
        self.errors = 0
        self._failed: tuple | None = None

    def refresh(self, force: bool = False) -> bool:
        """Reload now if the files changed (or ``force``); True when a new index was swapped in."""
        with self._lock:
            sig = files_signature(self.folder)
            if not force and sig in (self.index.signature, self._failed):
                return False
            try:
                new = VerdictIndex.load(self.folder, self.max_days, self.sticky_blocks,
                                        self.block_expiry_days)
            except Exception:  # a foreign or corrupt file: keep serving the old index
                self.errors += 1
                self._failed = sig  # retried when the files change again
                log.exception("verdict index reload failed; keeping the previous one")
                return False
            self.index = new
            self.reloads += 1
        self._notify()
        return True
