"""Schema migrations of the case database, run when :class:`~detector.cases.store.CaseStore`
opens it.

The version is SQLite's ``PRAGMA user_version`` (``detector.cases.schema.SCHEMA_VERSION``).
Each step is one transaction that creates what the step adds and sets the new version, so a
crash leaves the database at the previous version or the next, never in between. Steps are
idempotent (``IF NOT EXISTS``): a database made before versioning (version 0) that already has
a step's tables just gets its version number.
"""

from __future__ import annotations

from detector.cases.db import Database
from detector.cases.schema import CLAIMS_DDL, SESSIONS_DDL

#: version reached -> DDL of that step (the last key is ``schema.SCHEMA_VERSION``)
STEPS = {1: SESSIONS_DDL, 2: CLAIMS_DDL}


def schema_version(db: Database) -> int:
    """The database's schema version (0 for a database made before versioning)."""
    return int(db.scalar("PRAGMA user_version") or 0)


def migrate(db: Database) -> tuple[int, int]:
    """Bring ``db`` up to ``SCHEMA_VERSION``; returns (version found, version now). A database
    from a newer release is left as it is (its extra tables are not ours to touch)."""
    found = schema_version(db)
    version = found
    for target in sorted(STEPS):
        if target <= version:
            continue
        with db.transaction() as conn:
            for statement in STEPS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(target)}")
        version = target
    return found, version
