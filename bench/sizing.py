"""Size a cluster for N requests a day from the measured CPU-seconds and peak memory per stage.

    .venv/bin/python bench/sizing.py [--requests 1e9] [--accounts 1e7] [--engine-factor F]
                                     [--utilisation 0.7] [--hours 2] [--price 0.05]

Reads ``bench/results/scale_day.json`` (the whole job per stage on DuckDB, one synthetic day at
1M/3M/10M requests with 10k/30k/100k accounts), ``bench/results/spark.json`` (Spark's fixed cost
per stage, the one- vs two-executor ratios and, from its ``job`` section, Spark's CPU per row
against DuckDB's on the same day) and ``bench/results/clusters_memory.json`` (the
clusters stage's peak memory with the current code) and prints the Markdown of the "Sizing and
cost per billion requests" section of ``docs/scale.md`` (``tests/architecture/test_sizing_doc.py``
checks that the doc holds exactly this output for the default arguments).

Measured: CPU-seconds and peak RSS per stage at the three sizes. Projected (this script): each
stage's CPU grows linearly with its driver, at the unit cost of the largest measured day:

- ``requests``: CPU-s per million requests at 10M (features: every request is read);
- ``accounts``: CPU-s per thousand active accounts at 10M (embeddings: at most 256 sampled
  prompts per account-day, so encoder work follows accounts, not requests; clusters: key rows
  and candidate pairs per account, the popular-key cap bounding a key's fan-out; decide: one
  feature row per account-day);
- ``flagged``: a fixed cost per day plus a slope per account, fitted through the smallest and
  largest day (campaigns and the report work on flagged accounts and clusters, a small share
  of accounts); a slope under zero (a stage of a few CPU-seconds measured lower on the larger
  day) is taken as flat at the largest day's cost.

Engine factor (Spark's CPU per row against DuckDB's): measured by ``bench/spark.py --part job``
on one day on both engines, per Spark stage, once the fixed cost per run is taken off Spark's
warm CPU (:func:`measured_engine_factor`), and weighted by the stages' projected core-hours
(campaigns and the report run on the driver: 1); used when that fixed cost is under half of
Spark's CPU that day (:data:`FIXED_SHARE_MAX`), else the stated :data:`STATED_ENGINE_FACTOR`.
``--engine-factor`` overrides either.

The measured days all have 100 requests per account-day, so the split between requests and
accounts is a design statement, not a fit; it matters only when the sized day has another ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
#: stage -> what its CPU grows with (see the module docstring)
DRIVERS = {"features": "requests", "embeddings": "accounts", "clusters": "accounts",
           "decide": "accounts", "campaigns": "flagged", "report": "flagged"}
#: stages that run on the executors under engine = "spark" (spark.json measures these)
SPARK_STAGES = ("features", "embeddings", "clusters", "decide")
#: engine factor assumed when spark.json has no job measurement at a size fixed cost does not
#: dominate
STATED_ENGINE_FACTOR = 2.0
#: the job measurement's engine factor is used when Spark's fixed cost is under this share
FIXED_SHARE_MAX = 0.5


def load(results: Path = RESULTS) -> dict:
    """The three results files this model reads."""
    def read(name: str) -> dict:
        path = results / name
        if not path.is_file():
            raise SystemExit(f"sizing: {path} is missing (run the bench that writes it)")
        return json.loads(path.read_text(encoding="utf-8"))
    return {"scale": read("scale_day.json"), "spark": read("spark.json"),
            "clusters": read("clusters_memory.json")}


def runs(doc: dict) -> list[dict]:
    """scale_day runs, smallest day first."""
    return sorted(doc["scale"]["runs"].values(), key=lambda r: r["requests"])


def stage_cpu(run: dict) -> dict[str, float]:
    return {s["stage"]: float(s["cpu_s"]) for s in run["stages"]}


def project(doc: dict, requests: float, accounts: float) -> list[dict]:
    """Per stage: driver, measured CPU-s per day size, unit cost, projected CPU-s for the day."""
    rs = runs(doc)
    small, big = rs[0], rs[-1]
    out = []
    for stage, driver in DRIVERS.items():
        cpu = [stage_cpu(r)[stage] for r in rs]
        big_cpu = stage_cpu(big)[stage]
        if driver == "requests":
            unit = big_cpu / (big["requests"] / 1e6)
            unit_text = f"{unit:.1f} CPU-s per million requests"
            projected = unit * requests / 1e6
        elif driver == "accounts":
            unit = big_cpu / (big["accounts"] / 1e3)
            unit_text = f"{unit:.2f} CPU-s per thousand accounts"
            projected = unit * accounts / 1e3
        else:
            slope = (big_cpu - stage_cpu(small)[stage]) / (big["accounts"] - small["accounts"])
            fixed = stage_cpu(small)[stage] - slope * small["accounts"]
            if slope < 0:  # a few CPU-s of noise, not work that shrinks: flat at the largest day
                slope, fixed = 0.0, big_cpu
            unit_text = f"{fixed:.1f} CPU-s a day + {slope * 1e3:.3f} per thousand accounts"
            projected = fixed + slope * accounts
        out.append({"stage": stage, "driver": driver, "measured_cpu_s": cpu,
                    "unit": unit_text, "cpu_s": projected, "core_hours": projected / 3600})
    return out


def peaks(doc: dict) -> dict[str, list[str]]:
    """Peak RSS MiB per stage and measured day (clusters: the current code where
    ``clusters_memory.json`` measured it, marked when measured without centroids, else
    scale_day's figure marked as the earlier code's)."""
    rs = runs(doc)
    out = {stage: [f"{next(s['peak_rss_mib'] for s in r['stages'] if s['stage'] == stage):,}"
                   for r in rs] for stage in DRIVERS}
    after: dict[int, str] = {}
    for v in sorted(doc["clusters"].get("sizes", {}).values(),
                    key=lambda v: v.get("centroids", True)):  # with centroids preferred
        mark = "" if v.get("centroids", True) else " (without centroids)"
        after[v["accounts"]] = f"{v['peak_rss_mib']['after']:,}{mark}"
    out["clusters"] = [after.get(r["accounts"], f"{p} (earlier code)")
                       for r, p in zip(rs, out["clusters"], strict=True)]
    return out


def task_memory(doc: dict, accounts: int) -> tuple[str, int]:
    """The stage with the largest measured peak RSS (MiB) on the day of ``accounts`` accounts."""
    run = next(r for r in runs(doc) if r["accounts"] == accounts)
    top = max(run["stages"], key=lambda s: s["peak_rss_mib"])
    return top["stage"], int(top["peak_rss_mib"])


def spark_fixed(doc: dict) -> dict[str, float]:
    """Warm CPU-s of each Spark stage on one executor for the small bench day: at 19k requests
    nearly all of it is Spark's fixed cost per run (DuckDB does that day's features in ~1 s)."""
    one = doc["spark"]["executors"]["one_executor"]
    return {s: float(one[s]["warm"]["cpu_s"]) for s in SPARK_STAGES}


def measured_engine_factor(doc: dict) -> dict | None:
    """Spark's CPU per row against DuckDB's per Spark stage, from ``spark.json``'s job
    measurement (one day on both engines, warm): (Spark's CPU less its fixed cost per run,
    :func:`spark_fixed`) / DuckDB's CPU; with that day's size and the fixed cost's share of
    Spark's CPU over those stages. None without a job measurement, or when the fixed cost is
    :data:`FIXED_SHARE_MAX` of Spark's CPU or more (the day too small to tell the cost per row)."""
    job = doc["spark"].get("job")
    if not job or job["fixed_cost"]["fixed_share_of_spark"] >= FIXED_SHARE_MAX:
        return None
    fixed = spark_fixed(doc)
    warm = {e: {s: float(job[e][s]["warm"]["cpu_s"]) for s in SPARK_STAGES}
            for e in ("duckdb", "spark_standalone")}
    per_stage = {s: max(warm["spark_standalone"][s] - fixed[s], 0.0) / warm["duckdb"][s]
                 for s in SPARK_STAGES}
    return {"per_stage": per_stage, "requests": job["scenario"]["requests"],
            "fixed_share": job["fixed_cost"]["fixed_share_of_spark"]}


