"""Enrichment: a re-delivered record that completes the stored one upgrades it in place.

Grain: the rows of one chunk whose request id is already known (stored in the lake, or the
first occurrence earlier in the same chunk). Each such row is compared with the stored row,
column by column (:func:`merge_rows`):

* it agrees on every field both have and adds none: a *duplicate*, as before;
* it agrees on every field both have and adds some (a prompt, an output, tokens, a model, an
  end user...): the stored row is *enriched*: rewritten with the union of both, in place;
* it disagrees on a field both have: the new record is quarantined as
  ``conflicting_redelivery: <field>`` and the stored row is kept.

Fields compare in three ways. Plain columns (timestamp, account, model, tokens, ...) fill
when the stored one is null and conflict when both differ. The request and the response are
compared as documents (``request_json``, ``response_json``): the stored body contained in the
new one (every key the stored body has, with the same value) is an upgrade, and every column
read from that body (prompt text and hashes, message counts, parameters, end user; status,
finish reason, output length) comes with it; a body where both have a key with different
values is a conflict named by its path (``request.messages``). ``metadata_json`` merges key
by key (the ``_ingest`` notes are not compared). A ``model`` taken from the response (the
stored request body named none) gives way to the model the fuller request names.

An enriched row keeps its ``source_file``, ``source_line`` and ``ingest_id``. The part files
holding enriched rows are rewritten under the staging folder and listed with the chunk, so the
rename into the lake is atomic and rolled forward by recovery like any committed part; their
days are marked changed (``manifest.touch_dates``), so they and the later days whose windows
include them are rescored (:func:`detector.ingest.manifest.dirty_dates`).
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.ingest.config import IngestHome
from detector.ingest.idstore import NO_TS
from detector.ingest.manifest import ingest_state_dir
from detector.ingest.parse import ParsedBatch
from detector.ingest.stored import stored_heads, stored_rows
from detector.ingest.tables import ROW_FIELDS, rows_to_table
from detector.ingest.timeparse import day_of
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_PARQUET_OPTIONS, REQUEST_SCHEMA

_REQUEST_GROUP = ("n_messages", "n_user_turns", "system_prompt", "system_hash", "prompt_text",
                  "prompt_hash", "prompt_chars", "max_tokens", "temperature", "top_p", "n",
                  "logprobs", "top_logprobs", "stream", "seed", "reasoning_effort", "has_tools",
                  "response_format", "end_user_hash", "request_json")
_RESPONSE_GROUP = ("status", "finish_reason", "output_chars", "response_json")
_SKIP = frozenset({"request_id", "ip_prefix", "metadata_json", "source_file", "source_line",
                   "ingest_id", *_REQUEST_GROUP, *_RESPONSE_GROUP})
_PLAIN = tuple(f.name for f in ROW_FIELDS if f.name not in _SKIP)
_NAMES = [f.name for f in ROW_FIELDS]


class Conflict(Exception):
    """Both rows have ``field`` with different values."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _doc(text: str | None) -> object:
    return {} if text is None else orjson.loads(text)


def _empty(v: object) -> bool:
    return v is None or v == "" or v == {} or v == []


def _relation(a: object, b: object, path: str) -> tuple[bool, bool]:
    """(a has something b lacks, b has something a lacks); Conflict where they differ."""
    if _empty(a) or _empty(b):
        return not _empty(a), not _empty(b)
    if isinstance(a, dict) and isinstance(b, dict):
        more_a = more_b = False
        for k in a.keys() | b.keys():
            ma, mb = _relation(a.get(k), b.get(k), f"{path}.{k}")
            more_a, more_b = more_a or ma, more_b or mb
        return more_a, more_b
    if a != b:
        raise Conflict(path)
    return False, False


def _merge_meta(a: str | None, b: str | None) -> str | None:
    da, db = _doc(a), _doc(b)
    if not isinstance(da, dict) or not isinstance(db, dict):
        _relation(da, db, "metadata")
        return a if a is not None else b
    notes = db.pop("_ingest", None) or da.pop("_ingest", None)
    more_a, more_b = _relation(da, db, "metadata")
    if not more_b:
        return a

    def union(x: object, y: object) -> object:  # the new document's key order first
        if isinstance(x, dict) and isinstance(y, dict):
            return {k: union(x.get(k), y.get(k)) for k in [*y, *(k for k in x if k not in y)]}
        return y if _empty(x) else x
    merged = union(da, db)
    if notes:
        merged["_ingest"] = notes  # type: ignore[index]
    return orjson.dumps(merged).decode()


