"""Evaluation harness: score verdicts against simulator ground truth.

``evaluate(truth, verdicts) -> dict``; readers for truth.json and verdict files. The metric
arithmetic lives in :mod:`detector.evaluate.metrics`.
"""

from detector.evaluate.harness import evaluate
from detector.evaluate.io import read_truth, read_verdicts_file, read_verdicts_home

__all__ = ["evaluate", "read_truth", "read_verdicts_file", "read_verdicts_home"]
