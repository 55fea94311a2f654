"""The account graph's fan-out on a Spark cluster (``engine = "spark"``): blocking-key pairs and
connected components, in Spark SQL.

- :func:`key_pairs` / :func:`star_pairs`: the same SQL as ``detector.clusters.keys`` (same
  popular-key cap, weights, floor and evidence JSON), over key rows built on the executors from
  the day caches (a Spark DataFrame: ``detector.clusters.keys_spark``) or sent from the driver
  (an Arrow table: the raw window's key rows without the caches, written as a scratch file
  the executors read, ``lake.spark.sent_view``, when the caller names the home; rows in the
  plan otherwise). The self-join inside each key group, which costs m^2 / 2
  pairs for a key of m accounts, runs on the executors.
- :func:`components`: connected components of the linked pairs (sent as the key rows are) by
  iterative min-label propagation (each account takes the smallest label among itself and its
  neighbours until no label changes; GraphFrames needs a jar that cannot be fetched here), each
  round checkpointed under :func:`checkpoint_dir` so that the loss of an executor does not fail
  the job. Only the components come back; the per-component work (density, Louvain split)
  stays on the driver (``detector.clusters.graph.communities``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from detector.clusters import daycache, exact
from detector.clusters.keys import PAIR_COLUMNS, _empty
from detector.lake.spark import sent_view
from detector.settings import Settings

log = logging.getLogger(__name__)
_KEY_SCHEMA = "key string, slot long, account_id string, factor double"
_WEIGHTS = {"one": "1.0D", "popularity": "factor * sqrt(2.0D / m)", "factor": "factor"}


def session(settings: Settings) -> Any:
    """The process's SparkSession for ``settings`` (``detector.features.engine``)."""
    from detector.features.engine import spark_session

    return spark_session(settings)


#: Where rows sent from the driver go: the settings of the home whose cluster cache holds the
#: scratch folder (``lake.spark.sent_view``); None (a caller without a home) sends them with
#: ``createDataFrame``, rows in the plan.
Scratch = Settings | None


@contextlib.contextmanager
def _view(spark: Any, name: str, rows: pa.Table | Any, schema: str,
          scratch: Scratch = None) -> Iterator[None]:
    """View ``name`` of ``rows`` while the block runs (dropped on leaving): a Spark DataFrame
    as it is; an Arrow table (on the driver) sent as one Parquet file read by URI with
    ``scratch`` (a file scan in the plan, the file removed on leaving), else with
    ``createDataFrame``."""
    if isinstance(rows, pa.Table) and scratch is not None:
        with sent_view(spark, scratch, daycache.cache_root(scratch), name, rows, schema):
            yield
        return
    if isinstance(rows, pa.Table):
        rows = spark.createDataFrame(rows, schema=schema)
    rows.createOrReplaceTempView(name)
    try:
        yield
    finally:
        spark.catalog.dropTempView(name)


def _no_rows(rows: pa.Table | Any) -> bool:
    """True for an empty Arrow table (a DataFrame is not counted: an empty one pairs nothing)."""
    return isinstance(rows, pa.Table) and rows.num_rows == 0


def _fetch(spark: Any, sql: str) -> pd.DataFrame:
    df = spark.sql(sql).toArrow().to_pandas()
    if df.empty:
        return _empty()
    return df[PAIR_COLUMNS].sort_values(["src", "dst"], kind="stable").reset_index(drop=True)


def key_pairs(spark: Any, rows: pa.Table | Any, edge_type: str, cap: int, weigh: str = "popularity",
              normalize: bool = False, min_weight: float = 0.0,
              scratch: Scratch = None) -> pd.DataFrame:
    """``detector.clusters.keys.key_pairs`` over ``rows`` (distinct key, slot, account_id,
    factor: the key rows, nulls already dropped; Arrow, sent as :func:`_view` says, or Spark),
    the pairing on the cluster."""
    if _no_rows(rows):
        return _empty()
    with _view(spark, "dg_keys", rows, _KEY_SCHEMA, scratch):
        return _fetch(spark, _key_sql(edge_type, cap, weigh, normalize, min_weight))


