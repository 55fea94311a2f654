"""Connected components survive the loss of an executor: the executor JVM of the standalone
cluster is killed between two propagation rounds (the ``on_round`` hook, so the moment is
deterministic), the worker starts another, and the rounds go on from the checkpoint files
under ``spark_checkpoint_dir``. With ``localCheckpoint`` the same kill fails the job
("Checkpoint block ... not found"): the blocks lived on the dead executor."""

from __future__ import annotations

import os
import signal
import time

import networkx as nx
import numpy as np
import pytest

from detector.clusters import spark_sql
from detector.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

KILL_AFTER_ROUND = 1


def _block_managers(spark) -> set[str]:
    """The driver's and the live executors' block managers ("host:port")."""
    keys = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().keys().iterator()
    found = set()
    while keys.hasNext():
        found.add(str(keys.next()))
    return found


def _kill_executor(cluster, spark, timeout_s: float = 90.0) -> tuple[list[int], list[int]]:
    """SIGKILL the cluster's executor JVMs; wait until the driver has dropped them and a new
    executor (started by the worker for the running application) has registered."""
    before, pids = _block_managers(spark), cluster.executor_pids()
    assert pids, f"no executor of this application found under {cluster.workdir}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now, fresh = _block_managers(spark), cluster.executor_pids()
        if len(now) == len(before) and now != before and fresh and not set(fresh) & set(pids):
            return pids, fresh
        time.sleep(0.5)
    raise AssertionError(f"no new executor {timeout_s:.0f} s after killing {pids}: block "
                         f"managers {sorted(_block_managers(spark))}, executors "
                         f"{cluster.executor_pids()}")


def test_components_survive_executor_loss(spark_cluster, tmp_path):
    ckpt = tmp_path / "ckpt"
    s = load_settings(tmp_path / "home", engine="spark", spark_master=spark_cluster.master_url,
                      spark_conf=spark_cluster.driver_conf(), spark_checkpoint_dir=ckpt.as_uri())
    spark = spark_sql.session(s)
    rng = np.random.default_rng(5)
    src = [f"n{rng.integers(0, 200)}" for _ in range(120)]
    dst = [f"n{rng.integers(0, 200)}" for _ in range(120)]
    chain = [f"c{i:02d}" for i in range(8)]  # 7 hops: 8 rounds, the kill after round 1
    src, dst = src + chain[1:], dst + chain[:-1]
    killed: list[tuple[list[int], list[int]]] = []
    rounds: list[int] = []

    def on_round(r: int) -> None:
        rounds.append(r)
        if r == KILL_AFTER_ROUND:
            killed.append(_kill_executor(spark_cluster, spark))

    got = spark_sql.components(spark, src, dst, checkpoint=spark_sql.checkpoint_dir(s),
                               on_round=on_round)
    assert killed and rounds[-1] > KILL_AFTER_ROUND, (killed, rounds)
    g = nx.Graph()
    g.add_edges_from(zip(src, dst, strict=True))
    assert sorted(map(sorted, got)) == sorted(map(sorted, nx.connected_components(g)))
    assert sorted(chain) in [sorted(c) for c in got]
    assert ckpt.is_dir() and not any(ckpt.iterdir()), "the job's checkpoint folder was left"



def test_unreachable_checkpoint_dir_names_the_setting(spark_cluster, tmp_path):
    s = load_settings(tmp_path / "home", engine="spark", spark_master=spark_cluster.master_url,
                      spark_conf=spark_cluster.driver_conf())
    with pytest.raises(RuntimeError, match=r"file:///proc/dg-ckpt.*'spark_checkpoint_dir'"):
        spark_sql.components(spark_sql.session(s), ["a"], ["b"], checkpoint="file:///proc/dg-ckpt")


def test_daily_job_checkpointed_in_the_home_and_cleaned(scale_job):
    """The whole job on the cluster checkpointed its components under the default folder (the
    home's state/spark-checkpoints; the master is not local) and deleted its subfolder."""
    ckpt = scale_job.spark.state_dir / "spark-checkpoints"
    assert ckpt.is_dir(), f"{ckpt} was never created: the job did not checkpoint there"
    assert not any(ckpt.iterdir()), f"left in {ckpt}: {sorted(p.name for p in ckpt.iterdir())}"
