"""Persistent embedding cache: a prompt is embedded once ever per model.

Layout: ``<home>/embeddings/cache/model=<slug>/part-<ns time>-*.parquet``, one folder per model key
(backend name + model version; the slug is readable plus a hash of the full key). Each row:
``prompt_hash``, ``vector`` (list<float32>, L2-normalised), ``backend``, ``model_version``,
``created_at``. New vectors are appended as a new part file (atomic write); when a folder holds
more than ``max_parts`` files they are compacted into one. Concurrent writers are serialised by an
advisory lock; a hash stored twice is harmless (the first copy wins).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from detector.lake.io import atomic_path, write_parquet_atomic

#: rows per Parquet row group in cache files: lookups and compaction read one at a time
ROW_GROUP = 16_384


def model_slug(backend_name: str, model_version: str) -> str:
    """File-system-safe folder name for a model key."""
    key = f"{backend_name}|{model_version}"
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", key)[:60].strip("-")
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _vectors_to_arrow(vectors: np.ndarray) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, vectors.size + 1, vectors.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat)


def vectors_from_arrow(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    """A list<float32> column of equal-length rows as an (n, dim) float32 array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(column) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(column), dim)


def cache_table(hashes: list[str] | np.ndarray, vectors: np.ndarray, backend_name: str,
                model_version: str, dim: int) -> pa.Table:
    """A cache part file's rows: ``vectors`` (already L2-normalised) of ``hashes``."""
    if vectors.shape != (len(hashes), dim):
        raise ValueError(f"vectors: expected shape ({len(hashes)}, {dim}), got {vectors.shape}")
    n = len(hashes)
    return pa.table({
        "prompt_hash": pa.array(list(hashes), type=pa.string()),
        "vector": _vectors_to_arrow(vectors),
        "backend": pa.array([backend_name] * n, type=pa.string()).dictionary_encode(),
        "model_version": pa.array([model_version] * n, type=pa.string()).dictionary_encode(),
        "created_at": pa.array([datetime.now(UTC)] * n, type=pa.timestamp("us", tz="UTC")),
    })


class EmbeddingCache:
    """Vectors of one model, keyed by prompt hash."""

    def __init__(self, root: Path, backend_name: str, model_version: str, dim: int,
                 max_parts: int = 32) -> None:
        self.backend_name = backend_name
        self.model_version = model_version
        self.dim = dim
        self.max_parts = max_parts
        self.folder = Path(root) / f"model={model_slug(backend_name, model_version)}"

    def parts(self) -> list[Path]:
        if not self.folder.exists():
            return []
        return sorted(p for p in self.folder.glob("part-*.parquet"))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def lookup(self, hashes: list[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, vectors): which of ``hashes`` are cached (bool mask) and their vectors in order.

        Streams the cache one row group at a time into the result: memory is the result plus
        one row group, whatever the size of the cache."""
        codes, uniq = pd.factorize(np.asarray(hashes, dtype=object))
        found_u = np.zeros(len(uniq), dtype=bool)
        out_u = np.zeros((len(uniq), self.dim), dtype=np.float32)
        parts = self.parts()
        if parts and len(uniq):
            index = pd.Index(uniq)
            for batch in self._batches(parts, ["prompt_hash", "vector"]):
                pos = index.get_indexer(batch.column(0).to_numpy(zero_copy_only=False))
                rows = np.flatnonzero(pos >= 0)
                pos, first = np.unique(pos[rows], return_index=True)  # first copy in the batch
                new = ~found_u[pos]  # ... and first stored copy across batches (file order) wins
                if new.any():
                    vectors = vectors_from_arrow(batch.column(1).take(pa.array(rows[first[new]])), self.dim)
                    out_u[pos[new]] = vectors
                    found_u[pos[new]] = True
        if len(uniq) == len(codes):  # no repeated hash: codes are 0..n-1, no copy needed
            return found_u, out_u
        return found_u[codes], out_u[codes]

    def add(self, hashes: list[str] | np.ndarray, vectors: np.ndarray) -> None:
        """Append vectors (already L2-normalised) for new hashes as one part file."""
        if len(hashes) == 0:
            return
        table = cache_table(hashes, vectors, self.backend_name, self.model_version, self.dim)
        with self.locked():
            write_parquet_atomic(self.folder / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet",
                                 table, row_group_size=ROW_GROUP)
            if len(self.parts()) > self.max_parts:
                self.compact()

    @staticmethod
    def _batches(parts: list[Path], columns: list[str] | None = None,
                 filt: pc.Expression | None = None) -> Iterator[pa.RecordBatch]:
        """Rows of ``parts`` in file order (oldest first), so 'first stored copy' is well defined;
        one row group at a time (no read-ahead), so memory follows the rows kept, not the cache."""
        for p in parts:
            yield from ds.dataset(str(p), format="parquet").to_batches(
                columns=columns, filter=filt, batch_readahead=0, fragment_readahead=0)

    def compact(self) -> None:
        """The parts rewritten as one, first stored copy of each hash kept, streamed in row
        groups of ROW_GROUP rows (a compacted cache is read back one row group at a time)."""
        parts = self.parts()
        seen: set[str] = set()
        target = self.folder / f"part-{time.time_ns():020d}-compact.parquet"
        with atomic_path(target) as tmp:
            schema = ds.dataset(str(parts[0]), format="parquet").schema
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for batch in self._batches(parts):
                    keys = batch.column("prompt_hash").to_pylist()
                    keep = [k not in seen and not seen.add(k) for k in keys]  # first copy wins
                    table = pa.Table.from_batches([batch.filter(pa.array(keep, pa.bool_()))])
                    writer.write_table(table.cast(schema), row_group_size=ROW_GROUP)
        for p in parts:
            p.unlink(missing_ok=True)

    def size(self) -> int:
        """Number of stored rows (duplicates included)."""
        parts = self.parts()
        return ds.dataset([str(p) for p in parts], format="parquet").count_rows() if parts else 0


def lookup_any_model(cache_root: Path, hashes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(found mask, vectors) from the model folder of the embedding cache holding most of
    ``hashes``; None when there is no cache."""
    if not cache_root.exists():
        return None
    best = None
    wanted = pa.array(hashes, type=pa.string())
    for folder in sorted(cache_root.glob("model=*")):
        parts = sorted(str(x) for x in folder.glob("part-*.parquet"))
        if not parts:
            continue
        table = ds.dataset(parts, format="parquet").to_table(
            columns=["prompt_hash", "vector"], filter=pc.field("prompt_hash").isin(wanted))
        if table.num_rows == 0 or (best is not None and table.num_rows <= best.num_rows):
            continue
        best = table
    if best is None:
        return None
    dim = len(best.column("vector")[0].as_py())
    pos = pc.index_in(best.column("prompt_hash"), value_set=wanted).to_numpy(zero_copy_only=False)
    vecs = vectors_from_arrow(best.column("vector"), dim)
    pos, first = np.unique(pos.astype(np.int64), return_index=True)
    found = np.zeros(len(hashes), dtype=bool)
    out = np.zeros((len(hashes), dim), dtype=np.float32)
    out[pos], found[pos] = vecs[first], True
    return found, out
