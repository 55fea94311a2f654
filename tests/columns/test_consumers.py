"""Everything that names columns agrees with the registry: the feature view the stages write on
a small lake, the shipped rules, the default model, the plots' family colours."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

import detector.columns as C
from detector import clusters, features
from detector.embeddings import compute as embeddings_compute
from detector.embeddings.config import EmbeddingConfig
from detector.features.assemble import account_features
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA
from detector.model.registry import DEFAULT_DIR, load_model_files
from detector.model.train import VOLUME_FEATURES
from detector.rules import load_ruleset
from detector.settings import Settings, load_settings

DAY = "2026-05-01"
WORDS = ["recipe", "oven", "contract", "court", "python", "loop", "tenant", "garlic", "class"]


def _lake(settings: Settings) -> None:
    """Six accounts, two of them sharing a payment instrument and a network prefix."""
    rows = []
    base = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    for a in range(6):
        for i in range(40):
            text = f"{WORDS[(a + i) % 9]} {WORDS[(a * 3 + i) % 9]} question {a} {i}"
            rows.append({
                "request_id": f"r{a}-{i}", "ts": base + timedelta(minutes=7 * i + a),
                "account_id": f"acct{a}", "api_key_id": f"k{a}-{i % 2}", "model": "m1",
                "client_ip": f"10.0.{a % 2 if a < 2 else a}.{i % 3}",
                "ip_prefix": f"10.0.{a % 2 if a < 2 else a}.0/24",
                "payment_fingerprint": "shared" if a < 2 else f"p{a}",
                "account_created_at": base - timedelta(days=a),
                "prompt_text": text, "prompt_hash": hashlib.sha256(text.encode()).hexdigest()[:32],
                "prompt_tokens": 20, "completion_tokens": 300 + a, "max_tokens": 4096, "n": 1,
                "temperature": 0.7, "finish_reason": "stop", "n_user_turns": 1, "status": 200,
            })
    cols = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in REQUEST_SCHEMA}
    table = pa.table([cols[n] for n in REQUEST_SCHEMA.names], schema=REQUEST_SCHEMA)
    write_parquet_atomic(settings.requests_dir / f"date={DAY}" / "part-0.parquet", table)


@pytest.fixture(scope="module")
def view_columns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Column -> DuckDB type of ``account_features`` after every feature-writing stage ran."""
    settings = load_settings(tmp_path_factory.mktemp("columns") / "home")
    settings.ensure_dirs()
    _lake(settings)
    features.compute(settings, [DAY])
    embeddings_compute(settings, [DAY], config=EmbeddingConfig(
        backend="hashing", n_topics=4, reference_size=32, mmd_permutations=20, sample_k=16))
    clusters.compute(settings, [DAY])
    con = duckdb.connect()
    view = account_features(con, settings, [DAY])
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {view}").fetchall()}


def test_every_feature_view_column_is_in_the_registry(view_columns: dict[str, str]) -> None:
    names = set(view_columns) - {"account_id", "date"}
    assert {"vol_requests", "w7_vol_requests", "hist_requests_z7", "cov_mmd_ratio", "clu_size",
            "cluster_id"} <= names  # every stage ran
    unknown = sorted(n for n in names if not C.is_known(n))
    assert unknown == []
    assert names == set(C.feature_view_names())  # and the registry declares nothing unwritten


def test_registry_types_match_the_written_columns(view_columns: dict[str, str]) -> None:
    duck = {"float64": "DOUBLE", "int64": "BIGINT", "int32": "INTEGER", "bool": "BOOLEAN",
            "string": "VARCHAR"}
    wrong = {n: (C.column(n).dtype, t) for n, t in view_columns.items()
             if n not in ("account_id", "date") and duck[C.column(n).dtype] != t}
    assert wrong == {}


def test_every_column_of_the_shipped_rules_is_in_the_registry() -> None:
    ruleset = load_ruleset()
    named = {c for r in ruleset.rules for c in r.columns}
    named |= {c for r in ruleset.rules for row in r.tests_match + r.tests_no_match for c in row}
    named -= {"account_id", "date"}
    assert len(named) > 20
    assert sorted(n for n in named if n not in C.feature_view_names()) == []


def test_default_model_inputs_are_registry_columns_without_volume_or_history() -> None:
    model, card = load_model_files(DEFAULT_DIR)
    inputs = set(card["features"])
    assert inputs and all(C.is_known(n) for n in inputs)
    assert not inputs & set(VOLUME_FEATURES)
    assert not {n for n in inputs if C.column(n).family == "hist"}
    assert set(card["excluded_features"]) <= set(VOLUME_FEATURES)
    assert model is not None


def test_plot_colours_are_keyed_by_registry_families() -> None:
    from detector.api.plots import FAMILY_COLOURS

    assert set(FAMILY_COLOURS) == set(C.FEATURE_FAMILIES)
