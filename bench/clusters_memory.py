"""Peak memory of the clusters stage, this tree vs an earlier commit, on the scale_day lakes.

    .venv/bin/python bench/clusters_memory.py --before ca6bdb6 [--sizes 1000000_10000 3000000_30000]
                                             [--repeat 1] [--out bench/results/clusters_memory.json]
    .venv/bin/python bench/clusters_memory.py --before ca6bdb6 --sizes 10000000_100000 \
                                             --no-centroids --no-exact

Each size's entry is merged into the results file (key ``<size>``, or ``<size>_no_centroids``).

For each size ``<requests>_<accounts>`` the synthetic day of ``bench/scale_day.py`` (seed 0, built
there when absent) is linked, not copied, into ``bench/work/clusters_memory/<size>/``, and the
embedding stage runs once there (its centroids are an input of the account graph; kept between
runs). The code of ``--before`` is extracted with ``git archive`` into
``bench/work/clusters_memory/before-<commit>/``; then, ``--repeat`` times, the clusters stage runs
cold (``clusters/`` and ``features/cluster/`` removed: the day cache is built too) in a child
process for the earlier code (``PYTHONPATH`` set to the extracted tree) and for this tree, one
after the other, with DuckDB ``threads = 2`` as in ``bench/scale_day.py`` and measured as it
measures a stage (wall and CPU from ``wait4``, peak RSS from ``VmHWM``); their outputs must
agree (every column exact, floats to 1e-12 relative). Then each code runs once more with
``threads = 1``: the SHA-256 of every file the stage wrote (members, clusters, id_map, edges,
the account feature file) is recorded and compared, and the columns that are not bit for bit
equal are listed. With two threads DuckDB's parallel sums of float weights may differ in the
last bit between two runs of the same code; single-threaded they do not, unless a query
spills (the stage caps DuckDB's memory, the earlier code did not), which also changes the
order of a sum. Exit 1 when any column differs beyond 1e-12 (ids, members and evidence
exact).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _meta import stamp, write_atomic  # noqa: E402
from scale_day import CHILD, DAY, lake, measure_child  # noqa: E402

#: the clusters stage with DuckDB threads = argv[2] (scale_day's stages run with 2)
CLUSTERS = ("import sys; from detector.settings import load_settings;"
            "from detector.clusters import compute;"
            "compute(load_settings(sys.argv[1], threads=int(sys.argv[2]),"
            " embedding_backend='static'), [sys.argv[3]])")

WORK = ROOT / "bench" / "work" / "clusters_memory"
#: what the clusters stage writes for a day (relative to the home), compared byte for byte
OUTPUTS = [f"clusters/date={DAY}/{n}.parquet" for n in ("members", "clusters", "id_map", "edges")]
OUTPUTS.append(f"features/cluster/date={DAY}/part-0.parquet")


def home_for(size: str, centroids: bool = True) -> Path:
    """This bench's home for ``size``: the scale_day lake linked in, centroids computed once
    (without ``centroids`` a home of its own with none: no centroid edges, no embedding run)."""
    requests, accounts = (int(x) for x in size.split("_"))
    src, _ = lake(requests, accounts, 0)
    home = WORK / (size if centroids else f"{size}_no_centroids")
    if not (home / "lake").exists():
        shutil.copytree(src / "lake", home / "lake.tmp", copy_function=os.link)
        os.replace(home / "lake.tmp", home / "lake")
    if centroids and not (home / "embeddings" / "centroids" / f"date={DAY}").exists():
        run_stage([CHILD, str(home), "detector.embeddings", "compute", DAY], None)
    return home


def before_tree(commit: str) -> Path:
    """The ``detector`` package of ``commit``, extracted once."""
    full = subprocess.run(["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    tree = WORK / f"before-{full[:12]}"
    if not (tree / "detector").exists():
        tmp = Path(tempfile.mkdtemp(dir=WORK))
        archive = subprocess.run(["git", "archive", full, "detector"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        shutil.rmtree(tree, ignore_errors=True)
        os.replace(tmp, tree)
    return tree


def run_stage(argv: list[str], code: Path | None) -> dict:
    """``python -c argv...`` in a child process (``code``: a tree whose ``detector`` is imported
    first): wall and CPU seconds, peak RSS."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    m = measure_child([sys.executable, "-c", *argv], env=env, cwd=code or ROOT)
    if m["exit_code"] != 0:
        raise SystemExit(f"child {argv[1:]} failed with code {code or ROOT}: {m['stderr_tail']}")
    return {k: m[k] for k in ("wall_s", "cpu_s", "peak_rss_mib")}


