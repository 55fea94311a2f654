"""The verdict store: full current row on read (defaults for older files), SQL filters,
atomic day writes, and annotations that cannot change what was decided."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from detector import verdicts
from detector.errors import InputError
from detector.lake.io import write_parquet_atomic
from detector.settings import load_settings
from detector.verdicts import READ_SCHEMA, VERDICT_SCHEMA

D1, D2 = "2026-03-01", "2026-03-02"


def _table(day: str, rows: list[tuple[str, float, str]], schema: pa.Schema = VERDICT_SCHEMA
           ) -> pa.Table:
    data = [{"account_id": a, "date": dt.date.fromisoformat(day), "score": s, "decision": d,
             "reasons": "r1" if d != "allow" else "", "risk": s * 2}
            for a, s, d in rows]
    return pa.Table.from_pylist(data, schema=schema)


@pytest.fixture
def home(tmp_path):
    s = load_settings(tmp_path / "home")
    s.ensure_dirs()
    old = pa.schema([f for f in VERDICT_SCHEMA if f.name not in ("risk", "not_evaluable")])
    # D1 as written before risk and not_evaluable existed
    write_parquet_atomic(verdicts.verdict_path(s, D1),
                         _table(D1, [("a", 0.9, "block"), ("b", 0.1, "allow")], old))
    verdicts.write_verdict_day(s, D2, _table(D2, [("a", 0.7, "review"), ("c", 0.6, "review")]))
    return s


def test_read_gives_the_full_row_with_defaults_for_older_files(home):
    df = verdicts.read(home)
    assert list(df.columns) == READ_SCHEMA.names
    old = df[df["date"].astype(str).str.startswith(D1)]
    assert old["risk"].isna().all() and old["not_evaluable"].isna().all()
    assert df.loc[df["date"].astype(str).str.startswith(D2), "risk"].tolist() == [1.4, 1.2]


def test_read_filters_by_day_account_and_decision(home):
    assert verdicts.read(home, ["account_id"], days=[D2])["account_id"].tolist() == ["a", "c"]
    flagged = verdicts.read(home, ["account_id", "decision"], decisions=["review", "block"],
                            accounts=["a"])
    assert flagged["decision"].tolist() == ["block", "review"]
    assert verdicts.read(home, ["account_id"], accounts=[]).empty


def test_view_and_days_on_an_empty_home_and_a_full_one(tmp_path, home):
    empty = load_settings(tmp_path / "empty")
    con = verdicts.connect(empty)
    assert [r[0] for r in con.execute("DESCRIBE verdicts").fetchall()] == READ_SCHEMA.names
    assert con.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 0
    assert verdicts.evaluated_days(empty) == [] and verdicts.evaluated_dates(empty) == []
    days = [dt.date.fromisoformat(D1), dt.date.fromisoformat(D2)]
    assert verdicts.evaluated_days(home) == days == verdicts.evaluated_days(verdicts.connect(home))


def test_write_names_a_missing_column(home):
    with pytest.raises(InputError, match="lacks column\\(s\\) decision"):
        verdicts.write_verdict_day(home, D2, _table(D2, [("a", 0.5, "review")]).drop(["decision"]))


def test_annotate_changes_rows_atomically_and_keeps_decisions(home):
    def tag(v):
        v.loc[v["account_id"] == "a", "cluster_id"] = "camp_1"
        return v

    assert verdicts.annotate(home, D1, tag)  # an older file comes back with the full schema
    rows = verdicts.read(home, ["account_id", "cluster_id", "risk"], days=[D1])
    assert rows["cluster_id"].fillna("-").tolist() == ["camp_1", "-"]
    assert rows["risk"].isna().all()
    assert not verdicts.annotate(home, D1, tag)  # nothing changed: file not rewritten
    assert not verdicts.annotate(home, "2026-03-09", tag)  # no verdicts that day

    def escalate(v):
        v["decision"] = "block"
        return v

    with pytest.raises(InputError, match="column decision changed"):
        verdicts.annotate(home, D2, escalate)
    with pytest.raises(InputError, match="2 rows became 1"):
        verdicts.annotate(home, D2, lambda v: v.iloc[:1])
    assert verdicts.read(home, ["decision"], days=[D2])["decision"].tolist() == ["review"] * 2
