"""The verdict store: the only code that touches verdict files.

One file per evaluated day, ``verdicts/date=D/verdicts.parquet`` (``paths``), rows of
``VERDICT_SCHEMA`` (``schema``: the columns, and what files written before a column existed
read as). ``decide`` writes a day (:func:`write_verdict_day`); post-decide stages (campaigns)
change rows only through :func:`annotate`; every reader goes through ``read``
(:func:`connect` / :func:`register` for SQL over view ``verdicts``, :func:`read`,
:func:`load_verdicts`, :func:`verdict_for`). Retention removes whole days with
:func:`drop_days_before`; privacy erasure removes an account's rows with :func:`rewrite`. ``tests/test_architecture.py`` fails when another module names the
verdict file or folder.
"""

from detector.verdicts.paths import (
    drop_days_before,
    evaluated_dates,
    files_signature,
    root,
    verdict_files,
    verdict_path,
)
from detector.verdicts.read import (
    connect,
    evaluated_days,
    load_verdicts,
    read,
    register,
    source_sql,
    verdict_for,
)
from detector.verdicts.schema import (
    CONTRACT_COLUMNS,
    DEFAULTS,
    EXTRA_COLUMNS,
    READ_SCHEMA,
    VERDICT_SCHEMA,
    select_list,
    sql_type,
)
from detector.verdicts.write import annotate, read_day, rewrite, write_verdict_day

__all__ = [
    "CONTRACT_COLUMNS", "DEFAULTS", "EXTRA_COLUMNS", "READ_SCHEMA", "VERDICT_SCHEMA", "annotate",
    "connect", "drop_days_before", "evaluated_dates", "evaluated_days", "files_signature",
    "load_verdicts", "read", "read_day", "register", "rewrite", "root", "select_list",
    "source_sql",
    "sql_type", "verdict_files", "verdict_for", "verdict_path", "write_verdict_day",
]
