"""Throughput of the embedding backends and of the whole coverage stage.

    .venv/bin/python bench/embed.py                       # CPU: hashing + static, 10,000 account-days
    .venv/bin/python bench/embed.py --backends static --accounts 2000 --out /tmp/e.json
    python3 bench/embed.py --device cuda --backends minilm,hashing --no-lake   # see bench/gpu.sh

Backends: each encodes ``--texts`` distinct realistic prompts (public corpora in ../shared/data
when present, with instruction prefixes/suffixes to make them distinct; a synthetic vocabulary
otherwise) from raw text to L2-normalised vectors; prompts/s = texts / wall seconds.

Stage: a generated day of ``--accounts`` accounts (97% ordinary accounts with a few topics and
repeats, 3% harvesters sending 300-3,000 mostly distinct prompts over all topics) is written to a
fresh home's lake, then ``detector.embeddings.run_days`` runs twice: cold (empty cache, population
model fitted) and warm (everything cached). ``--no-lake`` skips DuckDB (for a machine without it):
the sample is drawn in pandas and the stage runs from there.

Writes a JSON file (default bench/results/embed.json) with the figures, the machine and the goals.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _meta import stamp, write_atomic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path(os.environ.get("DETECTOR_SHARED_DATA", ROOT.parent / "shared" / "data"))
PREFIXES = ["", "Please answer: ", "Explain step by step. ", "Think carefully, then answer. ",
            "You are an expert. ", "Give a detailed answer: ", "Q: ", "Task: ", "Answer concisely: ",
            "Show your reasoning. ", "In plain English, ", "As a teacher would: "]
SUFFIXES = ["", " Be concise.", " Use examples.", " Cite your reasoning.", " Answer in JSON.",
            " Explain each step.", " Keep it under 200 words.", " Give three options.",
            " Then double-check the answer.", " Use markdown."]


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def prompt_pool() -> tuple[list[str], list[int], str]:
    """(prompts, topic id per prompt, source): public corpora when present, else synthetic."""
    texts, topics = [], []
    sources = [
        ("benign/arena_hard_v2.0_question.jsonl", lambda r: r.get("prompt")),
        ("benign/arena_hard_v0.1_question.jsonl", lambda r: r.get("prompt")),
        ("benign/mt_bench_question.jsonl", lambda r: (r.get("turns") or [None])[0]),
        ("benign/vicuna_bench_question.jsonl", lambda r: (r.get("turns") or [None])[0]),
        ("instructions/self_instruct_seed_tasks.jsonl", lambda r: r.get("instruction")),
        ("instructions/self_instruct_user_oriented_instructions.jsonl", lambda r: r.get("instruction")),
        ("instructions/gsm8k_test.jsonl", lambda r: r.get("question")),
        ("benign/hh_rlhf_harmless_base_test.jsonl.gz",
         lambda r: (r.get("chosen") or "").split("Human:")[1].split("Assistant:")[0].strip()
         if "Human:" in (r.get("chosen") or "") else None),
    ]
    for topic, (rel, get) in enumerate(sources):
        path = DATA / rel
        if not path.exists():
            continue
        for rec in _jsonl(path):
            text = get(rec)
            if isinstance(text, str) and text.strip():
                texts.append(text.strip())
                topics.append(topic)
    if len(texts) >= 500:
        return texts, topics, f"public corpora under {DATA}"
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(8, 60))) for _ in range(5000)]
    return texts, [i % 8 for i in range(5000)], "synthetic vocabulary (corpora not found)"


def distinct_texts(pool: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """n distinct prompts: base x prefix x suffix combinations, in random order."""
    combos = len(pool) * len(PREFIXES) * len(SUFFIXES)
    ids = rng.choice(combos, size=min(n, combos), replace=False)
    base, rest = np.divmod(ids, len(PREFIXES) * len(SUFFIXES))
    pre, suf = np.divmod(rest, len(SUFFIXES))
    return [PREFIXES[p] + pool[b] + SUFFIXES[s] for b, p, s in zip(base, pre, suf, strict=True)]


def bench_backend(name: str, device: str, home: Path, texts: list[str]) -> dict:
    from detector.embeddings.backends import make_backend
    from detector.embeddings.config import EmbeddingConfig

    t0 = time.perf_counter()
    backend = make_backend(EmbeddingConfig(backend=name, device=device), home)
    load_s = time.perf_counter() - t0
    backend.encode(texts[:256])  # warm-up (lazy init, CUDA kernels)
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    vectors = backend.encode(texts)
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    norms = np.linalg.norm(vectors, axis=1)
    return {"backend": name, "model_version": backend.model_version, "dim": backend.dim,
            "device": device, "texts": len(texts), "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
            "load_seconds": round(load_s, 2), "seconds": round(secs, 3),
            "prompts_per_s": round(len(texts) / secs, 1), "cpu_seconds": round(cpu, 3),
            "prompts_per_cpu_s": round(len(texts) / max(cpu, 1e-9), 1), "unit_rows": bool(np.allclose(norms[norms > 0], 1, atol=1e-3))}


def generate_day(pool: list[str], topics: list[int], accounts: int, day: str, seed: int = 1,
                 harvester_share: float = 0.03) -> dict[str, np.ndarray | list]:
    """One day of requests: account ids, timestamps (us), prompt texts, hashes."""
    rng = np.random.default_rng(seed)
    topics_arr = np.asarray(topics)
    by_topic = [np.flatnonzero(topics_arr == t) for t in np.unique(topics_arr)]
    n_harv = max(1, int(accounts * harvester_share))
    acct, texts = [], []
    for a in range(accounts):
        aid = f"acct_{a:06d}"
        if a < n_harv:
            n = int(rng.integers(300, 3000))
            chosen = distinct_texts(pool, n, rng)
        else:
            n = int(np.clip(rng.lognormal(np.log(15), 1.0), 1, 2000))
            home_topics = rng.choice(len(by_topic), size=int(rng.integers(1, 3)), replace=False)
            bases = rng.choice(np.concatenate([by_topic[t] for t in home_topics]),
                               size=int(rng.integers(3, 40)))
            pre = PREFIXES[int(rng.integers(len(PREFIXES)))]
            picks = rng.choice(bases, size=n)                      # repeats: same prompt again
            chosen = [pre + pool[b] for b in picks]
        acct += [aid] * len(chosen)
        texts += chosen
    start = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1e6)
    ts = np.sort(rng.integers(0, 86_400_000_000, size=len(texts))) + start
    order = rng.permutation(len(texts))                            # interleave accounts in time
    acct = [acct[i] for i in order]
    texts = [texts[i] for i in order]
    hashes = [hashlib.sha256(" ".join(t.lower().split()).encode()).hexdigest()[:32] for t in texts]
    return {"account_id": acct, "ts": ts, "prompt_text": texts, "prompt_hash": hashes,
            "harvesters": n_harv}


def write_lake(home: Path, day: str, reqs: dict) -> None:
    import pyarrow as pa

    from detector.lake.io import write_parquet_atomic
    from detector.lake.schema import REQUEST_SCHEMA

    n = len(reqs["prompt_text"])
    cols = {f.name: pa.nulls(n, f.type) for f in REQUEST_SCHEMA}
    cols["request_id"] = pa.array([f"r{i}" for i in range(n)])
    cols["ts"] = pa.array(reqs["ts"], type=pa.timestamp("us", tz="UTC"))
    for name in ("account_id", "prompt_text", "prompt_hash"):
        cols[name] = pa.array(reqs[name], type=pa.string())
    table = pa.table([cols[f.name] for f in REQUEST_SCHEMA], schema=REQUEST_SCHEMA)
    write_parquet_atomic(home / "lake" / "requests" / f"date={day}" / "part-0.parquet", table)


def pandas_sample(reqs: dict, k: int, max_chars: int):  # noqa: ANN201
    """The stage's sample without DuckDB: distinct prompts per account, k evenly spaced in time."""
    import pandas as pd

    df = pd.DataFrame({"account_id": reqs["account_id"], "ts": reqs["ts"],
                       "prompt_text": [t[:max_chars] for t in reqs["prompt_text"]],
                       "prompt_hash": reqs["prompt_hash"]}).sort_values(["account_id", "ts"])
    df = df.drop_duplicates(["account_id", "prompt_hash"]).rename(columns={"ts": "first_ts"})
    df["n_distinct"] = df.groupby("account_id")["prompt_hash"].transform("size")
    pos = df.groupby("account_id").cumcount()
    stratum = np.where(df.n_distinct <= k, pos, pos * k // df.n_distinct)
    df = df.assign(stratum=stratum).drop_duplicates(["account_id", "stratum"]).drop(columns="stratum")
    return df.reset_index(drop=True)


def bench_stage(backend: str, device: str, accounts: int, pool: list[str], topics: list[int],
                lake: bool, workdir: Path) -> dict:
    from detector.embeddings.config import EmbeddingConfig
    from detector.embeddings.stage import CoverageStage, run_days
    from detector.settings import load_settings

    day = "2026-01-15"
    home = workdir / f"stage-{backend}-{accounts}"
    t0 = time.perf_counter()
    reqs = generate_day(pool, topics, accounts, day)
    gen_s = time.perf_counter() - t0
    settings = load_settings(home, embedding_backend=backend)
    cfg = EmbeddingConfig.from_settings(settings, device=device)
    runs = []
    if lake:
        write_lake(home, day, reqs)
        CoverageStage(settings, cfg)  # model load / copy into the home: not part of the stage
        for label in ("cold", "warm"):
            t0, c0 = time.perf_counter(), time.process_time()
            res = run_days(settings, [day], config=cfg)[0]
            runs.append((label, time.perf_counter() - t0, time.process_time() - c0, res))
    else:
        stage = CoverageStage(settings, cfg)
        for label in ("cold", "warm"):
            t0, c0 = time.perf_counter(), time.process_time()
            sample = pandas_sample(reqs, cfg.sample_k, cfg.max_chars)
            accts = sorted(set(reqs["account_id"]))
            res = stage.run_sample(sample, day, accts)
            runs.append((label, time.perf_counter() - t0, time.process_time() - c0, res))
            stage.population = None
    out = {"backend": backend, "device": device, "accounts": accounts, "lake": lake,
           "requests": len(reqs["prompt_text"]), "harvesters": reqs["harvesters"],
           "generate_seconds": round(gen_s, 2)}
    for label, secs, cpu, res in runs:
        out[label] = {"seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "phases": {k: round(v, 2) for k, v in res.seconds.items()},
                      "sampled_prompts": res.sampled_rows, "unique_prompts": res.unique_prompts,
                      "embedded": res.embedded, "population_fitted": res.population_fitted,
                      "account_days_per_s": round(accounts / secs, 1),
                      "sampled_prompts_per_s": round(res.sampled_rows / secs, 1)}
        if res.embedded:
            out[label]["embedded_per_s_in_stage"] = round(res.embedded / max(res.seconds["embed"], 1e-9), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="hashing,static", help="comma list: hashing,static,minilm")
    ap.add_argument("--stage-backend", default=None, help="backend of the stage run (default: first non-hashing)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--texts", type=int, default=20_000, help="distinct prompts per backend measurement")
    ap.add_argument("--minilm-texts", type=int, default=None, help="texts for minilm (default 1,000 on CPU)")
    ap.add_argument("--accounts", type=int, default=10_000, help="account-days in the stage run (0 = skip)")
    ap.add_argument("--no-lake", action="store_true", help="stage without DuckDB (sample drawn in pandas)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "embed.json"))
    args = ap.parse_args()

    import torch

    from detector.embeddings.config import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    pool, topics, source = prompt_pool()
    rng = np.random.default_rng(0)
    workdir = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    result: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "device": device, "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
                    "prompt_source": source, "pool_size": len(pool), "backends": [], "stage": None,
                    "command": "python " + " ".join(sys.argv)}
    if os.path.exists("/proc/loadavg"):
        result["load_average_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    for name in [b for b in args.backends.split(",") if b]:
        n = args.texts
        if name == "minilm":
            n = args.minilm_texts or (args.texts if device.startswith("cuda") else 1000)
        texts = [t[:2000] for t in distinct_texts(pool, n, rng)]  # the stage's max_chars
        try:
            row = bench_backend(name, device, workdir / "models-home", texts)
        except Exception as exc:  # noqa: BLE001 - a missing optional backend is reported, not fatal
            row = {"backend": name, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(row), flush=True)
        result["backends"].append(row)
    if args.accounts:
        stage_backend = args.stage_backend or next(
            (b for b in args.backends.split(",") if b and b != "hashing"), "hashing")
        result["stage"] = bench_stage(stage_backend, device, args.accounts, pool, topics,
                                      not args.no_lake, workdir)
        print(json.dumps(result["stage"]), flush=True)
    static = next((b for b in result["backends"] if b.get("backend") == "static" and "prompts_per_s" in b), None)
    stage = result["stage"]
    result["goals"] = {
        "static_over_5000_prompts_per_s": None if static is None else static["prompts_per_s"] > 5000,
        "stage_10000_account_days_under_120_s_cold": None if not stage or stage["accounts"] < 10_000
        else stage["cold"]["seconds"] < 120,
        "minilm_over_20000_prompts_per_s_on_gpu": next(
            (b["prompts_per_s"] > 20_000 for b in result["backends"]
             if b.get("backend") == "minilm" and "prompts_per_s" in b and device.startswith("cuda")), None),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/embed.py"), **result}
    write_atomic(Path(args.out), json.dumps(result, indent=2) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)  # the generated lake and cache (hundreds of MB)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
