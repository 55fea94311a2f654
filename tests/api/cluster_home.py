"""A synthetic N-member cluster in a test home: shared by the cluster-page
tests, the browser test and ``bench/cluster_page.py``.

Written directly as the cluster stage's artefacts (simulating a 500-member cluster would take
minutes): verdicts for every member (the first 12% block, the next 28% review, the rest
allow: 60, 140 and 300 of 500), the day's
``clusters``/``members``/``edges`` tables with a payment star, address edges over 41 shared
addresses, timing edges and coverage edges carrying group-level evidence (~15,000 edges for
500 members), and a few lake requests with PII in their prompts for the side-by-side samples.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pyarrow as pa

from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import Settings

from .fixtures import verdict_row, write_verdicts

DAY = "2026-11-28"
CLUSTER_ID = "big_1"
RAW_IP = "203.0.113.77"
PAYMENT = "pm_9f8e7d6c5b4a3921"


def member_ids(n: int) -> list[str]:
    return [f"hydra_{i:04d}" for i in range(n)]


def expected_verdicts(n: int) -> dict[str, int]:
    """Members per decision as :func:`build_big_cluster` writes them."""
    block, review = n * 12 // 100, n * 40 // 100 - n * 12 // 100
    return {k: v for k, v in {"block": block, "review": review,
                              "allow": n - block - review}.items() if v}


def build_big_cluster(settings: Settings, n: int = 500, seed: int = 7) -> int:
    """Write the cluster ``CLUSTER_ID`` with ``n`` members on ``DAY``; returns its edge count."""
    rng = random.Random(seed)
    members = member_ids(n)
    n_block, n_flagged = n * 12 // 100, n * 40 // 100
    rows = [verdict_row(a, DAY, 0.99 if i < n_block else (0.7 if i < n_flagged else 0.1),
                        "block" if i < n_block else ("review" if i < n_flagged else "allow"),
                        "hv_logprobs", CLUSTER_ID, risk=6.0 - i / 1000)
            for i, a in enumerate(members)]
    write_verdicts(settings, DAY, rows)
    cdir = settings.home / "clusters" / f"date={DAY}"
    day = dt.date.fromisoformat(DAY)
    write_parquet_atomic(cdir / "clusters.parquet", pa.table({
        "cluster_id": [CLUSTER_ID], "date": [day], "clu_size": [n],
        "first_seen": ["2026-11-20"]}))
    write_parquet_atomic(cdir / "members.parquet", pa.table({
        "cluster_id": [CLUSTER_ID] * n, "account_id": members, "degree": [30] * n,
        "strength": [0.8] * n}))
    edges: list[tuple] = []
    hub = members[0]
    for a in members[1:]:
        edges.append((hub, a, "payment", {"shared": [{"key": PAYMENT, "accounts": n}]}))
    ips = [f"203.0.113.{i}" for i in range(40)] + [RAW_IP]
    per_type = 10 * n
    for _ in range(per_type):
        a, b = sorted(rng.sample(members, 2))
        edges.append((a, b, "ip", {"shared": [{"key": rng.choice(ips), "accounts": 2,
                                               "slots": 3}], "n_keys": 1}))
    for _ in range(9 * n):
        a, b = sorted(rng.sample(members, 2))
        edges.append((a, b, "timing", {"minute_corr": round(rng.random(), 3),
                                       "lockstep": False}))
    group = {"group_size": n, "group_topic_matches": 3, "group_expected_matches": 410.5,
             "group_surprise_nats": 388.2, "random_sets_as_disjoint": 0.0}
    for _ in range(per_type):
        a, b = sorted(rng.sample(members, 2))
        edges.append((a, b, "coverage", {"shared_topics": 0, "pair_llr_nats": 2.5, **group}))
    write_parquet_atomic(cdir / "edges.parquet", pa.table({
        "src": [e[0] for e in edges], "dst": [e[1] for e in edges],
        "edge_type": [e[2] for e in edges], "window": ["1d"] * len(edges),
        "weight": [round(rng.random(), 3) for _ in edges],
        "evidence": [json.dumps(e[3]) for e in edges]}))
    reqs = []
    base = dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC)
    for a in members[:20]:
        for i in range(4):
            row = {f.name: None for f in REQUEST_SCHEMA}
            row.update(request_id=f"{a}-{i}", ts=base + dt.timedelta(minutes=i), account_id=a,
                       org_id="org_h", model="frontier-large", endpoint="/v1/chat/completions",
                       prompt_text=f"Explain topic {i} of {a}; mail me at boss@harvest.example",
                       prompt_chars=60)
            reqs.append(row)
    write_parquet_atomic(settings.requests_dir / f"date={DAY}" / "part-0.parquet",
                         pa.Table.from_pylist(reqs, schema=REQUEST_SCHEMA))
    return len(edges)