def merge_rows(stored: dict, new: dict, sampled: bool = False) -> dict | None:
    """The stored row completed by ``new`` (None when ``new`` adds nothing).

    Raises :class:`Conflict` naming the first field both have with different values.
    ``sampled``: prompt text is sampled (privacy mode): a prompt that arrives by enrichment
    keeps its hash and length, not its text."""
    out = dict(stored)
    changed = False
    req_a, req_b = _doc(stored["request_json"]), _doc(new["request_json"])
    model_from_response = (isinstance(req_a, dict) and not req_a.get("model")
                           and isinstance(req_b, dict) and bool(req_b.get("model")))
    for name in _PLAIN:  # first: ts and account_id, what stored_heads reads before the rest
        a, b = stored[name], new[name]
        if b is None or a == b:
            continue
        if a is None or (name == "model" and model_from_response):
            out[name] = b
            changed = True
        else:
            raise Conflict(name)
    if stored["client_ip"] is None and new["client_ip"] is not None:
        out["ip_prefix"] = new["ip_prefix"]
    _, req_more = _relation(req_a, req_b, "request")
    _, resp_more = _relation(_doc(stored["response_json"]), _doc(new["response_json"]),
                             "response")
    if req_more:
        for name in _REQUEST_GROUP:
            out[name] = new[name]
        if sampled:
            out["prompt_text"] = out["system_prompt"] = None
        changed = True
    if resp_more:
        for name in _RESPONSE_GROUP:
            out[name] = new[name] if new[name] is not None else stored[name]
        changed = True
    meta = _merge_meta(stored["metadata_json"], new["metadata_json"])
    if meta != stored["metadata_json"]:
        out["metadata_json"] = meta
        changed = True
    return out if changed else None


@dataclass
class Outcome:
    """What the known rows of one chunk came to."""

    enriched: int = 0
    #: (line, raw, reason) of re-deliveries that conflict with the stored row
    conflicts: list[tuple[int, bytes, str]] = field(default_factory=list)
    #: (staged, final) of the rewritten part files
    parts: list[tuple[Path, Path]] = field(default_factory=list)
    #: days whose stored rows changed (0 new rows each)
    days: dict[str, int] = field(default_factory=dict)


@contextmanager
def rewrite_lock(settings: IngestHome) -> Iterator[None]:
    """Held by a chunk from reading stored rows until its rewritten parts are published, so
    two workers never rewrite one part file from the same old copy."""
    path = ingest_state_dir(settings) / "enrich.lock"
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _new_rows(parsed: ParsedBatch, positions: list[int]) -> dict[int, dict]:
    """The rows at ``positions`` as dicts of Arrow's Python values (only these: a chunk's
    known ids are few, converting its every row would cost more than the chunk's parse)."""
    if parsed.table is not None:
        table = parsed.table.select(_NAMES).take(pa.array(positions, pa.int64()))
    else:
        table = rows_to_table([parsed.rows[i] for i in positions],
                              [parsed.row_lines[i] for i in positions], "", "").select(_NAMES)
    return dict(zip(positions, table.to_pylist(), strict=True))


def _raw_of(row: dict, sampled: bool) -> bytes:
    """What the quarantine keeps of a conflicting re-delivery: its canonical row as JSON (the
    file and line name the original record)."""
    doc = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    if sampled:
        doc["prompt_text"] = doc["system_prompt"] = None
    return orjson.dumps(doc)


#: Longest wait for another worker's earlier chunks to be published (then: a duplicate).
WAIT_S = 60.0


