"""The ``job`` part of ``bench/spark.py``: what it derives from the per-stage runs of the whole
scoring job on DuckDB and on the standalone cluster (ratios, totals, Spark's fixed-cost share)
and the verdict check (the parity goal of issue #25: decisions equal, scores to 6 decimals).
``python bench/spark_job.py [spark.json]`` prints the job section as a Markdown table.
"""

from __future__ import annotations

import numpy as np

#: verdict columns compared to 6 decimals
SCORES = ("score", "model_score", "anomaly_score", "risk")


def summarise(runs: dict[str, dict], requests: int) -> dict:
    """Per stage and run (cold, warm): Spark / DuckDB ratio of CPU and wall seconds; per engine
    and run: the job's totals. ``runs``: {"duckdb": stages, "spark_standalone": stages}, each
    ``{stage: {run: {"wall_s", "cpu_s", ...}}}``."""
    duck, spark = runs["duckdb"], runs["spark_standalone"]
    ratio = {stage: {label: {
        "cpu": round(spark[stage][label]["cpu_s"] / max(duck[stage][label]["cpu_s"], 1e-9), 1),
        "wall": round(spark[stage][label]["wall_s"] / max(duck[stage][label]["wall_s"], 1e-9), 1)}
        for label in duck[stage]} for stage in duck}
    totals = {}
    for engine, stages in runs.items():
        for label in ("cold", "warm"):
            wall = sum(s[label]["wall_s"] for s in stages.values())
            cpu = sum(s[label]["cpu_s"] for s in stages.values())
            totals.setdefault(engine, {})[label] = {
                "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "cpu_s_per_million_requests": round(cpu / requests * 1e6, 1)}
    return {"ratio_spark_over_duckdb": ratio, "totals": totals}


def fixed_cost(runs: dict[str, dict], fixed: dict[str, float], requests: int) -> dict:
    """Spark's fixed cost per run (``fixed``: warm CPU-s per stage of the executors part's small
    day) against this day's warm Spark CPU over the same stages: its share, and the CPU per
    million requests left once it is taken off, against DuckDB's (the measured engine factor
    per row)."""
    duck, spark = runs["duckdb"], runs["spark_standalone"]
    stages = list(fixed)
    spark_cpu = sum(spark[s]["warm"]["cpu_s"] for s in stages)
    duck_cpu = sum(duck[s]["warm"]["cpu_s"] for s in stages)
    fixed_cpu = sum(fixed.values())
    net = max(spark_cpu - fixed_cpu, 0.0)
    return {"stages": stages, "fixed_cpu_s": round(fixed_cpu, 1),
            "spark_warm_cpu_s": round(spark_cpu, 1), "duckdb_warm_cpu_s": round(duck_cpu, 1),
            "fixed_share_of_spark": round(fixed_cpu / max(spark_cpu, 1e-9), 3),
            "spark_net_cpu_s_per_million_requests": round(net / requests * 1e6, 1),
            "duckdb_cpu_s_per_million_requests": round(duck_cpu / requests * 1e6, 1),
            "engine_factor_per_row": round(net / max(duck_cpu, 1e-9), 2)}


def compare_verdicts(a, b) -> dict:
    """Verdict frames of the two engines (``account_id``, ``date``, ``decision`` and
    :data:`SCORES`) matched on (account, date): rows on one side only, decisions that differ,
    scores that differ after rounding to 6 decimals (NaN equal to NaN) and the largest absolute
    difference per score."""
    m = a.merge(b, on=["account_id", "date"], how="outer", suffixes=("_duckdb", "_spark"),
                indicator=True)
    both = m[m["_merge"] == "both"]
    out = {"rows_duckdb": len(a), "rows_spark": len(b),
           "rows_on_one_side_only": int((m["_merge"] != "both").sum()),
           "decisions_duckdb": {k: int(v) for k, v in a["decision"].value_counts().items()},
           "decisions_spark": {k: int(v) for k, v in b["decision"].value_counts().items()},
           "decision_mismatches": int((both["decision_duckdb"] != both["decision_spark"]).sum()),
           "score_mismatches_6_decimals": {}, "max_abs_difference": {}}
    for c in SCORES:
        x = both[f"{c}_duckdb"].astype(float).round(6).to_numpy()
        y = both[f"{c}_spark"].astype(float).round(6).to_numpy()
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        out["score_mismatches_6_decimals"][c] = int((~same).sum())
        diff = np.abs(both[f"{c}_duckdb"].astype(float) - both[f"{c}_spark"].astype(float))
        out["max_abs_difference"][c] = float(np.nanmax(diff)) if len(diff) and diff.notna().any() \
            else 0.0
    out["identical"] = (out["rows_on_one_side_only"] == 0 and out["decision_mismatches"] == 0
                        and len(a) > 0 and not any(out["score_mismatches_6_decimals"].values()))
    return out


def table(job: dict) -> str:
    """The job section of ``spark.json`` as a Markdown table: per stage and run, DuckDB's and
    the cluster's wall and CPU seconds, CPU-s per million requests and the CPU ratio."""
    duck, spark = job["duckdb"], job["spark_standalone"]
    lines = ["| stage | run | DuckDB wall s | DuckDB CPU s | DuckDB CPU-s / M req | "
             "Spark wall s | Spark CPU s | Spark CPU-s / M req | Spark / DuckDB CPU |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label in ("cold", "warm"):
        for stage in duck:
            a, b = duck[stage][label], spark[stage][label]
            ratio = job["ratio_spark_over_duckdb"][stage][label]["cpu"]
            lines.append(f"| {stage} | {label} | {a['wall_s']:,.1f} | {a['cpu_s']:,.1f} | "
                         f"{a['cpu_s_per_million_requests']:,.0f} | {b['wall_s']:,.1f} | "
                         f"{b['cpu_s']:,.1f} | {b['cpu_s_per_million_requests']:,.0f} | "
                         f"{ratio:g}x |")
        a, b = job["totals"]["duckdb"][label], job["totals"]["spark_standalone"][label]
        lines.append(f"| **job** | {label} | {a['wall_s']:,.1f} | {a['cpu_s']:,.1f} | "
                     f"{a['cpu_s_per_million_requests']:,.0f} | {b['wall_s']:,.1f} | "
                     f"{b['cpu_s']:,.1f} | {b['cpu_s_per_million_requests']:,.0f} | "
                     f"{b['cpu_s'] / max(a['cpu_s'], 1e-9):.1f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # print the job table of a results file (default: spark.json)
    import json
    import sys
    from pathlib import Path

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(__file__).resolve().parent / "results" / "spark.json")
    sys.stdout.write(table(json.loads(path.read_text(encoding="utf-8"))["job"]))
