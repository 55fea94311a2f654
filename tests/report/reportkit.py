"""Helpers: a small home folder with hand-made verdicts and requests over three evaluated days.

Days: 2024-03-01, 2024-03-02 and 2024-03-04 (03-03 has no verdicts). Expected figures in the
tests are computed by hand from the rows below.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import Settings, load_settings
from detector.verdicts import VERDICT_SCHEMA


def write_verdicts(settings: Settings, day: str, rows: list[tuple]) -> None:
    """rows: (account_id, score, decision, reasons, cluster_id, rule_hits, shadow_hits)."""
    d = dt.date.fromisoformat(day)
    created = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(1, 0), tzinfo=dt.UTC)
    cols: dict[str, list] = {name: [] for name in VERDICT_SCHEMA.names}
    for acc, score, decision, reasons, cluster, hits, shadow in rows:
        values = {"account_id": acc, "date": d, "score": score, "decision": decision,
                  "reasons": reasons, "cluster_id": cluster, "model_score": score,
                  "anomaly_score": 0.0, "risk": None, "rule_hits": hits, "shadow_hits": shadow,
                  "explanation_json": json.dumps([]), "model_version": "m-test-1",
                  "ruleset_hash": "rs-abc", "feature_run_id": f"f-{day}",
                  "run_id": f"run-{day}", "created_at": created}
        for k in cols:  # columns added to the schema later (not_evaluable, ...) stay null
            cols[k].append(values.get(k))
    table = pa.table(cols, schema=VERDICT_SCHEMA)
    write_parquet_atomic(settings.verdicts_dir / f"date={day}" / "verdicts.parquet", table)


def write_requests(settings: Settings, day: str, rows: list[tuple[str, int | None]]) -> None:
    """rows: (account_id, completion_tokens); one request each, spread over the day."""
    d = dt.date.fromisoformat(day)
    n = len(rows)
    data = {name: [None] * n for name in REQUEST_SCHEMA.names}
    data["request_id"] = [f"{day}-{i}" for i in range(n)]
    data["account_id"] = [acc for acc, _ in rows]
    data["completion_tokens"] = [tok for _, tok in rows]
    data["ts"] = [dt.datetime.combine(d, dt.time(i % 24, 0), tzinfo=dt.UTC) for i in range(n)]
    table = pa.table(data, schema=REQUEST_SCHEMA)
    write_parquet_atomic(settings.requests_dir / f"date={day}" / "part-0.parquet", table)


DAY1 = [("a1", 0.10, "allow", "", None, [], [])]
DAY2 = [
    ("a1", 0.10, "allow", "", None, [], []),
    ("a2", 0.60, "review", "vol_burst;vol_requests", "c1", ["vol_burst"], []),
    ("a3", 0.95, "block", "hv_logprobs;vol_burst", "c1", ["hv_logprobs", "vol_burst"], ["exp_x"]),
    ("a4", 0.20, "allow", "", None, [], []),
]
DAY4 = [
    ("a1", 0.70, "review", "vol_burst;tim_regular", "c2", ["vol_burst"], []),
    ("a2", 0.65, "review", "vol_requests", "c1", [], []),
    ("a3", 0.97, "block", "hv_logprobs;vol_burst", "c1", ["hv_logprobs", "vol_burst"], []),
    ("a4", 0.05, "allow", "", None, [], []),
    ("a5", 0.91, "block", "hv_logprobs;<script>alert(1)</script>", "c1", ["hv_logprobs"], []),
    ("a6", 0.30, "allow", "", None, [], ["exp_x"]),
    ("a7", 0.12, "allow", "", None, [], []),
]


def build_home(folder) -> Settings:
    settings = load_settings(folder)
    write_verdicts(settings, "2024-03-01", DAY1)
    write_verdicts(settings, "2024-03-02", DAY2)
    write_verdicts(settings, "2024-03-04", DAY4)
    write_requests(settings, "2024-03-02", [("a2", 10), ("a3", 20), ("a1", 5)])
    write_requests(settings, "2024-03-04", [("a1", 100), ("a1", 200), ("a1", 300), ("a2", 50),
                                            ("a3", 1000), ("a3", 1000), ("a5", None), ("a4", 999)])
    return settings

