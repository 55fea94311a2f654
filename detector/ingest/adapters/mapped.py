"""CSV or Parquet (or JSON) with a column mapping file (TOML) onto the native record.

The mapping is found next to the data: ``<file>.mapping.toml`` or ``mapping.toml`` in the same
folder (``--format mapped`` requires one). Example::

    [columns]                       # native field = source column
    request_id = "req_id"
    timestamp = "event_time"
    account_id = "customer"
    client_ip = "ip"
    model = "model"
    prompt = "prompt_text"          # becomes request.messages = [{role: user, content: ...}]
    system = "system_text"          # becomes a system message
    "request.max_tokens" = "max_toks"   # dotted names build nested objects
    "usage.prompt_tokens" = "in_tok"

    [options]
    timestamp_unit = "ms"           # for numeric timestamps: "ms" (default), "s", "us", "ns"
    keep_unmapped = true            # unmapped columns go to metadata (default true)

Numeric strings are converted for usage/latency/request parameters; everything unmapped stays
null (or in metadata). The targets a mapping may name are :data:`TARGETS` (plus
``metadata.<anything>``); any other name is a usage error (exit 2, "did you mean ...?"), so a
typo never turns into silently empty columns. The reference is ``docs/own-logs.md``.
"""

from __future__ import annotations

import difflib
import tomllib
from functools import lru_cache
from pathlib import Path

from detector.errors import InputError
from detector.ingest.adapters.common import blank_to_none, object_reader
from detector.ingest.adapters.rows import source_for
from detector.ingest.body import as_float, as_int
from detector.ingest.formats import Format, register

_UNIT_TO_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "ns": 1e-6}
_INT_FIELDS = {"usage.prompt_tokens", "usage.completion_tokens", "usage.reasoning_tokens",
               "request.max_tokens", "request.n", "request.top_logprobs", "request.seed",
               "response.status"}
_FLOAT_FIELDS = {"latency_ms", "request.temperature", "request.top_p"}


#: Target names a ``[columns]`` table may use (``metadata.<name>`` is free-form).
TARGETS = (
    "request_id", "timestamp", "account_id", "org_id", "api_key_id", "endpoint", "model",
    "client_ip", "user_agent", "payment_fingerprint", "account_created_at", "latency_ms",
    "prompt", "system", "output", "end_user",
    "request.max_tokens", "request.max_completion_tokens", "request.max_output_tokens",
    "request.temperature", "request.top_p", "request.n", "request.logprobs",
    "request.top_logprobs", "request.stream", "request.seed", "request.reasoning_effort",
    "request.user", "request.safety_identifier", "request.messages", "request.prompt",
    "request.input", "request.instructions",
    "response.status", "response.finish_reason", "response.output_text",
    "usage.prompt_tokens", "usage.completion_tokens", "usage.reasoning_tokens",
)
_ALIASES = {"output": "response.output_text", "end_user": "request.user"}
_OPTIONS = {"timestamp_unit", "keep_unmapped"}


def _check_targets(path: str, cols: dict) -> None:
    """InputError naming the first unknown target (with the closest known names)."""
    for target in cols:
        if target in TARGETS or (target.startswith("metadata.") and len(target) > 9):
            continue
        close = difflib.get_close_matches(target, TARGETS, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise InputError(f"{path}: [columns]: unknown target field {target!r}{hint} "
                         f"(targets: docs/own-logs.md, 'The mapping file')")


def mapping_path(data: Path) -> Path | None:
    """The mapping file for ``data``, if any."""
    for cand in (data.with_name(data.name + ".mapping.toml"), data.parent / "mapping.toml"):
        if cand.exists():
            return cand
    return None


@lru_cache(maxsize=64)
def load_mapping(path: str) -> tuple[dict, dict]:
    """(columns, options) of a mapping file; InputError naming the file when invalid."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable TOML mapping ({exc})") from None
    cols = doc.get("columns")
    if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
        raise InputError(f"{path}: expected a [columns] table of native = \"source column\"")
    for need in ("request_id", "timestamp", "account_id"):
        if need not in cols:
            raise InputError(f"{path}: [columns] must map '{need}'")
    _check_targets(path, cols)
    opts = doc.get("options", {})
    if not isinstance(opts, dict):
        raise InputError(f"{path}: [options] must be a table")
    for key in opts:
        if key not in _OPTIONS:
            close = difflib.get_close_matches(key, sorted(_OPTIONS), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{path}: [options]: unknown option {key!r}{hint}")
    for key in doc:
        if key not in ("columns", "options"):
            raise InputError(f"{path}: unknown table [{key}] (expected [columns], [options])")
    unit = opts.get("timestamp_unit", "ms")
    if unit not in _UNIT_TO_MS:
        raise InputError(f"{path}: timestamp_unit: expected one of {sorted(_UNIT_TO_MS)}, "
                         f"got {unit!r}")
    return cols, opts


def _set(rec: dict, dotted: str, value: object) -> None:
    keys = dotted.split(".")
    node = rec
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


def map_row(row: dict, cols: dict, opts: dict) -> dict:
    """One source row -> one native record, following the mapping."""
    rec: dict = {"request": {}}
    used = set()
    messages = []
    for target, source in cols.items():
        if source not in row:
            continue
        used.add(source)
        value = blank_to_none(row[source])
        if value is None:
            continue
        if target in ("prompt", "system"):
            messages.append({"role": "user" if target == "prompt" else "system",
                             "content": value})
            continue
        if target == "timestamp" and (isinstance(value, int | float) or as_float(value) is not None
                                      and not str(value).count("-")):
            value = as_float(value) * _UNIT_TO_MS[opts.get("timestamp_unit", "ms")]  # type: ignore[operator]
        elif target in _INT_FIELDS:
            value = as_int(value) if as_int(value) is not None else value
        elif target in _FLOAT_FIELDS:
            value = as_float(value) if as_float(value) is not None else value
        _set(rec, _ALIASES.get(target, target), value)
    if messages:
        messages.sort(key=lambda m: m["role"] != "system")
        rec["request"]["messages"] = messages
    if opts.get("keep_unmapped", True):
        extra = {k: v for k, v in row.items() if k not in used and v not in (None, "")}
        if extra:
            rec.setdefault("metadata", {}).update(extra)
    return rec


def mapped_source(path: Path, offset: int = 0, line: int = 0):
    """Row source of ``path``; InputError when no mapping file is beside it."""
    mp = mapping_path(Path(path))
    if mp is None:
        raise InputError(f"{path}: --format mapped needs {Path(path).name}.mapping.toml "
                         f"or mapping.toml beside it")
    load_mapping(str(mp))
    return source_for(Path(path), offset, line)


def records_for(path: Path):
    """Record reader applying the mapping found beside ``path``."""
    mp = mapping_path(Path(path))
    if mp is None:
        raise InputError(f"{path}: --format mapped needs a mapping file beside it")
    cols, opts = load_mapping(str(mp))
    return object_reader(lambda row: map_row(row, cols, opts))


def has_mapping(path: Path) -> bool:
    """A mapping file lies beside ``path``: the file is mapped, whatever its records hold."""
    return mapping_path(Path(path)) is not None


register(Format("mapped", object_reader(lambda row: row), mapped_source, lambda row: False,
                priority=5, records_for=records_for, claims_path=has_mapping))
