"""Per-day cached window ingredients: merged windows equal raw windows; stale days rebuilt."""

from __future__ import annotations

import shutil
from datetime import timedelta

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import detector.clusters as C
from detector.clusters import daycache, store
from detector.clusters.params import ClusterParams
from detector.clusters.pipeline import _nodes
from detector.clusters.window import window_edges
from detector.lake.db import connect
from detector.lake.schema import REQUEST_SCHEMA

from .conftest import T0, req, scenario, write_lake

DAYS = [(T0 + timedelta(days=k)).date().isoformat() for k in range(3)]
RAW = ClusterParams(window_cache=False)


def _lake(home) -> None:
    rows = []
    for k in range(3):
        rows += scenario(day_index=k)[0]
    write_lake(home, rows)


def _sorted_edges(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("src", "dst", "edge_type", "window") if c in df.columns]
    return df.sort_values(keys).reset_index(drop=True)


def _assert_same_edges(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = _sorted_edges(a), _sorted_edges(b)
    assert len(a) == len(b) > 0
    for col in a.columns:
        if col in ("weight", "pair_score"):
            assert a[col].astype(float).to_numpy() == pytest.approx(
                b[col].astype(float).to_numpy(), abs=1e-12)
        else:
            assert a[col].tolist() == b[col].tolist(), col


def _window(home, params: ClusterParams, day: str, days: int):
    con = connect(home)
    _nodes(con, day)
    edges, ctx = window_edges(con, params, day, days, {}, home)
    con.close()
    return edges, ctx


@pytest.mark.parametrize("days", [1, 7])
def test_cached_window_gives_the_raw_window_edges(home, days):
    _lake(home)
    raw, raw_ctx = _window(home, RAW, DAYS[-1], days)
    cached, ctx = _window(home, ClusterParams(), DAYS[-1], days)
    assert ctx.counts["cache_days_built"] == (1 if days == 1 else 3)  # the lake holds 3 days
    assert set(raw["edge_type"]) >= {"payment", "ip", "fingerprint", "template", "timing"}
    _assert_same_edges(raw, cached)
    assert raw_ctx.scaffolds.keys() == ctx.scaffolds.keys()
    assert all((raw_ctx.scaffolds[a] == ctx.scaffolds[a]).all() for a in ctx.scaffolds)
    assert raw_ctx.minutes.accounts == ctx.minutes.accounts
    assert (raw_ctx.minutes.matrix != ctx.minutes.matrix).nnz == 0
    # a second cached window reads the caches: nothing rebuilt
    _, again = _window(home, ClusterParams(), DAYS[-1], days)
    assert again.counts["cache_days_built"] == 0


def _outputs(home, day: str) -> dict[str, pd.DataFrame]:
    out = {name: store.read(home, day, name) for name in ("edges", "members", "clusters")}
    out["features"] = pq.read_table(store.feature_path(home, day)).to_pandas()
    return out


def _assert_same_outputs(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    _assert_same_edges(a["edges"], b["edges"])
    key = ["cluster_id", "account_id"]
    pd.testing.assert_frame_equal(a["members"].sort_values(key).reset_index(drop=True),
                                  b["members"].sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(a["clusters"].sort_values("cluster_id").reset_index(drop=True),
                                  b["clusters"].sort_values("cluster_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(a["features"], b["features"])


def _recompute(home, params: ClusterParams | None, dates: list[str]) -> None:
    for d in dates:
        shutil.rmtree(store.day_dir(home, d), ignore_errors=True)
    C.compute(home, dates, params)


def test_compute_with_cache_equals_compute_without(home):
    _lake(home)
    _recompute(home, RAW, DAYS)
    assert not daycache.cache_root(home).exists()  # the raw path writes no cache
    raw = {d: _outputs(home, d) for d in DAYS}
    _recompute(home, None, DAYS)
    for d in DAYS:
        _assert_same_outputs(raw[d], _outputs(home, d))
    hydra = raw[DAYS[-1]]["members"]
    assert hydra["account_id"].str.startswith("hydra").sum() == 8
    summary = orjson.loads((store.day_dir(home, DAYS[-1]) / "summary.json").read_bytes())
    # day 3: its own day built once for the 1-day window, days 1-2 were built by earlier runs
    assert summary["window_steps"]["1d"]["cache_days_built"] == 1
    assert summary["window_steps"]["7d"]["cache_days_built"] == 0


def _late_rows(home, day: str) -> None:
    """Late data for ``day``: two campus users pay with one card (a new part file)."""
    t = T0 + timedelta(days=DAYS.index(day), hours=12)
    rows = [req(f"campus0{i}", t + timedelta(minutes=i), f"late prompt {i}", ip="203.0.113.9",
                payment_fingerprint="pm_late_shared") for i in range(2)]
    cols = {f.name: [r.get(f.name) for r in rows] for f in REQUEST_SCHEMA}
    pq.write_table(pa.Table.from_pydict(cols, schema=REQUEST_SCHEMA),
                   home.requests_dir / f"date={day}" / "part-late.parquet")


def test_reingested_day_is_rebuilt_and_only_that_day(home):
    _lake(home)
    C.compute(home, [DAYS[-1]])
    key = daycache.cache_key(ClusterParams())
    before = {d: daycache.read_manifest(home, d, key) for d in DAYS}
    assert all(m is not None and daycache.is_current(home, d, key) for d, m in before.items())
    _late_rows(home, DAYS[1])
    assert not daycache.is_current(home, DAYS[1], key)
    assert daycache.is_current(home, DAYS[0], key)
    C.compute(home, [DAYS[-1]])
    after = {d: daycache.read_manifest(home, d, key) for d in DAYS}
    assert after[DAYS[0]] == before[DAYS[0]] and after[DAYS[2]] == before[DAYS[2]]
    assert after[DAYS[1]]["lake"] != before[DAYS[1]]["lake"]
    assert after[DAYS[1]]["rows"]["payment"] == before[DAYS[1]]["rows"]["payment"] + 2
    cached = _outputs(home, DAYS[-1])
    late = cached["edges"][(cached["edges"]["src"] == "campus00")
                           & (cached["edges"]["dst"] == "campus01")]
    assert late[late["edge_type"] == "payment"]["window"].tolist() == ["7d"]
    _recompute(home, RAW, [DAYS[-1]])
    _assert_same_outputs(_outputs(home, DAYS[-1]), cached)


def test_changed_parameter_reads_a_new_folder_and_drops_the_old(home):
    _lake(home)
    con = connect(home)
    old, new = ClusterParams(), ClusterParams(template_sample=4)
    assert daycache.cache_key(old) != daycache.cache_key(new)
    assert daycache.cache_key(old) == daycache.cache_key(ClusterParams(prefix_factor=0.9))
    daycache.build_day(con, home, DAYS[0], old)
    assert daycache.ensure_days(con, home, [DAYS[0]], old) == {}
    assert DAYS[0] in daycache.ensure_days(con, home, [DAYS[0]], new)
    folders = [p.name for p in (daycache.cache_root(home) / f"date={DAYS[0]}").iterdir()]
    assert folders == [daycache.cache_key(new)]
    scaffold = pq.read_table(daycache.day_dir(home, DAYS[0], daycache.cache_key(new))
                             / "scaffold.parquet").to_pandas()
    assert scaffold.groupby("account_id").size().max() == 4
    con.close()


def test_half_written_cache_is_not_current(home):
    _lake(home)
    con = connect(home)
    key = daycache.cache_key(ClusterParams())
    daycache.build_day(con, home, DAYS[0], ClusterParams())
    (daycache.day_dir(home, DAYS[0], key) / "minutes.parquet").unlink()
    assert not daycache.is_current(home, DAYS[0], key)
    (daycache.day_dir(home, DAYS[0], key) / "manifest.json").write_text("{not json")
    assert daycache.read_manifest(home, DAYS[0], key) is None
    con.close()


def test_prune_removes_only_older_days(home):
    _lake(home)
    con = connect(home)
    daycache.ensure_days(con, home, DAYS, ClusterParams())
    con.close()
    assert daycache.prune(home, DAYS[1]) == [DAYS[0]]
    left = sorted(p.name for p in daycache.cache_root(home).iterdir())
    assert left == [f"date={DAYS[1]}", f"date={DAYS[2]}"]


def test_compute_of_the_latest_day_prunes_caches_outside_its_windows(home):
    _lake(home)
    params = ClusterParams(windows=(1, 2))
    C.compute(home, DAYS[:2], params)  # not the latest lake day: nothing pruned
    assert sorted(p.name for p in daycache.cache_root(home).iterdir()) == [
        f"date={DAYS[0]}", f"date={DAYS[1]}"]
    C.compute(home, [DAYS[2]], params)
    assert sorted(p.name for p in daycache.cache_root(home).iterdir()) == [
        f"date={DAYS[1]}", f"date={DAYS[2]}"]


def test_prompt_sample_by_account_range_is_the_whole_day_sample(home, monkeypatch):
    """The day's prompt sample, built a few accounts at a time, is the one-pass sample row
    for row (same order: the ranges follow the account order)."""
    _lake(home)
    key = daycache.cache_key(ClusterParams())
    con = connect(home)
    daycache.build_day(con, home, DAYS[0], ClusterParams())
    path = daycache.day_dir(home, DAYS[0], key) / "scaffold.parquet"
    whole = pq.read_table(path).to_pandas()
    n_accounts = whole["account_id"].nunique()
    monkeypatch.setattr(daycache, "ACCOUNTS_PER_RANGE", 3)
    con.execute("CREATE OR REPLACE TEMP TABLE _dc AS SELECT account_id FROM requests "
                f"WHERE CAST(date AS DATE) = DATE '{DAYS[0]}' AND account_id IS NOT NULL")
    assert len(daycache._account_ranges(con, 3)) == -(-n_accounts // 3) > 2
    daycache.build_day(con, home, DAYS[0], ClusterParams())
    ranged = pq.read_table(path).to_pandas()
    con.close()
    assert len(ranged) == len(whole) > 0
    for col in ("account_id", "prompt_hash", "rk"):
        assert ranged[col].tolist() == whole[col].tolist(), col
    assert [list(x) for x in ranged["shingles"]] == [list(x) for x in whole["shingles"]]
