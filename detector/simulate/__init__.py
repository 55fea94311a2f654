"""Labelled traffic generator: native-format JSONL request logs plus ground truth.

``simulate(out_dir, accounts, days, seed, scenario=None, corpus=None, ...)`` is the entry point;
see docs/simulator.md for archetypes, scenarios and corpus splits.
"""

from detector.simulate.engine import SimulationSummary, plan_units, simulate
from detector.simulate.scenario import ARCHETYPES, BENIGN, DISTILLING, Scenario, load_scenario

__all__ = ["ARCHETYPES", "BENIGN", "DISTILLING", "Scenario", "SimulationSummary", "load_scenario",
           "plan_units", "simulate"]
