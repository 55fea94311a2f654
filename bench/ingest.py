"""Ingest speed against the practical limit on the same machine (run by hand).

Generates N native records (``detector.simulate`` is not required), then times, on the same
files, side by side in one run:

* reference: DuckDB ``read_json`` over the files + ``COPY ... TO`` Parquet (zstd), no validation;
* ours: ``detector.ingest.ingest_paths`` into a fresh home (parse, validate, normalise,
  dedupe, quarantine, crash-safe commit).

Peak RSS of each step is the summed RSS of the child process and its workers, sampled every
50 ms. Results go to ``bench/results/ingest.json``.

    .venv/bin/python bench/ingest.py --records 1000000 --files 4

Memory mode: ``--single-file-gb 5`` writes ONE file of about that size (streamed, same record
generator), ingests it with the default settings, records peak RSS of the whole process tree
and records/s to ``bench/results/ingest_5gb.json``, then deletes the file and the home.

    .venv/bin/python bench/ingest.py --single-file-gb 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "explain", "derive", "prove", "summarise", "translate", "compare", "list", "write", "critique",
    "solve", "rewrite", "classify", "the", "a", "of", "step", "by", "reasoning", "answer", "code",
    "python", "function", "proof", "theorem", "essay", "poem", "story", "data", "table", "model",
    "chain", "thought", "carefully", "detail", "example", "why", "how", "what",
]


def _prompt(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 120)))


def generate(out_dir: Path, records: int, files: int, seed: int = 7) -> list[Path]:
    """Write ``records`` native records split over ``files`` JSONL files (1% re-delivered)."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"part-{i:03d}.jsonl" for i in range(files)]
    handles = [open(p, "wb") for p in paths]  # noqa: SIM115
    base_ms = 1_795_000_000_000
    for i in range(records):
        rid = i if rng.random() > 0.01 else rng.randrange(max(1, i))
        acct = rng.randrange(5000)
        msgs = [{"role": "user", "content": _prompt(rng)}]
        if rng.random() < 0.5:
            msgs.insert(0, {"role": "system", "content": "You are a helpful assistant."})
        rec = {
            "request_id": f"req_{rid:09d}", "timestamp": base_ms + i * 250,
            "account_id": f"acct_{acct:05d}", "org_id": f"org_{acct // 10}",
            "api_key_id": f"key_{acct}_{rng.randrange(3)}", "endpoint": "/v1/chat/completions",
            "model": rng.choice(["frontier-large", "frontier-small"]),
            "client_ip": f"198.51.{acct % 256}.{rng.randrange(256)}",
            "user_agent": "python-httpx/0.28.1", "payment_fingerprint": f"pm_{acct % 997}",
            "account_created_at": "2026-10-01T00:00:00Z",
            "request": {"messages": msgs, "temperature": rng.choice([0, 0.7, 1.0]),
                        "max_tokens": rng.choice([256, 1024, 4096]),
                        "logprobs": rng.random() < 0.2, "top_logprobs": 5},
            "response": {"status": 200, "finish_reason": "stop"},
            "usage": {"prompt_tokens": rng.randrange(10, 400),
                      "completion_tokens": rng.randrange(10, 2000)},
            "latency_ms": rng.randrange(100, 9000),
        }
        handles[i % files].write(orjson.dumps(rec) + b"\n")
    for h in handles:
        h.close()
    return paths


_REFERENCE = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = {threads}")
con.execute("COPY (SELECT * FROM read_json({files}, format='newline_delimited')) TO '{out}' "
            "(FORMAT parquet, COMPRESSION zstd)")
