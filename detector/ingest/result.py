"""The result of one ingest command: totals, per-file outcomes, days touched."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from detector.ingest.outcome import FileOutcome


@dataclass
class IngestResult:
    """Totals of one ingest (grain: one command over its paths).

    ``read == accepted + duplicates + quarantined`` always; ``enriched`` and ``conflicting``
    count duplicates again (``enriched + conflicting <= duplicates``): re-deliveries that
    completed a stored row, or differ from it on a field both have
    (:class:`detector.ingest.outcome.FileOutcome`). ``dates`` are the UTC days that
    received accepted rows; ``rescore_dates`` those of them that had already been scored (late
    records). ``resumed`` is True when this run finished an interrupted run over the same input.
    """

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    enriched: int = 0
    conflicting: int = 0
    files: list[FileOutcome] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    rescore_dates: list[str] = field(default_factory=list)
    job_id: str = ""
    resumed: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    #: Share of accepted records carrying each signal field, and what the source leaves
    #: blind (``detector.ingest.coverage``); set by ``--json`` and ``--dry-run``.
    fill_rates: dict | None = None
    blind: dict | None = None
    dry_run: bool = False

    @classmethod
    def from_outcomes(cls, outcomes: list[FileOutcome], **extra: object) -> IngestResult:
        res = cls(files=outcomes, **extra)  # type: ignore[arg-type]
        dates: set[str] = set()
        rescore: set[str] = set()
        for o in outcomes:
            res.read += o.read
            res.accepted += o.accepted
            res.duplicates += o.duplicates
            res.quarantined += o.quarantined
            res.enriched += o.enriched
            res.conflicting += o.conflicting
            dates.update(o.dates)
            rescore.update(o.rescore_dates)
            res.warnings.extend(f"{o.path}: {w}" for w in o.warnings)
        res.dates, res.rescore_dates = sorted(dates), sorted(rescore)
        return res

    def to_dict(self) -> dict:
        return {
            "read": self.read, "accepted": self.accepted, "duplicates": self.duplicates,
            "quarantined": self.quarantined, "enriched": self.enriched,
            "conflicting": self.conflicting, "n_files": len(self.files),
            "dates": self.dates, "rescore_dates": self.rescore_dates,
            "job_id": self.job_id, "resumed": self.resumed, "seconds": round(self.seconds, 3),
            "warnings": self.warnings, "files": [o.to_dict() for o in self.files],
            **({"fill_rates": self.fill_rates, "blind": self.blind}
               if self.fill_rates is not None else {}),
            **({"dry_run": True} if self.dry_run else {}),
        }

    def to_json(self) -> str:
        """One JSON object (the ``detector ingest --json`` output)."""
        return orjson.dumps(self.to_dict()).decode()
