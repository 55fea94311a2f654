"""The learned part of the decision: a calibrated gradient-boosted classifier plus an anomaly
score, a versioned registry with model cards, and the default model shipped with the package."""

from detector.model.estimator import DistillationClassifier
from detector.model.registry import ModelRegistry, load_active_model

__all__ = ["DistillationClassifier", "ModelRegistry", "load_active_model"]
