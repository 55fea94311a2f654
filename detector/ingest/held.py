"""The held store's privacy lifecycle: retention and erasure of held lines.

The held store (``state/ingest/held/``, ``Format.holds``) keeps raw lines, prompts included,
for later deliveries: ``openai-batch/<hash>.json`` (one batch file's unpaired input and result
lines with its batch facts, :mod:`detector.ingest.adapters.batch_held`) and
``langfuse/traces-<hash>.json`` / ``langfuse/observations-<hash>.json`` (trace id -> user and
session; trace id -> observations waiting for their trace,
:mod:`detector.ingest.adapters.langfuse`).

*Retention* (:func:`prune_held`): a held file is as old as its modification time, the time it
was held (an erasure that rewrites it keeps that time); files older than
:func:`held_days` are deleted.

*Erasure* (:func:`erase_held`) removes what can be tied to one account:

* a Batch held file whose account is the id: the command's ``--account-id`` (``account_id``,
  recorded since this module exists), its sidecar's ``account_id`` or its Batch object's
  ``metadata.account_id``; the whole file goes;
* Langfuse traces whose ``userId`` or ``sessionId`` is the id (the ``--account-key user`` /
  ``session`` billing units), and the observations held for those traces;
* in every other held file, each line (a Batch input or result line, a Langfuse observation)
  whose text carries the id as a JSON string, as the quarantine's lines are found.

It cannot find a line that names its account nowhere: a Batch input line held before its result
(the account comes with the result's sidecar or Batch object) whose body does not carry the id,
a Batch file held by an older version with ``--account-id`` only, and a Langfuse observation
whose trace is not known yet. Retention bounds how long those stay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from detector.ingest.manifest import held_dir
from detector.lake.io import write_bytes_atomic

if TYPE_CHECKING:
    from detector.settings import Settings

_BATCH = "openai-batch"
_LANGFUSE = "langfuse"


def held_days(settings: Settings) -> int:
    """Days held lines are kept (0 = forever): ``ingest_held_retention_days``; -1 follows
    ``retention_days``; never longer than ``retention_days`` when that is set (held lines carry
    prompts, like the lake)."""
    n, lake = int(settings.ingest_held_retention_days), int(settings.retention_days)
    if n < 0 or (lake > 0 and (n == 0 or n > lake)):
        return max(lake, 0)
    return n


def _files(settings: Settings) -> list[Path]:
    root = held_dir(settings)
    return sorted(p for sub in (_BATCH, _LANGFUSE) for p in (root / sub).glob("*.json"))


def prune_held(settings: Settings, today: date | None = None) -> list[str]:
    """Delete held files older than :func:`held_days` as of ``today`` (UTC); their paths."""
    n = held_days(settings)
    if n <= 0:
        return []
    today = today or datetime.now(UTC).date()
    cut = datetime.combine(today - timedelta(days=n), datetime.min.time(), UTC).timestamp()
    gone = []
    for path in _files(settings):
        try:
            if path.stat().st_mtime < cut:
                path.unlink()
                gone.append(str(path))
        except FileNotFoundError:
            continue
    return gone


def _carries(value: object, needle: bytes) -> bool:
    """Whether ``value`` (a raw line or a parsed JSON value) carries the id as a JSON string
    (as written, or once its escapes are read)."""
    if isinstance(value, str):
        if needle in value.encode():
            return True
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return False
    return needle in orjson.dumps(value)


def _rewrite(path: Path, doc: object) -> None:
    """Write ``doc`` over ``path`` atomically, keeping its held time (its mtime)."""
    st = path.stat()
    write_bytes_atomic(path, orjson.dumps(doc))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _erase_batch(path: Path, account_id: str, needle: bytes) -> int:
    doc = orjson.loads(path.read_bytes())
    meta = (doc.get("batch_object") or {}).get("metadata")
    owners = {doc.get("account_id"), (doc.get("sidecar") or {}).get("account_id"),
              meta.get("account_id") if isinstance(meta, dict) else None}
    n_lines = len(doc.get("inputs", {})) + len(doc.get("results", {}))
    if account_id in owners:
        path.unlink()
        return max(n_lines, 1)
    n = 0
    for kind in ("inputs", "results"):
        lines = doc.get(kind, {})
        mine = [cid for cid, raw in lines.items() if _carries(raw, needle)]
        for cid in mine:
            del lines[cid]
        n += len(mine)
    if n:
        _rewrite(path, doc)
    return n


def _erase_langfuse(paths: list[Path], account_id: str, needle: bytes) -> dict[Path, int]:
    traces = [p for p in paths if p.name.startswith("traces-")]
    gone_traces: set[str] = set()
    out: dict[Path, int] = {}
    for path in traces:
        doc = orjson.loads(path.read_bytes())
        mine = [t for t, v in doc.items() if account_id in (v or [])]
        if mine:
            gone_traces.update(mine)
            out[path] = len(mine)
            _keep_or_remove(path, {t: v for t, v in doc.items() if t not in mine})
    for path in (p for p in paths if p not in traces):
        doc = orjson.loads(path.read_bytes())
        n = 0
        kept: dict[str, list] = {}
        for trace, observations in doc.items():
            rest = [] if trace in gone_traces else [
                o for o in observations if not _carries(o, needle)]
            n += len(observations) - len(rest)
            if rest:
                kept[trace] = rest
        if n:
            out[path] = n
            _keep_or_remove(path, kept)
    return out


def _keep_or_remove(path: Path, doc: dict) -> None:
    if doc:
        _rewrite(path, doc)
    else:
        path.unlink()


def erase_held(settings: Settings, account_id: str,
               add: Callable[[str, int, Path], None]) -> None:
    """Remove ``account_id``'s held lines (see the module docstring); ``add(kind, n, path)``
    is told each file changed (kind ``held_batch_lines`` or ``held_langfuse_entries``)."""
    needle = json.dumps(account_id, ensure_ascii=False).encode("utf-8")
    root = held_dir(settings)
    for path in sorted((root / _BATCH).glob("*.json")):
        n = _erase_batch(path, account_id, needle)
        if n:
            add("held_batch_lines", n, path)
    for path, n in _erase_langfuse(sorted((root / _LANGFUSE).glob("*.json")), account_id,
                                   needle).items():
        add("held_langfuse_entries", n, path)
