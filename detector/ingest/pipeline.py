"""``ingest_paths``: the ingest entry point (files, folders, globs -> lake + manifest).

One call is one *job*. Its key is the list of input files (resolved path, size, mtime) and the
format; running the same command again after a crash resumes the unfinished job, so its
result equals that of an uninterrupted run. Files are identified by sha256: a file already
ingested (by any job) is a *redelivery* and adds nothing (its good records count as
duplicates, its bad ones as quarantined again but are not stored twice).
"""

from __future__ import annotations

import hashlib
import os
import queue as queue_mod
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from detector.errors import InputError
from detector.ingest import manifest as mf
from detector.ingest.commit import home_lock, recover, workers_lock_path
from detector.ingest.config import IngestConfig, ingest_config
from detector.ingest.formats import ACCOUNT_FORMATS, detect, get_format
from detector.ingest.held import prune_held
from detector.ingest.memory import freed_memory_kept
from detector.ingest.normalize import Limits
from detector.ingest.readable import check_readable
from detector.ingest.result import IngestResult
from detector.ingest.sources import expand_paths, file_sha256, sniff_compression
from detector.ingest.worker import (
    FileOutcome,
    FileTask,
    file_outcome,
    init_worker,
    insert_job_file,
    process_file,
    run_task,
)

if TYPE_CHECKING:
    from detector.settings import Settings


@dataclass(frozen=True)
class _Input:
    path: Path
    key: str  # resolved path
    size: int
    mtime_ns: int
    fmt: str
    sha256: str = ""


def _inputs(paths: list[str | Path], fmt: str) -> list[_Input]:
    files = expand_paths(paths)
    if fmt != "auto":
        get_format(fmt)
    out = []
    for f in files:
        sniff_compression(f)  # raises InputError when unreadable
        st = f.stat()
        out.append(_Input(f, str(f.resolve()), st.st_size, st.st_mtime_ns,
                          detect(f) if fmt == "auto" else fmt))
    return out


def _check_account(account_id: str | None, inputs: list[_Input]) -> str | None:
    """The caller's account id, validated; InputError when no input can use it."""
    if account_id is None:
        return None
    if not account_id.strip() or len(account_id) > 1024:
        raise InputError(f"--account-id: expected a non-empty id of at most 1024 characters, "
                         f"got {account_id[:40]!r}")
    if inputs and not any(i.fmt in ACCOUNT_FORMATS for i in inputs):
        raise InputError(f"--account-id: applies to files that carry no account "
                         f"({', '.join(sorted(ACCOUNT_FORMATS))}); none of the inputs is one")
    return account_id


def _check_account_key(account_key: str | None, inputs: list[_Input], explicit: bool
                       ) -> str | None:
    """The ``--account-key`` (or detector.toml ``account_key``), validated per format.

    InputError when a format that takes account keys does not know this one, or when the key
    was given on the command line and no input takes one (a detector.toml default applies
    only where it can)."""
    if not account_key:
        return None
    takers = [i for i in inputs if get_format(i.fmt).account_keys is not None]
    if explicit and inputs and not takers:
        raise InputError(f"--account-key: none of the inputs is in a format that takes one "
                         f"({', '.join(_key_formats())})")
    for inp in takers:
        keys = get_format(inp.fmt).account_keys or ()
        if "*" not in keys and account_key not in keys:
            raise InputError(f"--account-key: {inp.fmt} ({inp.path.name}) takes one of "
                             f"{', '.join(keys)}; got {account_key!r}")
    return account_key


def _key_formats() -> list[str]:
    from detector.ingest.formats import format_names  # noqa: PLC0415

    return [n for n in format_names() if get_format(n).account_keys is not None]


