"""Same inputs, same bytes; another seed, other traffic."""

from __future__ import annotations

import gzip

from detector.simulate import simulate


def _files(out):
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_same_seed_same_bytes(tmp_path, small_scenario):
    a = simulate(tmp_path / "a", 25, 2, 42, scenario=small_scenario)
    b = simulate(tmp_path / "b", 25, 2, 42, scenario=small_scenario)
    fa, fb = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.requests == b.requests > 0
    assert fa.keys() == fb.keys() and "truth.json" in fa
    for name in fa:
        if name != "truth.json":
            assert fa[name] == fb[name], name
    # truth differs only by nothing: same accounts, same labels
    assert fa["truth.json"] == fb["truth.json"]


def test_other_seed_other_traffic(tmp_path, small_scenario):
    simulate(tmp_path / "a", 25, 2, 1, scenario=small_scenario)
    simulate(tmp_path / "b", 25, 2, 2, scenario=small_scenario)
    assert _files(tmp_path / "a")["truth.json"] != _files(tmp_path / "b")["truth.json"]


def test_gzip_holds_same_records(tmp_path, small_scenario):
    simulate(tmp_path / "a", 20, 1, 9, scenario=small_scenario)
    simulate(tmp_path / "b", 20, 1, 9, scenario=small_scenario, gzip=True)
    plain = (tmp_path / "a" / "requests-2026-11-24.jsonl").read_bytes()
    packed = gzip.decompress((tmp_path / "b" / "requests-2026-11-24.jsonl.gz").read_bytes())
    assert plain == packed


def test_rerun_replaces_old_day_files(tmp_path, small_scenario):
    simulate(tmp_path, 10, 3, 1, scenario=small_scenario)
    simulate(tmp_path, 10, 1, 1, scenario=small_scenario)
    assert sorted(p.name for p in tmp_path.glob("requests-*")) == ["requests-2026-11-24.jsonl"]
