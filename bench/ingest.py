"""Ingest speed against the practical limit on the same machine (run by hand).

Generates N native records (``detector.simulate`` is not required), then times, on the same
files, side by side in one run:

* reference: DuckDB ``read_json`` over the files + ``COPY ... TO`` Parquet (zstd), no validation;
* ours: ``detector.ingest.ingest_paths`` into a fresh home (parse, validate, normalise,
  dedupe, quarantine, crash-safe commit).

Peak RSS of each step is the summed RSS of the child process and its workers, sampled every
50 ms. The two run in ``--rounds`` alternating rounds (default 3: reference, ours, reference,
ours...), so that a change of the shared machine's load hits both; the ratio reported is the
median of the rounds' ratios, and every round is recorded, with our CPU seconds (user +
system of the process tree: steadier than wall time on a shared machine). Results go to
``bench/results/ingest.json``.

    .venv/bin/python bench/ingest.py --records 1000000 --files 4

``--baseline-tree DIR`` (both modes above and below) also times the ``detector`` package of
another checkout (``git worktree add DIR <commit>``) on the same files, right after ours (in
every round here: reference, ours, baseline, reference...; the median and every round are
recorded), under ``baseline``.

Memory mode: ``--single-file-gb 5`` writes ONE file of about that size (streamed, same record
generator), ingests it with the default settings, records peak RSS of the whole process tree
and records/s to ``bench/results/ingest_5gb.json``, then deletes the file and the home.

    .venv/bin/python bench/ingest.py --single-file-gb 5

Cost mode: ``--costs 100000`` measures, in one process on one generated file, the CPU time per
record (``time.process_time``, best and median of alternating rounds) of every ingest stage, of
the reference, and of the alternatives tried for the speed goal (a ``msgspec`` typed decoder when
that package is installed, Parquet codecs), to ``bench/results/ingest_costs.json``:

    .venv/bin/python bench/ingest.py --costs 100000

Id-store mode: ``--id-store 5000000`` commits chunks of 50k new ids until that many are stored,
timing per id the run store ingest uses against the SQLite table it used before (kept in this
file as the baseline), side by side at every 500k step, to ``bench/results/ingest_ids.json``:

    .venv/bin/python bench/ingest.py --id-store 5000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson
from _meta import stamp, write_atomic

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
sys.path.insert(0, {tree!r})
import detector
assert detector.__file__.startswith({tree!r}), detector.__file__
from detector.settings import load_settings
from detector.ingest import ingest_paths
r = ingest_paths(load_settings({home!r}, threads={threads}), {files}, progress=False,
                 workers={workers})
print(r.to_json())
"""


