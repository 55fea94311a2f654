"""OpenAI Batch files one by one: line kinds, sidecars, and each file's lines by custom_id.

The pairing of files (:mod:`detector.ingest.adapters.openai_batch`) works on these indexes:
:func:`batch_file` reads a file once (cached by path, mtime and size) into a
:class:`BatchFile`: its input and result lines by ``custom_id``, its batch id (from the name
or the Batch object), its sidecar and the earliest ``created`` of its output lines.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import orjson

from detector.errors import InputError
from detector.ingest.adapters import batch_held
from detector.ingest.sources import open_stream
from detector.ingest.timeparse import TimestampError, parse_timestamp

BATCH_ID = re.compile(r"batch_(?!req_)[A-Za-z0-9]+")
_BATCH_ID = BATCH_ID


def _is_batch_object(value: dict) -> bool:
    return isinstance(value.get("input_file_id"), str) and "completion_window" in value


def line_kind(value: object) -> str | None:
    """``"output"``, ``"error"``, ``"input"``, ``"batch"`` (the Batch object) or None."""
    if not isinstance(value, dict):
        return None
    if "custom_id" not in value:
        return "batch" if _is_batch_object(value) else None
    if "response" in value or "error" in value:
        resp = value.get("response")
        status = resp.get("status_code") if isinstance(resp, dict) else None
        failed = value.get("error") is not None or not isinstance(resp, dict) or (
            isinstance(status, int) and status >= 400)
        return "error" if failed else "output"
    if "body" in value or "url" in value:
        return "input"
    return None


@lru_cache(maxsize=64)
def load_sidecar(path: str) -> dict:
    """The sidecar TOML as a dict; InputError naming the file when it is invalid."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable TOML batch sidecar ({exc})") from None
    for key in ("account_id", "input", "output"):
        if key in doc and not isinstance(doc[key], str):
            raise InputError(f"{path}: {key}: expected a string, got {type(doc[key]).__name__}")
    if "created_at" in doc and _seconds(doc["created_at"]) is None:
        raise InputError(f"{path}: created_at: expected epoch seconds or an RFC 3339 time, "
                         f"got {doc['created_at']!r}")
    return doc


def _seconds(v: object) -> float | None:
    """Epoch seconds of a sidecar/Batch-object time (number of seconds or RFC 3339)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if hasattr(v, "isoformat"):
        v = v.isoformat()  # TOML datetimes
    if isinstance(v, str):
        try:
            return parse_timestamp(v, []) / 1e6
        except TimestampError:
            return None
    return None


def _sidecar(f: Path) -> dict:
    if (cand := f.with_name(f.name + ".batch.toml")).exists():
        return load_sidecar(str(cand))
    if (f.parent / "batch.toml").exists():
        return load_sidecar(str(f.parent / "batch.toml"))
    return {}


def _by_name(path: Path) -> list[Path]:
    """Partner files found by swapping ``_output``/``_error`` and ``_input`` in the name."""
    return [cand for name in sorted(batch_held.swapped_names(path.name))
            if (cand := path.with_name(name)).exists() and cand != path]


@dataclass
class BatchFile:
    """One batch file's lines by custom_id (raw bytes), and what it says about its batch."""

    path: Path
    batch_id: str | None
    sidecar: dict
    inputs: dict[str, bytes] = field(default_factory=dict)
    results: dict[str, bytes] = field(default_factory=dict)
    first_created: float | None = None  # earliest response.body.created of its output lines
    batch_object: dict | None = None


def _created(value: dict) -> float | None:
    resp = value.get("response")
    body = resp.get("body") if isinstance(resp, dict) else None
    c = body.get("created") if isinstance(body, dict) else None
    return float(c) if isinstance(c, int | float) and not isinstance(c, bool) else None


def _documents(path: Path):
    """(raw, value) of every line that parses; a file none of whose lines parse but which
    holds one JSON document (a pretty-printed Batch object) yields that document."""
    found = False
    with open_stream(path) as fh:
        for raw in fh:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            found = True
            yield raw, value
    if not found and path.stat().st_size < (64 << 20):
        with open_stream(path) as fh:
            data = fh.read()
        try:
            yield data, orjson.loads(data.lstrip(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError:
            return


@lru_cache(maxsize=32)
def _index(path: str, mtime_ns: int, size: int) -> BatchFile:
    p = Path(path)
    m = _BATCH_ID.search(p.name)
    info = BatchFile(p, m.group(0) if m else None, _sidecar(p))
    for raw, value in _documents(p):
        kind = line_kind(value)
        if kind == "batch":
            info.batch_object = value  # type: ignore[assignment]
            if isinstance(value.get("id"), str):  # type: ignore[union-attr]
                info.batch_id = value["id"]  # type: ignore[index]
            continue
        if kind is None or not isinstance(value.get("custom_id"), str):  # type: ignore[union-attr]
            continue
        cid = value["custom_id"]  # type: ignore[index]
        (info.inputs if kind == "input" else info.results).setdefault(cid, raw.strip())
        c = _created(value) if kind == "output" else None  # type: ignore[arg-type]
        if c is not None and (info.first_created is None or c < info.first_created):
            info.first_created = c
    return info


def batch_file(path: Path) -> BatchFile:
    st = path.stat()
    return _index(str(path.resolve()), st.st_mtime_ns, st.st_size)


def _from_held(doc: dict) -> BatchFile:
    return BatchFile(Path(doc["path"]), doc["batch_id"], doc["sidecar"],
                     {k: v.encode() for k, v in doc["inputs"].items()},
                     {k: v.encode() for k, v in doc["results"].items()},
                     doc["first_created"], doc["batch_object"])
