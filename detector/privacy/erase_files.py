"""The parts of ``detector erase`` (:mod:`detector.privacy.erase`) that drop whole rows or
folders without pseudonymising anything: the account's lake request rows, its quarantined lines,
the embedding-cache vectors of its prompts, and leftover Spark scratch folders (deleted whole).

Each reports what it changed through ``add(kind, n, path)`` (``EraseResult.add``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.embeddings.paths import cache_root
from detector.lake.io import SCRATCH_PREFIX, write_parquet_atomic
from detector.settings import Settings

Add = Callable[[str, int, Path], None]


def erase_requests(settings: Settings, account_id: str, add: Add) -> set[str]:
    """Drop the account's lake rows; returns its prompt and system hashes (for the cache)."""
    hashes: set[str] = set()
    for path in sorted(settings.requests_dir.glob("date=*/*.parquet")):
        names = pq.read_schema(path).names
        cols = [c for c in ("account_id", "prompt_hash", "system_hash") if c in names]
        t = pq.read_table(path, columns=cols)
        mine = pc.fill_null(pc.equal(t["account_id"].cast(pa.string()), account_id), False)
        n = int(pc.sum(mine).as_py() or 0)
        if not n:
            continue
        sub = t.filter(mine)
        for c in cols[1:]:
            hashes.update(h for h in sub[c].cast(pa.string()).to_pylist() if h)
        full = pq.read_table(path)
        write_parquet_atomic(path, full.filter(pc.invert(mine)))
        add("lake_requests", n, path)
    return hashes


def json_literal(value: str) -> str:
    """``value`` as a JSON string literal, as it appears in raw lines and JSON columns."""
    return json.dumps(value, ensure_ascii=False)


def erase_quarantine(settings: Settings, account_id: str, add: Add) -> None:
    """Drop the quarantined lines whose raw text carries the id as a JSON string."""
    needle = json_literal(account_id).encode("utf-8")
    for path in sorted(settings.quarantine_dir.rglob("*.parquet")):
        t = pq.read_table(path)
        if "raw" not in t.column_names:
            continue
        raw = t["raw"].to_pylist()
        keep = [not (r is not None and needle in r) for r in raw]
        n = keep.count(False)
        if n:
            write_parquet_atomic(path, t.filter(pa.array(keep)))
            add("quarantine_lines", n, path)


def erase_cache(settings: Settings, hashes: set[str], add: Add) -> None:
    """Drop the embedding-cache vectors of ``hashes`` (the account's prompts)."""
    if not hashes:
        return
    wanted = pa.array(sorted(hashes), pa.string())
    for path in sorted(cache_root(settings).glob("model=*/part-*.parquet")):
        t = pq.read_table(path)
        hit = pc.fill_null(pc.is_in(t["prompt_hash"].cast(pa.string()), value_set=wanted), False)
        n = int(pc.sum(hit).as_py() or 0)
        if n:
            write_parquet_atomic(path, t.filter(pc.invert(hit)))
            add("embedding_cache_vectors", n, path)


def drop_scratch(roots: Iterable[Path], add: Add) -> None:
    """Delete every Spark scratch folder under ``roots``: a hidden folder whose name holds
    ``.spark-`` (``lake.io.scratch_folder``'s, and the temporary write folders of the day
    caches, verdicts and embedding cache), which a run removes when it ends and a crashed run
    leaves behind. Disposable, and it may hold any account's rows: deleted whole, not
    rewritten (``add("spark_scratch_folders", 1, folder)`` for each). A Spark run in progress
    meanwhile loses its scratch and fails."""
    for root in roots:
        for parent, folders, _ in os.walk(root):
            for name in sorted(folders):
                if name.startswith(".") and SCRATCH_PREFIX in name:
                    folders.remove(name)  # not walked into
                    try:
                        shutil.rmtree(Path(parent) / name)
                    except FileNotFoundError:  # its run removed it meanwhile
                        continue
                    add("spark_scratch_folders", 1, Path(parent) / name)
