import pytest

from detector.errors import InputError
from detector.model.estimator import DistillationClassifier
from detector.model.registry import ModelRegistry, load_active_model
from detector.model.train import train_model
from detector.settings import load_settings


def test_registry_round_trip_and_activation(tmp_path, labelled):
    settings = load_settings(tmp_path / "home")
    registry = ModelRegistry(settings)
    model, card = train_model(labelled, model_params={"max_iter": 30})
    card["version"] = "v1"
    assert registry.save(model, card) == "v1"
    assert registry.active_version() is None
    registry.activate("v1")
    loaded, loaded_card = load_active_model(settings)
    assert isinstance(loaded, DistillationClassifier)
    assert loaded_card["version"] == "v1"
    assert (loaded.predict_proba(labelled) == model.predict_proba(labelled)).all()
    assert (settings.models_dir / "versions" / "v1" / "card.md").read_text().startswith("# Model card: v1")
    assert [r["version"] for r in registry.list()] == ["v1"]
    assert registry.list()[0]["active"] is True


def test_unknown_version_is_a_clear_error(tmp_path):
    registry = ModelRegistry(load_settings(tmp_path / "home"))
    with pytest.raises(InputError, match="model version 'nope' not found"):
        registry.activate("nope")
