"""Score distill-guard on foreign traffic by driving the real CLI in a fresh home.

Steps: ``detector ingest DIR/logs --json`` -> ``detector run --all`` ->
``detector verdicts --format csv``; then join with ``DIR/truth.csv`` (never read by the
detector). Account grain: an account is *flagged* if any of its account-days got ``review`` or
``block``, *blocked* if any got ``block``; its score is the max over its days. Accounts with no
verdict row count as ``allow`` with score 0.

Run: ``.venv/bin/python bench/foreign/score.py --data /tmp/foreign --home /tmp/foreign-home``
Writes ``bench/results/foreign.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from _meta import stamp, write_atomic  # noqa: E402

DETECTOR = REPO / ".venv/bin/detector"
PYTHON = REPO / ".venv/bin/python"
#: The real CLI entry point with the set-level sweep search of the clustering stage turned off
#: (``--no-sweeps``): the same ``main()`` and commands, only ``ClusterParams.sweep_enabled``
#: defaults to False. Used because that search did not finish on this traffic (see README).
NO_SWEEPS = ("import functools, sys; import detector.clusters.pipeline as cp; "
             "from detector.clusters.params import ClusterParams; "
             "cp.ClusterParams = functools.partial(ClusterParams, sweep_enabled=False); "
             "from detector.cli.main import main; sys.argv[0] = 'detector'; main()")
#: Set by ``--no-sweeps``; chooses how ``_cli`` starts the detector.
MODE = {"no_sweeps": False}
#: BLAS threads: one per process on the shared 2-core machine (oversubscription was 8x slower).
BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cli(home: Path, *args: str, check: bool = True) -> tuple[str, float, int, str]:
    """Run one detector command; returns (stdout, wall seconds, exit status, stderr tail)."""
    t = time.time()
    env = os.environ | BLAS_ENV | {"DETECTOR_HOME": str(home)}
    exe = [str(PYTHON), "-c", NO_SWEEPS] if MODE["no_sweeps"] else [str(DETECTOR)]
    p = subprocess.run([*exe, "--home", str(home), *args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise SystemExit(f"detector {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return p.stdout, round(time.time() - t, 1), p.returncode, p.stderr.strip()[-300:]


def run_pipeline(data: Path, home: Path) -> tuple[dict, dict, str]:
    """Fresh home, ingest day files, ingest the re-delivery file separately, run, verdicts.

    Returns (ingest summary, wall seconds per step, verdicts csv). The re-delivery file (all
    lines already delivered) is ingested on its own after the day files; its outcome is
    recorded, not fatal.
    """
    if home.exists():
        shutil.rmtree(home)
    walls = {}
    days = sorted(str(p) for p in (data / "logs").glob("*.jsonl.gz"))
    out, walls["ingest"], _, _ = _cli(home, "ingest", *days, "--json")
    ingest = json.loads(out)
    ingest.pop("files", None)
    redo = data / "logs" / "redelivery.jsonl"
    if redo.exists():
        out, walls["ingest_redelivery"], rc, err = _cli(home, "ingest", str(redo), "--json", check=False)
        ingest["redelivery"] = ({k: v for k, v in json.loads(out).items() if k != "files"} if rc == 0
                                else {"exit_status": rc, "stderr_tail": err})
    _, walls["run"], _, _ = _cli(home, "run", "--all")
    csv_text, walls["verdicts"], _, _ = _cli(home, "verdicts", "--format", "csv")
    return ingest, walls, csv_text


def read_truth(path: Path) -> dict[str, dict]:
    """account_id -> {label, archetype, group}."""
    with open(path, encoding="utf-8") as fh:
        return {r["account_id"]: r for r in csv.DictReader(fh)}


def average_precision(y: list[int], s: list[float]) -> float:
    """Average precision (area under the step precision-recall curve), ties grouped."""
    pairs = sorted(zip(s, y, strict=True), key=lambda p: -p[0])
    pos = sum(y)
    if pos == 0:
        return float("nan")
    tp = fp = 0
    ap = prev_recall = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            tp += pairs[j][1]
            fp += 1 - pairs[j][1]
            j += 1
        recall = tp / pos
        ap += (recall - prev_recall) * (tp / (tp + fp))
        prev_recall = recall
        i = j
    return ap


def _reason_items(reasons: str) -> list[str]:
    return [r.strip() for r in (reasons or "").split(";") if r.strip()]


def analyse(truth: dict[str, dict], verdicts_csv: str) -> dict:
    """Account-level metrics, per-archetype table and reason counts."""
    rows = list(csv.DictReader(io.StringIO(verdicts_csv)))
    acc: dict[str, dict] = defaultdict(lambda: {"score": 0.0, "flag": False, "block": False,
                                               "reasons": Counter(), "clusters": set(), "days": 0})
    unknown = 0
    for r in rows:
        if r["account_id"] not in truth:
            unknown += 1
            continue
        a = acc[r["account_id"]]
        a["days"] += 1
        a["score"] = max(a["score"], float(r["score"] or 0))
        dec = r["decision"]
        a["flag"] |= dec in ("review", "block")
        a["block"] |= dec == "block"
        if r.get("cluster_id"):
            a["clusters"].add(r["cluster_id"])
        a["reasons"].update(_reason_items(r.get("reasons", "")))
    per_arch: dict[str, dict] = {}
    fp_reasons: dict[str, Counter] = defaultdict(Counter)
    miss_reasons: dict[str, Counter] = defaultdict(Counter)
    ys, ss = [], []
    for aid, t in truth.items():
        a = acc[aid]
        y = int(t["label"] == "distill")
        ys.append(y)
        ss.append(a["score"])
        p = per_arch.setdefault(t["archetype"], {"label": t["label"], "accounts": 0, "with_verdict": 0,
                                                 "flagged": 0, "blocked": 0, "clustered": 0, "scores": []})
        p["accounts"] += 1
        p["with_verdict"] += a["days"] > 0
        p["flagged"] += a["flag"]
        p["blocked"] += a["block"]
        p["clustered"] += bool(a["clusters"])
        p["scores"].append(a["score"])
        if not y and a["flag"]:
            fp_reasons[t["archetype"]].update(a["reasons"])
        if y and not a["flag"]:
            miss_reasons[t["archetype"]].update(a["reasons"] or Counter({"(no reasons)": 1}))
    table = {}
    for k, p in sorted(per_arch.items(), key=lambda kv: (kv[1]["label"], kv[0])):
        sc = sorted(p.pop("scores"))
        table[k] = p | {"flag_rate": round(p["flagged"] / p["accounts"], 4),
                        "block_rate": round(p["blocked"] / p["accounts"], 4),
                        "median_score": round(sc[len(sc) // 2], 4)}
    pos = sum(ys)
    neg = len(ys) - pos
    flagged = {aid for aid, a in acc.items() if a["flag"] and aid in truth}
    blocked = {aid for aid, a in acc.items() if a["block"] and aid in truth}
    is_pos = {aid for aid, t in truth.items() if t["label"] == "distill"}
    return {
        "accounts": len(truth), "distill_accounts": pos, "benign_accounts": neg,
        "verdict_rows": len(rows), "verdict_rows_unknown_account": unknown,
        "recall_review": round(len(flagged & is_pos) / pos, 4),
        "recall_block": round(len(blocked & is_pos) / pos, 4),
        "benign_fpr_review": round(len(flagged - is_pos) / neg, 4),
        "benign_fpr_block": round(len(blocked - is_pos) / neg, 4),
        "precision_review": round(len(flagged & is_pos) / max(1, len(flagged)), 4),
        "precision_block": round(len(blocked & is_pos) / max(1, len(blocked)), 4),
        "average_precision": round(average_precision(ys, ss), 4),
        "per_archetype": table,
        "fp_top_reasons": {k: c.most_common(8) for k, c in fp_reasons.items()},
        "miss_top_reasons": {k: c.most_common(8) for k, c in miss_reasons.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="output folder of generate.py")
    ap.add_argument("--home", type=Path, default=Path("/tmp/foreign-home"))
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/foreign.json")
    ap.add_argument("--reuse", action="store_true", help="skip ingest/run; read verdicts from --home")
    ap.add_argument("--no-sweeps", action="store_true",
                    help="turn off the clustering stage's set-level sweep search (see README)")
    a = ap.parse_args(argv)
    MODE["no_sweeps"] = a.no_sweeps
    if not (a.data / "truth.csv").exists() or not (a.data / "logs").is_dir():
        print(f"error: {a.data} must hold truth.csv and logs/ (from generate.py)", file=sys.stderr)
        return 2
    truth = read_truth(a.data / "truth.csv")
    if a.reuse:
        verdicts, walls = _cli(a.home, "verdicts", "--format", "csv")[0], {}
        ingest = {}
    else:
        ingest, walls, verdicts = run_pipeline(a.data, a.home)
    (a.home / "foreign-verdicts.csv").write_text(verdicts, encoding="utf-8")
    result = {"data": str(a.data), "generator": json.loads((a.data / "summary.json").read_text())
              if (a.data / "summary.json").exists() else {},
              "ingest": ingest, "wall_s": walls, "sweeps_disabled": a.no_sweeps} | analyse(truth, verdicts)
    result["generator"].pop("requests_per_archetype", None)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/foreign/score.py"), **result}
    write_atomic(a.out, json.dumps(result, indent=2) + "\n")
    keys = ("recall_review", "recall_block", "benign_fpr_review", "benign_fpr_block", "average_precision")
    print(json.dumps({k: result[k] for k in keys}, indent=2))
    for k, p in result["per_archetype"].items():
        print(f"{p['label']:8s} {k:22s} n={p['accounts']:4d} flag={p['flag_rate']:.3f} "
              f"block={p['block_rate']:.3f} med_score={p['median_score']:.3f} clustered={p['clustered']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
