"""The account against its own history: the ``hist_`` family (``features/history/date=D``).

Grain: one row per account active on D (the rows of ``features/daily`` for D). Each score
compares the account's value on D with the same value on its own active days among the 7 or 28
days before D (robust z: median and MAD, see :data:`catalog.HISTORY_METRICS` for the metrics and
floors); ``hist_days_since_first_seen`` counts from the account's first day in the lake.

Incremental, like the 7-day window: the inputs are the stored ``features/partials`` (a few
columns) and ``div_word_ngram_entropy`` of ``features/daily`` of the 28 days before D, never
the raw requests. The account's first day comes from ``features/first_seen/part-0.parquet``,
kept up to date by min-merging each stored day's accounts once per daily fingerprint (the lake
only grows, so a merge never has to be undone). A day's history is recomputed when its
fingerprint changes: the definitions, the daily fingerprints of D-28..D, and a digest of every
stored day before that (a backfilled old day can move an account's first day).

One Ibis definition (:func:`history_expr`) runs on the selected engine, DuckDB or Spark, for a
batch of target days at once. Days are integer day numbers (days since 1970-01-01: no date
arithmetic in SQL), medians are exact (DuckDB ``percentile_cont(0.5)``, Spark ``percentile``:
both interpolate linearly between the two middle values). The inputs are bound per engine:
DuckDB reads them here (:func:`_day_rows`, :func:`merge_first_seen`); on Spark the executors
read the stored files by URI (:mod:`detector.features.spark_history`), so no account-day row
passes through the driver.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.columns import history as history_columns
from detector.features import catalog, derive, spark_history, store
from detector.features.catalog import (
    HISTORY_MAD_SCALE,
    HISTORY_METRICS,
    HISTORY_MIN_DAYS,
    HISTORY_WINDOWS,
)
from detector.features.engine import Engine
from detector.lake.io import write_parquet_atomic, write_text_atomic
from detector.settings import Settings

LOOKBACK = max(HISTORY_WINDOWS)
#: Target days per query: each reads its targets' days plus LOOKBACK days before them.
BATCH_DAYS = 7
PARTIAL_COLUMNS = ["account_id", "n", "in_tok", "out_tok", "length_n", "finish_n"]
WORD_ENTROPY = "div_word_ngram_entropy"
EPOCH = dt.date(1970, 1, 1)

Progress = Callable[[str], None]
#: (settings, stored first-seen table or None, days to add) -> the merged first-seen table
Merge = Callable[[Settings, Path | None, list[str]], pa.Table]


def day_number(day: str) -> int:
    return (dt.date.fromisoformat(day) - EPOCH).days


# --- the definition (Ibis, portable) ----------------------------------------------------------

def history_expr(days: ir.Table, targets: ir.Table, first: ir.Table) -> ir.Table:
    """History scores of the accounts active on the ``targets`` days.

    ``days``: (account_id, day int32, n, in_tok, out_tok, length_n, finish_n, word_entropy), one
    row per account-day of the target days and the LOOKBACK days before each; ``targets``:
    (t_day int32); ``first``: (account_id, first_day int32). Result: account_id, day, then
    :func:`catalog.history_columns`.
    """
    f64 = "float64"
    nul = ibis.null(f64)
    metrics = list(HISTORY_METRICS)
    values = {
        "requests": (days.n.cast(f64) + 1.0).ln(),
        "output_input": ((days.out_tok.cast(f64) + 1.0) / (days.in_tok.cast(f64) + 1.0)).ln(),
        "length_share": ibis.ifelse(days.finish_n > 0,
                                    days.length_n.cast(f64) / days.finish_n.cast(f64), nul),
        "word_entropy": days.word_entropy.cast(f64),
    }
    m = days.select(account_id=days.account_id, day=days.day.cast("int32"),
                    **{k: values[k].cast(f64) for k in metrics})
    j = m.join(targets, m.day == targets.t_day)
    cur = j.select(j.account_id, j.day, **{f"c_{k}": j[k] for k in metrics})
    prev = m.select(p_account=m.account_id, p_day=m.day, **{f"p_{k}": m[k] for k in metrics})
    # one row per (account, target day, earlier active day in the lookback), every metric a column
    pairs = cur.join(prev, (cur.account_id == prev.p_account) & (prev.p_day < cur.day)
                     & (prev.p_day >= cur.day - LOOKBACK))
    pairs = pairs.select("account_id", "day", *[f"c_{k}" for k in metrics],
                         *[f"p_{k}" for k in metrics], lag=pairs.day - pairs.p_day)
    keys = ["account_id", "day"]

    def inside(t: ir.Table, w: int, value: ir.FloatingValue) -> ir.FloatingValue:
        # windowed aggregates take nulls outside the window (Ibis compiles median(where=...)
        # to a non-constant percentage on Spark, which Spark refuses)
        return value if w == LOOKBACK else ibis.ifelse(t.lag <= w, value, nul)

    med = pairs.group_by(keys).aggregate(
        **{f"c_{k}": pairs[f"c_{k}"].max() for k in metrics},
        **{f"hist_baseline_days_{w}": pairs.count(where=pairs.lag <= w) for w in HISTORY_WINDOWS},
        **{f"k_{k}_{w}": inside(pairs, w, pairs[f"p_{k}"]).count() for k in metrics for w in HISTORY_WINDOWS},
        **{f"med_{k}_{w}": inside(pairs, w, pairs[f"p_{k}"]).median() for k in metrics for w in HISTORY_WINDOWS})
    dev = pairs.join(med, keys)
    mad = dev.group_by(keys).aggregate(
        **{f"mad_{k}_{w}": inside(dev, w, (dev[f"p_{k}"] - dev[f"med_{k}_{w}"]).abs()).median()
           for k in metrics for w in HISTORY_WINDOWS})
    s = med.join(mad, keys)
    zs = {}
    for k, (floor, _) in HISTORY_METRICS.items():
        for w in HISTORY_WINDOWS:
            scale = ibis.greatest(s[f"mad_{k}_{w}"] * HISTORY_MAD_SCALE, floor)
            z = (s[f"c_{k}"] - s[f"med_{k}_{w}"]) / scale
            zs[f"hist_{k}_z{w}"] = ibis.ifelse(s[f"k_{k}_{w}"] >= HISTORY_MIN_DAYS, z, nul)
    scores = s.select(*keys, **zs, **{f"hist_baseline_days_{w}": s[f"hist_baseline_days_{w}"]
                                      for w in HISTORY_WINDOWS})
    today = j.select(j.account_id, j.day)
    out = today.left_join(scores, keys).drop("account_id_right", "day_right")
    out = out.left_join(first, "account_id").drop("account_id_right")
    out = out.mutate(hist_days_since_first_seen=out.day - out.first_day,
                     **{f"hist_baseline_days_{w}": out[f"hist_baseline_days_{w}"].fill_null(0)
                        for w in HISTORY_WINDOWS})
    return out.select("account_id", "day", *catalog.history_columns())


# --- inputs read from the feature store -------------------------------------------------------

def stored_days(settings: Settings) -> list[str]:
    """Days with stored partials, oldest first."""
    root = settings.features_dir / "partials"
    if not root.exists():
        return []
    return sorted(p.parent.name.removeprefix("date=") for p in root.glob("date=*/part-0.parquet"))


def _day_rows(settings: Settings, day: str) -> pa.Table | None:
    path = store.table_path(settings, "partials", day)
    if not path.exists():
        return None
    p = pq.read_table(path, columns=PARTIAL_COLUMNS)
    daily = store.table_path(settings, "daily", day)
    if daily.exists():
        d = pq.read_table(daily, columns=["account_id", WORD_ENTROPY])
        p = p.join(d, "account_id", join_type="left outer")
    else:
        p = p.append_column(WORD_ENTROPY, pa.nulls(p.num_rows, pa.float64()))
    cols = {c: p.column(c).cast(pa.int64()) for c in PARTIAL_COLUMNS[1:]}
    return pa.table({"account_id": p.column("account_id").cast(pa.string()),
                     "day": pa.array([day_number(day)] * p.num_rows, pa.int32()), **cols,
                     "word_entropy": p.column(WORD_ENTROPY).cast(pa.float64())})


def first_seen_path(settings: Settings) -> Path:
    return settings.features_dir / "first_seen" / "part-0.parquet"


def _first_seen_state(settings: Settings) -> Path:
    return settings.features_dir / "state" / "first_seen.json"


def merge_first_seen(settings: Settings, stored: Path | None, days: list[str]) -> pa.Table:
    """(account_id, first_day int32): the first-seen table at ``stored`` (None: none yet)
    min-merged with the accounts of ``days``' partials, here with pyarrow."""
    frames = [] if stored is None else [pq.read_table(stored)]
    for d in days:
        ids = pq.read_table(store.table_path(settings, "partials", d), columns=["account_id"])
        frames.append(pa.table({"account_id": ids.column("account_id").cast(pa.string()),
                                "first_day": pa.array([day_number(d)] * ids.num_rows, pa.int32())}))
    both = pa.concat_tables(frames) if frames else pa.table(
        {"account_id": pa.array([], pa.string()), "first_day": pa.array([], pa.int32())})
    agg = both.group_by("account_id").aggregate([("first_day", "min")])
    return pa.table({"account_id": agg.column("account_id"),
                     "first_day": agg.column("first_day_min").cast(pa.int32())}).sort_by("account_id")


