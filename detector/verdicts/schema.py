"""The verdict row: its columns, their types, and what a file written before a column existed
reads as (one place; decide writes it, every reader sees it through ``detector.verdicts``)."""

from __future__ import annotations

import pyarrow as pa

#: One verdict per (account_id, date), as decide writes it.
VERDICT_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("date", pa.date32()), ("score", pa.float64()),
    ("decision", pa.string()), ("reasons", pa.string()), ("cluster_id", pa.string()),
    ("model_score", pa.float64()), ("anomaly_score", pa.float64()), ("risk", pa.float64()),
    ("rule_hits", pa.list_(pa.string())), ("shadow_hits", pa.list_(pa.string())),
    ("not_evaluable", pa.string()),
    ("explanation_json", pa.string()), ("model_version", pa.string()),
    ("ruleset_hash", pa.string()), ("feature_run_id", pa.string()), ("run_id", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
])

#: Columns read when a file carries them (decide never writes them): ``org_id`` of verdict
#: files from other producers.
OPTIONAL_SCHEMA = pa.schema([("org_id", pa.string())])

#: The full current row a reader sees: ``VERDICT_SCHEMA`` then ``OPTIONAL_SCHEMA``.
READ_SCHEMA = pa.schema([*VERDICT_SCHEMA, *OPTIONAL_SCHEMA])

#: Value of a column in files written before it existed (``risk``, ``not_evaluable``, ...):
#: NULL for every column; an annotation never invents values for them.
DEFAULTS: dict[str, object] = {f.name: None for f in READ_SCHEMA}

#: What ``detector verdicts`` prints and ``load_verdicts`` returns by default.
CONTRACT_COLUMNS = ["account_id", "date", "score", "decision", "reasons", "cluster_id"]
#: ``risk`` (``detector.decide.risk``) and ``not_evaluable`` (acting rules whose inputs were
#: missing that day, ";"-separated; never part of ``reasons``) are NULL for verdict files
#: written before they existed.
EXTRA_COLUMNS = ["model_score", "anomaly_score", "model_version", "ruleset_hash", "run_id",
                 "risk", "not_evaluable"]

_SQL_TYPES = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.date32(): "DATE",
              pa.list_(pa.string()): "VARCHAR[]",
              pa.timestamp("us", tz="UTC"): "TIMESTAMP WITH TIME ZONE"}


def sql_type(name: str) -> str:
    """DuckDB type of column ``name``."""
    try:
        return _SQL_TYPES[READ_SCHEMA.field(name).type]
    except KeyError:
        raise KeyError(f"verdict column {name!r}: not in the verdict schema "
                       f"({', '.join(READ_SCHEMA.names)})") from None


def select_list(present: set[str], columns: list[str] | None = None) -> str:
    """SQL select list of ``columns`` (default: the whole ``READ_SCHEMA``) over a source with
    the columns ``present``: each cast to its type, NULL (``DEFAULTS``) where absent."""
    out = []
    for name in columns or READ_SCHEMA.names:
        t = sql_type(name)
        q = '"' + name + '"'
        out.append(f"CAST({q} AS {t}) AS {q}" if name in present
                   else f"CAST(NULL AS {t}) AS {q}")
    return ", ".join(out)
