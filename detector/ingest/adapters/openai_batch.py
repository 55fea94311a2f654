"""OpenAI Batch API files: the batch *input* JSONL and its *output* JSONL, paired by custom_id.

Input line: ``{"custom_id", "method", "url", "body": {model, messages, ...}}``; output line:
``{"id": "batch_req_...", "custom_id", "response": {"status_code", "request_id", "body":
{chat.completion}}, "error"}``. Either file may be ingested (or both: each custom_id maps to
the same record from either side, so the second one counts as a duplicate).

Pairing: the partner file is named in a sidecar, else found by name (``X_output.jsonl`` <->
``X_input.jsonl``; also ``-output``/``.output``). Sidecar: ``<file>.batch.toml`` (of either
file) or ``batch.toml`` in the folder, with ``account_id = "..."`` and optionally
``input = "name"`` / ``output = "name"`` (paths relative to the folder).

Batch files carry no account. ``account_id`` = ``detector ingest --account-id`` when given, else
the sidecar's ``account_id``, else the batch id ``batch_<id>`` found in the output (else input)
file name; with none of these the record is quarantined (``missing_field: account_id``). Mapping onto the native record:

| native | batch |
|---|---|
| request_id | output ``response.request_id``, else ``batch:<output file name>:<custom_id>`` |
| timestamp | output ``response.body.created`` (epoch seconds); none -> quarantined |
| endpoint | input ``url`` |
| model | input ``body.model``, else output ``response.body.model`` |
| request | input ``body`` (``{}`` when the input line is missing) |
| response | ``status`` = ``response.status_code``, plus the response body's choices/id/model |
| usage | output ``response.body.usage`` |
| metadata | ``custom_id``, ``batch_request_id`` (output ``id``), ``method``, ``error`` |

Nothing else is invented: a missing value stays null.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

import orjson

from detector.errors import InputError
from detector.ingest.adapters.common import drop_none
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register
from detector.ingest.jsonio import decode_line
from detector.ingest.sources import open_stream, read_head

_BATCH_ID = re.compile(r"batch_(?!req_)[A-Za-z0-9]+")
_SWAPS = (("_output", "_input"), ("-output", "-input"), (".output", ".input"))


def line_kind(value: object) -> str | None:
    """``"output"``, ``"input"`` or None for one decoded batch line."""
    if not isinstance(value, dict) or "custom_id" not in value:
        return None
    if "response" in value or "error" in value:
        return "output"
    if "body" in value or "url" in value:
        return "input"
    return None


def _first_line_kind(path: Path) -> str | None:
    head = read_head(path).lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        return line_kind(orjson.loads(head))
    except orjson.JSONDecodeError:
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
    return doc


def _sidecar(*files: Path | None) -> dict:
    for f in files:
        if f is not None and (cand := f.with_name(f.name + ".batch.toml")).exists():
            return load_sidecar(str(cand))
    folder = next((f.parent for f in files if f is not None), None)
    if folder is not None and (folder / "batch.toml").exists():
        return load_sidecar(str(folder / "batch.toml"))
    return {}


def _by_name(path: Path, kind: str) -> Path | None:
    for out, inp in _SWAPS:
        old, new = (out, inp) if kind == "output" else (inp, out)
        i = path.name.rfind(old)
        if i >= 0:
            cand = path.with_name(path.name[:i] + new + path.name[i + len(old):])
            if cand.exists():
                return cand
    return None


def pair_of(path: Path) -> tuple[Path | None, Path | None, dict]:
    """(input file, output file, sidecar) of the batch that ``path`` belongs to."""
    path = Path(path)
    kind = _first_line_kind(path) or "output"
    cfg = _sidecar(path)
    other_key = "input" if kind == "output" else "output"
    other = path.parent / cfg[other_key] if cfg.get(other_key) else _by_name(path, kind)
    if other is not None and not other.exists():
        raise InputError(f"{path}: batch {other_key} file {other} named in the sidecar is missing")
    inp, out = (other, path) if kind == "output" else (path, other)
    if not cfg:
        cfg = _sidecar(other)
    return inp, out, cfg


@lru_cache(maxsize=8)
def _lines_by_id(path: str, mtime_ns: int, size: int) -> dict[str, dict]:
    """custom_id -> decoded line of a partner file (first line wins)."""
    out: dict[str, dict] = {}
    with open_stream(Path(path)) as fh:
        for raw in fh:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict) and isinstance(value.get("custom_id"), str):
                out.setdefault(value["custom_id"], value)
    return out


def partner_lines(path: Path | None) -> dict[str, dict]:
    if path is None:
        return {}
    st = path.stat()
    return _lines_by_id(str(path), st.st_mtime_ns, st.st_size)


def account_of(inp: Path | None, out: Path | None, cfg: dict) -> str | None:
    """Sidecar account, else the ``batch_<id>`` in the output (else input) file name."""
    if cfg.get("account_id"):
        return cfg["account_id"]
    for f in (out, inp):
        m = _BATCH_ID.search(f.name) if f is not None else None
        if m:
            return m.group(0)
    return None


def map_pair(inp: dict | None, out: dict | None, account: str | None, file_name: str) -> dict | str:
    """One input line and/or output line -> a native record, or the quarantine reason."""
    inp, out = inp or {}, out or {}
    custom_id = out.get("custom_id", inp.get("custom_id"))
    resp = out.get("response") if isinstance(out.get("response"), dict) else {}
    body = resp.get("body") if isinstance(resp.get("body"), dict) else {}
    created = body.get("created")
    if not isinstance(created, int | float) or isinstance(created, bool):
        what = "no output line" if not out else "no response.body.created in the output line"
        return f"missing_field: timestamp (OpenAI batch custom_id {custom_id!r}: {what})"
    if account is None:
        return ("missing_field: account_id (OpenAI batch files carry no account: put "
                "account_id in batch.toml beside them or keep batch_<id> in the file name)")
    req = inp.get("body") if isinstance(inp.get("body"), dict) else {}
    response = drop_none({"status": resp.get("status_code"), "id": body.get("id"),
                          "object": body.get("object"), "model": body.get("model"),
                          "choices": body.get("choices"),
                          "system_fingerprint": body.get("system_fingerprint")})
    return drop_none({
        "request_id": resp.get("request_id") or f"batch:{file_name}:{custom_id}",
        "timestamp": created * 1000.0, "account_id": account, "endpoint": inp.get("url"),
        "model": req.get("model") or body.get("model"), "request": req,
        "response": response or None, "usage": body.get("usage"),
        "metadata": drop_none({"custom_id": custom_id, "batch_request_id": out.get("id"),
                               "method": inp.get("method"), "error": out.get("error")}),
    })


def records_for(path: Path, account_id: str | None = None):
    """Record reader for one batch file, pairing each line with its partner file's line.

    ``account_id`` (``detector ingest --account-id``) takes precedence over the sidecar and
    the file name.
    """
    inp_path, out_path, cfg = pair_of(Path(path))
    partner = partner_lines(inp_path if out_path == Path(path) else out_path)
    account = account_id or account_of(inp_path, out_path, cfg)
    file_name = (out_path or Path(path)).name

    def read(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
        value, reason = decode_line(raw, flags)
        if reason is not None:
            return [(raw, reason)]
        kind = line_kind(value)
        if kind is None:
            return [(raw, "not_an_object: expected an OpenAI batch line with custom_id")]
        other = partner.get(value["custom_id"]) if isinstance(value["custom_id"], str) else None
        pair = (value, other) if kind == "input" else (other, value)
        return [(raw, map_pair(*pair, account, file_name))]
    return read


def claims(line: dict) -> bool:
    """A batch input line (``custom_id`` with ``body``/``url``) or output line (``custom_id``
    with ``response``/``error``)."""
    return isinstance(line.get("custom_id"), str) and line_kind(line) is not None


def unpaired_records(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
    """Reader for a line read without its file (no partner, no account): used by nothing
    that knows the path; ``records_for`` is the real reader."""
    value, reason = decode_line(raw, flags)
    if reason is not None:
        return [(raw, reason)]
    kind = line_kind(value)
    if kind is None:
        return [(raw, "not_an_object: expected an OpenAI batch line with custom_id")]
    pair = (value, None) if kind == "input" else (None, value)
    return [(raw, map_pair(*pair, None, "unknown"))]


register(Format("openai-batch", unpaired_records, source_for, claims, priority=15,
                records_for=records_for))
