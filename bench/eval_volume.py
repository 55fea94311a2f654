"""Detection quality per volume level and per archetype (``make eval``).

Generates the evaluation traffic at several per-account volume levels (the simulator's
``--volume`` or ``bench/foreign/generate.py --volume``: the same accounts, every account's daily
request volume multiplied), scores each run with the detector's CLI exactly as harnesses do
(``detector ingest`` -> ``detector run --all`` -> ``detector verdicts --format csv`` in a fresh
home) and writes, per level: recall flagged/blocked, benign flagged/blocked, average
precision, distilled-token share flagged/blocked, and per archetype the flagged and blocked
shares, each share with its 95 % Wilson interval, to ``bench/results/`` (:func:`default_out`:
``eval_volume.json`` for the final seeds, the reported figures; ``eval_volume_dev.json`` for
the development seeds, so iterating never overwrites them). The file is rewritten as each
level finishes, with ``"complete": false`` until the last one: a run stopped part way leaves
the levels it finished.

Account grain: an account is flagged if any of its account-days is ``review`` or ``block``,
blocked if any is ``block``; its score is its max score. The figures count the accounts that
sent at least one request in the generated window (the simulator's truth lists only those;
``bench/foreign`` also lists accounts that stayed quiet, such as an eval runner with no run
that day: they are left out of every rate and counted per archetype under ``inactive``, since
no detector can see them). An active account without a verdict counts as allowed with score
0. A level's figures pool every seed of the chosen set (accounts split evenly across the
seeds).

Seeds come from ``data/scenarios/seeds.toml`` (training / development / final / spent;
training and spent seeds are refused). Default: development seeds, all four levels, the ``volume`` scenario.

Run::

    .venv/bin/python bench/eval_volume.py                       # make eval (development seeds)
    .venv/bin/python bench/eval_volume.py --quick               # one level, few accounts (iterate)
    .venv/bin/python bench/eval_volume.py --seeds final         # measured once, reported
    .venv/bin/python bench/eval_volume.py --levels 1,10 --generator foreign
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_meta, also when imported
from _meta import write_atomic  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEEDS_FILE = REPO / "data" / "scenarios" / "seeds.toml"
DETECTOR = REPO / ".venv" / "bin" / "detector"
PYTHON = REPO / ".venv" / "bin" / "python"
LEVELS = (0.5, 1.0, 3.0, 10.0)
#: Accounts per level (split across the seeds): >= 100 per benign archetype of volume.toml
#: (16 shares of 1/16 benign, 14 archetypes); for bench/foreign's natural mix the same 1,700,
#: where its rare archetypes get 6-50 accounts (eval runners, research labs, app forwarders).
ACCOUNTS = {"sim": 1700, "foreign": 1700}
#: bench/foreign with ``--shares balanced``: 113 accounts of each of its 23 archetypes (a
#: quiet archetype, such as consumer chat, has fewer *active* ones on a given day).
BALANCED_ACCOUNTS = 2600
QUICK_ACCOUNTS = 300
#: BLAS threads: one per process on the shared 2-core machine.
BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ------------------------------------------------------------------------------- statistics

def wilson(k: int, n: int, z: float = 1.959963984540054) -> list[float] | None:
    """95 % Wilson score interval [low, high] of a share k/n (None when n == 0)."""
    if n <= 0:
        return None
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def share(k: int, n: int) -> dict:
    """A share with its count, denominator and 95 % Wilson interval."""
    return {"k": k, "n": n, "rate": round(k / n, 6) if n else None, "ci95": wilson(k, n)}


def average_precision(labels: list[int], scores: list[float]) -> float | None:
    """AP of scores against labels; tied scores enter together (equals scikit-learn's)."""
    pos = sum(labels)
    if pos == 0:
        return None
    pairs = sorted(zip(scores, labels, strict=True), key=lambda x: -x[0])
    ap = tp = seen = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        block_tp = sum(lab for _, lab in pairs[i:j])
        tp += block_tp
        seen += j - i
        ap += (block_tp / pos) * (tp / seen)
        i = j
    return round(ap, 6)


def summarise(accounts: dict[str, dict], verdict_rows: list[dict]) -> dict:
    """Figures for one level. ``accounts``: id -> {archetype, is_distiller, distilled_tokens,
    requests (optional)}; ``verdict_rows``: dicts with account_id, score, decision (one per
    account-day). Accounts whose ``requests`` is 0 sent nothing in the window: counted under
    ``inactive`` (per archetype), left out of every rate."""
    inactive = Counter(info["archetype"] for info in accounts.values()
                       if info.get("requests", 1) == 0)
    accounts = {a: info for a, info in accounts.items() if info.get("requests", 1) != 0}
    best: dict[str, dict] = {}
    for row in verdict_rows:
        a = row["account_id"]
        if a not in accounts:
            continue
        b = best.setdefault(a, {"flag": False, "block": False, "score": 0.0})
        dec = row["decision"]
        b["flag"] |= dec in ("review", "block")
        b["block"] |= dec == "block"
        b["score"] = max(b["score"], float(row["score"] or 0.0))
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "flag": 0, "block": 0})
    tot = {True: {"n": 0, "flag": 0, "block": 0}, False: {"n": 0, "flag": 0, "block": 0}}
    tok = {"all": 0, "flag": 0, "block": 0}
    labels, scores = [], []
    for a, info in accounts.items():
        v = best.get(a, {"flag": False, "block": False, "score": 0.0})
        for bucket in (per[info["archetype"]], tot[bool(info["is_distiller"])]):
            bucket["n"] += 1
            bucket["flag"] += v["flag"]
            bucket["block"] += v["block"]
        dt = int(info.get("distilled_tokens") or 0)
        tok["all"] += dt
        tok["flag"] += dt if v["flag"] else 0
        tok["block"] += dt if v["block"] else 0
        labels.append(int(bool(info["is_distiller"])))
        scores.append(v["score"])
    d, b = tot[True], tot[False]
    return {
        "accounts": len(accounts), "distillers": d["n"], "benign": b["n"],
        "inactive": dict(sorted(inactive.items())),
        "recall": {"flag": share(d["flag"], d["n"]), "block": share(d["block"], d["n"])},
        "benign_flagged": {"flag": share(b["flag"], b["n"]), "block": share(b["block"], b["n"])},
        "average_precision": average_precision(labels, scores),
        "distilled_token_share": {
            "flag": round(tok["flag"] / tok["all"], 6) if tok["all"] else None,
            "block": round(tok["block"] / tok["all"], 6) if tok["all"] else None},
        "per_archetype": {
            arch: {"distilling": any(accounts[a]["is_distiller"] for a in accounts
                                     if accounts[a]["archetype"] == arch),
                   "accounts": c["n"], "flagged": share(c["flag"], c["n"]),
                   "blocked": share(c["block"], c["n"])}
            for arch, c in sorted(per.items())},
    }


