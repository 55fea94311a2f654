"""Is a file in the format it is about to be read as? Checked before anything of it is committed.

A file whose records mostly fail for one *structural* reason is not in that format: a CSV read
as JSON Lines (every line ``invalid_json``), a LiteLLM export read as native (every record
``missing_field: account_id``), an OTLP export read with the wrong adapter. Ingesting it would
quarantine the whole file and report success; instead it is *unreadable input* (CLI exit 2),
named with the reason, and nothing of any input of the command is committed.

The rule (``docs/ingest.md``, "Unreadable files"): the first :data:`CHECK_RECORDS` records are
read with the chosen format's own reader and normaliser, exactly as ingest would read them; when
at least :data:`MIN_RECORDS` were read and more than half of them fail with the same structural
reason, the file is unreadable. Structural reasons are ``invalid_json``, ``not_an_object``,
``missing_field: F`` and ``wrong_type: F`` (the same field ``F``). Bad values (timestamps out of
range, unparseable dates), empty lines and over-long lines are not structural: such records stay
quarantined and counted in a readable file. Smaller files are judged record by record.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from detector.errors import InputError
from detector.ingest.formats import get_format
from detector.ingest.normalize import Limits
from detector.ingest.parse import parse_batch

#: Records read to judge a file.
CHECK_RECORDS = 1000
#: Fewer records than this are judged one by one (quarantined), never as a whole file.
MIN_RECORDS = 10
_STRUCTURAL = ("invalid_json", "not_an_object", "missing_field", "wrong_type")


def structural_reason(reason: str) -> str | None:
    """``"missing_field: account_id"`` for a structural bad reason, None for any other."""
    code, _, rest = reason.partition(":")
    if code not in _STRUCTURAL:
        return None
    if code in ("missing_field", "wrong_type"):
        field = rest.strip().split(":", 1)[0].split(" ", 1)[0]
        return f"{code}: {field}"
    return code


def check_readable(path: Path, fmt: str, account_id: str | None = None,
                   limits: Limits | None = None, options: tuple = ()) -> None:
    """Raise InputError when ``path`` is not in format ``fmt`` (see the module docstring)."""
    form = get_format(fmt)
    source = form.source(Path(path), 0, 0)
    source.validate = False  # the head is enough to judge; ingest checks the whole document
    reader = form.reader(Path(path), account_id, options)
    batch = next(iter(source.batches(CHECK_RECORDS, 64 << 20)), None)
    if batch is None:
        return
    parsed = parse_batch(batch, limits or Limits(), reader)
    n = parsed.read
    if n < MIN_RECORDS:
        return
    reasons = [structural_reason(r) for r in parsed.bad_reasons]
    counts = Counter(r for r in reasons if r is not None)
    if not counts:
        return
    reason, k = counts.most_common(1)[0]
    if 2 * k <= n:
        return
    first = reasons.index(reason)
    line = parsed.bad_lines[first]
    detail = parsed.bad_reasons[first]
    said = f"'{reason}'" if detail == reason else f"'{detail[:300]}'"  # e.g. an option to change
    hint = "; give --format with the file's real format" if fmt == "native" else \
        "; check --format (or the file's mapping)"
    raise InputError(f"{path}: not {fmt} input: {k} of its first {n} records fail with "
                     f"{said} (first at line {line}); nothing was ingested{hint}")


__all__ = ["CHECK_RECORDS", "MIN_RECORDS", "check_readable", "structural_reason"]