def _key_sql(edge_type: str, cap: int, weigh: str, normalize: bool, min_weight: float) -> str:
    """Spark SQL of :func:`key_pairs` over view ``dg_keys``."""
    total = exact.sum_sql("kw")  # the driver's exact sum: the same bits in any order
    combine = (f"least(1.0D, {total} / first(norm))" if normalize
               else f"least(1.0D, {total})")
    held = ", 'keys_held_geomean', round(first(norm), 1)" if normalize else ""
    floor = f"CAST({float(min_weight)!r} AS DOUBLE)"
    return f"""
    WITH pop AS (SELECT key, count(DISTINCT account_id) AS m FROM dg_keys GROUP BY key),
    kc AS (SELECT account_id, count(DISTINCT key) AS kc FROM dg_keys GROUP BY account_id),
    kk AS (SELECT * FROM (SELECT k.*, pop.m, kc.kc, {_WEIGHTS[weigh]} AS kw
                          FROM dg_keys k JOIN pop USING (key) JOIN kc USING (account_id)
                          WHERE pop.m BETWEEN 2 AND {int(cap)})
           WHERE kw >= {floor}),
    pk AS (SELECT a.account_id AS src, b.account_id AS dst, a.key, a.m,
                  count(*) AS n_slots, min(least(a.kw, b.kw)) AS kw,
                  first(sqrt(CAST(a.kc * b.kc AS DOUBLE))) AS norm
           FROM kk a JOIN kk b ON a.key = b.key AND a.slot = b.slot
                              AND a.account_id < b.account_id
           GROUP BY a.account_id, b.account_id, a.key, a.m)
    SELECT src, dst, '{edge_type}' AS edge_type, {combine} AS weight,
           to_json(named_struct(
               'shared', transform(slice(array_sort(collect_list(
                   named_struct('m', m, 'key', key, 'n', n_slots))), 1, 3),
                   x -> named_struct('key', x.key, 'accounts', x.m, 'slots', x.n)),
               'n_keys', count(*), 'n_slots', sum(n_slots){held})) AS evidence
    FROM pk GROUP BY src, dst HAVING {combine} >= {floor}
    """


def star_pairs(spark: Any, rows: pa.Table | Any, edge_type: str, cap: int,
               scratch: Scratch = None) -> pd.DataFrame:
    """``detector.clusters.keys.star_pairs`` over ``rows`` (distinct key, account_id; Arrow,
    sent as :func:`_view` says, or Spark)."""
    if _no_rows(rows):
        return _empty()
    with _view(spark, "dg_star", rows, "key string, account_id string", scratch):
        return _fetch(spark, f"""
    WITH pop AS (SELECT key, count(*) AS m, min(account_id) AS hub FROM dg_star GROUP BY key
                 HAVING count(*) > {int(cap)})
    SELECT pop.hub AS src, k.account_id AS dst, '{edge_type}' AS edge_type, 1.0D AS weight,
           to_json(named_struct('shared', array(named_struct('key', k.key, 'accounts', pop.m,
                                                             'slots', 1)),
                                'star', true, 'n_keys', 1, 'n_slots', 1)) AS evidence
    FROM dg_star k JOIN pop USING (key) WHERE k.account_id <> pop.hub
    """)


#: Propagation rounds before giving up (a component's diameter bounds the rounds it needs).
MAX_ROUNDS = 1000


def checkpoint_dir(settings: Settings) -> str | None:
    """Where :func:`components` checkpoints its rounds: ``settings.spark_checkpoint_dir``, else
    the home's ``state/spark-checkpoints`` as a ``file://`` URI (the home on shared storage);
    None for a ``local[...]`` master (one JVM: ``localCheckpoint`` is enough there)."""
    from detector.features.engine import spark_master, spark_path

    if spark_master(settings).startswith("local"):
        return None
    return (settings.spark_checkpoint_dir
            or spark_path(settings, settings.state_dir / "spark-checkpoints"))


