"""Ingest of one file, chunk by chunk, resumable (runs in a worker process or inline).

Grain: one :class:`FileTask` in, one :class:`FileOutcome` out. Each chunk is parsed, deduplicated
by request id (within the chunk, then against every id already committed), staged as Parquet
and committed (see ``detector.ingest.commit``). The file's cumulative counts and resume point
live in the manifest row, so a file interrupted at any moment resumes at its last committed
chunk and ends with exactly the counts of an uninterrupted read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from detector.ingest import enrich, idstore
from detector.ingest import manifest as mf
from detector.ingest.commit import (
    encode_parts,
    mark_published,
    publish,
    staging_dir,
)
from detector.ingest.config import IngestConfig
from detector.ingest.formats import get_format
from detector.ingest.normalize import Limits
from detector.ingest.outcome import (  # noqa: F401  (re-exported)
    FileOutcome,
    file_outcome,
    finish_file,
    insert_job_file,
)
from detector.ingest.parse import ParsedBatch, parse_batch
from detector.ingest.pool import (  # noqa: F401  (re-exported)
    _end,
    _parsed_in_pool,
    init_worker,
    parse_chunk,
    run_task,
)
from detector.ingest.privacy import apply_sample
from detector.ingest.scan import parse_to_table, request_id_keys
from detector.ingest.tables import (
    quarantine_table,
    rows_by_date,
    rows_to_table,
    table_by_date,
)
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_PARQUET_OPTIONS

Progress = Callable[[int], None]


@dataclass(frozen=True)
class FileTask:
    """One file to ingest within job ``job_id`` (``quarantine_day``: partition for bad lines)."""

    path: str
    sha256: str
    size: int
    fmt: str
    job_id: str
    quarantine_day: str
    limits: Limits = field(default_factory=Limits)
    chunk_lines: int = 50_000
    chunk_bytes: int = 48 << 20
    account_id: str | None = None  # the caller's account for formats that carry none
    options: tuple = ()  # more reader options, Format.reader (account_key, related files)


@dataclass
class _FileState:
    file_id: int
    status: str
    seq: int
    end_offset: int
    end_line: int


def _open_file(con: sqlite3.Connection, task: FileTask) -> _FileState:
    now = datetime.now(UTC).isoformat()
    con.execute("BEGIN IMMEDIATE")
    con.execute(
        "INSERT OR IGNORE INTO files (sha256, size, path, fmt, job_id, status, started_at) "
        "VALUES (?, ?, ?, ?, ?, 'open', ?)",
        (task.sha256, task.size, task.path, task.fmt, task.job_id, now))
    con.execute("UPDATE files SET job_id = ? WHERE sha256 = ? AND status = 'open'",
                (task.job_id, task.sha256))
    row = con.execute("SELECT file_id, status, chunks, end_offset, end_line FROM files "
                      "WHERE sha256 = ?", (task.sha256,)).fetchone()
    con.execute("COMMIT")
    return _FileState(*row)


def _ts_us(parsed: ParsedBatch) -> np.ndarray:
    """The rows' timestamps as int64 µs (kept with a reserved run, ``IdStore.in_flight``)."""
    if parsed.table is not None:
        return parsed.table.column("ts").cast(pa.int64()).to_numpy()
    return np.array([r[1] for r in parsed.rows], np.int64)


