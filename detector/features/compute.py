"""The feature stage entry point: daily partials and features, 7-day windows, percentiles.

Incremental: a day is recomputed only when its fingerprint (request files' names, sizes and
mtimes; the definitions' version; the first-seen times of models that matter to it) changed.
A 7-day window ending on W is recomputed when any day in W-6..W was; windows read the stored
daily partials, never the raw requests.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from detector.errors import InputError
from detector.features import catalog, derive, engine, history, lexicon, partials, sample, store
from detector.features.percentiles import percentile_table
from detector.lake.db import request_files
from detector.settings import Settings

Progress = Callable[[str], None]


def definitions_version() -> str:
    """Hash of everything that defines the features: code of the defining modules + lexicons."""
    h = hashlib.sha256()
    for mod in (catalog, partials, sample, derive):
        h.update(inspect.getsource(mod).encode())
    for name in ("cot_phrases", "script_user_agents"):
        h.update("\n".join(lexicon.load_phrases(name)).encode())
    return h.hexdigest()[:16]


def all_request_files(settings: Settings) -> list[Path]:
    root = settings.requests_dir
    if not root.exists():
        return []
    return sorted(p for p in root.glob("date=*/*.parquet") if not p.name.startswith("."))


def first_seen(eng: engine.Engine, files: list[Path]) -> pa.Table:
    """(model, first_ts) over the request ``files`` (the whole lake in :func:`compute`), sorted
    by model (the stored copy is the same file whatever order the engine's groups come in)."""
    eng.bind_parquet("dg_lake", files)
    fs = eng.run("first_seen", lambda: partials.first_seen_models(eng.table("dg_lake")))
    return pa.table({"model": fs.column("model").cast(pa.string()),
                     "first_ts": fs.column("first_ts").cast(pa.timestamp("us", tz="UTC"))}
                    ).sort_by("model")


def _relevant_first_seen(fs: pa.Table, day: str) -> list[list[str]]:
    """First-seen entries that can affect ``day``: models first seen before the day ends."""
    end = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
    pairs = zip(fs.column("model").to_pylist(), fs.column("first_ts").to_pylist(), strict=True)
    return sorted([m, t.isoformat()] for m, t in pairs if t < end)


def _fingerprint(settings: Settings, day: str, fs: pa.Table, version: str) -> str:
    return store.digest({
        "files": store.files_fingerprint(request_files(settings, day)),
        "version": version,
        "first_seen": _relevant_first_seen(fs, day),
    })


def compute_day_tables(eng: engine.Engine, files: list[Path], day: str) -> tuple[pa.Table, pa.Table]:
    """(partials, daily) Arrow tables of one day from its request files, on ``eng``.

    Needs view ``dg_first_seen`` bound on ``eng`` (see :func:`compute`).
    """
    eng.bind_parquet("dg_day", files)
    return bound_day_tables(eng, day)


def bound_day_tables(eng: engine.Engine, day: str) -> tuple[pa.Table, pa.Table]:
    """(partials, daily) of the requests bound as view ``dg_day`` on ``eng`` (a day's files,
    or any request rows, e.g. ``detector.decide.relay_streams``' pseudo-accounts)."""
    p = eng.run("partials", lambda: partials.partials(eng.table("dg_day"), eng.table("dg_first_seen")))
    s = eng.run_map("sample", lambda: sample.sample_expr(eng.table("dg_day")),
                    sample.sample_features, sample.SAMPLE_SCHEMA, by="account_id")
    s = s.sort_by("account_id")
    return eng.timed("derive", lambda: derive.day_tables(p, s, date.fromisoformat(day)))


def _plain_numbers(t: pa.Table) -> pa.Table:
    """``t`` with decimal columns as int64 (scale 0: DuckDB's sums of counts) or float64, so that
    days written by either engine combine (Spark writes the same sums as int64)."""
    for i, f in enumerate(t.schema):
        if pa.types.is_decimal(f.type):
            to = pa.int64() if f.type.scale == 0 else pa.float64()
            t = t.set_column(i, f.name, t.column(i).cast(to))
    return t


def weekly_table(settings: Settings, day: str) -> pa.Table | None:
    """``features/weekly`` rows for the window ending on ``day`` from stored partials."""
    frames = []
    for d in store.window_days(day):
        t = store.read_table(settings, "partials", d)
        if t is not None and t.num_rows:
            frames.append(_plain_numbers(t).to_pandas())
    if not frames:
        return None
    return derive.weekly_rows(derive.combine_window(frames, day))


def compute(settings: Settings, dates: list[str], force: bool = False,
            progress: Progress | None = None, engine_name: str | None = None,
            timings: dict[str, float] | None = None) -> list[str]:
    """Compute features for ``dates`` (YYYY-MM-DD); returns the days actually recomputed.

    Writes ``features/{partials,daily}/date=D`` for changed days, ``history`` (the ``hist_``
    family, :mod:`detector.features.history`) for the requested days and the stored days after a
    changed one whose inputs moved, then ``weekly`` and
    ``percentiles`` for every requested day and every window that includes a changed day.
    ``timings``, when given, receives wall seconds per phase (summed over days).
    """
    say = progress or (lambda _msg: None)
    days = sorted(set(dates))
    for d in days:
        _check_day(settings, d)
    all_files = all_request_files(settings)
    eng = engine.connect(settings, engine_name)
    try:
        fs = eng.timed("first_seen", lambda: first_seen(eng, all_files))
        eng.bind_arrow("dg_first_seen", fs)
        store.write_model_first_seen(settings, fs)  # read again by decide's relay streams
        version = definitions_version()
        changed: list[str] = []
        for d in days:
            fp = _fingerprint(settings, d, fs, version)
            state = store.read_state(settings, d)
            if not force and state.get("daily") == fp and store.table_path(settings, "daily", d).exists():
                continue
            say(f"features {d}: daily")
            p_tab, daily = compute_day_tables(eng, request_files(settings, d), d)
            with eng.phase("store"):
                store.write_table(settings, "partials", d, p_tab)
                store.write_table(settings, "daily", d, daily)
            store.write_state(settings, d, {**state, "daily": fp, "engine": eng.name})
            changed.append(d)
        with eng.phase("history"):
            history.update(settings, eng, days, changed, say, force=force)
    finally:
        eng.close()
    with eng.phase("windows_percentiles"):
        _windows_and_percentiles(settings, days, changed, say, eng.name)
    if timings is not None:
        timings.update(eng.timings)
    return changed


def window_tables(settings: Settings, day: str, engine_name: str) -> tuple[pa.Table | None, pa.Table]:
    """(``features/weekly`` rows or None, ``features/percentiles``) of ``day``: on the Spark
    cluster over the stored files with ``engine_name`` 'spark'
    (:mod:`detector.features.spark_windows`), else here with pandas and numpy."""
    if engine_name == "spark":
        from detector.features import spark_windows

        return spark_windows.window_tables(settings, day)
    weekly = weekly_table(settings, day)
    tables = [t for t in (store.read_table(settings, "daily", day), weekly) if t is not None]
    return weekly, percentile_table(day, tables)


def _windows_and_percentiles(settings: Settings, days: list[str], changed: list[str],
                             say: Progress, engine_name: str) -> None:
    targets = set(days)
    for d in changed:
        for k in range(7):
            later = store.shift(d, k)
            if store.table_path(settings, "partials", later).exists():
                targets.add(later)
    for d in sorted(targets):
        state = store.read_state(settings, d)
        window_fp = store.digest([store.read_state(settings, w).get("daily") for w in store.window_days(d)])
        if state.get("weekly") == window_fp and store.table_path(settings, "percentiles", d).exists():
            continue
        say(f"features {d}: 7-day window and percentiles")
        weekly, percentiles = window_tables(settings, d, engine_name)
        if weekly is not None:
            store.write_table(settings, "weekly", d, weekly)
        store.write_table(settings, "percentiles", d, percentiles)
        store.write_state(settings, d, {**state, "weekly": window_fp})


def _check_day(settings: Settings, day: str) -> None:
    try:
        date.fromisoformat(day)
    except ValueError:
        raise InputError(f"date {day!r}: expected YYYY-MM-DD") from None
    if not request_files(settings, day):
        raise InputError(f"date {day}: no ingested requests under {settings.requests_dir / ('date=' + day)}")
