"""Mapped CSV/Parquet: a mapping naming unknown target fields is a usage error, never rows
accepted with empty prompts and the values dumped into metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector.cli.main import app
from detector.errors import InputError
from detector.ingest import ingest_paths
from detector.lake.db import connect

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "mapped"


def _folder(tmp_path: Path, mapping: str) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(FIX / "requests.csv", d / "requests.csv")
    (d / "mapping.toml").write_text(mapping)
    return d / "requests.csv"


BASE = '[columns]\nrequest_id = "req_id"\ntimestamp = "event_time"\naccount_id = "customer"\n'


def test_unknown_target_is_a_usage_error_with_a_suggestion(home, tmp_path):
    """Was: ``prompt_text = "user_prompt"`` accepted 40/40 rows with empty prompts."""
    data = _folder(tmp_path, BASE + 'prompt_text = "prompt_text"\n')
    with pytest.raises(InputError, match="unknown target field 'prompt_text'; did you mean 'prompt'"):
        ingest_paths(home, [data], progress=False, workers=1)
    assert not home.requests_dir.exists() or not any(home.requests_dir.rglob("*.parquet"))


def test_unknown_target_exits_2_on_the_command_line(tmp_path):
    data = _folder(tmp_path, BASE + '"usage.output_tokens" = "out_tok"\n')
    out = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(data)])
    assert out.exit_code == 2
    assert "did you mean" in out.output and "usage.completion_tokens" in out.output


def test_unknown_option_and_table_are_usage_errors(home, tmp_path):
    data = _folder(tmp_path, BASE + '[options]\ntimestamp_units = "s"\n')
    with pytest.raises(InputError, match="did you mean 'timestamp_unit'"):
        ingest_paths(home, [data], progress=False, workers=1)


def test_aliases_and_metadata_targets(home, tmp_path):
    data = _folder(tmp_path, BASE + 'prompt = "prompt_text"\noutput = "model"\n'
                   'end_user = "ip"\n"metadata.region" = "region"\n')
    res = ingest_paths(home, [data], progress=False, workers=1)
    assert res.accepted == 2
    row = connect(home).execute("SELECT output_chars, end_user_hash, metadata_json FROM requests "
                                "ORDER BY request_id").fetchone()
    assert row[0] == len("frontier-large") and row[1] is not None and '"region":"eu"' in row[2]


def test_missing_source_columns_are_not_errors_but_blind_spots(home, tmp_path):
    """A mapping naming a column the file lacks is fine: the field is empty, reported blind."""
    data = _folder(tmp_path, BASE + 'user_agent = "ua_column_not_in_file"\n')
    res = ingest_paths(home, [data], progress=False, workers=1, fill_rates=True)
    assert res.accepted == 2 and res.fill_rates["user_agent"] == 0.0
    assert any(w.startswith("no_user_agent") for w in res.warnings)
