"""A Spark standalone cluster on 127.0.0.1 from the jars the ``pyspark`` wheel ships: one master
and N workers (bounded memory and cores, free ports), for the cluster tests and
``bench/spark.py``. Nothing is downloaded; it needs Java 17+ on PATH.

    with StandaloneCluster(workers=1, cores=1, memory="1g") as cluster:
        settings = load_settings(home, engine="spark", spark_master=cluster.master_url,
                                 spark_conf=cluster.driver_conf())

Each daemon is started in its own session (process group) and stopped by pid and group
(SIGTERM, then SIGKILL), also when start-up fails. The ports are picked free, but another
process may take one before the master binds it, and Spark then moves on to the next port: the
master's ports are therefore read back from its log (Spark's "Successfully started service"
lines) before the workers are started, and a status page that is not the master's JSON counts
as "not ready yet". ``python tools/spark_standalone.py`` starts
one and waits until Ctrl-C (a single-host trial of ``spark_master``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
#: Spark's own log line for every service it binds (``Utils.startServiceOnPort``).
_BOUND = re.compile(rb"Successfully started service '(sparkMaster|MasterUI)' on port (\d+)")


def spark_home() -> Path:
    """The ``pyspark`` package folder: it holds ``bin/spark-class`` and ``jars/``."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandaloneCluster:
    """Master + ``workers`` workers of ``cores`` cores and ``memory`` each, on 127.0.0.1."""

    def __init__(self, workers: int = 1, cores: int = 1, memory: str = "1g",
                 workdir: Path | None = None, timeout_s: float = 120.0):
        self.workers, self.cores, self.memory, self.timeout_s = workers, cores, memory, timeout_s
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="dg-spark-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.port, self.webui_port = free_port(), free_port()
        self.procs: list[subprocess.Popen] = []

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def driver_conf(self, executor_memory: str | None = None) -> tuple[tuple[str, str], ...]:
        """Spark conf for a driver on this machine: loopback addresses, this Python for the
        executors' Python workers, executors sized to the workers."""
        return (("spark.driver.host", "127.0.0.1"), ("spark.driver.bindAddress", "127.0.0.1"),
                ("spark.driver.memory", "1g"),
                ("spark.executor.memory", executor_memory or self.memory),
                ("spark.executor.cores", str(self.cores)),
                ("spark.cores.max", str(self.cores * self.workers)),
                ("spark.pyspark.python", sys.executable),
                ("spark.pyspark.driver.python", sys.executable))

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1",
                   SPARK_DAEMON_MEMORY="256m", SPARK_WORKER_DIR=str(self.workdir / "work"),
                   SPARK_LOG_DIR=str(self.workdir / "logs"), PYSPARK_PYTHON=sys.executable)
        return env

    def _launch(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        proc = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def start(self) -> StandaloneCluster:
        (self.workdir / "work").mkdir(parents=True, exist_ok=True)
        try:
            master = self._launch("master", [MASTER, "--host", "127.0.0.1",
                                             "--port", str(self.port),
                                             "--webui-port", str(self.webui_port)])
            self._wait_bound(master)
            for i in range(self.workers):
                self._launch(f"worker-{i}", [WORKER, self.master_url, "--host", "127.0.0.1",
                                             "--port", str(free_port()),
                                             "--webui-port", str(free_port()),
                                             "--cores", str(self.cores), "--memory", self.memory,
                                             "--work-dir", str(self.workdir / "work")])
            self._wait_registered()
        except BaseException:
            self.stop()
            raise
        return self

    def status(self) -> dict:
        """The master's JSON status (workers, their state, cores, memory, applications).
        Raises ``ValueError`` naming the URL when the page is not the master's JSON status."""
        url = f"http://127.0.0.1:{self.webui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback only)
            body = resp.read()
        try:
            status = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"spark standalone: {url} answered {body[:60]!r}, not the master's "
                             f"JSON status") from exc
        if not isinstance(status, dict):
            raise ValueError(f"spark standalone: {url} answered {type(status).__name__}, not the "
                             f"master's JSON status")
        return status

    def _wait_bound(self, master: subprocess.Popen) -> None:
        """Wait until the master's log names the ports it bound (RPC and web UI) and take
        them: a port taken by another process in the meantime makes Spark bind the next."""
        log = self.workdir / "master.log"
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if master.poll() is not None:
                raise RuntimeError(f"spark standalone: master exited with {master.returncode} "
                                   f"during start-up; log in {log}")
            bound = {m.group(1).decode(): int(m.group(2))
                     for m in _BOUND.finditer(log.read_bytes())}
            if len(bound) == 2:
                self.port, self.webui_port = bound["sparkMaster"], bound["MasterUI"]
                return
            time.sleep(0.2)
        raise RuntimeError(f"spark standalone: the master did not report its ports within "
                           f"{self.timeout_s:.0f} s; log in {log}")

    def executor_pids(self) -> list[int]:
        """Pids of the executor JVMs (``CoarseGrainedExecutorBackend``) this cluster's workers
        run: their working folder is under this cluster's work folder (Linux ``/proc``), so
        other clusters' executors on the host are left out."""
        work = str((self.workdir / "work").resolve()) + os.sep
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if (b"CoarseGrainedExecutorBackend" in (proc / "cmdline").read_bytes()
                        and os.readlink(proc / "cwd").startswith(work)):
                    pids.append(int(proc.name))
        return sorted(pids)

    def _wait_registered(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        alive = 0
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"spark standalone: {p.args[1]} exited with {p.returncode} "
                                       f"during start-up; log in {self.workdir}")
            try:
                alive = sum(w.get("state") == "ALIVE" for w in self.status().get("workers", []))
            except (OSError, ValueError):  # not up yet, or not the master's page yet
                alive = 0
            if alive >= self.workers:
                return
            time.sleep(0.5)
        raise RuntimeError(f"spark standalone: {alive} of {self.workers} workers registered with "
                           f"{self.master_url} after {self.timeout_s:.0f} s; logs in {self.workdir}")

    def stop(self) -> None:
        """SIGTERM each daemon's process group (workers first), SIGKILL what is left after 20 s."""
        for proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in reversed(self.procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self.procs.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """``sig`` to the process group ``proc`` leads (its own session: the JVM and the Python
    workers it forked), then to ``proc`` itself while it has not been reaped."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with StandaloneCluster(workers=n) as c:
        print(f"spark standalone: {c.master_url} ({n} worker(s)), web UI "
              f"http://127.0.0.1:{c.webui_port}; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
