"""What the ingest of one file reads of the settings, as plain values a worker process takes.

:class:`detector.settings.Settings` (a pydantic-settings model) stays the one source of
configuration, read in the parent; :func:`ingest_config` derives an :class:`IngestConfig` from
it, the only place that does. The config pickles into the spawned worker processes without
pydantic: nothing a worker imports reaches ``detector.settings``, pydantic or pydantic-settings
(``tests/ingest/test_worker_imports.py``), which cost about 0.8 CPU-seconds per worker start.

Helpers that only need the home's folders take an :class:`IngestHome`: the settings and an
IngestConfig both are one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from detector.settings import Settings


class IngestHome(Protocol):
    """The home's folders that the ingest reads and writes."""

    @property
    def home(self) -> Path: ...

    @property
    def state_dir(self) -> Path: ...

    @property
    def requests_dir(self) -> Path: ...

    @property
    def quarantine_dir(self) -> Path: ...


@dataclass(frozen=True)
class IngestConfig:
    """The settings one file's ingest uses (:func:`detector.ingest.worker.process_file`)."""

    home: Path
    state_dir: Path
    requests_dir: Path
    quarantine_dir: Path
    keep_prompt_text: bool
    embedding_sample_k: int


def ingest_config(settings: Settings) -> IngestConfig:
    """The :class:`IngestConfig` of ``settings``."""
    return IngestConfig(home=settings.home, state_dir=settings.state_dir,
                        requests_dir=settings.requests_dir,
                        quarantine_dir=settings.quarantine_dir,
                        keep_prompt_text=bool(settings.keep_prompt_text),
                        embedding_sample_k=int(settings.embedding_sample_k))
