"""Input formats: how to read a file's records and map them onto the native schema.

A :class:`Format` has a ``source`` (a resumable batch reader over the file) and a ``records``
function (one raw line -> native record dicts or bad reasons). ``native`` is the project's own
JSON Lines format; adapters (``detector.ingest.adapters``) register more. ``detect`` picks a
format from a file's first bytes for ``--format auto``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detector.errors import InputError
from detector.ingest.parse import RecordReader, native_records
from detector.ingest.sources import LineBatch, LineReader, read_head


class Source(Protocol):
    """A resumable batch reader over one file."""

    warnings: list[str]
    bytes_read: int

    def batches(self, max_lines: int, max_bytes: int) -> object: ...


@dataclass(frozen=True)
class Format:
    """A named input format.

    ``sniff(path, head)`` says whether a file whose first decompressed bytes are ``head`` is in
    this format (for ``--format auto``); ``source(path, offset, line)`` opens a reader resuming
    after ``line`` at ``offset``; ``records`` maps one raw line to records (``records_for``
    builds it per file, e.g. from a mapping file beside it).
    """

    name: str
    records: RecordReader
    source: Callable[[Path, int, int], Source]
    sniff: Callable[[Path, bytes], bool]
    priority: int = 100
    records_for: Callable[[Path], RecordReader] | None = None

    def reader(self, path: Path, account_id: str | None = None) -> RecordReader:
        """The record reader for ``path`` (per-file when the format needs the file's config).

        ``account_id``: the caller's account for formats whose files carry none (passed to
        ``records_for``; only ``openai-batch`` takes one, see ``ACCOUNT_FORMATS``).
        """
        if self.records_for is None:
            return self.records
        if account_id is None:
            return self.records_for(path)
        return self.records_for(path, account_id=account_id)  # type: ignore[call-arg]


def _line_source(path: Path, offset: int, line: int) -> LineReader:
    return LineReader(path, offset, line)


#: Formats whose files carry no account, so that ``ingest --account-id`` applies to them.
ACCOUNT_FORMATS = frozenset({"openai-batch"})

NATIVE = Format("native", native_records, _line_source, lambda p, h: True, priority=1000)
_FORMATS: dict[str, Format] = {"native": NATIVE}


def register(fmt: Format) -> None:
    """Add (or replace) a format; lower ``priority`` is tried first by :func:`detect`."""
    _FORMATS[fmt.name] = fmt


def _load_adapters() -> None:
    import detector.ingest.adapters  # noqa: F401  (registers its formats)


def format_names() -> list[str]:
    _load_adapters()
    return sorted(_FORMATS)


def get_format(name: str) -> Format:
    """The format called ``name``; ConfigError-like InputError naming the known ones."""
    _load_adapters()
    try:
        return _FORMATS[name]
    except KeyError:
        raise InputError(
            f"--format: expected one of auto, {', '.join(sorted(_FORMATS))}; got {name!r}"
        ) from None


def detect(path: Path) -> str:
    """Name of the format of ``path`` judged from its first 64 KiB (``native`` if unsure)."""
    _load_adapters()
    head = read_head(path)
    for fmt in sorted(_FORMATS.values(), key=lambda f: f.priority):
        if fmt.sniff(path, head):
            return fmt.name
    return "native"


__all__ = ["Format", "LineBatch", "detect", "format_names", "get_format", "register"]
