"""The home folder every notebook starts from (a thin wrapper over the public API).

``demo_home()`` returns the demo home of ``make run`` when ``$DETECTOR_HOME`` names a home that
has verdicts; otherwise it builds (once, then reuses) a small scored home in a cache folder:
``simulate`` -> ``ingest_paths`` -> ``feature_stages`` -> (a quickly trained model when the
home has no active model and the package ships no default one) -> ``decide.score``.

Environment: ``DETECTOR_HOME`` (use that home), ``DETECTOR_TRUTH`` (its truth.json),
``DETECTOR_NOTEBOOK_CACHE`` (where the small home is built; default: the system temp folder),
``DETECTOR_NOTEBOOK_REBUILD=1`` (rebuild the small home).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from detector.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
ACCOUNTS, DAYS, SEED = 350, 2, 11


@dataclass(frozen=True)
class DemoHome:
    """A scored home: its settings, the truth file of its traffic (None when unknown), its
    evaluated days and whether it is the notebooks' own scratch copy (safe to write into)."""

    settings: Settings
    truth_path: Path | None
    dates: list[str]
    scratch: bool

    def truth(self) -> dict | None:
        """The parsed truth.json (``{"accounts": {...}}``), or None."""
        from detector.evaluate import read_truth

        return read_truth(self.truth_path) if self.truth_path else None


def demo_home(accounts: int = ACCOUNTS, days: int = DAYS, seed: int = SEED,
              embedding_backend: str = "hashing") -> DemoHome:
    """The home to explore (see the module docstring)."""
    from detector.verdicts import evaluated_dates

    env_home = os.environ.get("DETECTOR_HOME")
    if env_home:
        path = Path(env_home)
        if not path.is_absolute() and not path.exists():
            path = REPO / path  # kernels start in notebooks/; `make run` writes ./detector-home
        settings = load_settings(path)
        if evaluated_dates(settings):
            return DemoHome(settings, _env_truth(), evaluated_dates(settings), scratch=False)
    cache = Path(os.environ.get("DETECTOR_NOTEBOOK_CACHE")
                 or Path(tempfile.gettempdir()) / "distill-guard-notebooks")
    root = cache / f"demo-a{accounts}-d{days}-s{seed}-{embedding_backend}"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.environ.get("DETECTOR_NOTEBOOK_REBUILD") == "1" or not (root / "READY").exists():
            _build(root, accounts, days, seed, embedding_backend)
    settings = load_settings(root / "home", embedding_backend=embedding_backend)
    return DemoHome(settings, root / "logs" / "truth.json", evaluated_dates(settings),
                    scratch=True)


def _env_truth() -> Path | None:
    for candidate in (os.environ.get("DETECTOR_TRUTH"), REPO / "data" / "demo" / "truth.json"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def _build(root: Path, accounts: int, days: int, seed: int, embedding_backend: str) -> None:
    from detector.ingest import ingest_paths
    from detector.lake.db import lake_dates
    from detector.pipeline import feature_stages, score_days
    from detector.simulate import simulate

    shutil.rmtree(root, ignore_errors=True)
    logs = root / "logs"
    summary = simulate(logs, accounts=accounts, days=days, seed=seed)
    settings = load_settings(root / "home", embedding_backend=embedding_backend)
    settings.ensure_dirs()
    ingest_paths(settings, [str(p) for p in summary.files], progress=False)
    dates = lake_dates(settings)
    if not _has_model(settings):
        feature_stages(settings, dates)
        _train_fallback_model(settings, dates, summary.truth_path)
    score_days(settings, dates)  # what `detector run` does
    (root / "READY").write_text(json.dumps({"accounts": accounts, "days": days, "seed": seed,
                                            "embedding_backend": embedding_backend}))


def _has_model(settings: Settings) -> bool:
    from detector.model.registry import DEFAULT_DIR, ModelRegistry

    return bool(ModelRegistry(settings).active_version()) or (DEFAULT_DIR / "model.joblib").exists()


def _train_fallback_model(settings: Settings, dates: list[str], truth_path: Path) -> None:
    """No default model shipped: train a small one on this home's labels and activate it."""
    from detector.evaluate import read_truth
    from detector.model.dataset import labelled_frame
    from detector.model.registry import ModelRegistry
    from detector.model.train import train_model

    frame = labelled_frame(settings, dates, read_truth(truth_path))
    model, card = train_model(frame, model_params={"max_iter": 60}, description=(
        "notebook fallback model: trained on the notebook demo home's own truth labels"))
    ModelRegistry(settings).save(model, card, activate=True)
