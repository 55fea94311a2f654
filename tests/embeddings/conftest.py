"""Tiny hand-made request partitions in a tmp home (REQUEST_SCHEMA), for the coverage stage."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from detector.embeddings.paths import embeddings_root
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import Settings, load_settings


def prompt_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:32]


def write_requests(home: Path, date: str, rows: list[tuple[str, str]], start_hour: int = 0) -> None:
    """rows: (account_id, prompt_text) in arrival order; one request a minute from start_hour."""
    base = datetime.fromisoformat(date).replace(tzinfo=UTC) + timedelta(hours=start_hour)
    n = len(rows)
    cols = {name: pa.nulls(n, REQUEST_SCHEMA.field(name).type) for name in REQUEST_SCHEMA.names}
    cols["request_id"] = pa.array([f"{date}-{i}" for i in range(n)])
    cols["ts"] = pa.array([base + timedelta(minutes=i) for i in range(n)], type=pa.timestamp("us", tz="UTC"))
    cols["account_id"] = pa.array([a for a, _ in rows])
    cols["prompt_text"] = pa.array([t for _, t in rows])
    cols["prompt_hash"] = pa.array([prompt_hash(t) for _, t in rows])
    table = pa.table([cols[name] for name in REQUEST_SCHEMA.names], schema=REQUEST_SCHEMA)
    write_parquet_atomic(home / "lake" / "requests" / f"date={date}" / "part-0.parquet", table)


TOPICS = {
    "cooking": ["recipe", "oven", "garlic", "simmer", "bake", "flour", "sauce", "onion"],
    "python": ["function", "list", "dictionary", "import", "loop", "class", "exception", "module"],
    "law": ["contract", "liability", "court", "clause", "tenant", "lawsuit", "statute", "appeal"],
    "space": ["planet", "orbit", "telescope", "galaxy", "rocket", "nebula", "comet", "gravity"],
    "finance": ["stock", "bond", "interest", "portfolio", "dividend", "inflation", "loan", "tax"],
    "music": ["guitar", "chord", "melody", "rhythm", "tempo", "piano", "scale", "lyrics"],
    "medicine": ["symptom", "dose", "vaccine", "fever", "allergy", "clinic", "therapy", "virus"],
    "sports": ["football", "goal", "coach", "league", "tennis", "marathon", "referee", "score"],
}


def read_outputs(settings: Settings, day: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """What the coverage stage wrote for ``day``: (coverage features, centroids, manifest)."""
    cov = pd.read_parquet(settings.features_dir / "coverage" / f"date={day}" / "part-0.parquet")
    root = embeddings_root(settings)
    cen = pd.read_parquet(root / "centroids" / f"date={day}" / "part-0.parquet")
    return cov, cen, json.loads((root / "manifest" / f"date={day}.json").read_text())


def topic_prompt(topic: str, i: int) -> str:
    words = TOPICS[topic]
    a, b, c = words[i % 8], words[(i * 3 + 1) % 8], words[(i * 5 + 2) % 8]
    return f"{a} {b} {c} {a} {b} question {i}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(tmp_path / "home", embedding_backend="hashing")
