"""Model registry under ``<home>/models``: one folder per version with the artefact and its
card (JSON + Markdown), and an ``ACTIVE`` pointer. Without an active version, the default model
shipped in ``detector/model/default/`` scores, so a new install works from the first run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import joblib

from detector.errors import InputError
from detector.lake.io import atomic_path, write_text_atomic
from detector.model.card import card_markdown
from detector.model.estimator import DistillationClassifier
from detector.settings import Settings

DEFAULT_DIR = Path(__file__).resolve().parent / "default"


class ModelRegistry:
    """Versions of the classifier stored in the home folder."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.models_dir
        self.versions_dir = self.root / "versions"

    def save(self, model: DistillationClassifier, card: dict, activate: bool = False) -> str:
        version = card.get("version") or datetime.now(UTC).strftime("m%Y%m%dT%H%M%S")
        card = {**card, "version": version}
        folder = self.versions_dir / version
        if folder.exists():
            raise InputError(f"model version {version!r} already exists in {self.versions_dir}")
        save_model_files(folder, model, card)
        if activate:
            self.activate(version)
        return version

    def list(self) -> list[dict]:
        active = self.active_version()
        out = []
        for folder in sorted(self.versions_dir.glob("*")):
            card_file = folder / "card.json"
            if card_file.exists():
                card = json.loads(card_file.read_text())
                out.append({"version": folder.name, "active": folder.name == active,
                            "created": card.get("created"),
                            "average_precision": card.get("validation", {}).get("average_precision")})
        return out

    def activate(self, version: str) -> None:
        if not (self.versions_dir / version / "model.joblib").exists():
            known = ", ".join(v["version"] for v in self.list()) or "none"
            raise InputError(f"model version {version!r} not found (known: {known})")
        write_text_atomic(self.root / "ACTIVE", version + "\n")

    def active_version(self) -> str | None:
        pointer = self.root / "ACTIVE"
        return pointer.read_text().strip() or None if pointer.exists() else None

    def load(self, version: str) -> tuple[DistillationClassifier, dict]:
        return load_model_files(self.versions_dir / version)


def save_model_files(folder: Path, model: DistillationClassifier, card: dict) -> None:
    """Write model.joblib, card.json and card.md into ``folder`` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "model.joblib") as tmp:
        joblib.dump(model, tmp, compress=3)
    write_text_atomic(folder / "card.json", json.dumps(card, indent=2, sort_keys=True, default=str))
    write_text_atomic(folder / "card.md", card_markdown(card))


def load_model_files(folder: Path) -> tuple[DistillationClassifier, dict]:
    model_file, card_file = folder / "model.joblib", folder / "card.json"
    if not model_file.exists() or not card_file.exists():
        raise InputError(f"no model in {folder}: expected model.joblib and card.json "
                         "(run `make model` or `detector model train`)")
    return joblib.load(model_file), json.loads(card_file.read_text())


def load_active_model(settings: Settings) -> tuple[DistillationClassifier, dict]:
    """The home's active version, else the packaged default model."""
    registry = ModelRegistry(settings)
    version = registry.active_version()
    if version:
        return registry.load(version)
    return load_model_files(DEFAULT_DIR)
