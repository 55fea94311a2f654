"""MinHash side by side on one input: datasketch against the project's vectorised MinHash
(``detector/features/minhash.py``), for the signatures and for the LSH candidate pairs.

Input: synthetic account scaffolds (sets of 32-bit shingle hashes, the grain of
``detector/clusters/templates.py``): ``--families`` groups of ``--members`` accounts whose sets
share ~80% of a base set, plus one singleton account per family. Timings are the best of
``--repeat`` runs. The candidate pairs of both LSH indexes are compared (they must be equal).

  .venv/bin/python bench/minhash.py            -> bench/results/minhash.json

Needs ``datasketch`` (not a dependency of the package: ``.venv/bin/pip install datasketch``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from detector.features import minhash

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "minhash.json"


def make_sets(families: int, members: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(families):
        base = rng.integers(0, 2**32, int(rng.integers(20, 120)), dtype=np.uint64)
        for _ in range(members):
            keep = base[rng.random(len(base)) < 0.8]
            out.append(np.unique(np.concatenate([keep, rng.integers(0, 2**32, 8, dtype=np.uint64)])))
        out.append(np.unique(rng.integers(0, 2**32, len(base), dtype=np.uint64)))
    return out


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, default=2000)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--num-perm", type=int, default=64)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    sets = make_sets(args.families, args.members, args.seed)
    lens = np.array([len(s) for s in sets], dtype=np.int64)
    values = np.concatenate(sets)
    k = args.num_perm

    def ds_signatures() -> np.ndarray:  # datasketch: one MinHash per set, batch update
        out = np.empty((len(sets), k), dtype=np.uint64)
        for i, s in enumerate(sets):
            m = MinHash(num_perm=k, seed=1, hashfunc=int)
            m.update_batch(s.tolist())
            out[i] = m.hashvalues
        return out

    def vec_signatures() -> np.ndarray:
        return minhash.permutation_signatures(values, lens, k, args.seed)

    rows = np.repeat(np.arange(len(sets), dtype=np.int64), lens)

    def one_perm_signatures() -> np.ndarray:  # the near-duplicate sketch of the features
        return minhash.signatures(rows, values.astype(np.uint32), len(sets))

    t_ds_sig, _ = best(ds_signatures, args.repeat)
    t_vec_sig, sig = best(vec_signatures, args.repeat)
    t_one_sig, _ = best(one_perm_signatures, args.repeat)

    def ds_lsh() -> set[tuple[int, int]]:
        lsh = MinHashLSH(threshold=args.threshold, num_perm=k)
        lean = [LeanMinHash(seed=1, hashvalues=row, scheme="legacy") for row in sig]
        with lsh.insertion_session() as session:
            for i, m in enumerate(lean):
                session.insert(i, m, check_duplication=False)
        return {(min(i, c), max(i, c)) for i, m in enumerate(lean) for c in lsh.query(m) if c != i}

    def vec_lsh() -> set[tuple[int, int]]:
        return {(int(i), int(j)) for i, j in minhash.band_pairs(sig, args.threshold)}

    t_ds_lsh, ds_pairs = best(ds_lsh, args.repeat)
    t_vec_lsh, vec_pairs = best(vec_lsh, args.repeat)
    result = {
        "script": "bench/minhash.py", "commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg_1m": os.getloadavg()[0]},
        "input": {"sets": len(sets), "elements": int(lens.sum()), "num_perm": k,
                  "threshold": args.threshold, "bands_rows": minhash.lsh_bands(args.threshold, k),
                  "seed": args.seed},
        "seconds": {"datasketch_signatures": round(t_ds_sig, 4),
                    "vectorised_signatures": round(t_vec_sig, 4),
                    "vectorised_one_permutation_32_bins": round(t_one_sig, 4),
                    "datasketch_lsh": round(t_ds_lsh, 4),
                    "vectorised_lsh": round(t_vec_lsh, 4)},
        "speedup": {"signatures": round(t_ds_sig / t_vec_sig, 1),
                    "lsh": round(t_ds_lsh / t_vec_lsh, 1)},
        "candidate_pairs": {"datasketch": len(ds_pairs), "vectorised": len(vec_pairs),
                            "equal": ds_pairs == vec_pairs},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    print(json.dumps(result, indent=2))
    return 0 if result["candidate_pairs"]["equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