def render_markdown(doc: dict, requests: float = 1e9, accounts: float = 1e7,
                    engine_factor: float | None = None, utilisation: float = 0.7,
                    hours: float = 2.0, price: float = 0.05) -> str:
    """The doc section's tables and worked example for these assumptions (``engine_factor``
    None: the per-stage factors of :func:`measured_engine_factor` weighted by each stage's
    projected core-hours, the driver's stages at 1, where it gives them; else
    :data:`STATED_ENGINE_FACTOR`)."""
    rs = runs(doc)
    sizes = " / ".join(f"{r['requests'] / 1e6:g}M" for r in rs)
    acc = " / ".join(f"{r['accounts'] / 1e3:g}k" for r in rs)
    rows = project(doc, requests, accounts)
    mem = peaks(doc)
    lines = [f"Measured (`bench/results/scale_day.json`, DuckDB, one synthetic day of {sizes} "
             f"requests and {acc} accounts; clusters peak from `bench/results/clusters_memory.json`) "
             f"and projected to {requests / 1e9:g}B requests and {accounts / 1e6:g}M accounts "
             "a day (this script):", "",
             f"| stage | grows with | CPU-s measured {sizes} | unit cost (projection basis) | "
             f"projected core-hours | peak RSS MiB measured {acc} accounts |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cpu = " / ".join(f"{c:,.1f}" for c in r["measured_cpu_s"])
        peak = " / ".join(mem[r["stage"]])
        lines.append(f"| {r['stage']} | {r['driver']} | {cpu} | {r['unit']} | "
                     f"{r['core_hours']:,.2f} | {peak} |")
    total_h = sum(r["core_hours"] for r in rows)
    lines.append(f"| **whole job** | | | | **{total_h:,.1f}** | |")
    part = runs(doc)[0]
    top_stage, top_mib = task_memory(doc, part["accounts"])
    n_tasks = accounts / part["accounts"]
    fixed = spark_fixed(doc)
    ratio = doc["spark"]["executors"]["ratio_warm_wall_one_over_two"]
    measured = measured_engine_factor(doc) if engine_factor is None else None
    factor_lines: list[str] = []
    if measured:
        spark_h = sum(r["core_hours"] * measured["per_stage"].get(r["stage"], 1.0) for r in rows)
        engine_factor = round(spark_h / total_h, 2)
        factor_text = (f"engine factor **{engine_factor:g}** (Spark's CPU per row against "
                       "DuckDB's, measured per stage above and weighted by the stages' "
                       "core-hours)")
        factor_lines = ["", "Spark's CPU per row against DuckDB's (`bench/spark.py --part job`, "
                        f"one day of {measured['requests']:,} requests on both engines, warm, "
                        "Spark's fixed cost per run above taken off; "
                        f"that fixed cost was {measured['fixed_share']:.0%} of Spark's CPU "
                        "there): " + ", ".join(f"{s} {v:.1f}x" for s, v in
                                               measured["per_stage"].items())
                        + "; campaigns and the report run on the driver on both engines (1x)."]
    else:
        engine_factor = STATED_ENGINE_FACTOR if engine_factor is None else engine_factor
        factor_text = (f"*engine factor {engine_factor:g}* (Spark's CPU per row against "
                       "DuckDB's at scale, not measured here)")
    paid_h = total_h * engine_factor / utilisation
    cores = paid_h / hours
    lines += ["", "Spark's fixed cost per daily run (warm, one executor, "
              "`bench/results/spark.json`): " + ", ".join(f"{s} {v:,.1f} CPU-s" for s, v in
                                                           fixed.items())
              + f", {sum(fixed.values()) / 3600:.3f} core-hours in all; two executors vs one "
              "on 2 shared cores (wall, warm): " + ", ".join(f"{s} {ratio[s]:.2f}x" for s in
                                                             SPARK_STAGES) + ".",
              *factor_lines, "",
              "Worked example (assumptions in italics, replace them with yours):", "",
              f"- work at DuckDB's measured efficiency: **{total_h:,.1f} core-hours** a day;",
              f"- {factor_text} and *utilisation {utilisation:g}* (cores busy while paid): "
              f"{total_h:,.1f} x {engine_factor:g} / {utilisation:g} = "
              f"**{paid_h:,.1f} paid core-hours** a day;",
              f"- *finished in {hours:g} hours*: **{cores:,.0f} cores** for those hours "
              f"({cores / 4:,.0f} executors of 4 cores);",
              f"- *partitions of {part['accounts']:,} accounts* (the smallest measured day, "
              f"{part['requests'] / 1e6:g}M requests): {n_tasks:,.0f} tasks per stage; a task "
              f"needs about the largest stage peak measured on that day ({top_stage}, "
              f"{top_mib:,} MiB, the whole process), so **{4 * top_mib / 1024:.1f} GiB per "
              "executor of 4 cores** plus Spark's own overhead (`spark.executor.memoryOverhead`);",
              f"- *USD {price:.2f} per core-hour on demand*: **USD {paid_h * price:,.2f} a day**, "
              f"{paid_h * price * 30:,.0f} a month of 30 days."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=float, default=1e9)
    parser.add_argument("--accounts", type=float, default=1e7)
    parser.add_argument("--engine-factor", type=float, default=None,
                        help="Spark's CPU per row / DuckDB's (default: measured, else "
                             f"{STATED_ENGINE_FACTOR:g})")
    parser.add_argument("--utilisation", type=float, default=0.7)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--price", type=float, default=0.05)
    args = parser.parse_args(argv)
    sys.stdout.write(render_markdown(load(), args.requests, args.accounts, args.engine_factor,
                                     args.utilisation, args.hours, args.price))


if __name__ == "__main__":
    main()
