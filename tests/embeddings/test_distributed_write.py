"""With ``engine = "spark"`` (``local[1]``) the coverage features and centroids files are written
by one executor task (:mod:`detector.embeddings.write_spark`): the same bytes as the driver's
writer (:meth:`CoverageStage._write`, what the Spark path did before) given the same pass-2
rows, DuckDB's files within float32 tolerance, and a write that fails on the executor or at
the driver's rename leaves the previous files and manifest.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from detector.embeddings import compute, distributed, population_spark, write_spark
from detector.embeddings.paths import centroids_path, embeddings_root
from detector.embeddings.stage import DayResult, coverage_path
from detector.settings import load_settings
from tests.spark_support import spark_marks

from .conftest import read_outputs, write_requests
from .test_distributed import CFG, DAY, _assert_coverage, _rows, spark_homes

pytestmark = spark_marks()

EMPTY_DAY = "2026-05-02"  # no request file


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    from detector.features.engine import stop_spark

    duck, spark = spark_homes(tmp_path_factory.mktemp("emb_spark_write"), "local[1]")
    compute(duck, [DAY, EMPTY_DAY], config=CFG)
    try:
        yield duck, spark
    finally:
        stop_spark()


def _files(settings, day: str = DAY) -> dict[str, bytes]:
    root = embeddings_root(settings)
    return {"coverage": coverage_path(settings, day).read_bytes(),
            "centroids": centroids_path(settings, day).read_bytes(),
            "manifest": (root / "manifest" / f"date={day}.json").read_bytes()}


def _hidden(settings) -> list:
    """Hidden folders left beside the day folders."""
    return [*coverage_path(settings, DAY).parent.parent.glob(".*"),
            *centroids_path(settings, DAY).parent.parent.glob(".*")]


def _driver_write(stage, date, accounts, stats, expect):
    """The Spark path before the executors wrote: pass 2's rows to the driver (``toArrow``),
    put in account order there and written by :meth:`CoverageStage._write`."""
    ids, lengths, n_distinct, st, cen = write_spark.account_rows(stats.toArrow(), stage.backend.dim)
    active = sorted(r[0] for r in accounts.collect())
    assert len(active) == expect
    stage._write(date, active, ids, lengths, n_distinct, st, cen, None, DayResult(date=date))
    return int(lengths.sum())


def test_executor_files_are_the_drivers_and_duckdbs(homes, monkeypatch) -> None:
    duck, spark = homes
    with monkeypatch.context() as m:
        m.setattr(distributed, "write_day", _driver_write)
        compute(spark, [DAY], config=CFG)
    before = _files(spark)
    compute(spark, [DAY], config=CFG)
    after = _files(spark)
    assert after["coverage"] == before["coverage"] and after["centroids"] == before["centroids"]
    assert not _hidden(spark)

    (cov1, cen1, man1), (cov2, cen2, man2) = read_outputs(duck, DAY), read_outputs(spark, DAY)
    assert pq.read_schema(coverage_path(spark, DAY)) == pq.read_schema(coverage_path(duck, DAY))
    assert pq.read_schema(centroids_path(spark, DAY)) == pq.read_schema(centroids_path(duck, DAY))
    assert len(cov1) == 34 and list(cov2.columns) == list(cov1.columns)
    _assert_coverage(cov1, cov2)
    assert cen2.account_id.tolist() == cen1.account_id.tolist()
    assert cen2.n_sampled.tolist() == cen1.n_sampled.tolist()
    np.testing.assert_allclose(np.stack(cen2.centroid), np.stack(cen1.centroid), rtol=1e-5, atol=1e-6)
    for key in ("backend", "model_version", "dim", "population_version", "accounts",
                "sampled_rows", "unique_prompts"):
        assert man2[key] == man1[key], key
    assert man2["sampled_rows"] == cov2.cov_n_sampled.sum() > 0


def test_a_day_without_requests_gets_duckdbs_empty_files(homes) -> None:
    duck, spark = homes
    compute(spark, [EMPTY_DAY], config=CFG)
    for path in (coverage_path, centroids_path):
        got, want = pq.read_table(path(spark, EMPTY_DAY)), pq.read_table(path(duck, EMPTY_DAY))
        assert got.num_rows == 0 and got.equals(want) and got.schema == want.schema
    assert read_outputs(spark, EMPTY_DAY)[2]["accounts"] == 0


def _captured_write(spark, monkeypatch) -> tuple:
    """Run the day's coverage stage once on Spark, keeping the arguments of its file write
    (``distributed.write_day``) with the two Spark DataFrames materialised (``localCheckpoint``:
    they outlive the stage's persisted pass and broadcast), so that a test can call the write
    again without running the stage."""
    kept = {}
    real = distributed.write_day

    def keep(stage, date, accounts, stats, expect):
        kept["args"] = (stage, date, accounts.localCheckpoint(eager=True),
                        stats.localCheckpoint(eager=True), expect)
        return real(*kept["args"])

    with monkeypatch.context() as m:
        m.setattr(distributed, "write_day", keep)
        compute(spark, [DAY], config=CFG)
    return kept["args"]


def test_a_failed_write_leaves_the_previous_files(homes, monkeypatch, tmp_path) -> None:
    _, spark = homes
    args = _captured_write(spark, monkeypatch)
    before = _files(spark)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    uri = write_spark.spark_path

    def centroids_unwritable(settings, path):  # the coverage file is written, then this fails
        return uri(settings, blocker / "x") if path.parent.name == "centroids" else uri(settings, path)

    with monkeypatch.context() as m:  # on the executor, between its two files
        m.setattr(write_spark, "spark_path", centroids_unwritable)
        with pytest.raises(Exception, match="blocker|Not a directory|directory"):
            write_spark.write_day(*args)
    assert _files(spark) == before
    assert not _hidden(spark)

    def refuse(part, target, what):
        raise OSError(f"disk full renaming {part}")

    with monkeypatch.context() as m:  # at the driver's rename
        m.setattr(write_spark, "move_into_place", refuse)
        with pytest.raises(OSError, match="disk full"):
            write_spark.write_day(*args)
    assert _files(spark) == before
    assert not _hidden(spark)
    # The kept arguments are a whole write: unhindered, it writes the same files again.
    assert write_spark.write_day(*args) == read_outputs(spark, DAY)[2]["sampled_rows"] > 0
    assert _files(spark)["coverage"] == before["coverage"]
    assert _files(spark)["centroids"] == before["centroids"]


def test_a_loaded_population_collects_no_candidates(homes, monkeypatch, tmp_path) -> None:
    """A complete population model loaded (no refit): the candidates stay on the executors,
    the files are those of the run that fitted it; a refit collects them."""
    from detector.embeddings.population import load_active

    cfg = CFG.with_(reference_size=16)
    home = load_settings(tmp_path / "home", embedding_backend="static", engine="spark",
                         spark_master="local[1]")
    write_requests(home.home, DAY, _rows())
    compute(home, [DAY], config=cfg, refit=True)
    fitted = _files(home)
    man = read_outputs(home, DAY)[2]
    pop = load_active(embeddings_root(home) / "population", man["backend"], man["model_version"], cfg)
    assert man["population_fitted_now"] and not pop.meta["provisional"]

    def collected(*args):
        raise AssertionError("the candidates reached the driver")

    monkeypatch.setattr(population_spark, "candidates", collected)
    compute(home, [DAY], config=cfg)
    loaded = read_outputs(home, DAY)[2]
    assert not loaded["population_fitted_now"]
    assert loaded["population_version"] == man["population_version"] == pop.version
    assert {k: _files(home)[k] for k in ("coverage", "centroids")} == \
        {k: fitted[k] for k in ("coverage", "centroids")}
    with pytest.raises(AssertionError, match="candidates reached"):
        compute(home, [DAY], config=cfg, refit=True)


def test_only_the_rows_a_fit_uses_reach_the_driver(homes, monkeypatch) -> None:
    """A population sample larger than ``codebook_sample``: the driver collects only the rows
    ``population.fit_rows`` chooses, and fits DuckDB's model (same version) from them."""
    from detector.embeddings.sampling import sample_prompts
    from detector.embeddings.stage import CoverageStage
    from detector.lake.db import connect

    duck, spark = homes
    cfg = CFG.with_(codebook_sample=16, reference_size=8, accounts_per_batch=7)
    blocked = {"sweeper", "user03"}
    con = connect(duck)
    sample = sample_prompts(con, DAY, cfg.sample_k, cfg.seed, cfg.max_chars).to_pandas()
    accounts = sorted(r[0] for r in con.execute("SELECT DISTINCT account_id FROM requests").fetchall())
    duck_stage, spark_stage = CoverageStage(duck, cfg), CoverageStage(spark, cfg)
    want = duck_stage.run_sample(sample, DAY, accounts, blocked, refit=True)
    n_duck = len(duck_stage.population_sample(sample, blocked))
    seen = []
    real = population_spark.candidates

    def counted(*args):
        got = real(*args)
        seen.append((got[0].num_rows, got[1]))
        return got

    monkeypatch.setattr(population_spark, "candidates", counted)
    got = distributed.run_day_spark(spark_stage, DAY, blocked, refit=True)
    assert seen == [(16, n_duck)] and n_duck > 16
    assert got.population_fitted and want.population_fitted
    assert got.population_version == want.population_version
    a, b = duck_stage.population, spark_stage.population
    assert b.meta["n_fit"] == a.meta["n_fit"] == 16
    for name in ("centres", "topic_mix", "reference", "null_thresholds"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