def resolve(settings: IngestHome, parsed: ParsedBatch, keep: np.ndarray, keys: np.ndarray,
            staging: Path, sampled: bool = False,
            pending: Callable[[set[str]], bool] | None = None,
            flight: tuple[np.ndarray, np.ndarray] | None = None) -> Outcome:
    """Decide every row of ``parsed`` not in ``keep`` (positions of the rows stored as new):
    duplicate, enrichment or conflict. Rows kept in this chunk are completed in ``parsed``
    itself; stored rows in rewritten part files staged under ``staging`` (see the module
    docstring); staged parts are valid only when computed under :func:`rewrite_lock`.

    ``flight``: per row of ``parsed``, the timestamp (µs) and run of its id in a chunk another
    worker has reserved but not committed (``idstore.NO_TS`` and None elsewhere,
    :meth:`detector.ingest.idstore.IdStore.in_flight`): a copy with another time is a conflict
    decided from these alone; for the others the stored row is needed. ``pending(runs)``:
    whether any of ``runs`` is still reserved or a committed chunk still awaits its rename;
    the lake is read once that is over (at most ``WAIT_S``), and once more when a stored id
    was not found while a rename was pending."""
    out = Outcome()
    mask = np.ones(parsed.n_rows, bool)
    mask[keep] = False
    rest_at = np.flatnonzero(mask)
    if not len(rest_at):
        return out
    rest = rest_at.tolist()
    rest_keys = {keys[i].tobytes() for i in rest}
    kept = np.sort(keep)  # kept here, copied later in the chunk: first halves sift them
    firsts = [i for i in kept[np.isin(keys[kept, 0], keys[rest_at, 0])].tolist()
              if keys[i].tobytes() in rest_keys]
    rows = _new_rows(parsed, sorted([*rest, *firsts]))
    lines = parsed.table.column("source_line") if parsed.table is not None else None
    local = {keys[i].tobytes() for i in firsts}
    old = [i for i in rest if keys[i].tobytes() not in local]  # copies of stored rows
    decided: dict[int, str] = {}  # conflicts decided from the id store alone
    runs: set[str] = set()  # reserved runs holding the ids whose stored rows are needed
    wanted: dict[str, str] = {}
    for i in old:
        ts = _us(rows[i]["ts"])
        if flight is not None and flight[0][i] != NO_TS:
            if flight[0][i] != ts:
                decided[i] = "ts"
                continue
            runs.add(flight[1][i])
        wanted[rows[i]["request_id"]] = day_of(ts)
    if wanted and runs and pending is not None:
        _wait(pending, runs)
    heads = stored_heads(settings, wanted)
    missing = set(wanted) - set(heads)
    if missing and pending is not None and pending(set()):  # committed, rename pending
        _wait(pending, set())
        heads.update(stored_heads(settings, {rid: wanted[rid] for rid in missing}))
    # only a copy agreeing on time and account can complete its row: read the others' whole
    # rows only then (a re-used id with another time is decided from the cheap columns)
    stored = stored_rows(heads, {rows[i]["request_id"] for i in old
                                  if heads.get(rows[i]["request_id"], (None,))[1:]
                                  == (rows[i]["ts"], rows[i]["account_id"])})
    base: dict[str, dict] = {rid: row for rid, (_, row) in stored.items()}
    for i in firsts:
        base.setdefault(rows[i]["request_id"], rows[i])
    touched: set[str] = set()
    for i in rest:
        rid = rows[i]["request_id"]
        try:
            if i in decided:
                raise Conflict(decided[i])
            if rid not in base:
                if rid in heads:  # differs on the time or the account
                    raise Conflict("ts" if heads[rid][1] != rows[i]["ts"] else "account_id")
                continue  # stored once, gone since (retention) or not yet published
            merged = merge_rows(base[rid], rows[i], sampled)
        except Conflict as exc:
            line = lines[i].as_py() if lines is not None else parsed.row_lines[i]
            out.conflicts.append((line, _raw_of(rows[i], sampled),
                                  f"conflicting_redelivery: {exc.where}"))
            continue
        if merged is not None:
            base[rid] = merged
            touched.add(rid)
            out.enriched += 1
    _complete_kept(parsed, [i for i in firsts if rows[i]["request_id"] in touched], rows, base)
    _rewrite(stored, {rid for rid in touched if rid in stored}, base, staging, out)
    return out


def _wait(pending: Callable[[set[str]], bool], runs: set[str]) -> None:
    """Until ``pending(runs)`` is false, at most ``WAIT_S`` (then: a duplicate); reads only
    the manifest meanwhile."""
    deadline = time.monotonic() + WAIT_S
    while pending(runs) and time.monotonic() < deadline:
        time.sleep(0.02)


def _us(ts: object) -> int:
    if isinstance(ts, datetime):
        return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // _ONE_US
    return int(ts)  # type: ignore[call-overload]


_ONE_US = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def _complete_kept(parsed: ParsedBatch, positions: list[int], rows: dict[int, dict],
                   base: dict[str, dict]) -> None:
    """Replace the chunk's own first occurrences that later copies completed."""
    if not positions:
        return
    if parsed.table is not None:  # only these rows are converted, column by column
        table, at = parsed.table, sorted(positions)
        new = pa.Table.from_pylist([base[rows[i]["request_id"]] for i in at],
                                   schema=table.select(_NAMES).schema)
        mask = np.zeros(table.num_rows, bool)
        mask[at] = True
        where = pa.array(mask)
        parsed.table = pa.Table.from_arrays(
            [pc.replace_with_mask(table.column(n).combine_chunks(), where,
                                  new.column(n).combine_chunks()) if n in _NAMES
             else table.column(n) for n in table.column_names], schema=table.schema)
        return
    for i in positions:
        merged = base[rows[i]["request_id"]]
        parsed.rows[i] = tuple(_us(merged[n]) if n == "ts" else (
            _us(merged[n]) if n == "account_created_at" and merged[n] is not None else merged[n])
            for n in _NAMES)


def _rewrite(stored: dict[str, tuple[Path, dict]], touched: set[str], base: dict[str, dict],
             staging: Path, out: Outcome) -> None:
    """Stage a new copy of every part file holding an enriched stored row."""
    by_part: dict[Path, list[str]] = {}
    for rid in touched:
        by_part.setdefault(stored[rid][0], []).append(rid)
    for part, rids in sorted(by_part.items()):
        table = pq.read_table(part, schema=REQUEST_SCHEMA)
        rows = table.to_pylist()
        index = {r["request_id"]: k for k, r in enumerate(rows)}
        for rid in rids:
            rows[index[rid]].update({n: base[rid][n] for n in _NAMES})
        day = part.parent.name
        staged = staging / "enriched" / day / part.name
        write_parquet_atomic(staged, pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA),
                             **REQUEST_PARQUET_OPTIONS)
        out.parts.append((staged, part))
        out.days[day.removeprefix("date=")] = 0
