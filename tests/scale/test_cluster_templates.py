"""The clusters stage's template edges on the Spark standalone cluster (the session's
``spark_cluster``; scaffolds, MinHash signatures and LSH banding on the executors,
``detector/clusters/templates_spark.py``) equal the driver's (``templates.template_pairs``
over ``scaffold_rows_from_samples``), on a generated two-day window built to reach every rule:
identical scaffolds in a group within the cap, a near copy of them (an LSH pair expanded to
the group's members), a representative with more candidates above the threshold than the cap,
shingles held by more accounts than the cap (dropped), prompts of the earlier day only (kept
by the window) and an account not active on the clustered day (left out). The cached days are
built by DuckDB: the files the driver reads."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from detector.clusters import templates, templates_spark
from detector.clusters.params import ClusterParams
from detector.lake.db import connect

from ..clusters.conftest import T0, req, write_lake
from .conftest import cluster_home, open_day_window

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DAY = (T0 + timedelta(days=1)).date().isoformat()
PARAMS = ClusterParams(max_key_accounts=4, template_sample=6, template_threshold=0.2,
                       template_num_perm=64)


def _wrappers(rng) -> dict[str, str]:
    """Account -> prompt wrapper ('{t}': the topic, which varies from prompt to prompt)."""
    vocab = [f"w{i}" for i in range(500)]
    words = [str(w) for w in rng.choice(vocab, 72, replace=False)]
    base, hub = words[:24], words[24:48]
    out = {f"same{i}": " ".join(base) + " {t}" for i in range(3)}  # a group within the cap
    copy = list(base)
    copy[5], copy[17] = "changed", "words"
    out["near0"] = " ".join(copy) + " {t}"  # a near copy of the group's scaffold
    # a hub and six spokes, each spoke holding 9 of its 24 words: the hub's candidates exceed
    # the cap while no shingle is held by more accounts than the cap
    out["a_hub"] = " ".join(hub) + " {t}"
    for i in range(6):
        out[f"spoke{i}"] = "{t} " + " ".join(hub[3 * i:3 * i + 9])
    for i in range(6):  # identical, more accounts than the cap: every shingle popular
        out[f"stock{i}"] = " ".join(words[48:]) + " {t}"
    for i in range(4):  # each its own wrapper
        out[f"solo{i}"] = " ".join(rng.choice(vocab, 20)) + " {t}"
    return out


def _rows() -> list[dict]:
    rng = np.random.default_rng(5)
    rows = []
    for acct, wrap in _wrappers(rng).items():
        for d in (0, 1):
            if acct == "solo3" and d == 1:
                continue  # not active on the clustered day
            for k in range(4):
                topic = " ".join(f"t{rng.integers(10**6)}" for _ in range(3))
                # a phrase every account says: more accounts than the cap hold its shingles
                prompt = wrap.format(t=topic) + " thanks a lot"
                if acct == "solo2" and d == 1:
                    prompt = f"hello {topic}"  # its scaffold comes from the earlier day
                rows.append(req(acct, T0 + timedelta(days=d, hours=1 + k, minutes=len(acct)),
                                prompt, ip=f"10.0.{d}.{k}"))
    return rows


@pytest.fixture(scope="module")
def window(spark_cluster, tmp_path_factory):
    """A home with the two days' caches, scored by the driver and on the cluster."""
    from detector.lake.spark import spark_session

    root = tmp_path_factory.mktemp("templates")
    s = cluster_home(spark_cluster, root / "home")
    write_lake(s, _rows())
    con = connect(s)
    try:
        open_day_window(con, s, DAY, PARAMS)
        rows = templates.scaffold_rows_from_samples(con, "win_scaffold", PARAMS.template_sample,
                                                    PARAMS.max_key_accounts)
    finally:
        con.close()
    sets = templates.scaffold_sets(rows)
    driver = templates.template_pairs(sets, PARAMS.template_threshold, PARAMS.template_num_perm,
                                      PARAMS.seed, PARAMS.max_key_accounts)
    cluster, fetch = templates_spark.template_edges(spark_session(s), s, DAY, 2, PARAMS)
    return sets, driver, cluster, fetch


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["src", "dst"]).reset_index(drop=True)


def test_template_edges_on_cluster_equal_the_drivers(window):
    sets, driver, cluster, _ = window
    assert "solo3" not in sets and "solo2" in sets
    assert not any(a.startswith("stock") for a in sets)  # popular shingles dropped
    ev = driver["evidence"]
    # the data reach every rule: a group, LSH pairs expanded to a group, the candidate cap
    assert ev.str.contains('"identical_group":3').sum() == 3
    assert ((driver["src"] == "near0") & ev.str.contains("other_shingles")).sum() == 3
    assert (driver["src"] == "a_hub").sum() == PARAMS.max_key_accounts
    assert driver["weight"].between(PARAMS.template_threshold, 0.99).sum() >= 6
    pd.testing.assert_frame_equal(_sorted(cluster), _sorted(driver), check_dtype=False)


def test_scaffold_sets_of_named_accounts(window):
    sets, _, _, fetch = window
    named = ["same0", "near0", "spoke3", "solo2", "solo3", "stock0", "nobody"]
    got = fetch(named)
    assert sorted(got) == sorted(a for a in named if a in sets)
    for a, sh in got.items():
        assert sh.tolist() == sets[a].tolist()