def _dedupe_local(parsed: ParsedBatch) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first occurrence of each request id of ``parsed``, and all their
    keys (:func:`detector.ingest.idstore.id_keys`)."""
    keys = request_id_keys(parsed)
    return idstore.first_occurrences(keys), keys


class ChunkWriter:
    """Stages, commits and publishes the chunks of one file."""

    def __init__(self, config: IngestConfig, con: sqlite3.Connection, task: FileTask,
                 state: _FileState) -> None:
        self.config, self.con, self.task, self.state = config, con, task, state
        self.ids = idstore.IdStore(idstore.folder_of(mf.ingest_state_dir(config)))
        self.sample = not config.keep_prompt_text
        self.sample_k = max(0, config.embedding_sample_k)
        self.extra = enrich.Outcome()
        self.held_locks = ExitStack()
        self.lock_held = False

    def _stage(self, parsed: ParsedBatch, keep: list[int]) -> tuple[list, dict[str, int]]:
        s, task = self.config, self.task
        tag = f"{self.state.file_id}-{self.state.seq}"
        base = staging_dir(s) / tag
        name = f"part-{task.job_id}-{tag}.parquet"
        parts: list[tuple[Path, Path]] = []
        per_date: dict[str, int] = {}
        if parsed.table is not None:
            rows = parsed.table
            if len(keep) < rows.num_rows:  # keep is ascending: all rows means no duplicates
                mask = np.zeros(rows.num_rows, bool)
                mask[keep] = True
                rows = rows.filter(pa.array(mask))
            for day, table in table_by_date(rows, task.path, task.job_id):
                staged = base / "requests" / f"date={day}" / name
                write_parquet_atomic(staged, table, **REQUEST_PARQUET_OPTIONS)
                parts.append((staged, s.requests_dir / f"date={day}" / name))
                per_date[day] = table.num_rows
            return self._stage_bad(parsed, base, name, parts), self._with_extra(per_date)
        rows = [parsed.rows[i] for i in keep]
        lines = [parsed.row_lines[i] for i in keep]
        if self.sample:
            rows = apply_sample(self.con, rows, self.sample_k)
        for day, idx in rows_by_date(rows).items():
            table = rows_to_table([rows[i] for i in idx], [lines[i] for i in idx],
                                  task.path, task.job_id)
            staged = base / "requests" / f"date={day}" / name
            write_parquet_atomic(staged, table, **REQUEST_PARQUET_OPTIONS)
            parts.append((staged, s.requests_dir / f"date={day}" / name))
            per_date[day] = len(idx)
        return self._stage_bad(parsed, base, name, parts), self._with_extra(per_date)

    def _with_extra(self, per_date: dict[str, int]) -> dict[str, int]:
        """Rows per day, the days of rows enriched by this chunk included (0 new rows)."""
        for day in self.extra.days:
            per_date.setdefault(day, 0)
        return per_date

    def _stage_bad(self, parsed: ParsedBatch, base: Path, name: str,
                   parts: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
        s, task, extra = self.config, self.task, self.extra
        parts.extend(extra.parts)
        if extra.conflicts:
            parsed = ParsedBatch(bad_lines=parsed.bad_lines + [c[0] for c in extra.conflicts],
                                 bad_raw=parsed.bad_raw + [c[1] for c in extra.conflicts],
                                 bad_reasons=parsed.bad_reasons + [c[2] for c in extra.conflicts])
        if parsed.bad_raw:
            table = quarantine_table(parsed, task.path, task.job_id)
            staged = base / "quarantine" / f"date={task.quarantine_day}" / name
            write_parquet_atomic(staged, table)
            parts.append((staged, s.quarantine_dir / f"date={task.quarantine_day}" / name))
        return parts

    def _resolve(self, parsed: ParsedBatch, keep: np.ndarray, keys: np.ndarray) -> None:
        """Duplicates, enrichments and conflicting re-deliveries of the rows not kept
        (:mod:`detector.ingest.enrich`); the normal path (every row new) reads nothing."""
        self.extra = enrich.Outcome()
        if len(keep) == parsed.n_rows:
            return
        staging = staging_dir(self.config) / f"{self.state.file_id}-{self.state.seq}"
        rest = np.ones(parsed.n_rows, bool)
        rest[keep] = False
        rest = np.flatnonzero(rest)
        flight = (np.full(parsed.n_rows, idstore.NO_TS, np.int64),
                  np.full(parsed.n_rows, None, object))
        flight[0][rest], flight[1][rest] = self.ids.in_flight(self.con, keys[rest])
        self.extra = enrich.resolve(self.config, parsed, keep, keys, staging, self.sample,
                                    None if self.lock_held else self._pending, flight)
        if self.extra.parts and not self.lock_held:  # stored rows to rewrite: again under
            # the lock, held to the rename (duplicates and conflicts need none: enrichment
            # only adds to a row, so they are the same against any copy); the same ids in
            # flight, so that the second pass decides what the first did
            self._discard(self.extra.parts, None)
            self._lock()
            self.extra = enrich.resolve(self.config, parsed, keep, keys, staging, self.sample,
                                        flight=flight)

    def _pending(self, runs: set[str]) -> bool:
        """Whether any of ``runs`` (other workers' chunks) is still reserved, or a committed
        chunk unpublished: their rows are not yet readable in the lake."""
        con = self.con
        if runs and con.execute(f"SELECT 1 FROM id_reserved WHERE name IN "
                                f"({','.join('?' * len(runs))}) LIMIT 1", tuple(runs)
                                ).fetchone():
            return True
        return con.execute("SELECT 1 FROM chunks WHERE published = 0 LIMIT 1").fetchone() \
            is not None

    def _discard(self, parts: list[tuple[Path, Path]], run: str | None) -> None:
        for staged, _ in parts:
            staged.unlink(missing_ok=True)
        if run is not None:
            self.ids.discard(run)

    def commit(self, parsed: ParsedBatch, end_offset: int, end_line: int) -> None:
        """Commit one parsed chunk (ids, counts, resume point, parts), then publish it.

        The chunk's new ids are probed outside the write lock and reserved in one short
        transaction (which reads again only the runs listed since the probe); the Parquet
        parts are then staged outside the lock, and a second transaction records the chunk.
        Reserving before staging means a chunk is staged once, whatever the other workers
        commit meanwhile (see ``detector.ingest.commit``)."""
        con, ids = self.con, self.ids
        keep, keys = _dedupe_local(parsed)
        known, probed = ids.known(con, keys[keep])
        keep = keep[~known]
        with ExitStack() as self.held_locks:  # the rewrite lock, when this chunk enriches
            self.lock_held = False
            if self.sample and len(keep) < parsed.n_rows:
                self._lock()  # before the sampled chunk's transaction, never inside it
            self._commit_locked(parsed, keep, keys, probed, end_offset, end_line)
        ids.compact(con)

    def _lock(self) -> None:
        if not self.lock_held:
            self.held_locks.enter_context(enrich.rewrite_lock(self.config))
            self.lock_held = True

    def _commit_locked(self, parsed: ParsedBatch, keep: np.ndarray, keys: np.ndarray,
                       probed: frozenset[str], end_offset: int, end_line: int) -> None:
        con = self.con
        if self.sample:
            parts = self._commit_sampled(parsed, keep, keys, probed, end_offset, end_line)
        else:
            keep, run = self._reserve(keep, keys, _ts_us(parsed), probed)
            parts: list = []
            try:
                self._resolve(parsed, keep, keys)
                parts, per_date = self._stage(parsed, keep.tolist())
                con.execute("BEGIN IMMEDIATE")
                try:
                    if run is not None:
                        idstore.settle(con, run)
                    rescore = mf.touch_dates(con, per_date)
                    self._record(parsed, len(keep), per_date, rescore, parts, end_offset,
                                 end_line)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            except BaseException:
                self._discard(parts, None)
                self._release(run)
                raise
        publish(self.config, parts)
        mark_published(con, self.state.file_id, self.state.seq)
        self.state.seq += 1

    def _reserve(self, keep: np.ndarray, keys: np.ndarray, ts: np.ndarray,
                 probed: frozenset[str]) -> tuple[np.ndarray, str | None]:
        """(rows kept, reserved run): the ids other workers committed since the probe are
        dropped, the others written as a run (with their ``ts``), listed and reserved in one
        transaction."""
        con, ids = self.con, self.ids
        run = ids.write(keys[keep], ts=ts[keep]) if len(keep) else None
        con.execute("BEGIN IMMEDIATE")
        try:
            late, _ = ids.known(con, keys[keep], probed)
            if late.any():
                if run is not None:
                    ids.discard(run)
                keep = keep[~late]
                run = ids.write(keys[keep], ts=ts[keep]) if len(keep) else None
            if run is not None:
                idstore.list_run(con, run, len(keep), 0)
                idstore.reserve(con, run)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            if run is not None:
                ids.discard(run)
            raise
        return keep, run

    def _release(self, run: str | None) -> None:
        """Undo a reservation whose chunk will not be committed (an error while staging)."""
        if run is None:
            return
        con = self.con
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.execute("BEGIN IMMEDIATE")
        try:
            idstore.release(con, run)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.ids.discard(run)

    def _commit_sampled(self, parsed: ParsedBatch, keep: np.ndarray, keys: np.ndarray,
                        probed: frozenset[str], end_offset: int, end_line: int) -> list:
        """Prompt-sampling mode: the sample counters advance in the chunk transaction, so the
        late-id check, staging and recording are one transaction. Returns the parts."""
        con, ids = self.con, self.ids
        parts: list = []
        run = None
        con.execute("BEGIN IMMEDIATE")
        try:
            late, _ = ids.known(con, keys[keep], probed)
            keep = keep[~late]
            self._resolve(parsed, keep, keys)
            parts, per_date = self._stage(parsed, keep.tolist())
            run = ids.write(keys[keep]) if len(keep) else None
            if run is not None:
                idstore.list_run(con, run, len(keep), 0)
            rescore = mf.touch_dates(con, per_date)
            self._record(parsed, len(keep), per_date, rescore, parts, end_offset, end_line)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            self._discard(parts, run)
            raise
        return parts

    def _record(self, parsed: ParsedBatch, accepted: int, per_date: dict[str, int],
                rescore: list[str], parts: list, end_offset: int, end_line: int) -> None:
        con, st = self.con, self.state
        # conflicting re-deliveries are kept in the quarantine but counted as duplicates
        extra, quarantined = self.extra, len(parsed.bad_raw)
        dup = parsed.read - accepted - quarantined
        con.execute("INSERT INTO chunks (file_id, seq, parts_json) VALUES (?, ?, ?)",
                    (st.file_id, st.seq, encode_parts(self.config, parts)))
        old_dates, old_rescore = con.execute(
            "SELECT dates_json, rescore_json FROM files WHERE file_id = ?", (st.file_id,)).fetchone()
        dates = sorted(set(orjson.loads(old_dates)) | set(per_date))
        rescores = sorted(set(orjson.loads(old_rescore)) | set(rescore))
        con.execute(
            "UPDATE files SET read = read + ?, accepted = accepted + ?, duplicates = duplicates + ?,"
            " quarantined = quarantined + ?, enriched = enriched + ?,"
            " conflicting = conflicting + ?, end_offset = ?, end_line = ?, chunks = ?,"
            " dates_json = ?, rescore_json = ? WHERE file_id = ?",
            (parsed.read, accepted, dup, quarantined, extra.enriched, len(extra.conflicts),
             end_offset, end_line, st.seq + 1,
             orjson.dumps(dates).decode(), orjson.dumps(rescores).decode(), st.file_id))


def process_file(config: IngestConfig, task: FileTask, progress: Progress | None = None,
                 pool: Executor | None = None, pool_size: int = 1) -> FileOutcome:
    """Ingest ``task.path`` from its last committed chunk to the end; see module docstring.

    With ``pool`` (a process pool of ``pool_size`` workers, see :func:`parse_chunk`), chunks
    are parsed in the pool, a few ahead, and committed here in file order; without it (and in
    prompt-sampling mode, whose sample is drawn at commit time from row tuples) here.
    """
    con = mf.connect(config)
    try:
        state = _open_file(con, task)
        if state.status == "done":
            return file_outcome(con, task.sha256, task.path, "processed")
        fmt = get_format(task.fmt)
        writer = ChunkWriter(config, con, task, state)
        source = fmt.source(Path(task.path), state.end_offset, state.end_line)
        batches = source.batches(task.chunk_lines, task.chunk_bytes)
        if pool is not None and not writer.sample:
            parsed_batches = _parsed_in_pool(pool, pool_size + 1, task, batches)
        else:
            reader = fmt.reader(Path(task.path), task.account_id, task.options)
            parse_fn = parse_batch if writer.sample else parse_to_table
            parsed_batches = ((_end(b), parse_fn(b, task.limits, reader)) for b in batches)
        done_bytes = 0
        for (end_offset, end_line), parsed in parsed_batches:
            writer.commit(parsed, end_offset, end_line)
            if progress is not None:
                progress(source.bytes_read - done_bytes)
                done_bytes = source.bytes_read
        fmt.hold(Path(task.path), task.account_id, task.options)
        return finish_file(con, task.sha256, task.path, task.job_id, list(source.warnings))
    finally:
        con.close()
