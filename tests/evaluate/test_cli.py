"""`detector evaluate` reads CSV / JSON / JSON Lines verdicts, prints JSON or a table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from detector.cli import evaluate_cmd
from detector.evaluate import read_truth, read_verdicts_file

TRUTH = {"seed": 3, "scenario": "t", "accounts": {
    "a": {"archetype": "hydra", "is_distiller": True, "cluster": "c", "first_active": "2026-01-01",
          "distilled_completion_tokens": 10},
    "b": {"archetype": "casual", "is_distiller": False, "cluster": None, "first_active": "2026-01-01",
          "distilled_completion_tokens": 0},
}}
ROWS = [{"account_id": "a", "date": "2026-01-01", "score": 0.9, "decision": "block",
         "reasons": "r1;x", "cluster_id": "c"},
        {"account_id": "b", "date": "2026-01-01", "score": 0.2, "decision": "allow",
         "reasons": "", "cluster_id": ""}]


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    evaluate_cmd.register(app)
    return app


@pytest.fixture()
def files(tmp_path):
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(TRUTH))
    pd.DataFrame(ROWS).to_csv(tmp_path / "v.csv", index=False)
    (tmp_path / "v.json").write_text(json.dumps(ROWS))
    (tmp_path / "v.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    return tmp_path


@pytest.mark.parametrize("name", ["v.csv", "v.json", "v.jsonl"])
def test_verdict_formats_read_alike(files, name):
    df = read_verdicts_file(files / name)
    assert list(df["account_id"]) == ["a", "b"] and list(df["decision"]) == ["block", "allow"]


def test_cli_prints_and_writes_json(files):
    out = files / "eval.json"
    res = CliRunner().invoke(_app(), ["evaluate", "--truth", str(files / "truth.json"),
                                      "--verdicts", str(files / "v.csv"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert printed == json.loads(out.read_text())
    assert printed["recall"] == {"flag": 1.0, "block": 1.0}
    assert printed["benign_fpr"] == {"flag": 0.0, "block": 0.0}


def test_cli_table(files):
    res = CliRunner().invoke(_app(), ["evaluate", "--truth", str(files / "truth.json"),
                                      "--verdicts", str(files / "v.json"), "--table"])
    assert res.exit_code == 0
    assert "hydra" in res.stdout and "100.0%" in res.stdout


def test_cli_errors_exit_2(files):
    runner = CliRunner()
    res = runner.invoke(_app(), ["evaluate", "--truth", str(files / "none.json"),
                                 "--verdicts", str(files / "v.csv")])
    assert res.exit_code == 2 and "none.json" in res.output
    res = runner.invoke(_app(), ["evaluate", "--truth", str(files / "truth.json"),
                                 "--verdicts", str(files / "missing.csv")])
    assert res.exit_code == 2 and "missing.csv" in res.output


def test_read_truth_rejects_non_truth(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("[1, 2]")
    from detector.errors import InputError
    with pytest.raises(InputError, match="accounts"):
        read_truth(p)


def test_home_verdicts(tmp_path):
    from detector.errors import InputError
    from detector.evaluate import read_verdicts_home
    from detector.lake.io import write_parquet_atomic
    from detector.settings import load_settings

    settings = load_settings(tmp_path / "home")
    with pytest.raises(InputError, match="no verdicts"):
        read_verdicts_home(settings)
    import pyarrow as pa
    frame = pd.DataFrame(ROWS).assign(date=pd.to_datetime(["2026-01-01"] * 2).date)
    write_parquet_atomic(settings.verdicts_dir / "date=2026-01-01" / "verdicts.parquet",
                         pa.Table.from_pandas(frame, preserve_index=False))
    got = read_verdicts_home(settings)
    assert sorted(got["account_id"]) == ["a", "b"] and set(got["decision"]) == {"block", "allow"}
