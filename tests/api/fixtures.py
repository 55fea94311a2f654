"""A small home folder for the API tests: verdict files with exactly the contract's columns,
lake request partitions, daily features, and one API key per role."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow as pa

from detector.cases import ROLES, CaseStore
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import Settings, load_settings
from detector.verdicts import VERDICT_SCHEMA

DAYS = ["2026-11-25", "2026-11-26", "2026-11-27"]
PII_PROMPT = ("Contact me at jane.doe@example.com or +1 (555) 123-4567, card 4111 1111 1111 1111,"
              " key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX. Explain step by step: 17 * 23")


def verdict_row(account_id: str, day: str, score: float, decision: str, reasons: str = "",
                cluster_id: str | None = None, rule_hits: list[str] | None = None,
                risk: float | None = None) -> dict:
    expl = {"sources": ["model"], "anomaly_score": 0.5, "top_features": [
        {"feature": "vol_requests", "value": 900.0, "percentile": 99.0, "contribution": 0.2}]}
    return {"account_id": account_id, "date": dt.date.fromisoformat(day), "score": score,
            "decision": decision, "reasons": reasons, "cluster_id": cluster_id,
            "model_score": score, "anomaly_score": 0.5, "rule_hits": rule_hits or [],
            "shadow_hits": ["exp_rule"] if decision == "block" else [],
            "explanation_json": json.dumps(expl), "model_version": "m-test",
            "ruleset_hash": "abc123", "feature_run_id": "f1", "run_id": "r1", "risk": risk,
            "created_at": dt.datetime(2026, 11, 28, tzinfo=dt.UTC)}


def write_verdicts(settings: Settings, day: str, rows: list[dict]) -> Path:
    path = settings.verdicts_dir / f"date={day}" / "verdicts.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA))
    return path


def _requests(day: str, account_id: str, n: int, prompt: str, org: str) -> list[dict]:
    base = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        row = {f.name: None for f in REQUEST_SCHEMA}
        row.update(request_id=f"{account_id}-{day}-{i}", ts=base + dt.timedelta(minutes=37 * i),
                   account_id=account_id, org_id=org, model="frontier-large",
                   endpoint="/v1/chat/completions", prompt_text=f"{prompt} #{i}",
                   prompt_chars=len(prompt))
        rows.append(row)
    return rows


def build_home(root: Path) -> tuple[Settings, dict[str, str]]:
    """The test home and {role: key}."""
    settings = load_settings(root)
    settings.ensure_dirs()
    write_verdicts(settings, "2026-11-25", [
        verdict_row("acct_gone", "2026-11-25", 0.7, "review", "old_rule"),
        verdict_row("acct_block", "2026-11-25", 0.4, "allow", ""),
    ])
    write_verdicts(settings, "2026-11-26", [
        verdict_row("acct_block", "2026-11-26", 0.8, "review", "vol_requests"),
    ])
    write_verdicts(settings, "2026-11-27", [
        verdict_row("acct_block", "2026-11-27", 0.95, "block", "hv_logprobs;vol_requests",
                    "clu_1", ["hv_logprobs"]),
        verdict_row("acct_review", "2026-11-27", 0.62, "review", "div_templates", "clu_1",
                    ["div_templates"]),
        verdict_row("acct_allow", "2026-11-27", 0.05, "allow", ""),
        verdict_row("acct_mid", "2026-11-27", 0.75, "review", "tim_regular"),
    ])
    for day in DAYS[1:]:
        rows = _requests(day, "acct_block", 30, PII_PROMPT, "org_x")
        rows += _requests(day, "acct_allow", 5, "What is the capital of France?", "org_y")
        write_parquet_atomic(settings.requests_dir / f"date={day}" / "part-0.parquet",
                             pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA))
    accounts = ["acct_block", "acct_review", "acct_allow", "acct_mid"]
    feats = pa.table({"account_id": accounts,
                      "date": [dt.date(2026, 11, 27)] * 4,
                      "vol_requests": [900.0, 300.0, 5.0, 100.0],
                      "tim_interval_cv": [0.05, 0.5, 1.2, 0.9]})
    write_parquet_atomic(settings.features_dir / "daily" / "date=2026-11-27" / "part-0.parquet",
                         feats)
    cov = pa.table({"account_id": accounts, "date": [dt.date(2026, 11, 27)] * 4,
                    "cov_topic_entropy": [0.95, 0.4, 0.2, 0.3]})
    write_parquet_atomic(settings.features_dir / "coverage" / "date=2026-11-27" / "part-0.parquet",
                         cov)
    cdir = settings.home / "clusters" / "date=2026-11-27"
    write_parquet_atomic(cdir / "clusters.parquet", pa.table({
        "cluster_id": ["clu_1"], "date": [dt.date(2026, 11, 27)], "clu_size": [2],
        "first_seen": ["2026-11-26"]}))
    write_parquet_atomic(cdir / "members.parquet", pa.table({
        "cluster_id": ["clu_1", "clu_1"], "account_id": ["acct_block", "acct_review"],
        "degree": [1, 1], "strength": [0.9, 0.9]}))
    write_parquet_atomic(cdir / "edges.parquet", pa.table({
        "src": ["acct_block"], "dst": ["acct_review"], "edge_type": ["shared_payment"],
        "window": ["1d"], "weight": [0.9],
        "evidence": [json.dumps({"payment_fingerprint": "pm_ab12", "shared_requests": 42})]}))
    store = CaseStore(settings)
    keys = {role: store.create_key(role, f"test-{role}")[0] for role in ROLES}
    return settings, keys


def page_login(client, key: str) -> str:
    """Log ``client`` in to the pages through the login form; returns the session token (the
    ``dg_session`` cookie; forms' CSRF tokens derive from it)."""
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"key": key, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and "error=" not in r.headers["location"], r.headers
    return r.cookies["dg_session"]