# ------------------------------------------------------------------------------- seeds

def load_seeds(path: Path = SEEDS_FILE) -> dict[str, dict[str, list[int]]]:
    """The named seed sets {training, development, final} -> {sim, foreign} -> seeds."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def pick_seeds(spec: str, generator: str) -> tuple[str, list[int]]:
    """(set name, seeds) for ``--seeds``: a set name, or a comma list of seeds (named 'custom').
    Training seeds and spent final seeds are refused."""
    sets = load_seeds()
    training = {s for name in ("training", "spent") for g in ("sim", "foreign")
                for s in sets.get(name, {}).get(g, [])}
    if spec in sets:
        if spec in ("training", "spent"):
            raise SystemExit(f"--seeds {spec}: {spec} seeds are never evaluated on")
        return spec, list(sets[spec][generator])
    seeds = [int(s) for s in spec.split(",") if s.strip()]
    bad = [s for s in seeds if s in training or (generator == "sim" and s < 1000)
           or (generator == "foreign" and s < 12)]
    if bad:
        raise SystemExit(f"--seeds: {bad} are training or already-used seeds (see {SEEDS_FILE})")
    return "custom", seeds


def default_out(set_name: str, generator: str, days: int, quick: bool = False,
                shares: str = "natural") -> Path:
    """The result file of a run: ``eval_volume`` + ``_foreign`` (the independent generator) +
    ``_balanced`` (``--shares balanced``) + ``_<days>days`` (more than one) + ``_dev``
    (development seeds) or ``_custom`` (a seed list); the final seeds' file has no suffix,
    since it holds the figures the README reports. ``--quick``:
    ``eval_volume[_foreign]_quick.json``."""
    name = "eval_volume" + ("_foreign" if generator == "foreign" else "")
    name += "_balanced" if shares == "balanced" else ""
    if quick:
        return REPO / "bench" / "results" / f"{name}_quick.json"
    name += f"_{days}days" if days > 1 else ""
    name += {"final": "", "development": "_dev"}.get(set_name, f"_{set_name}")
    return REPO / "bench" / "results" / f"{name}.json"


# ------------------------------------------------------------------------------- runs

def _cli(home: Path, *args: str, tree: Path | None = None) -> str:
    """``detector --home HOME ARGS`` (this checkout, or the code of ``tree`` run with this
    checkout's environment, for side-by-side comparisons)."""
    env = os.environ | BLAS_ENV | {"DETECTOR_HOME": str(home)}
    cmd = [str(DETECTOR)]
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        cmd = [str(PYTHON), "-c", "from detector.cli.main import main; main()"]
    p = subprocess.run([*cmd, "--home", str(home), *args], capture_output=True,
                       text=True, env=env, cwd=str(tree) if tree is not None else None)
    if p.returncode != 0:
        raise SystemExit(f"detector {' '.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p.stdout


def _sim_generate(out: Path, accounts: int, days: int, seed: int, volume: float,
                  scenario: str) -> tuple[list[str], dict[str, dict]]:
    from detector.simulate import simulate
    simulate(out, accounts, days, seed, scenario=scenario, volume=volume)
    truth = json.loads((out / "truth.json").read_text())["accounts"]
    acc = {a: {"archetype": t["archetype"], "is_distiller": t["is_distiller"],
               "distilled_tokens": t["distilled_completion_tokens"],
               "requests": int(t["requests"])} for a, t in truth.items()}
    return sorted(str(p) for p in out.glob("requests-*.jsonl*")), acc


def _foreign_generate(out: Path, accounts: int, days: int, seed: int, volume: float,
                      shares: str = "natural") -> tuple[list[str], dict[str, dict]]:
    subprocess.run([str(PYTHON), str(REPO / "bench/foreign/generate.py"), "--accounts", str(accounts),
                    "--days", str(days), "--seed", str(seed), "--volume", str(volume),
                    "--shares", shares, "--out", str(out)], check=True, capture_output=True)
    acc = {}
    with open(out / "truth.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            acc[row["account_id"]] = {"archetype": row["archetype"],
                                      "is_distiller": row["label"] != "benign",
                                      "distilled_tokens": 0, "requests": 0}
    # the foreign truth has no counts: each account's requests, and a distilling account's
    # completion tokens, all of it
    for p in sorted((out / "logs").glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                a = acc.get(rec.get("account_id"))
                if a is None:
                    continue
                a["requests"] += 1
                if a["is_distiller"]:
                    a["distilled_tokens"] += int((rec.get("usage") or {}).get("completion_tokens") or 0)
    return sorted(str(p) for p in (out / "logs").glob("*.jsonl.gz")), acc


def _json_object(text: str) -> dict:
    """The JSON object a ``--json`` command printed; lines before it (a library writing a
    warning to stdout, as one baseline tree did) are skipped, never the object itself."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("{"):
            try:
                return json.loads("\n".join(lines[i:]))
            except json.JSONDecodeError:
                continue
    raise SystemExit(f"no JSON object in the command's output: {text[-2000:]!r}")


def _score(home: Path, files: list[str], tree: Path | None = None) -> tuple[int, list[dict]]:
    """Ingest, run and read the verdicts in a fresh home: (requests accepted, verdict rows)."""
    n_req = _json_object(_cli(home, "ingest", *files, "--json", tree=tree)).get("accepted")
    _cli(home, "run", "--all", tree=tree)
    text = _cli(home, "verdicts", "--format", "csv", tree=tree)
    return n_req, list(csv.DictReader(io.StringIO(text)))


def run_level(level: float, seeds: list[int], accounts: int, days: int, generator: str,
              scenario: str, work: Path, log=print, baseline: Path | None = None,
              shares: str = "natural") -> dict:
    """Generate and score every seed at one volume level; pooled figures plus run details.

    ``baseline``: another checkout whose code scores the same generated files right after
    (figures under ``baseline``, measured side by side)."""
    per_seed = max(1, accounts // len(seeds))
    pooled: dict[str, dict] = {}
    rows: list[dict] = []
    base_rows: list[dict] = []
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        data, home = work / f"data-{generator}-{level}-{seed}", work / f"home-{generator}-{level}-{seed}"
        for p in (data, home):
            shutil.rmtree(p, ignore_errors=True)
        if generator == "sim":
            files, acc = _sim_generate(data, per_seed, days, seed, level, scenario)
        else:
            files, acc = _foreign_generate(data, per_seed, days, seed, level, shares)
        t_gen = time.perf_counter() - t0
        n_req, got = _score(home, files)
        t_all = time.perf_counter() - t0
        rows += got
        pooled.update(acc)
        runs.append({"seed": seed, "accounts": len(acc), "requests_accepted": n_req,
                     "seconds": {"generate": round(t_gen, 1), "total": round(t_all, 1)}})
        if baseline is not None:
            base_home = work / f"home-baseline-{generator}-{level}-{seed}"
            shutil.rmtree(base_home, ignore_errors=True)
            base_rows += _score(base_home, files, tree=baseline)[1]
            shutil.rmtree(base_home, ignore_errors=True)
        log(f"  volume {level}x seed {seed}: {len(acc)} accounts, {n_req} requests, {t_all:.0f} s")
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    out = summarise(pooled, rows)
    out["volume"] = level
    out["runs"] = runs
    if baseline is not None:
        out["baseline"] = summarise(pooled, base_rows)
    return out


def _git_commit(tree: Path = REPO) -> str | None:
    try:
        p = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                           text=True, check=True)
        # result files (another run beside this one may just have written its own) do not
        # change what was measured
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no",
                                "--", ".", ":(exclude)bench/results"],
                               capture_output=True, text=True).stdout.strip()
        return p.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _fmt(s: dict) -> str:
    if s["rate"] is None:
        return "   n/a"
    lo, hi = s["ci95"]
    return f"{100 * s['rate']:5.1f}% [{100 * lo:.1f}-{100 * hi:.1f}]"


def _document(a: argparse.Namespace, argv: list[str] | None, set_name: str, seeds: list[int],
              accounts: int, results: dict, t0: float, complete: bool) -> dict:
    """The result document: provenance, the run's parameters and the levels measured so far
    (``complete``: every level asked for)."""
    return {
        "script": "bench/eval_volume.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "git_commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg_1m_at_end": os.getloadavg()[0]},
        "generator": a.generator, "scenario": a.scenario if a.generator == "sim" else "bench/foreign",
        "seed_set": set_name, "seeds": seeds, "days": a.days, "accounts_per_level": accounts,
        "shares": a.shares if a.generator == "foreign" else None,
        "baseline_tree": str(a.baseline_tree) if a.baseline_tree else None,
        "baseline_commit": _git_commit(a.baseline_tree) if a.baseline_tree else None,
        "levels": results, "complete": complete,
        "seconds": round(time.perf_counter() - t0, 1),
        "definitions": {
            "unit": "account: flagged if any account-day is review or block, blocked if any is block",
            "population": "accounts with at least one request in the window; the others are "
                          "counted per archetype under inactive and left out of every rate",
            "ci95": "Wilson score interval", "recall": "flagged (blocked) distillers / distillers",
            "benign_flagged": "flagged (blocked) benign accounts / benign accounts",
            "distilled_token_share": "distilled completion tokens of flagged (blocked) accounts / all"},
    }


def _write(path: Path, doc: dict) -> None:
    """Write ``doc`` to ``path`` atomically (``_meta.write_atomic``)."""
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default=",".join(str(v) for v in LEVELS),
                    help="comma-separated volume multipliers (default 0.5,1,3,10)")
    ap.add_argument("--seeds", default="development",
                    help="development | final | comma list of fresh seeds (default development)")
    ap.add_argument("--generator", choices=("sim", "foreign"), default="sim")
    ap.add_argument("--scenario", default="volume", help="simulator scenario (default volume)")
    ap.add_argument("--accounts", type=int, default=None,
                    help="accounts per level, split across the seeds (default 1700; 2600 with "
                         "--shares balanced)")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--shares", choices=("natural", "balanced"), default="natural",
                    help="bench/foreign only: archetypes in their traffic shares (default) or "
                         "balanced, the same number of accounts of each (rare archetypes get "
                         "usable intervals)")
    ap.add_argument("--quick", action="store_true",
                    help=f"iteration mode: level 1x only, one seed, {QUICK_ACCOUNTS} accounts")
    ap.add_argument("--out", type=Path, default=None,
                    help="result file (default: bench/results/eval_volume[_foreign][_3days]"
                         "[_dev|_custom].json by generator, days and seed set; "
                         "eval_volume_quick.json with --quick)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temporary)")
    ap.add_argument("--baseline-tree", type=Path, default=None,
                    help="another checkout (e.g. `git worktree add /tmp/base REV`) whose code "
                         "scores the same files right after ours, for a side-by-side comparison")
    a = ap.parse_args(argv)
    if a.shares != "natural" and a.generator != "foreign":
        ap.error(f"--shares {a.shares} is for --generator foreign (the simulator's volume "
                 f"scenario is balanced already), got --generator {a.generator}")
    set_name, seeds = pick_seeds(a.seeds, a.generator)
    levels = [float(x) for x in a.levels.split(",") if x.strip()]
    accounts = a.accounts or (BALANCED_ACCOUNTS if a.shares == "balanced" else ACCOUNTS[a.generator])
    if a.quick:
        levels = [1.0] if a.levels == ap.get_default("levels") else levels[:1]
        seeds, accounts = seeds[:1], a.accounts or QUICK_ACCOUNTS
    out_path = a.out or default_out(set_name, a.generator, a.days, a.quick, a.shares)
    work = a.work or Path(tempfile.mkdtemp(prefix="distill-guard-volume-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = {}
    try:
        for level in levels:
            print(f"volume {level}x ({len(seeds)} seed(s), {accounts} accounts)", flush=True)
            m = run_level(level, seeds, accounts, a.days, a.generator, a.scenario, work,
                          baseline=a.baseline_tree, shares=a.shares)
            results[f"{level:g}x"] = m
            # each finished level is kept: a run stopped later leaves them (complete: false)
            _write(out_path, _document(a, argv, set_name, seeds, accounts, results, t0,
                                       complete=False))
            print(f"  recall flag {_fmt(m['recall']['flag'])} block {_fmt(m['recall']['block'])}; "
                  f"benign flag {_fmt(m['benign_flagged']['flag'])} block "
                  f"{_fmt(m['benign_flagged']['block'])}; AP {m['average_precision']}; "
                  f"distilled tokens flagged {m['distilled_token_share']['flag']}", flush=True)
            if m["inactive"]:
                print(f"  inactive (no request in the window, not counted): {m['inactive']}",
                      flush=True)
            b = m.get("baseline")
            if b is not None:
                print(f"  baseline: recall flag {_fmt(b['recall']['flag'])} block "
                      f"{_fmt(b['recall']['block'])}; benign flag {_fmt(b['benign_flagged']['flag'])} "
                      f"block {_fmt(b['benign_flagged']['block'])}; AP {b['average_precision']}",
                      flush=True)
            for arch, c in m["per_archetype"].items():
                extra = ""
                if b is not None and arch in b["per_archetype"]:
                    bc = b["per_archetype"][arch]
                    extra = f"   | baseline flagged {_fmt(bc['flagged'])} blocked {_fmt(bc['blocked'])}"
                print(f"    {arch:20s} {c['accounts']:5d}  flagged {_fmt(c['flagged'])}  "
                      f"blocked {_fmt(c['blocked'])}{extra}", flush=True)
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    doc = _document(a, argv, set_name, seeds, accounts, results, t0, complete=True)
    _write(out_path, doc)
    print(f"wrote {out_path} in {doc['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
