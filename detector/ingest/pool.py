"""Worker processes of an ingest: pool entry points and chunks parsed ahead in a pool.

:func:`parse_chunk` parses one batch of a file in a pool process (the parent commits, in file
order: :func:`detector.ingest.worker.process_file`); :func:`run_task` ingests a whole file in a
pool process; :func:`init_worker` prepares each pool process. What a spawned process
imports never reaches ``detector.settings`` (pydantic): it is given an
:class:`detector.ingest.config.IngestConfig`, never the settings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import TYPE_CHECKING

from detector.ingest.commit import enter_worker
from detector.ingest.config import IngestConfig
from detector.ingest.formats import get_format
from detector.ingest.memory import keep_freed_memory
from detector.ingest.normalize import Limits
from detector.ingest.parse import ParsedBatch, RecordReader
from detector.ingest.scan import parse_to_table
from detector.ingest.sources import LineBatch

if TYPE_CHECKING:
    from detector.ingest.worker import FileTask


def _end(batch: LineBatch) -> tuple[int, int]:
    """Resume point after ``batch``: (decompressed byte offset, number of its last line)."""
    return batch.end_offset, batch.line_no(len(batch.lines) - 1)


def _parsed_in_pool(pool: Executor, ahead: int, task: FileTask, batches: Iterator[LineBatch]
                    ) -> Iterator[tuple[tuple[int, int], ParsedBatch]]:
    """(resume point, parsed batch) in file order, up to ``ahead`` batches parsing in ``pool``.

    Memory: at most ``ahead`` batches are submitted and not yet taken back (the executor holds
    their lines until their result arrives), plus the parsed result being committed.
    """
    pending: deque[tuple[tuple[int, int], Future]] = deque()
    for batch in batches:
        fut = pool.submit(parse_chunk, task.fmt, task.path, task.limits, batch,
                          task.account_id, task.options)
        pending.append((_end(batch), fut))
        del batch
        if len(pending) >= ahead:
            end, fut = pending.popleft()
            yield end, fut.result()
    while pending:
        end, fut = pending.popleft()
        yield end, fut.result()


_READERS: dict[tuple, RecordReader] = {}


def parse_chunk(fmt: str, path: str, limits: Limits, batch: LineBatch,
                account_id: str | None = None, options: tuple = ()) -> ParsedBatch:
    """Pool entry point: parse one batch of ``path``; rows come back as an Arrow table."""
    key = (fmt, path, account_id, options)
    reader = _READERS.get(key)
    if reader is None:
        if len(_READERS) > 64:
            _READERS.clear()
        reader = _READERS[key] = get_format(fmt).reader(Path(path), account_id, options)
    return parse_to_table(batch, limits, reader)


_QUEUE = None


def init_worker(queue: object, workers_lock: str) -> None:
    """Pool initializer: die with the parent, hold the workers lock, keep the progress queue."""
    global _QUEUE
    enter_worker(Path(workers_lock))
    keep_freed_memory()
    _QUEUE = queue


def run_task(config: IngestConfig, task: FileTask) -> dict:
    """Pool entry point: process one file, report progress through the queue (``config``: the
    plain values :func:`detector.ingest.config.ingest_config` derived from the settings)."""
    def report(n: int) -> None:
        if _QUEUE is not None:
            _QUEUE.put(n)  # type: ignore[attr-defined]
    from detector.ingest.worker import process_file  # noqa: PLC0415 (imports this module)

    return process_file(config, task, report).to_dict()
