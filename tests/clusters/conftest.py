"""Tiny lakes built row by row with REQUEST_SCHEMA in a temporary home."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import Settings, load_settings

DAY = "2026-11-27"
T0 = datetime(2026, 11, 27, tzinfo=UTC)


def req(account: str, ts: datetime, prompt: str, **kw: Any) -> dict[str, Any]:
    """One canonical request row; unspecified columns are null."""
    ip = kw.pop("ip", None)
    row: dict[str, Any] = {
        "request_id": hashlib.sha1(f"{account}{ts.isoformat()}{prompt}".encode()).hexdigest(),
        "ts": ts, "account_id": account, "client_ip": ip,
        "ip_prefix": ".".join(ip.split(".")[:3]) + ".0/24" if ip else None,
        "prompt_text": prompt, "prompt_hash": hashlib.sha1(prompt.lower().encode()).hexdigest(),
        "completion_tokens": 100, "prompt_tokens": 20,
    }
    row.update(kw)
    return row


def write_lake(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Write rows into lake/requests/date=D/part-0.parquet by UTC day."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_day[r["ts"].date().isoformat()].append(r)
    for day, rs in by_day.items():
        cols = {f.name: [r.get(f.name) for r in rs] for f in REQUEST_SCHEMA}
        table = pa.Table.from_pydict(cols, schema=REQUEST_SCHEMA)
        path = settings.requests_dir / f"date={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = load_settings(tmp_path / "home")
    settings.ensure_dirs()
    return settings


def minutes(start: datetime, n: int, step_s: int = 60) -> list[datetime]:
    return [start + timedelta(seconds=i * step_s) for i in range(n)]


WRAPPERS = (
    "You are asked to write a comprehensive tutorial about {t} for graduate students. Cover "
    "definitions, intuition, worked examples and practice problems with full solutions.",
    "Solve the following problem step by step and show all of your reasoning before the final "
    "answer. Problem: {t}",
)
WORDS = ["entropy", "mitosis", "tariffs", "sonnets", "glaciers", "recursion", "neurons", "baroque", "mortgages", "quasars", "enzymes", "syntax", "torque", "ledgers", "prisms", "sorbet", "volcanoes", "algebra", "poetry", "chess"]


def free_text(rng, n_words: int = 12) -> str:
    """A benign-looking prompt with nothing repeated on purpose."""
    return " ".join(f"{rng.choice(WORDS)}{rng.integers(10**6)}" for _ in range(n_words))


def scenario(day_index: int = 0, seed: int = 0, hydra_size: int = 8,
             drop: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """One day: a hydra, a campus NAT, a reseller with end users who also have own accounts,
    and background users. Returns (rows, truth account -> cluster label or None)."""
    import numpy as np

    rng = np.random.default_rng(seed + 100 * day_index)
    day = T0 + timedelta(days=day_index)
    rows: list[dict[str, Any]] = []
    truth: dict[str, str | None] = {}
    fixed = np.random.default_rng(seed)  # identities stable across days
    # hydra: round-robin over one stream, 2 shared cards, one cloud /24, stock user agents
    members = [f"hydra{i:02d}" for i in range(hydra_size) if f"hydra{i:02d}" not in drop]
    ips = {m: [f"34.82.17.{fixed.integers(2, 254)}" for _ in range(2)] for m in members}
    uas = ("python-requests/2.32.3", "python-httpx/0.28.1")
    stream = np.sort(rng.uniform(0, 86400, 40 * len(members)))
    order = np.concatenate([rng.permutation(len(members)) for _ in range(40)])
    for t, k in zip(stream, order, strict=True):
        m = members[k]
        rows.append(req(m, day + timedelta(seconds=float(t)),
                        WRAPPERS[0].format(t=f"{rng.choice(WORDS)} {rng.integers(1000)}"),
                        ip=ips[m][int(rng.integers(2))], user_agent=uas[k % 2], max_tokens=4096,
                        temperature=0.7, payment_fingerprint=f"pm_h{k % 2}",
                        account_created_at=T0 - timedelta(days=3, minutes=10 * int(m[-2:])),
                        completion_tokens=900))
    truth.update({m: "hydra" for m in members})
    # campus: 20 unrelated people behind one NAT address (plus their home address)
    for i in range(20):
        a = f"campus{i:02d}"
        truth[a] = None
        for _ in range(int(rng.integers(5, 15))):
            ip = "203.0.113.9" if rng.random() < 0.7 else f"73.15.{i}.{i + 10}"
            rows.append(req(a, day + timedelta(seconds=float(rng.uniform(8 * 3600, 20 * 3600))),
                            free_text(rng), ip=ip, user_agent="Chatbox/1.9.1",
                            account_created_at=T0 - timedelta(days=int(fixed.integers(30, 900))),
                            payment_fingerprint=f"pm_c{i}"))
    # reseller: relays 6 end users (their addresses, agents, templates); each also has its own
    for u in range(6):
        own, ip, ua = f"enduser{u}", f"98.210.{u}.{u + 20}", f"App{u}/1.0"
        # each end user's own app wraps prompts its own way
        tmpl = " ".join(fixed.choice(WORDS, 8)) + " {t} " + " ".join(fixed.choice(WORDS, 8))
        truth[own] = None
        for _ in range(20):
            rows.append(req(own, day + timedelta(seconds=float(rng.uniform(0, 86400))),
                            tmpl.format(t=free_text(rng, 4)), ip=ip, user_agent=ua,
                            account_created_at=T0 - timedelta(days=400 + u),
                            payment_fingerprint=f"pm_e{u}"))
            rows.append(req("reseller", day + timedelta(seconds=float(rng.uniform(0, 86400))),
                            tmpl.format(t=free_text(rng, 4)), ip=ip, user_agent=ua,
                            account_created_at=T0 - timedelta(days=700),
                            payment_fingerprint="pm_r"))
    truth["reseller"] = None
    for i in range(20):
        a = f"user{i:02d}"
        truth[a] = None
        for _ in range(int(rng.integers(3, 30))):
            rows.append(req(a, day + timedelta(seconds=float(rng.uniform(0, 86400))),
                            free_text(rng), ip=f"86.150.{i}.{i + 3}",
                            user_agent=str(rng.choice(["OpenAI/Python 1.54.4", "TypingMind/2.3"])),
                            account_created_at=T0 - timedelta(days=int(fixed.integers(10, 2000))),
                            payment_fingerprint=f"pm_u{i}"))
    return rows, truth