def _cpu_of_children() -> float:
    """User + system CPU seconds of the waited-for children (and theirs: the pool workers)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _baseline(args: argparse.Namespace, files: list[str], ref_s: float | None = None,
              rounds: list[tuple[float, float]] | None = None) -> dict:
    """With ``--baseline-tree DIR`` (e.g. a ``git worktree`` of an earlier commit): the same
    ingest by that tree's ``detector`` package, run right after ours on the same files.
    ``rounds``: its (seconds, CPU seconds) in the rounds already run (the last is run here)."""
    if not args.baseline_tree:
        return {}
    home = args.work / "home-baseline"
    shutil.rmtree(home, ignore_errors=True)
    cpu0 = _cpu_of_children()
    seconds, rss, out = _peak_tree_rss(_OURS.format(
        tree=str(Path(args.baseline_tree).resolve()), home=str(home), threads=args.threads,
        files=files, workers=args.workers))
    cpu = _cpu_of_children() - cpu0
    shutil.rmtree(home, ignore_errors=True)
    res = json.loads(out.strip().splitlines()[-1])
    print(f"baseline ({args.baseline_tree}): {seconds:.2f} s, peak RSS {rss / 2**20:.0f} MiB, "
          f"accepted {res['accepted']} duplicates {res['duplicates']}")
    commit = subprocess.run(["git", "-C", str(args.baseline_tree), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or None
    per_round = [*(rounds or []), (seconds, cpu)]
    base = {"tree": str(args.baseline_tree), "commit": commit,
            "seconds": round(statistics.median(x for x, _ in per_round), 3),
            "seconds_per_round": [round(x, 3) for x, _ in per_round],
            "cpu_seconds": round(statistics.median(c for _, c in per_round), 3),
            "cpu_seconds_per_round": [round(c, 3) for _, c in per_round],
            "peak_rss_mib": round(rss / 2**20), "accepted": res["accepted"],
            "duplicates": res["duplicates"], "quarantined": res["quarantined"]}
    if ref_s is not None:
        base["ratio_speed_vs_reference"] = round(ref_s / base["seconds"], 3)
    return {"baseline": base}


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
            tree=str(ROOT), home=str(args.work / "home"), threads=args.threads,
            files=[str(path)], workers=args.workers))
        shutil.rmtree(args.work / "home", ignore_errors=True)
        base = _baseline(args, [str(path)])
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
        **base,
        "command": f"python bench/ingest.py --single-file-gb {args.single_file_gb:g}"
                   + (f" --baseline-tree {args.baseline_tree}" if args.baseline_tree else ""),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out_path = args.out if args.out_given else args.out.with_name("ingest_5gb.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/ingest.py"), **result}
    write_atomic(out_path, json.dumps(result, indent=2) + "\n")
    shutil.rmtree(args.work, ignore_errors=True)
    print(f"-> {out_path}")


def _cpu_us(fn, n: int, rounds: int = 3) -> dict:
    """CPU µs per record of ``fn()`` over ``n`` records: best and median of ``rounds``."""
    import statistics

    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) / n * 1e6)
    return {"best": round(min(times), 2), "median": round(statistics.median(times), 2)}


def _alternate(cases: dict, n: int, rounds: int = 3) -> dict:
    """Like _cpu_us for several cases, run alternately (case A, B, ..., A, B, ...)."""
    import statistics

    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            t0 = time.process_time()
            fn()
            times[name].append((time.process_time() - t0) / n * 1e6)
    return {k: {"best": round(min(v), 2), "median": round(statistics.median(v), 2)}
            for k, v in times.items()}


def _msgspec_row_fn():
    """A typed msgspec decoder building ``fast_row``'s row for the bench's record shape.

    Prototype for the measurement only: fields beyond the bench's shape are not declared
    (``forbid_unknown_fields``: such records are declined), ``request_json`` is the raw body
    when re-encoding the decoded struct gives the same bytes (so it depends on the key order).
    None when msgspec is not installed.
    """
    try:
        import msgspec
    except ImportError:
        return None
    from detector.ingest.fastpath import _timestamp_us, cached_ip_prefix, fast_prompt_hash
    from detector.ingest.normalize import _cached_ts, text_hash

    # defstruct, not class statements: this module's annotations are strings (PEP 563)
    opts = {"forbid_unknown_fields": True, "omit_defaults": True}
    num, opt_int, opt_str = int | float | None, int | None, str | None
    msg = msgspec.defstruct("Msg", [("role", str), ("content", str)], **opts)
    req_t = msgspec.defstruct("Req", [
        ("messages", list[msg]), ("temperature", num, None), ("top_p", num, None),
        ("max_tokens", opt_int, None), ("logprobs", bool | None, None),
        ("top_logprobs", opt_int, None), ("stream", bool | None, None),
        ("seed", opt_int, None), ("n", opt_int, None)], **opts)
    resp_t = msgspec.defstruct("Resp", [("status", opt_int, None),
                                        ("finish_reason", opt_str, None)], **opts)
    usage_t = msgspec.defstruct("Usage", [("prompt_tokens", opt_int, None),
                                          ("completion_tokens", opt_int, None)], **opts)
    rec_t = msgspec.defstruct("Rec", [
        ("request_id", str), ("timestamp", int | str), ("account_id", str),
        ("request", msgspec.Raw), *((k, opt_str, None) for k in (
            "org_id", "api_key_id", "endpoint", "model", "client_ip", "user_agent",
            "payment_fingerprint")),
        ("account_created_at", str | int | None, None), ("response", msgspec.Raw, None),
        ("usage", usage_t | None, None), ("latency_ms", num, None)],
        forbid_unknown_fields=True)

    dec, req_dec = msgspec.json.Decoder(rec_t).decode, msgspec.json.Decoder(req_t).decode
    resp_dec, enc = msgspec.json.Decoder(resp_t).decode, msgspec.json.Encoder().encode
    error = msgspec.DecodeError

    def row(line: bytes, limits, by_order: bool = True) -> tuple | None:
        try:
            r = dec(line)
            raw_req = bytes(r.request)
            req = req_dec(raw_req)
            raw_resp = None if r.response is None else bytes(r.response)
            resp = None if raw_resp is None else resp_dec(raw_resp)
        except error:
            return None
        if by_order:
            if enc(req) != raw_req or (resp is not None and enc(resp) != raw_resp):
                return None
            req_json, resp_json = raw_req.decode(), raw_resp and raw_resp.decode()
        else:  # key-order independent: the body as orjson writes it
            req_json = orjson.dumps(orjson.loads(raw_req)).decode()
            resp_json = raw_resp and orjson.dumps(orjson.loads(raw_resp)).decode()
        rid, acct = r.request_id, r.account_id
        if len(rid) > 1024 or len(acct) > 1024 or not rid.strip() or not acct.strip():
            return None
        us = _timestamp_us(r.timestamp)
        if us is None or not limits.min_ts_us <= us <= limits.max_ts_us:
            return None
        created = r.account_created_at
        if created is not None:
            created, more = _cached_ts(created)
            if more:
                return None
        msgs, user, system = req.messages, [], []
        for m in msgs:
            if m.role == "user":
                user.append(m.content)
            elif m.role == "system" or m.role == "developer":
                system.append(m.content)
            elif not m.role:
                return None
        if not msgs:
            return None
        prompt, sys_text = "\n".join(user), "\n".join(system) if system else None
        u, lat, ip, temp = r.usage, r.latency_ms, r.client_ip, req.temperature
        return (rid, us, acct, r.org_id, r.api_key_id, r.endpoint, r.model, ip,
                cached_ip_prefix(ip) if ip else None, r.user_agent, r.payment_fingerprint,
                created, len(msgs), len(user), sys_text,
                None if sys_text is None else text_hash(sys_text),
                prompt, fast_prompt_hash(prompt), len(prompt), req.max_tokens,
                None if temp is None else float(temp), req.top_p,
                1 if req.n is None else req.n, bool(req.logprobs), req.top_logprobs,
                bool(req.stream), req.seed, None, False, None, None,
                resp and resp.status, resp and resp.finish_reason, None,
                u and u.prompt_tokens, u and u.completion_tokens, None,
                None if lat is None else float(lat), req_json, resp_json, None)
    return row


def _baseline_fast_row(args: argparse.Namespace):
    """``fast_row`` of ``--baseline-tree``'s ``detector/ingest/fastpath.py`` (its imports
    resolve to this tree's modules), or None without that option."""
    if not args.baseline_tree:
        return None
    import importlib.util

    path = Path(args.baseline_tree) / "detector" / "ingest" / "fastpath.py"
    spec = importlib.util.spec_from_file_location("baseline_fastpath", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.fast_row


def _stage_costs(path: Path, work: Path) -> dict:
    """CPU µs per record of each stage of one file's ingest, chunk by chunk (one process)."""
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from detector.ingest import idstore
    from detector.ingest import manifest as mf
    from detector.ingest.normalize import Limits
    from detector.ingest.scan import parse_to_table
    from detector.ingest.sources import LineReader
    from detector.ingest.tables import rows_to_table
    from detector.ingest.worker import _dedupe_local
    from detector.settings import load_settings

    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings(work, threads=1)
    con = mf.connect(settings)
    ids = idstore.IdStore(idstore.folder_of(mf.ingest_state_dir(settings)))
    rows_to_table([], [], "f", "j")  # pyarrow's one-time conversion warm-up, not per record
    spent: dict[str, float] = {}
    n, limits = 0, Limits()
    t = time.process_time()

    def tick(stage: str) -> None:
        nonlocal t
        now = time.process_time()
        spent[stage] = spent.get(stage, 0.0) + now - t
        t = now

    for batch in LineReader(path).batches(50_000, 48 << 20):
        tick("read_lines")
        parsed = parse_to_table(batch, limits)  # the scanner when built, else orjson + fast_row
        n += len(batch.lines)
        tick("parse_to_arrow_table")
        keep, keys = _dedupe_local(parsed)
        tick("id_hashes_local_dedupe")
        known, _ = ids.known(con, keys[keep])
        keep = keep[~known]
        tick("id_probe")
        run = ids.write(keys[keep])
        con.execute("BEGIN IMMEDIATE")
        idstore.list_run(con, run, len(keep), 0)
        con.execute("COMMIT")
        ids.compact(con)
        tick("id_run_write_list_commit")
        table = parsed.table
        if len(keep) < table.num_rows:  # as ChunkWriter._stage does
            mask = np.zeros(table.num_rows, bool)
            mask[keep] = True
            table = table.filter(pa.array(mask))
        tick("drop_duplicate_rows")
        pq.write_table(table, io.BytesIO(), compression="zstd")
        tick("parquet_zstd")
    con.close()
    shutil.rmtree(work, ignore_errors=True)
    return {k: round(v / n * 1e6, 2) for k, v in spent.items()}


class _SqliteIdTable:
    """The id store ingest used until session 5 (two SQLite tables keyed by the 128-bit
    hash), kept here as the baseline of ``--id-store``."""

    SCHEMA = ("CREATE TABLE IF NOT EXISTS seen (h INTEGER PRIMARY KEY, h2 INTEGER NOT NULL);"
              "CREATE TABLE IF NOT EXISTS seen_extra (h INTEGER, h2 INTEGER, "
              "PRIMARY KEY (h, h2)) WITHOUT ROWID;"
              "CREATE TEMP TABLE IF NOT EXISTS probe (h INTEGER, h2 INTEGER);")

    def __init__(self, con) -> None:
        self.con = con
        con.executescript(self.SCHEMA)

    def _fill(self, pairs: list) -> None:
        self.con.execute("DELETE FROM probe")
        self.con.executemany("INSERT INTO probe VALUES (?, ?)", pairs)

    def known(self, pairs: list) -> set:
        self._fill(pairs)
        return set(self.con.execute(
            "SELECT p.h, p.h2 FROM probe p JOIN seen s ON s.h = p.h AND s.h2 = p.h2 UNION ALL "
            "SELECT p.h, p.h2 FROM probe p JOIN seen_extra s ON s.h = p.h AND s.h2 = p.h2"
        ).fetchall())

    def add(self, pairs: list) -> None:
        self._fill(pairs)
        self.con.execute("INSERT OR IGNORE INTO seen_extra SELECT p.h, p.h2 FROM probe p "
                         "JOIN seen s ON s.h = p.h")
        self.con.execute("INSERT OR IGNORE INTO seen SELECT h, h2 FROM probe")

    def commit_chunk(self, pairs: list) -> None:
        """What a chunk commit did: probe, then probe again and insert under the lock."""
        self.con.execute("BEGIN")
        known = self.known(pairs)
        self.con.execute("COMMIT")
        new = [p for p in pairs if p not in known]
        self.con.execute("BEGIN IMMEDIATE")
        self.known(new)
        self.add(new)
        self.con.execute("COMMIT")


def id_store_growth(work: Path, total: int, chunk: int = 50_000, step: int = 500_000) -> dict:
    """CPU and wall µs per id of committing chunks of new ids as the store grows to ``total``:
    the run store (probe, probe under the lock, write, list, compact) against the former
    SQLite table (probe, probe + insert under the lock). Ids hashed beforehand, not timed."""
    import sqlite3

    import numpy as np

    from detector.ingest import idstore
    from detector.ingest import manifest as mf
    from detector.settings import load_settings

    def chunks(tag: str):
        for k in range(step // chunk):
            yield idstore.id_keys(f"{tag}-{k}-{i}" for i in range(chunk))

    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings(work / "runs", threads=1)
    con = mf.connect(settings)
    store = idstore.IdStore(idstore.folder_of(mf.ingest_state_dir(settings)))
    (work / "sqlite").mkdir(parents=True)
    scon = sqlite3.connect(work / "sqlite" / "ids.sqlite", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536"):
        scon.execute(f"PRAGMA {pragma}")
    table = _SqliteIdTable(scon)

    def runs_commit(keys: np.ndarray) -> None:
        known, probed = store.known(con, keys)
        keys = keys[~known]
        name = store.write(keys)
        con.execute("BEGIN IMMEDIATE")
        store.known(con, keys, probed)
        idstore.list_run(con, name, len(keys), 0)
        con.execute("COMMIT")
        store.compact(con)

    rows = []
    for stored in range(step, total + 1, step):
        row: dict = {"stored_ids_after": stored}
        batches = list(chunks(f"s{stored}"))
        pairs = [[tuple(map(int, k)) for k in b] for b in batches]
        for name, fn, data in (("runs", runs_commit, batches),
                               ("sqlite_table", table.commit_chunk, pairs)):
            c0, w0 = time.process_time(), time.perf_counter()
            for b in data:
                fn(b)
            row[name] = {"cpu_us": round((time.process_time() - c0) / step * 1e6, 2),
                         "wall_us": round((time.perf_counter() - w0) / step * 1e6, 2)}
        print(row, flush=True)
        rows.append(row)
    out = {"chunk": chunk, "fanout": idstore.FANOUT, "max_level": idstore.MAX_LEVEL,
           "runs_listed_at_end": len(idstore.listed(con)), "per_step": rows,
           "bytes_at_end": {
               "runs": sum(p.stat().st_size for p in store.folder.iterdir()),
               "sqlite_table": sum(p.stat().st_size for p in (work / "sqlite").iterdir())}}
    con.close()
    scon.close()
    shutil.rmtree(work, ignore_errors=True)
    return out


def _parquet_costs(path: Path, limit: int = 50_000) -> dict:
    """CPU µs and bytes per record of writing one chunk's Arrow table to Parquet."""
    import io

    import duckdb
    import pyarrow.parquet as pq

    from detector.ingest.fastpath import fast_row
    from detector.ingest.normalize import Limits
    from detector.ingest.tables import rows_to_table

    with open(path, "rb") as fh:
        lines = fh.read().splitlines()[:limit]
    limit, limits = len(lines), Limits()
    table = rows_to_table([fast_row(orjson.loads(x), limits) for x in lines],
                          list(range(1, limit + 1)), str(path), "job")
    out = {}
    for codec in ("zstd", "snappy", "none"):
        buf = io.BytesIO()
        cost = _cpu_us(lambda b=buf, c=codec: (b.seek(0), b.truncate(),
                                               pq.write_table(table, b, compression=c)), limit)
        out[f"pyarrow_{codec}"] = {**cost, "bytes_per_record": round(buf.tell() / limit, 1)}
    con = duckdb.connect()
    con.execute("SET threads = 1")
    target = path.with_suffix(".duck.parquet")
    con.register("t", table)
    cost = _cpu_us(lambda: con.execute(
        f"COPY t TO '{target}' (FORMAT parquet, COMPRESSION zstd)"), limit)
    out["duckdb_copy_zstd_same_table"] = {
        **cost, "bytes_per_record": round(target.stat().st_size / limit, 1)}
    target.unlink()
    return out


def _reference_cost(path: Path) -> dict:
    """CPU µs per record of the reference (DuckDB read_json + COPY, 1 thread), in-process."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    out = path.with_suffix(".ref.parquet")
    n = con.execute(f"SELECT count(*) FROM read_json(['{path}'], "
                    "format='newline_delimited')").fetchone()[0]
    cost = _cpu_us(lambda: con.execute(
        f"COPY (SELECT * FROM read_json(['{path}'], format='newline_delimited')) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"), n)
    out.unlink()
    return cost


def _whole_job_cost(path: Path, home: Path, n: int) -> dict:
    """CPU µs per record of ``ingest_paths`` of one file, in this process, one worker."""
    from detector.ingest import ingest_paths
    from detector.settings import load_settings

    times = []
    for _ in range(2):
        shutil.rmtree(home, ignore_errors=True)
        t0 = time.process_time()
        ingest_paths(load_settings(home, threads=1), [str(path)], progress=False, workers=1)
        times.append((time.process_time() - t0) / n * 1e6)
    shutil.rmtree(home, ignore_errors=True)
    return {"best": round(min(times), 2), "runs": [round(x, 2) for x in times]}


def _projection(r: dict) -> dict:
    """Whole-job CPU per record with every measured saving applied, and the ratio it implies.

    Savings (best figures): the msgspec row instead of orjson + fast_row, snappy instead of
    zstd. The
    ratio assumes both sides get the same cores: reference CPU / our CPU per record.
    """
    parse, pq_ = r["parse_cpu_us"], r["parquet_cpu_us"]
    savings = {
        "parquet_snappy": pq_["pyarrow_zstd"]["best"] - pq_["pyarrow_snappy"]["best"],
    }
    if "msgspec_typed_row_key_order" in parse:
        savings["msgspec_row"] = (parse["orjson_loads_fast_row"]["best"]
                                  - parse["msgspec_typed_row_key_order"]["best"])
    ref, ours = r["reference_cpu_us"]["best"], r["whole_job_cpu_us"]["best"]
    best_case = ours - sum(savings.values())
    return {"savings_us": {k: round(v, 2) for k, v in savings.items()},
            "ratio_now": round(ref / ours, 3), "best_case_cpu_us": round(best_case, 2),
            "ratio_best_case": round(ref / best_case, 3),
            "cpu_us_needed_for_0.5x": round(2 * ref, 2)}


def costs(args: argparse.Namespace) -> None:
    """Cost mode: CPU per record of each stage and of the alternatives (see module doc)."""
    import gc

    from detector.ingest.fastpath import fast_row
    from detector.ingest.normalize import Limits

    work = args.work / "costs"
    shutil.rmtree(work, ignore_errors=True)
    (path,) = generate(work / "logs", args.costs, 1)
    with open(path, "rb") as fh:
        lines = fh.read().splitlines()
    n, limits = len(lines), Limits()
    ms_row = _msgspec_row_fn()
    result: dict = {"records": n, "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average_at_start": list(os.getloadavg())}
    result["reference_cpu_us"] = _reference_cost(path)
    gc.disable()  # as parse_batch does
    try:
        cases = {"orjson_loads_fast_row": lambda: [fast_row(orjson.loads(x), limits)
                                                   for x in lines],
                 "orjson_loads_only": lambda: [orjson.loads(x) for x in lines]}
        base_row = _baseline_fast_row(args)
        if base_row is not None:  # the baseline tree's fast path, same helpers otherwise
            cases["orjson_loads_fast_row_baseline"] = lambda: [base_row(orjson.loads(x), limits)
                                                               for x in lines]
            same = sum(base_row(orjson.loads(x), limits) == fast_row(orjson.loads(x), limits)
                       for x in lines)
            result["baseline_rows_equal_fast_row"] = f"{same}/{n}"
        from detector.ingest import scan
        if scan.AVAILABLE:  # the compiled scanner: lines to Arrow columns (see scan.py)
            cases["scanner_to_arrow_table"] = lambda: scan.scan_lines(lines, limits)
        if ms_row is not None:
            cases["msgspec_typed_row_key_order"] = lambda: [ms_row(x, limits) for x in lines]
            cases["msgspec_typed_row_any_order"] = lambda: [ms_row(x, limits, False)
                                                            for x in lines]
            same = sum(ms_row(x, limits) == fast_row(orjson.loads(x), limits) for x in lines)
            result["msgspec_rows_equal_fast_row"] = f"{same}/{n}"
        result["parse_cpu_us"] = _alternate(cases, n)
    finally:
        gc.enable()
    result["stage_cpu_us"] = _stage_costs(path, work / "home")
    result["stage_cpu_us_total"] = round(sum(result["stage_cpu_us"].values()), 2)
    result["whole_job_cpu_us"] = _whole_job_cost(path, work / "home", n)
    result["parquet_cpu_us"] = _parquet_costs(path)
    result["projection"] = _projection(result)
    result["load_average_at_end"] = list(os.getloadavg())
    result["command"] = f"python bench/ingest.py --costs {args.costs}" + (
        f" --baseline-tree {args.baseline_tree}" if args.baseline_tree else "")
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    shutil.rmtree(work, ignore_errors=True)
    out_path = args.out if args.out_given else args.out.with_name("ingest_costs.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/ingest.py"), **result}
    write_atomic(out_path, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"-> {out_path}")


def id_store(args: argparse.Namespace) -> None:
    """Id-store mode (see module doc)."""
    result = {"cpu_count": os.cpu_count(), "python": platform.python_version(),
              "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
              **id_store_growth(args.work / "ids", args.id_store),
              "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
              "command": f"python bench/ingest.py --id-store {args.id_store}",
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out_path = args.out if args.out_given else args.out.with_name("ingest_ids.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/ingest.py"), **result}
    write_atomic(out_path, json.dumps(result, indent=2) + "\n")
    print(f"-> {out_path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating rounds of reference and ours; the ratio is the median "
                         "of the rounds' ratios")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--workers", type=int, default=None,
                    help="our ingest's worker processes (default: ingest's own choice)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "ingest")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--baseline-tree", default=None, metavar="DIR",
                    help="also time the detector package of DIR (a checkout of another "
                         "commit) on the same files, right after ours")
    ap.add_argument("--single-file-gb", type=float, default=None,
                    help="memory mode: ingest one generated file of about this many GB")
    ap.add_argument("--costs", type=int, default=None, metavar="RECORDS",
                    help="cost mode: CPU per record of each stage and of the alternatives")
    ap.add_argument("--id-store", type=int, default=None, metavar="IDS",
                    help="id-store mode: cost per id as the store grows to IDS ids")
    args = ap.parse_args()
    args.out_given = args.out is not None
    if args.out is None:
        args.out = ROOT / "bench" / "results" / "ingest.json"
    if args.single_file_gb is not None:
        single_file(args)
        return
    if args.costs is not None:
        costs(args)
        return
    if args.id_store is not None:
        id_store(args)
        return

    shutil.rmtree(args.work, ignore_errors=True)
    t0 = time.perf_counter()
    files = [str(p) for p in generate(args.work / "logs", args.records, args.files)]
    gen_s = time.perf_counter() - t0
    in_bytes = sum(os.path.getsize(f) for f in files)
    print(f"generated {args.records} records, {in_bytes / 1e6:.0f} MB in {gen_s:.1f} s")

    refs, ours, base_s, ours_cpu = [], [], [], []
    load_start = [round(x, 2) for x in os.getloadavg()]
    for r in range(args.rounds):  # alternating, so that a change of load hits every side
        ref_s, ref_rss, _ = _peak_tree_rss(_REFERENCE.format(
            threads=args.threads, files=files, out=args.work / "reference.parquet"))
        shutil.rmtree(args.work / "home", ignore_errors=True)
        cpu0 = _cpu_of_children()
        ours_s, ours_rss, out = _peak_tree_rss(_OURS.format(
            tree=str(ROOT), home=str(args.work / "home"), threads=args.threads, files=files,
            workers=args.workers))
        ours_cpu.append(_cpu_of_children() - cpu0)
        res = json.loads(out.strip().splitlines()[-1])
        refs.append((ref_s, ref_rss))
        ours.append((ours_s, ours_rss))
        print(f"round {r + 1}: reference (duckdb read_json -> parquet) {ref_s:.2f} s, peak RSS "
              f"{ref_rss / 2**20:.0f} MiB; ours {ours_s:.2f} s, peak RSS "
              f"{ours_rss / 2**20:.0f} MiB, accepted {res['accepted']} duplicates "
              f"{res['duplicates']}; ratio {ref_s / ours_s:.3f}")
        if args.baseline_tree and r < args.rounds - 1:  # the last round's: _baseline below
            b = _baseline(args, files)["baseline"]
            base_s.append((b["seconds"], b["cpu_seconds"]))
    ratios = [a / b for (a, _), (b, _) in zip(refs, ours, strict=True)]
    ref_s = statistics.median(x for x, _ in refs)
    ours_s = statistics.median(x for x, _ in ours)
    ref_rss, ours_rss = max(x for _, x in refs), max(x for _, x in ours)
    result = {
        "records": args.records, "files": args.files, "input_bytes": in_bytes,
        "threads": args.threads, "workers": args.workers, "cpu_count": os.cpu_count(),
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "machine": platform.machine(),
        "python": platform.python_version(), "rounds": args.rounds,
        "reference_seconds_per_round": [round(x, 3) for x, _ in refs],
        "ours_seconds_per_round": [round(x, 3) for x, _ in ours],
        "ours_cpu_seconds_per_round": [round(x, 3) for x in ours_cpu],
        "ratio_per_round": [round(x, 3) for x in ratios],
        "reference_seconds": round(ref_s, 3), "reference_peak_rss_mib": round(ref_rss / 2**20),
        "ours_seconds": round(ours_s, 3), "ours_peak_rss_mib": round(ours_rss / 2**20),
        "ours_cpu_seconds": round(statistics.median(ours_cpu), 3),
        "ours_records_per_s": round(args.records / ours_s),
        "ratio_speed_vs_reference": round(statistics.median(ratios), 3),
        "accepted": res["accepted"], "duplicates": res["duplicates"],
        "quarantined": res["quarantined"],
        **_baseline(args, files, ref_s, base_s),
        "command": f"python bench/ingest.py --records {args.records} --files {args.files}"
                   f" --rounds {args.rounds}"
                   + (f" --workers {args.workers}" if args.workers is not None else "")
                   + (f" --baseline-tree {args.baseline_tree}" if args.baseline_tree else ""),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/ingest.py"), **result}
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(f"ratio (reference time / our time), median of {args.rounds} rounds: "
          f"{result['ratio_speed_vs_reference']}  -> {args.out}")


if __name__ == "__main__":
    main()