"""

_OURS = """
import sys
from detector.settings import load_settings
from detector.ingest import ingest_paths
r = ingest_paths(load_settings({home!r}, threads={threads}), {files}, progress=False)
print(r.to_json())
"""


def _timed_child(code: str) -> tuple[float, int, str]:
    """(seconds, peak RSS bytes, stdout) of ``python -c code`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) * 1024, proc.stdout


def _peak_tree_rss(code: str) -> tuple[float, int, str]:
    """Like _timed_child but samples the summed RSS of the child and its workers."""
    import threading

    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.05)

    t0 = time.perf_counter()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    th.join()
    if proc.returncode:
        raise SystemExit(f"child failed with {proc.returncode}")
    return seconds, peak[0], out


def _tree_rss(pid: int) -> int:
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        with open(f"/proc/{pid}/statm") as fh:
            total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
    for c in children:
        total += _tree_rss(int(c))
    return total


#: Bytes per generated record on average (1M records -> 1.013 GB), to size a file in GB.
_BYTES_PER_RECORD = 1013


def single_file(args: argparse.Namespace) -> None:
    """Memory mode: one large file, our ingest only, peak RSS of the process tree."""
    records = int(args.single_file_gb * 1e9 / _BYTES_PER_RECORD)
    shutil.rmtree(args.work, ignore_errors=True)
    t0 = time.perf_counter()
    (path,) = generate(args.work / "logs", records, 1)
    gen_s = time.perf_counter() - t0
    in_bytes = path.stat().st_size
    print(f"generated {records} records, one file of {in_bytes / 1e9:.2f} GB in {gen_s:.0f} s")
    try:
        ours_s, ours_rss, out = _peak_tree_rss(_OURS.format(
            home=str(args.work / "home"), threads=args.threads, files=[str(path)]))
    finally:
        path.unlink(missing_ok=True)
    res = json.loads(out.strip().splitlines()[-1])
    limit = 2 * 2**30
    print(f"ours: {ours_s:.1f} s, {records / ours_s:.0f} records/s, peak RSS of the process "
          f"tree {ours_rss / 2**20:.0f} MiB (limit {limit / 2**20:.0f} MiB)")
    result = {
        "records": records, "files": 1, "input_bytes": in_bytes, "threads": args.threads,
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "python": platform.python_version(),
        "ours_seconds": round(ours_s, 1), "ours_records_per_s": round(records / ours_s),
        "ours_mb_per_s": round(in_bytes / 1e6 / ours_s, 1),
        "ours_peak_rss_mib": round(ours_rss / 2**20), "peak_rss_limit_mib": limit // 2**20,
        "peak_rss_under_limit": ours_rss < limit,
        "accepted": res["accepted"], "duplicates": res["duplicates"],
        "quarantined": res["quarantined"],
        "command": f"python bench/ingest.py --single-file-gb {args.single_file_gb:g}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out_path = args.out if args.out_given else args.out.with_name("ingest_5gb.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(args.work, ignore_errors=True)
    print(f"-> {out_path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "ingest")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--single-file-gb", type=float, default=None,
                    help="memory mode: ingest one generated file of about this many GB")
    args = ap.parse_args()
    args.out_given = args.out is not None
    if args.out is None:
        args.out = ROOT / "bench" / "results" / "ingest.json"
    if args.single_file_gb is not None:
        single_file(args)
        return

    shutil.rmtree(args.work, ignore_errors=True)
    t0 = time.perf_counter()
    files = [str(p) for p in generate(args.work / "logs", args.records, args.files)]
    gen_s = time.perf_counter() - t0
    in_bytes = sum(os.path.getsize(f) for f in files)
    print(f"generated {args.records} records, {in_bytes / 1e6:.0f} MB in {gen_s:.1f} s")

    ref_s, ref_rss, _ = _peak_tree_rss(_REFERENCE.format(
        threads=args.threads, files=files, out=args.work / "reference.parquet"))
    print(f"reference (duckdb read_json -> parquet): {ref_s:.2f} s, peak RSS {ref_rss / 2**20:.0f} MiB")
    ours_s, ours_rss, out = _peak_tree_rss(_OURS.format(
        home=str(args.work / "home"), threads=args.threads, files=files))
    res = json.loads(out.strip().splitlines()[-1])
    print(f"ours (detector ingest): {ours_s:.2f} s, peak RSS {ours_rss / 2**20:.0f} MiB, "
          f"accepted {res['accepted']} duplicates {res['duplicates']}")
    result = {
        "records": args.records, "files": args.files, "input_bytes": in_bytes,
        "threads": args.threads, "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "python": platform.python_version(),
        "reference_seconds": round(ref_s, 3), "reference_peak_rss_mib": round(ref_rss / 2**20),
        "ours_seconds": round(ours_s, 3), "ours_peak_rss_mib": round(ours_rss / 2**20),
        "ours_records_per_s": round(args.records / ours_s),
        "ratio_speed_vs_reference": round(ref_s / ours_s, 3),
        "accepted": res["accepted"], "duplicates": res["duplicates"],
        "quarantined": res["quarantined"],
        "command": f"python bench/ingest.py --records {args.records} --files {args.files}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"ratio (reference time / our time): {result['ratio_speed_vs_reference']}  -> {args.out}")


if __name__ == "__main__":
    main()