def clusters_run(home: Path, code: Path | None, threads: int, keep: Path) -> dict:
    """The clusters stage, cold; what it wrote is copied to ``keep`` and digested."""
    shutil.rmtree(home / "clusters", ignore_errors=True)
    shutil.rmtree(home / "features" / "cluster", ignore_errors=True)
    row = run_stage([CLUSTERS, str(home), str(threads), DAY], code)
    row["threads"] = threads
    row["sha256"] = {p: hashlib.sha256((home / p).read_bytes()).hexdigest() for p in OUTPUTS}
    summary = json.loads((home / f"clusters/date={DAY}/summary.json").read_text())
    row["summary"] = {k: summary[k] for k in ("accounts", "typed_edges", "candidate_pairs",
                                               "linked_pairs", "clusters", "clustered_accounts")}
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    for p in OUTPUTS:
        shutil.copy(home / p, keep / p.replace("/", "__"))
    print(f"{home.name:15s} {'before' if code else 'after':6s} threads {threads} "
          f"{row['wall_s']:7.1f} s {row['cpu_s']:7.1f} CPU-s {row['peak_rss_mib']:6d} MiB",
          flush=True)
    return row


def same_tables(a: Path, b: Path, rtol: float) -> list[str]:
    """Outputs of two runs that differ: everything exact but floats (relative ``rtol``)."""
    out = []
    for p in OUTPUTS:
        x = pq.read_table(a / p.replace("/", "__")).to_pandas()
        y = pq.read_table(b / p.replace("/", "__")).to_pandas()
        if list(x.columns) != list(y.columns) or len(x) != len(y):
            out.append(p)
            continue
        for c in x.columns:
            if x[c].dtype.kind == "f":
                ok = np.allclose(x[c].to_numpy(float), y[c].to_numpy(float), rtol=rtol, atol=0,
                                 equal_nan=True)
            else:
                ok = x[c].astype(str).tolist() == y[c].astype(str).tolist()
            if not ok:
                out.append(f"{p}:{c}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="commit of the earlier code")
    parser.add_argument("--sizes", nargs="+", default=["1000000_10000", "3000000_30000"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-centroids", action="store_true",
                        help="no embedding stage first (its 10M day takes 15 minutes here)")
    parser.add_argument("--no-exact", action="store_true",
                        help="skip the single-threaded runs (the byte comparison)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "clusters_memory.json")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    before = before_tree(args.before)
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc.update({"provenance": stamp("bench/clusters_memory.py"),
                "before_commit": before.name.removeprefix("before-"), "day": DAY})
    doc.setdefault("sizes", {})
    identical = True
    for size in args.sizes:
        home = home_for(size, not args.no_centroids)
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for k in range(args.repeat):  # memory as scale_day measures it: DuckDB threads = 2
            for tag, code in (("before", before), ("after", None)):
                runs[tag].append(clusters_run(home, code, 2, WORK / "runs" / size / f"{tag}{k}"))
        differ = same_tables(WORK / "runs" / size / "before0", WORK / "runs" / size / "after0",
                             1e-12)
        exact: dict = {}
        if not args.no_exact:
            exact = {tag: clusters_run(home, code, 1, WORK / "runs" / size / f"{tag}_t1")
                     for tag, code in (("before", before), ("after", None))}
            t1 = (WORK / "runs" / size / "before_t1", WORK / "runs" / size / "after_t1")
            exact_cmp = {"bytes_identical_threads_1":
                         exact["before"]["sha256"] == exact["after"]["sha256"],
                         "threads_1_not_bit_identical": same_tables(*t1, 0.0),
                         "threads_1_differ_beyond_1e-12": same_tables(*t1, 1e-12)}
        else:
            exact_cmp = {"bytes_identical_threads_1": None}
        identical &= not differ and not exact_cmp.get("threads_1_differ_beyond_1e-12")
        doc["sizes"][size if not args.no_centroids else f"{size}_no_centroids"] = {
            "requests": int(size.split("_")[0]), "accounts": int(size.split("_")[1]),
            "centroids": not args.no_centroids, "provenance": doc["provenance"],
            **exact_cmp,
            "threads_2_differ_beyond_1e-12": differ,
            "peak_rss_mib": {k: max(r["peak_rss_mib"] for r in v) for k, v in runs.items()},
            "runs": runs, "runs_threads_1": exact}
    # every size in the file: ids, members, evidence exact; floats to 1e-12
    doc["outputs_agree_1e-12"] = all(not v["threads_2_differ_beyond_1e-12"]
                                     and not v.get("threads_1_differ_beyond_1e-12")
                                     for v in doc["sizes"].values())
    write_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps({s: {"bytes": v["bytes_identical_threads_1"],
                          "not_bit_identical": v.get("threads_1_not_bit_identical"),
                          **v["peak_rss_mib"]}
                      for s, v in doc["sizes"].items()}))
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