def update_first_seen(settings: Settings, days: list[str], merge: Merge | None = None) -> Path:
    """Bring ``features/first_seen`` up to date over the stored ``days``, merging only the days
    whose daily fingerprint changed since they were last merged; returns its path. ``merge``:
    :func:`merge_first_seen` (default) or :func:`spark_history.merge_first_seen` (on Spark)."""
    state_file = _first_seen_state(settings)
    path = first_seen_path(settings)
    try:
        merged: dict[str, str | None] = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        merged = {}
    stored = path if path.exists() and merged else None
    if stored is None:
        merged = {}
    fps = {d: store.read_state(settings, d).get("daily") for d in days}
    todo = [d for d in days if d not in merged or merged[d] != fps[d]]
    if not todo and stored is not None:
        return path
    table = (merge or merge_first_seen)(settings, stored, todo)
    write_parquet_atomic(path, table)
    merged.update({d: fps[d] for d in todo})
    write_text_atomic(state_file, json.dumps(merged, sort_keys=True, indent=1))
    return path


# --- incremental driver -----------------------------------------------------------------------

def definitions_version() -> str:
    h = hashlib.sha256(inspect.getsource(catalog).encode())
    h.update(inspect.getsource(history_columns).encode())  # windows, floors, minimum days
    h.update(inspect.getsource(sys.modules[__name__]).encode())
    return h.hexdigest()[:16]


