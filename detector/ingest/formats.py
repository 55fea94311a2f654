"""Input formats: how to read a file's records and map them onto the native schema.

A :class:`Format` has a ``source`` (a resumable batch reader over the file) and a ``records``
function (one raw line -> native record dicts or bad reasons). ``native`` is the project's own
JSON Lines format; adapters (``detector.ingest.adapters``) register more. ``detect`` picks a
format for ``--format auto`` from the *structure* of a file's first records (their keys and value
types, see :mod:`detector.ingest.sample`), never from substrings of its bytes: prompt text cannot
steer it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detector.errors import InputError
from detector.ingest.parse import RecordReader, native_records
from detector.ingest.sample import Sample, sample
from detector.ingest.sources import LineBatch, LineReader


class Source(Protocol):
    """A resumable batch reader over one file."""

    warnings: list[str]
    bytes_read: int

    def batches(self, max_lines: int, max_bytes: int) -> object: ...


@dataclass(frozen=True)
class Format:
    """A named input format.

    ``claims(record)`` says whether one parsed record has this format's structure, judged
    from its top-level keys and value types only (never from text inside values);
    ``claims_path(path)``, when set, claims a file by what lies beside it (a mapping file).
    ``source(path, offset, line)`` opens a reader resuming after ``line`` at ``offset``;
    ``records`` maps one raw line to records (``records_for`` builds it per file, e.g. from a
    mapping file beside it).
    """

    name: str
    records: RecordReader
    source: Callable[[Path, int, int], Source]
    claims: Callable[[dict], bool]
    priority: int = 100
    records_for: Callable[[Path], RecordReader] | None = None
    claims_path: Callable[[Path], bool] | None = None
    #: Values ``--account-key`` may take for this format (its billing units), ``("*",)`` for
    #: any name (e.g. an attribute name); None: the format takes no account key.
    account_keys: tuple[str, ...] | None = None
    #: Whether ``records_for`` wants the other input files of the command (``related=``),
    #: e.g. a Langfuse traces file that names the users of an observations file.
    wants_related: bool = False
    #: ``holds(path, **options)``, called when a file of this format has been ingested: keeps
    #: what a later delivery needs to complete its records (Batch lines without their partner,
    #: Langfuse traces) in the held store, ``state/ingest/held/`` (``held=`` option).
    holds: Callable[..., None] | None = None

    def reader(self, path: Path, account_id: str | None = None,
               options: tuple = ()) -> RecordReader:
        """The record reader for ``path`` (per-file when the format needs the file's config).

        ``account_id``: the caller's account for formats whose files carry none (passed to
        ``records_for``, see ``ACCOUNT_FORMATS``); ``options``: more keyword arguments of
        ``records_for`` as ``(name, value)`` pairs (``account_key``, ``related``), built per
        input by the pipeline from what the format declares.
        """
        if self.records_for is None:
            return self.records
        kwargs = dict(options)
        if account_id is not None:
            kwargs["account_id"] = account_id
        return self.records_for(path, **kwargs)

    def hold(self, path: Path, account_id: str | None = None, options: tuple = ()) -> None:
        """Keep what later deliveries need of ``path`` (see ``holds``); no-op without it."""
        if self.holds is None:
            return
        kwargs = dict(options)
        if account_id is not None:
            kwargs["account_id"] = account_id
        self.holds(path, **kwargs)


def _native_source(path: Path, offset: int, line: int) -> Source:
    """JSON Lines line by line; native records held in a JSON array document or a Parquet
    file are read element by element (the container is judged by content)."""
    from detector.ingest.sample import container_of  # noqa: PLC0415

    if container_of(path) in ("json-array", "json-object", "parquet"):
        from detector.ingest.adapters.rows import source_for  # noqa: PLC0415 (imports us)

        return source_for(path, offset, line)
    return LineReader(path, offset, line)


def _native_claims(record: dict) -> bool:
    return "account_id" in record or ("request" in record and "timestamp" in record)


#: Formats whose files carry no account, so that ``ingest --account-id`` applies to them.
ACCOUNT_FORMATS = frozenset({"openai-batch", "litellm", "langfuse", "otel"})

NATIVE = Format("native", native_records, _native_source, _native_claims, priority=1000)
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


def _claimed(fmt: Format, records: list[dict]) -> int:
    """How many of ``records`` ``fmt`` claims (native-structured records are never claimed)."""
    hits = 0
    for rec in records:
        if _native_claims(rec):
            continue  # native structure (account_id + request) is never another format's
        try:
            hits += bool(fmt.claims(rec))
        except Exception:  # noqa: BLE001 - a claim is a structural predicate; odd values fail it
            continue
    return hits


def detect_sample(smp: Sample) -> str:
    """The format of a sampled file (see :func:`detect`)."""
    _load_adapters()
    ordered = sorted(_FORMATS.values(), key=lambda f: f.priority)
    for fmt in ordered:
        if fmt.claims_path is not None and fmt.claims_path(smp.path):
            return fmt.name
    records = smp.objects()
    total = len(smp.records)
    for fmt in ordered:
        if fmt.name != "native" and 2 * _claimed(fmt, records) > total > 0:
            return fmt.name
    if smp.container in ("csv", "tsv"):
        cols = ", ".join(list(records[0])[:8]) if records else "none"
        raise InputError(
            f"{smp.path}: a {smp.container.upper()} file whose columns ({cols}) match no known "
            f"format; describe them in a mapping file beside it (docs/own-logs.md) or give "
            f"--format")
    return "native"


def detect(path: Path) -> str:
    """Name of the format of ``path`` for ``--format auto``.

    Decided once per file from its first records (:func:`detector.ingest.sample.sample`): a
    format whose mapping file lies beside the data wins; otherwise the first format (by
    ``priority``) whose ``claims`` holds for more than half of the sampled records; otherwise
    ``native``, except for CSV/TSV files, which native cannot be (InputError naming the file and
    its columns). Only keys and value types are looked at, never text inside values.
    """
    return detect_sample(sample(path))


__all__ = ["Format", "LineBatch", "detect", "detect_sample", "format_names", "get_format",
           "register"]