def _options(inp: _Input, inputs: list[_Input], account_key: str | None, held: Path
             ) -> tuple:
    """Reader options of one input (``Format.reader``): its account key, the other files,
    the held store (``Format.holds``)."""
    form = get_format(inp.fmt)
    opts: list[tuple] = []
    if account_key and form.account_keys is not None:
        opts.append(("account_key", account_key))
    if form.wants_related:
        opts.append(("related", tuple(i.key for i in inputs if i.key != inp.key)))
    if form.holds is not None:
        opts.append(("held", str(held)))
    return tuple(opts)


def _with_hashes(con: sqlite3.Connection, inputs: list[_Input], workers: int) -> list[_Input]:
    cached = {}
    for inp in inputs:
        row = con.execute("SELECT size, mtime_ns, sha256 FROM path_cache WHERE path = ?",
                          (inp.key,)).fetchone()
        if row and row[0] == inp.size and row[1] == inp.mtime_ns:
            cached[inp.key] = row[2]
    todo = [inp.path for inp in inputs if inp.key not in cached]
    if len(todo) > 1 and workers > 1:  # hashlib releases the GIL: threads suffice
        with ThreadPoolExecutor(min(workers, len(todo))) as ex:
            hashes = list(ex.map(file_sha256, todo))
    else:
        hashes = [file_sha256(p) for p in todo]
    fresh = dict(zip([str(p.resolve()) for p in todo], hashes, strict=True))
    con.executemany("INSERT OR REPLACE INTO path_cache VALUES (?, ?, ?, ?)",
                    [(i.key, i.size, i.mtime_ns, fresh[i.key]) for i in inputs if i.key in fresh])
    return [replace(i, sha256=cached.get(i.key) or fresh[i.key]) for i in inputs]


def _job(con: sqlite3.Connection, inputs: list[_Input], fmt: str,
         account_id: str | None = None, account_key: str | None = None
         ) -> tuple[str, str, bool]:
    """(job_id, quarantine day, resumed) for this input list (and caller's account)."""
    key_doc: list = [fmt, [(i.key, i.size, i.mtime_ns) for i in inputs]]
    if account_id is not None:
        key_doc.append(account_id)
    if account_key is not None:
        key_doc.append(["account_key", account_key])
    key = hashlib.sha256(orjson.dumps(key_doc)).hexdigest()
    row = con.execute("SELECT job_id, started_at FROM jobs WHERE job_key = ? AND status = "
                      "'running' ORDER BY started_at DESC LIMIT 1", (key,)).fetchone()
    if row:
        return row[0], row[1][:10], True
    now = datetime.now(UTC)
    job_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    con.execute("INSERT INTO jobs (job_id, job_key, status, started_at) VALUES (?, ?, "
                "'running', ?)", (job_id, key, now.isoformat()))
    return job_id, now.date().isoformat(), False