def fingerprints(settings: Settings, days: list[str], targets: list[str]) -> dict[str, str]:
    """History fingerprint of each of ``targets`` (``days``: every stored day, sorted)."""
    fps = {d: store.read_state(settings, d).get("daily") for d in days}
    prefix = [hashlib.sha256()]
    for d in days:  # running digest of the stored days, oldest first
        h = prefix[-1].copy()
        h.update(f"{d}={fps[d]};".encode())
        prefix.append(h)
    version = definitions_version()
    out = {}
    for t in targets:
        before = bisect.bisect_left(days, store.shift(t, -LOOKBACK))
        window = [fps.get(w) for w in store.window_days(t, LOOKBACK + 1)]
        out[t] = store.digest([version, window, prefix[before].hexdigest()])
    return out


def update(settings: Settings, eng: Engine, days: list[str], changed: list[str],
           say: Progress | None = None, force: bool = False) -> list[str]:
    """Write ``features/history`` for ``days`` and for every stored day after a changed one
    whose fingerprint moved (every candidate with ``force``); returns the days written."""
    say = say or (lambda _msg: None)
    stored = stored_days(settings)
    if not stored:
        return []
    on_spark = eng.name == "spark"
    first = update_first_seen(settings, stored, spark_history.merge_first_seen if on_spark else None)
    have = set(stored)
    candidates = {d for d in days if d in have}
    if changed:
        candidates |= {d for d in stored if d >= min(changed)}
    fps = fingerprints(settings, stored, sorted(candidates))
    todo = []
    for d in sorted(candidates):
        if (force or store.read_state(settings, d).get("history") != fps[d]
                or not store.table_path(settings, "history", d).exists()):
            todo.append(d)
    if not todo:
        return []
    if on_spark:  # read by the executors: no account-day row passes through the driver
        spark_history.bind_first(eng, "dg_hist_first", first)
    else:
        eng.bind_arrow("dg_hist_first", pq.read_table(first).combine_chunks())
    for i in range(0, len(todo), BATCH_DAYS):
        batch = todo[i:i + BATCH_DAYS]
        say(f"features {batch[0]}..{batch[-1]}: own-history scores")
        need = sorted({w for t in batch for w in store.window_days(t, LOOKBACK + 1)} & have)
        with _days_bound(settings, eng, "dg_hist_days", need):
            eng.bind_arrow("dg_hist_targets", pa.table({"t_day": pa.array([day_number(t) for t in batch],
                                                                          pa.int32())}))
            result = eng.run("history", lambda: history_expr(
                eng.table("dg_hist_days"), eng.table("dg_hist_targets"), eng.table("dg_hist_first")))
        for t in batch:
            part = result.filter(pc.equal(result.column("day"), day_number(t)))
            write_parquet_atomic(store.table_path(settings, "history", t), history_table(part, t))
            store.write_state(settings, t, {**store.read_state(settings, t), "history": fps[t]})
    return todo


@contextmanager
def _days_bound(settings: Settings, eng: Engine, view: str, days: list[str]) -> Iterator[None]:
    """View ``view`` = the history inputs of the stored ``days`` while the block runs: on Spark
    read by the executors (:func:`spark_history.bound_days`), else here (:func:`_day_rows`)."""
    if eng.name == "spark":
        with spark_history.bound_days(eng, view, days):
            yield
        return
    rows = [t for t in (_day_rows(settings, d) for d in days) if t is not None]
    eng.bind_arrow(view, pa.concat_tables(rows).combine_chunks())
    yield


def history_table(result: pa.Table, day: str) -> pa.Table:
    """Stored ``features/history`` rows of ``day``: keys (string, date32) then the ``hist_``
    columns (counts int64, scores float64), sorted by account_id."""
    df = result.to_pandas()
    df["date"] = dt.date.fromisoformat(day)
    return derive.to_arrow(df.sort_values("account_id", kind="stable"), catalog.history_columns())
