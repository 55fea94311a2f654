"""The day writer shuffles within a day and keeps every line exactly once, spilled or not."""

from __future__ import annotations

import numpy as np

from detector.simulate.writer import DayWriter


def _run(tmp_path, spill):
    w = DayWriter(tmp_path, ["2026-01-01", "2026-01-02"], False, np.random.default_rng(0),
                  spill_bytes=spill)
    for i in range(500):
        w.add(i % 2, f'{{"i":{i}}}'.encode())
    paths = w.close()
    return [p.read_text().splitlines() for p in paths]


def test_in_memory_and_spilled_hold_the_same_lines(tmp_path):
    mem = _run(tmp_path / "a", 10**9)
    spilled = _run(tmp_path / "b", 300)
    for a, b in zip(mem, spilled, strict=True):
        assert sorted(a) == sorted(b) and len(a) == 250
        assert a != sorted(a, key=lambda s: int(s[5:-1]))  # shuffled
    assert not (tmp_path / "b" / ".spill").exists()


def test_empty_days_write_no_file(tmp_path):
    w = DayWriter(tmp_path, ["2026-01-01", "2026-01-02"], False, np.random.default_rng(0))
    w.add(1, b"{}")
    assert [p.name for p in w.close()] == ["requests-2026-01-02.jsonl"]