def _done_paths(con: sqlite3.Connection, job_id: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT path FROM job_files WHERE job_id = ?", (job_id,))}


def _file_status(con: sqlite3.Connection, sha: str) -> str | None:
    row = con.execute("SELECT status FROM files WHERE sha256 = ?", (sha,)).fetchone()
    return row[0] if row else None


def _run_tasks(config: IngestConfig, tasks: list[FileTask], workers: int,
               advance: Callable[[int], None]) -> None:
    """Process tasks inline (one worker) or in a spawn pool; outcomes land in the manifest.

    With fewer files than workers, files are read one after the other here and their chunks
    parsed in a pool of ``workers`` processes (commits stay here, in file order; not in
    prompt-sampling mode, whose sample is drawn from row tuples at commit time); otherwise
    each pool worker ingests whole files.
    """
    chunk_pool = len(tasks) < workers and config.keep_prompt_text
    if workers <= 1 or not tasks or (len(tasks) == 1 and not chunk_pool):
        with freed_memory_kept():
            for task in tasks:
                process_file(config, task, advance)
        return
    ctx = get_context("spawn")
    with _single_threaded_blas(), freed_memory_kept():  # the parent commits in chunk pools
        _run_pool(config, tasks, workers, advance, ctx, chunk_pool)


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Worker processes start with one BLAS thread (they never call BLAS: numpy's sort and
    search only): an idle OpenBLAS pool spins for a while after import, CPU the workers need."""
    keys = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ.setdefault(k, "1")
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_pool(config: IngestConfig, tasks: list[FileTask], workers: int,
              advance: Callable[[int], None], ctx: object, chunk_pool: bool) -> None:
    if chunk_pool:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                                 initargs=(None, str(workers_lock_path(config)))) as ex:
            for task in tasks:
                task = replace(task, chunk_bytes=min(task.chunk_bytes, POOL_CHUNK_BYTES))
                process_file(config, task, advance, pool=ex, pool_size=workers)
        return
    q = ctx.Queue()
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx,
                             initializer=init_worker,
                             initargs=(q, str(workers_lock_path(config)))) as ex:
        pending = {ex.submit(run_task, config, t) for t in tasks}
        while pending:
            done, pending = wait(pending, timeout=0.2)
            for fut in done:
                fut.result()
            try:
                while True:
                    advance(q.get_nowait())
            except queue_mod.Empty:
                pass


def _progress_bar(enabled: bool, total: int) -> tuple[object | None, Callable[[int], None]]:
    if not enabled or not sys.stderr.isatty():
        return None, lambda n: None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress("ingest", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("ingest", total=total)
    bar.start()
    return bar, lambda n: bar.update(task, advance=n)


#: Input bytes per chunk when one file's chunks are parsed in a pool: about ``workers + 1``
#: chunks are in flight (and each parsed chunk exists as rows, an Arrow table and its
#: pickled copy in a worker), so chunks are smaller than in the sequential read to keep the
#: peak RSS of the process tree well under 2 GiB (bench/results/ingest_5gb.json).
POOL_CHUNK_BYTES = 24 << 20

#: Below this many input bytes a pool costs more (process start-up) than it saves.
PARALLEL_MIN_BYTES = 64 << 20


def default_workers(settings: Settings, total_bytes: int) -> int:
    """Processes for an ingest: settings.threads or all cores, 1 for small inputs."""
    if total_bytes < PARALLEL_MIN_BYTES:
        return 1
    return settings.threads or os.cpu_count() or 1


def ingest_paths(settings: Settings, paths: list[str | Path], fmt: str = "auto",
                 progress: bool = True, workers: int | None = None,
                 limits: Limits | None = None, chunk_lines: int = 50_000,
                 account_id: str | None = None, account_key: str | None = None,
                 dry_run: bool = False, fill_rates: bool = False) -> IngestResult:
    """Ingest files/folders/globs into the lake; see the module docstring.

    ``workers``: processes (default: all cores when the input is large): whole files each, or,
    with fewer files than workers, chunks of one file at a time; ``chunk_lines``: lines per
    committed chunk (the unit of crash recovery and of memory); ``account_id``: the account of
    files whose format carries none (OpenAI Batch files; InputError when no input is one);
    ``account_key``: the billing unit of formats that carry several (``Format.account_keys``;
    default: ``settings.account_key``); ``dry_run``: read, detect, map and count, commit
    nothing (:func:`detector.ingest.coverage.dry_run`); ``fill_rates``: add the per-field fill
    rates and blind rules of the accepted records to the result (``--json``).
    Raises InputError (CLI exit 2), before anything is committed, for a missing path, an
    unreadable file, an unknown format or a file that is not in its chosen or detected format
    (:mod:`detector.ingest.readable`); bad records inside files are quarantined and counted,
    never raised.
    """
    t0 = time.perf_counter()
    inputs = _inputs(paths, fmt)
    account_id = _check_account(account_id, inputs)
    account_key = _check_account_key(account_key or settings.account_key or None, inputs,
                                     explicit=bool(account_key))
    held = mf.held_dir(settings)
    options = {inp.key: _options(inp, inputs, account_key, held) for inp in inputs}
    n_workers = workers or default_workers(settings, sum(i.size for i in inputs))
    limits = limits or Limits(redact_bodies=not settings.keep_prompt_text)
    for inp in inputs:  # before anything is committed: a file in the wrong format stops all
        check_readable(inp.path, inp.fmt, account_id if inp.fmt in ACCOUNT_FORMATS else None,
                       limits, options[inp.key])
    if dry_run:
        from detector.ingest.coverage import dry_run as dry  # noqa: PLC0415

        return dry([(inp.key, inp.fmt, account_id if inp.fmt in ACCOUNT_FORMATS else None,
                     options[inp.key]) for inp in inputs], limits, t0)
    for d in (settings.requests_dir, settings.quarantine_dir, mf.ingest_state_dir(settings)):
        d.mkdir(parents=True, exist_ok=True)
    with home_lock(settings):
        con = mf.connect(settings)
        try:
            recover(settings, con)
            inputs = _with_hashes(con, inputs, n_workers)
            job_id, qday, resumed = _job(con, inputs, fmt, account_id, account_key)
            done = _done_paths(con, job_id)
            tasks, first_of = [], {}
            for inp in inputs:
                if inp.key in done or inp.sha256 in first_of:
                    continue
                first_of[inp.sha256] = inp.key
                if _file_status(con, inp.sha256) != "done":
                    acct = account_id if inp.fmt in ACCOUNT_FORMATS else None
                    tasks.append(FileTask(inp.key, inp.sha256, inp.size, inp.fmt, job_id, qday,
                                          limits, chunk_lines, account_id=acct,
                                          options=options[inp.key]))
            bar, advance = _progress_bar(progress, sum(t.size for t in tasks))
            try:
                _run_tasks(ingest_config(settings), tasks, n_workers, advance)
            finally:
                if bar is not None:
                    bar.stop()  # type: ignore[attr-defined]
            outcomes = _collect(con, job_id, inputs)
            result = IngestResult.from_outcomes(outcomes, job_id=job_id, resumed=resumed)
            if fill_rates:
                from detector.ingest.coverage import add_coverage  # noqa: PLC0415

                add_coverage(result, sorted(settings.requests_dir.glob(
                    f"date=*/part-{job_id}-*.parquet")))
            result.seconds = time.perf_counter() - t0
            con.execute("UPDATE jobs SET status = 'done', finished_at = ?, result_json = ? "
                        "WHERE job_id = ?",
                        (datetime.now(UTC).isoformat(), result.to_json(), job_id))
        finally:
            con.close()
        if settings.retention_days > 0:
            # the lake, then every artefact's own setting (detector/privacy, docs/security.md)
            from detector.privacy import apply_all_retention  # noqa: PLC0415

            apply_all_retention(settings)
        else:  # the held store is bounded whatever retention_days says (it holds prompts)
            prune_held(settings)
    return result


def _collect(con: sqlite3.Connection, job_id: str, inputs: list[_Input]) -> list[FileOutcome]:
    """Per-input outcomes of the job, in input order (redeliveries recorded now)."""
    rows = {r[0]: r for r in con.execute("SELECT path FROM job_files WHERE job_id = ?",
                                         (job_id,))}
    outcomes = []
    for inp in inputs:
        if inp.key not in rows:
            con.execute("BEGIN IMMEDIATE")
            insert_job_file(con, job_id, file_outcome(con, inp.sha256, inp.key, "redelivery"))
            con.execute("COMMIT")
        r = con.execute("SELECT path, sha256, role, read, accepted, duplicates, quarantined, "
                        "dates_json, rescore_json, warnings_json, enriched, conflicting "
                        "FROM job_files "
                        "WHERE job_id = ? AND path = ?", (job_id, inp.key)).fetchone()
        outcomes.append(FileOutcome(r[0], r[1], inp.fmt, r[2], r[3], r[4], r[5], r[6],
                                    orjson.loads(r[7]), orjson.loads(r[8]), orjson.loads(r[9]),
                                    r[10], r[11]))
    return outcomes
