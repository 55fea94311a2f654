"""Benchmarks of the cluster stage (run by hand; results go to bench/results/).

  .venv/bin/python bench/clusters.py scale [--accounts 100000] [--requests 10000000]
      Synthetic one-day lake written straight to Parquet (no ingest), then
      ``detector.clusters.compute`` on it; wall time per step. Target: < 300 s on 2 cores.
  .venv/bin/python bench/clusters.py scale7 [--accounts 100000] [--requests 10000000] [--days 7]
                                           [--no-cache] [--history cached|cold] [--workdir W]
      The same synthetic day copied to 7 daily partitions; the last day clustered with its
      1-day and 7-day windows, in a child process (peak RSS recorded). By default the earlier
      days' window caches exist first (the daily production case); --no-cache is the old path;
      --compare runs both on one lake and checks edges and members are equal
      (clusters_scale_7d_compare.json).
  .venv/bin/python bench/clusters.py quality [--scenario train] [--accounts 3000] [--days 3]
      ``detector simulate`` traffic -> ingest -> clusters; member recall and purity against
      truth.json, plus the hard negatives (campus NAT groups, resellers).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _meta import stamp, write_atomic  # noqa: E402

from detector.clusters import compute, list_clusters  # noqa: E402
from detector.clusters.store import read  # noqa: E402
from detector.evaluate.clusters import cluster_recovery  # noqa: E402
from detector.lake.schema import REQUEST_SCHEMA  # noqa: E402
from detector.settings import load_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DAY = "2026-11-27"
GENERIC = ["python-requests/2.32.3", "OpenAI/Python 1.54.4", "python-httpx/0.28.1",
           "axios/1.7.9", "node-fetch/3.3.2", "curl/8.5.0", "Go-http-client/2.0"]
APPS = ["Chatbox/1.9.1", "TypingMind/2.3", "LibreChat/0.7.5", "Raycast/1.86.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"]
WORDS = ["photosynthesis", "entropy", "recursion", "mortgage", "sonnet", "enzyme", "tariff", "quasar", "syntax", "torque", "inflation", "mitosis", "algorithm", "baroque", "cathode", "glacier", "ledger", "neuron", "prism", "sorbet"]
SCAFFOLDS = [
    "Write a comprehensive tutorial on {w} for graduate students. Cover definitions, intuition, "
    "worked examples, common misconceptions and practice problems with full solutions. Item {n}.",
    "You are asked to come up with a set of 20 diverse task instructions about {w}. Each must be "
    "different and come with a complete, high-quality response. Batch {n}.",
    "Solve step by step and show all of your reasoning before the final answer: problem {n} on {w}.",
]


def _dict_col(indices: np.ndarray, pool: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(pool))


def synth_day(home: Path, n_accounts: int, n_requests: int, seed: int = 0) -> dict:
    """One day of traffic: benign accounts (some behind big NATs) and hydra clusters."""
    g = np.random.default_rng(seed)
    day0 = datetime.fromisoformat(DAY).replace(tzinfo=UTC).timestamp()
    n_hydra_groups = max(1, n_accounts // 2000)
    sizes = g.integers(10, 120, n_hydra_groups)
    n_hyd = int(sizes.sum())
    n_ben = n_accounts - n_hyd
    group = np.concatenate([np.full(n_ben, -1), np.repeat(np.arange(n_hydra_groups), sizes)])
    accounts = [f"acct_{i:07d}" for i in range(n_accounts)]
    per_member = g.integers(40, 200, n_hydra_groups)
    weight = g.lognormal(0, 1.3, n_ben)
    counts = g.multinomial(n_requests - int((sizes * per_member).sum()), weight / weight.sum())
    acct_b = np.repeat(np.arange(n_ben, dtype=np.int64), counts)
    ts_b = day0 + g.uniform(0, 86400, acct_b.size)
    # hydra: one regular stream per group, handed round-robin to its members
    acct_h, ts_h = [], []
    first = n_ben
    for size, rate in zip(sizes.tolist(), per_member.tolist(), strict=True):
        ts_h.append(day0 + np.sort(g.uniform(0, 86400, size * rate)))
        acct_h.append(first + np.concatenate([g.permutation(size) for _ in range(rate)]))
        first += size
    acct = np.concatenate([acct_b, *acct_h])
    ts = np.concatenate([ts_b, *ts_h])
    n = acct.size
    hyd = group[acct] >= 0
    # addresses: per-account home IP; 2% of benign accounts behind 200 big NATs; hydra /24s
    ip_pool_n = n_accounts + 200 + n_hydra_groups * 256
    home_ip = np.arange(n_accounts)
    nat = g.random(n_ben) < 0.02
    home_ip[:n_ben][nat] = n_accounts + g.integers(0, 200, nat.sum())
    sub = group[n_ben:]
    home_ip[n_ben:] = n_accounts + 200 + sub * 256 + g.integers(0, 256, n_hyd)
    ips = [f"{10 + (i >> 16) % 200}.{(i >> 8) & 255}.{i & 255}.{7 + i % 200}" for i in range(ip_pool_n)]
    ip_idx = home_ip[acct]
    prefixes = sorted({".".join(ip.split(".")[:3]) + ".0/24" for ip in ips})
    pidx = {p: i for i, p in enumerate(prefixes)}
    prefix_of_ip = np.array([pidx[".".join(ip.split(".")[:3]) + ".0/24"] for ip in ips])
    # client profile: benign pick generic/app UA; hydra a script UA, shared params
    uas = GENERIC + APPS + [f"harvester/{k}.0" for k in range(n_hydra_groups)]
    acct_ua = g.integers(0, len(GENERIC) + len(APPS), n_accounts)
    acct_ua[n_ben:] = len(GENERIC) + len(APPS) + sub
    acct_mt = g.choice([-1, 1024, 2048, 4096], n_accounts)
    acct_mt[n_ben:] = 8192
    # payments: benign unique, hydra a few shared cards per group
    pay = np.arange(n_accounts)
    pay[n_ben:] = n_accounts + sub * 4 + g.integers(0, 4, n_hyd)
    created = day0 - g.uniform(0, 3 * 365 * 86400, n_accounts)
    created[n_ben:] = day0 - 86400 * 2 - sub * 3600 + g.uniform(0, 1800, n_hyd)
    # prompts: benign from a pool of free text; hydra from scaffolds
    vocab = [f"{WORDS[i % len(WORDS)][: 3 + i % 5]}{i}x" for i in range(5000)]
    lens = g.integers(6, 30, 200_000)
    words = g.integers(0, len(vocab), int(lens.sum()))
    cuts = np.cumsum(lens)[:-1]
    pool = [" ".join(vocab[w] for w in ws) for ws in np.split(words, cuts)]
    # each hydra group has its own wrapper (a scaffold with the group's own tag)
    per_group = 500
    hyd_pool = [f"[{k:04d}-run] " + SCAFFOLDS[k % 3].format(w=WORDS[i % len(WORDS)], n=i)
                for k in range(n_hydra_groups) for i in range(per_group)]
    prompt_idx = g.integers(0, len(pool), n)
    prompt_idx[hyd] = (len(pool) + group[acct[hyd]] * per_group
                       + g.integers(0, per_group, int(hyd.sum())))
    texts = pool + hyd_pool
    hashes = [hashlib.sha1(t.encode()).hexdigest()[:16] for t in texts]
    order = np.argsort(ts, kind="stable")
    cols = {
        "ts": pa.array((ts[order] * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")),
        "account_id": _dict_col(acct[order], accounts),
        "client_ip": _dict_col(ip_idx[order], ips),
        "ip_prefix": _dict_col(prefix_of_ip[ip_idx[order]], prefixes),
        "user_agent": _dict_col(acct_ua[acct[order]], uas),
        "payment_fingerprint": _dict_col(pay[acct[order]], [f"pm_{i:08x}" for i in range(pay.max() + 1)]),
        "account_created_at": pa.array((created[acct[order]] * 1e6).astype("int64"),
                                       pa.timestamp("us", tz="UTC")),
        "prompt_text": _dict_col(prompt_idx[order], texts),
        "prompt_hash": _dict_col(prompt_idx[order], hashes),
        "max_tokens": pa.array(np.where(acct_mt[acct[order]] < 0, None, acct_mt[acct[order]]),
                               pa.int64()),
        "completion_tokens": pa.array(g.integers(50, 2000, n), pa.int64()),
        "prompt_tokens": pa.array(g.integers(10, 400, n), pa.int64()),
    }
    folder = home / "lake" / "requests" / f"date={DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([pa.field(f.name, cols[f.name].type if f.name in cols else f.type)
                        for f in REQUEST_SCHEMA])
    parts = 10
    step = -(-n // parts)
    for k in range(parts):
        sl = slice(k * step, min(n, (k + 1) * step))
        size = sl.stop - sl.start
        table = pa.table({f.name: cols[f.name][sl] if f.name in cols else pa.nulls(size, f.type)
                          for f in schema}, schema=schema)
        pq.write_table(table, folder / f"part-{k}.parquet", compression="zstd")
    return {"accounts": n_accounts, "requests": int(n), "hydra_groups": int(n_hydra_groups),
            "hydra_accounts": n_hyd, "truth": {accounts[i]: int(group[i]) for i in range(n_ben, n_accounts)}}


def scale(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="clu_bench_"))
    try:
        t = time.perf_counter()
        info = synth_day(work, args.accounts, args.requests)
        gen_s = time.perf_counter() - t
        settings = load_settings(work, threads=2)
        t = time.perf_counter()
        compute(settings, [DAY])
        wall = time.perf_counter() - t
        summary = json.loads((work / "clusters" / f"date={DAY}" / "summary.json").read_text())
        members = read(settings, DAY, "members")
        truth = info.pop("truth")
        label = {a: f"g{g}" for a, g in truth.items()}
        pure = kin = 0
        for ms in members.groupby("cluster_id")["account_id"].apply(list):
            labels = Counter(label.get(m, f"solo:{m}") for m in ms)
            pure += labels.most_common(1)[0][1]
            kin += sum(c for lab, c in labels.items() if c >= 2 and not lab.startswith("solo"))
        return {"mode": "scale", **info, "generate_s": round(gen_s, 1),
                "compute_s": round(wall, 1), "summary": summary,
                "hydra_member_recall": round(kin / max(len(truth), 1), 4),
                "purity": round(pure / max(len(members), 1), 4),
                "clusters": len(list_clusters(settings, DAY))}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def replicate_days(home: Path, days: int) -> list[str]:
    """Copy the synthetic day ``DAY`` to the ``days - 1`` days before it (timestamps shifted):
    the same accounts and groups every day, so a 7-day window holds 7x the rows."""
    from datetime import date, timedelta

    src = home / "lake" / "requests" / f"date={DAY}"
    out = [DAY]
    for k in range(1, days):
        day = (date.fromisoformat(DAY) - timedelta(days=k)).isoformat()
        folder = src.parent / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        shift = pa.scalar(k * 86400 * 1_000_000, pa.int64())
        for part in sorted(src.glob("part-*.parquet")):
            t = pq.read_table(part)
            ts = pa.compute.subtract(t.column("ts").cast(pa.int64()), shift)
            t = t.set_column(t.schema.get_field_index("ts"), "ts",
                             ts.cast(pa.timestamp("us", tz="UTC")))
            pq.write_table(t, folder / part.name, compression="zstd")
        out.append(day)
    return sorted(out)


def scale7(args: argparse.Namespace) -> dict:
    """One run of ``scale7_one`` per ``--requests`` value, side by side in one process.

    With ``--compare`` each size runs twice on one lake, raw windows then cached windows
    (earlier days' caches built first), and the two runs' edges and members are compared."""
    if not args.compare:
        return {"mode": "scale7", "window_cache": args.cache, "history": args.history,
                "runs": [scale7_one(args.accounts, n, args.days, args.cache, args.history,
                                    args.workdir) for n in args.requests]}
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="clu_bench7c_"))
    runs = []
    try:
        for n in args.requests:
            pair = {}
            tables = {}
            for cache in (False, True):
                pair["cached" if cache else "raw"] = scale7_one(
                    args.accounts, n, args.days, cache, "cached", str(workdir))
                settings = load_settings(workdir / f"{args.accounts}_{n}_{args.days}")
                tables[cache] = {t: read(settings, DAY, t) for t in ("edges", "members")}
            pair["same_output"] = _same_tables(tables[False], tables[True])
            pair["speedup"] = round(pair["raw"]["compute_s"] / pair["cached"]["compute_s"], 2)
            runs.append(pair)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return {"mode": "scale7_compare", "runs": runs}


def _same_tables(a: dict, b: dict) -> dict:
    """Per table: equal rows after sorting (floats to 1e-12)?"""
    out = {}
    for name in a:
        x, y = (t.sort_values(list(t.columns[:3])).reset_index(drop=True) for t in (a[name], b[name]))
        same = len(x) == len(y) and list(x.columns) == list(y.columns)
        for col in x.columns if same else []:
            if x[col].dtype.kind == "f":
                same &= bool(np.allclose(x[col], y[col], rtol=0, atol=1e-12, equal_nan=True))
            else:
                same &= x[col].astype(str).tolist() == y[col].astype(str).tolist()
        out[name] = {"rows": int(len(x)), "equal": bool(same)}
    return out


def scale7_one(accounts: int, requests: int, n_days: int, cache: bool = True,
               history: str = "cached", workdir: str | None = None) -> dict:
    """Seven daily partitions; the last day clustered (1-day and full 7-day windows).

    ``history='cached'``: the earlier days' window caches are built first (what the earlier
    daily runs leave behind; timed apart as ``history_cache_s``), so ``compute_s`` is the
    daily run with a week of history. ``'cold'``: the run builds all seven itself. The
    clustering runs in a child process so ``peak_rss_gib`` is its own high-water mark
    (history build included).
    With ``workdir`` the generated lake is kept there and reused by the next run.
    """
    work = Path(workdir) / f"{accounts}_{requests}_{n_days}" if workdir else Path(
        tempfile.mkdtemp(prefix="clu_bench7_"))
    try:
        t = time.perf_counter()
        info_path = work / "info.json"
        reused = info_path.exists()
        if reused:
            info = json.loads(info_path.read_text())
            days = sorted(d.name.split("=", 1)[1]
                          for d in (work / "lake" / "requests").glob("date=*"))
        else:
            info = synth_day(work, accounts, requests)
            info.pop("truth")
            days = replicate_days(work, n_days)
            info_path.write_text(json.dumps(info))
        gen_s = time.perf_counter() - t
        for old in [*(work / "clusters").glob("date=*"), work / "features" / "cluster",
                    work / "clusters" / "cache" / f"date={DAY}"]:
            shutil.rmtree(old, ignore_errors=True)  # the earlier days' caches stay (reused)
        if history == "cold" or not cache:
            shutil.rmtree(work / "clusters", ignore_errors=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "child", str(work),
               "--history", history] + ([] if cache else ["--no-cache"])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        child = json.loads(proc.stdout.strip().splitlines()[-1])
        summary = json.loads((work / "clusters" / f"date={DAY}" / "summary.json").read_text())
        print(f"scale7 {requests}/day: {child['compute_s']} s", file=sys.stderr)
        return {**info, "days": len(days),
                "requests_in_window": info["requests"] * len(days),
                "generate_s": round(gen_s, 1), "lake_reused": reused, **child,
                "summary": summary}
    finally:
        if not workdir:
            shutil.rmtree(work, ignore_errors=True)


def child(args: argparse.Namespace) -> dict:
    """Inside the child process: build the history caches (when asked), then cluster DAY."""
    from detector.clusters import ClusterParams
    from detector.clusters.daycache import ensure_days
    from detector.lake.db import connect, lake_dates

    settings = load_settings(Path(args.home), threads=2)
    params = ClusterParams(window_cache=args.cache)
    out: dict = {"history_cache_s": None}
    if args.cache and args.history == "cached":
        t = time.perf_counter()
        con = connect(settings)
        built = ensure_days(con, settings, [d for d in lake_dates(settings) if d < DAY], params)
        con.close()
        out["history_cache_s"] = round(time.perf_counter() - t, 1)
        out["history_cache_s_per_day"] = built
    t = time.perf_counter()
    compute(settings, [DAY], params)  # the last day: its 7-day window spans all partitions
    out["compute_s"] = round(time.perf_counter() - t, 1)
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def quality(args: argparse.Namespace) -> dict:
    from detector.clusters import ClusterParams
    from detector.ingest import ingest_paths
    from detector.lake.db import lake_dates
    from detector.simulate import load_scenario, simulate

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="clu_quality_"))
    try:
        sc = load_scenario(args.scenario)
        for name in ("accounts", "days", "seed"):
            if getattr(args, name) is None:
                setattr(args, name, sc.defaults[name])
        out = work / "sim"
        settings = load_settings(work / "home", threads=2)
        if (out / "truth.json").exists() and lake_dates(settings):
            n_requests = None  # reused: simulated and ingested by an earlier run
        else:
            n_requests = simulate(out, args.accounts, args.days, args.seed, scenario=sc).requests
            settings.ensure_dirs()
            ingest_paths(settings, [out], progress=False)
        for old in ("clusters", "features/cluster"):
            shutil.rmtree(work / "home" / old, ignore_errors=True)
        dates = lake_dates(settings)
        embed_s = None
        if args.embed and not (work / "home" / "embeddings" / "cache").exists():
            import detector.embeddings as embeddings  # the coverage stage runs before clusters

            t = time.perf_counter()
            embeddings.compute(load_settings(work / "home", threads=2,
                                             embedding_backend="static"), dates)
            embed_s = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        compute(settings, dates, ClusterParams(sweep_enabled=args.sweep,
                                               window_cache=args.window_cache))
        wall = time.perf_counter() - t
        truth = json.loads((out / "truth.json").read_text())
        n_requests = n_requests or sum(v["requests"] for v in truth["accounts"].values())
        return {"mode": "quality", "scenario": args.scenario, "sweep": args.sweep,
                "window_cache": args.window_cache,
                "accounts": args.accounts,
                "days": args.days, "seed": args.seed, "requests": n_requests,
                "compute_s": round(wall, 1), "embed_s": embed_s,
                "sweep_days": [json.loads((work / "home" / "clusters" / f"date={d}" / "summary.json")
                                     .read_text()).get("sweep") for d in dates],
                **cluster_recovery(settings, truth, dates, campaigns=False)}
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("scale")
    s.add_argument("--accounts", type=int, default=100_000)
    s.add_argument("--requests", type=int, default=10_000_000)
    s7 = sub.add_parser("scale7")
    s7.add_argument("--accounts", type=int, default=100_000)
    s7.add_argument("--requests", type=int, nargs="+", default=[10_000_000],
                    help="Requests per day; one run per value.")
    s7.add_argument("--days", type=int, default=7)
    s7.add_argument("--no-cache", dest="cache", action="store_false",
                    help="Read and shingle every window from raw requests (the old path).")
    s7.add_argument("--history", choices=["cached", "cold"], default="cached",
                    help="cached: earlier days' window caches built before the timed run.")
    s7.add_argument("--compare", action="store_true",
                    help="Raw then cached windows on one lake; outputs compared.")
    s7.add_argument("--workdir", default=None,
                    help="Keep the generated lake here; a later run with the same sizes reuses it.")
    ch = sub.add_parser("child", help="(internal) the timed clustering of scale7")
    ch.add_argument("home")
    ch.add_argument("--no-cache", dest="cache", action="store_false")
    ch.add_argument("--history", choices=["cached", "cold"], default="cached")
    q = sub.add_parser("quality")
    q.add_argument("--scenario", default=None)
    q.add_argument("--accounts", type=int, default=None, help="Default: the scenario's.")
    q.add_argument("--days", type=int, default=None, help="Default: the scenario's.")
    q.add_argument("--seed", type=int, default=None, help="Default: the scenario's.")
    q.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    q.add_argument("--sweep", action="store_true",
                   help="Switch the experimental set-level sweep search on (off by default).")
    q.add_argument("--no-embed", dest="embed", action="store_false",
                   help="Skip the embedding coverage stage (the sweep search then cannot run).")
    q.add_argument("--no-window-cache", dest="window_cache", action="store_false",
                   help="Read every window from raw requests (the path before the cache).")
    q.add_argument("--workdir", default=None,
                   help="Work folder, kept; a second run reuses its simulated, ingested lake.")
    ap.add_argument("--out", default=None, help="Result file name under bench/results/.")
    args = ap.parse_args()
    if args.mode == "child":
        print(json.dumps(child(args)))
        return
    result = {"scale": scale, "scale7": scale7, "quality": quality}[args.mode](args)
    result.update({"machine": platform.machine(), "python": platform.python_version(),
                   "measured_at": datetime.now(UTC).isoformat(timespec="seconds")})
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.out or {"scale": "clusters_scale.json",
                        "scale7": "clusters_scale_7d_compare.json" if getattr(
                            args, "compare", False) else "clusters_scale_7d.json",
                        }.get(args.mode, f"clusters_quality_{getattr(args, 'scenario', None) or 'default'}.json")
    result = {"provenance": stamp("bench/clusters.py"), **result}
    write_atomic(RESULTS / name, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
