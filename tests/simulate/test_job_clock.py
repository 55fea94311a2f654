"""Harvesting jobs run on every kind of clock, so that timing is no distiller signature."""

from __future__ import annotations

import random

import numpy as np

from detector.simulate.timing import JOB_CLOCKS, job_clock, job_times


def _burstiness(t: np.ndarray) -> float:
    gaps = np.diff(np.sort(t))
    cv = gaps.std() / gaps.mean()
    return (cv - 1) / (cv + 1)


def test_every_kind_is_drawn_and_times_stay_in_the_day():
    r, g = random.Random(1), np.random.default_rng(1)
    kinds = {job_clock(r, 0.0)["kind"] for _ in range(400)}
    assert kinds == {k for k, _ in JOB_CLOCKS}
    for _ in range(50):
        clock = job_clock(r, r.uniform(-8, 8))
        t = job_times(g, clock, 1_000_000.0, 500)
        assert len(t) == 500 and (np.diff(t) >= 0).all()
        assert t.min() >= 1_000_000.0 and t.max() < 1_000_000.0 + 86_400.0


def test_kinds_differ_in_burstiness():
    g = np.random.default_rng(7)
    day = 0.0
    paced = job_times(g, {"kind": "paced", "tz": 0.0}, day, 2000)
    flat = job_times(g, {"kind": "flat", "tz": 0.0}, day, 2000)
    batches = job_times(g, {"kind": "batches", "tz": 0.0,
                            "windows": [(2.0, 1800.0), (9.0, 3600.0), (17.5, 2400.0)]}, day, 2000)
    assert _burstiness(paced) < -0.3 < _burstiness(flat) < 0.2 < _burstiness(batches)


def test_office_clock_keeps_to_working_hours():
    g = np.random.default_rng(3)
    t = job_times(g, {"kind": "office", "tz": 0.0}, 0.0, 3000)
    hours = (t % 86_400.0) // 3600.0
    assert ((hours >= 7) & (hours <= 19)).mean() > 0.9


def test_paced_flag_forces_a_scheduler():
    r = random.Random(5)
    assert all(job_clock(r, 0.0, paced=True)["kind"] == "paced" for _ in range(20))