def components(spark: Any, src: list[str], dst: list[str], checkpoint: str | None = None,
               on_round: Callable[[int], None] | None = None,
               scratch: Scratch = None) -> list[set[str]]:
    """Connected components (sets of accounts, isolated accounts left out) of the undirected
    graph with edges ``src[i]``--``dst[i]``, by min-label propagation on the cluster.

    Each round's labels are checkpointed to cut the lineage: to files under ``checkpoint`` (a
    folder every executor and the driver reach; a fresh subfolder per call, deleted at the
    end), so a lost executor's partitions are read back, not recomputed from the first
    round; with ``checkpoint`` None, ``localCheckpoint`` (blocks on the executors: a lost
    executor fails the job; for ``local[...]`` masters). ``on_round(r)`` runs after round
    ``r`` (tests kill an executor there). The pairs are sent as :func:`_view` says, with
    ``scratch`` as a file read once: the first checkpoint (of the distinct edges) cuts the
    lineage, so the file is removed right after it."""
    if not src:
        return []
    sc = spark.sparkContext
    if checkpoint is not None:
        with _naming(checkpoint):
            sc.setCheckpointDir(checkpoint)  # Spark adds a fresh UUID subfolder
        folder = sc._jsc.sc().getCheckpointDir().get()
    try:
        return _propagate(spark, src, dst, checkpoint, on_round, scratch)
    finally:
        if checkpoint is not None:
            try:
                _delete(sc, folder)
            except Exception as exc:  # leftover files are not a wrong result: say so, go on
                log.warning("clusters: could not delete the checkpoint folder %s: %s", folder, exc)


def _propagate(spark: Any, src: list[str], dst: list[str], checkpoint: str | None,
               on_round: Callable[[int], None] | None, scratch: Scratch) -> list[set[str]]:
    def cut(df: Any) -> Any:
        if checkpoint is None:
            return df.localCheckpoint()
        with _naming(checkpoint):
            return df.checkpoint()

    edges = pa.table({"a": pa.array(src + dst, pa.string()), "b": pa.array(dst + src, pa.string())})
    with _view(spark, "dg_cc_pairs", edges, "a string, b string", scratch):
        e = cut(spark.table("dg_cc_pairs").distinct())  # eager: the pairs are read here only
    e.createOrReplaceTempView("dg_cc_edges")
    labels = cut(spark.sql("SELECT DISTINCT a AS id, a AS label FROM dg_cc_edges"))
    for r in range(MAX_ROUNDS):
        labels.createOrReplaceTempView("dg_cc_labels")
        new = cut(spark.sql("""
            SELECT l.id, least(l.label, coalesce(n.m, l.label)) AS label, l.label AS old
            FROM dg_cc_labels l LEFT JOIN (
                SELECT e.a AS id, min(x.label) AS m FROM dg_cc_edges e
                JOIN dg_cc_labels x ON e.b = x.id GROUP BY e.a) n ON l.id = n.id
        """))
        changed = new.where("label <> old").count()
        labels = new.select("id", "label")
        if on_round is not None:
            on_round(r)
        if changed == 0:
            break
    else:
        raise RuntimeError(f"clusters: connected components did not converge in {MAX_ROUNDS} "
                           f"rounds over {len(src)} linked pairs")
    found = labels.toArrow()
    groups: dict[str, set[str]] = {}
    for node, label in zip(found.column("id").to_pylist(), found.column("label").to_pylist(),
                           strict=True):
        groups.setdefault(label, set()).add(node)
    return list(groups.values())


@contextlib.contextmanager
def _naming(checkpoint: str) -> Iterator[None]:
    """A failure to checkpoint names the setting and the folder (and keeps Spark's error)."""
    try:
        yield
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        first = next((ln for ln in lines if "Exception" in ln or "Error" in ln),
                     lines[0] if lines else type(exc).__name__)
        raise RuntimeError(
            f"clusters: connected components could not checkpoint to {checkpoint!r} (setting "
            f"'spark_checkpoint_dir': a folder every executor and the driver reach): "
            f"{first.strip()}") from exc


def _delete(sc: Any, folder: str) -> None:
    """Remove the checkpoint ``folder`` (any Hadoop file system: file://, hdfs://, s3a://)."""
    jvm = sc._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    path.getFileSystem(sc._jsc.hadoopConfiguration()).delete(path, True)
