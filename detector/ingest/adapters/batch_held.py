"""OpenAI Batch lines held for a later delivery (the held store, ``state/ingest/held/``).

A batch's input and result files may arrive in different commands. After a batch file is
ingested, its lines that found no partner (an input line without its result, a result line
without its input), with what the file knows of its batch (batch id, sidecar account and time,
earliest ``created``, the Batch object) and the command's ``--account-id``, are kept in
``held/openai-batch/<hash>.json`` (retention and erasure: ``detector.ingest.held``). A later
command pairs a line that finds no partner among its own files with a held line *of the same
batch*: the same batch id in both file names, or one file named as the other's partner (the
``_input`` / ``_output`` / ``_error`` name swap, a sidecar's ``input`` / ``output``). The
record is then built exactly as if both files had been given together, so its id is the same:
a result stored first without its prompt is enriched by its input (``detector.ingest.enrich``),
and an input held first is stored with its result.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import orjson

from detector.lake.io import write_bytes_atomic

SUBDIR = "openai-batch"
SWAPS = (("_output", "_input"), ("-output", "-input"), (".output", ".input"),
         ("_error", "_input"), ("-error", "-input"), (".error", ".input"))


def swapped_names(name: str) -> set[str]:
    """The names of a batch file's partners by the name swap (whether they exist or not)."""
    out = set()
    for a, b in SWAPS:
        for old, new in ((a, b), (b, a)):
            i = name.rfind(old)
            if i >= 0:
                out.add(name[:i] + new + name[i + len(old):])
    return out


def partner_names(f: object) -> set[str]:
    names = swapped_names(f.path.name)  # type: ignore[attr-defined]
    for key in ("input", "output"):
        if f.sidecar.get(key):  # type: ignore[attr-defined]
            names.add(Path(f.sidecar[key]).name)  # type: ignore[attr-defined]
    return names


def same_batch(held: object, me: object) -> bool:
    """Whether a held file and a file of this command belong to one batch (see above)."""
    hb, mb = held.batch_id, me.batch_id  # type: ignore[attr-defined]
    if hb and mb:
        return hb == mb
    return held.path.name in partner_names(me) or me.path.name in partner_names(held)  # type: ignore[attr-defined]


def load(folder: str | None, make: object) -> list:
    """The held batch files under ``folder`` (``make(doc)`` builds each one)."""
    if not folder:
        return []
    root = Path(folder) / SUBDIR
    if not root.is_dir():
        return []
    files = sorted(root.glob("*.json"))
    # size too: an erasure rewrites a held file keeping its mtime (detector.ingest.held)
    key = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return [make(doc) for doc in _read(str(root), key)]


@lru_cache(maxsize=4)
def _read(root: str, key: tuple) -> tuple:
    return tuple(orjson.loads((Path(root) / name).read_bytes()) for name, *_ in key)


def hold(folder: str, doc: dict) -> None:
    """Keep ``doc`` (one batch file's unpaired lines and batch facts) atomically; the name
    is the hash of the content, so holding the same file again changes nothing."""
    data = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    name = hashlib.blake2b(data, digest_size=16).hexdigest()
    target = Path(folder) / SUBDIR / f"{name}.json"
    if not target.exists():
        write_bytes_atomic(target, data)
