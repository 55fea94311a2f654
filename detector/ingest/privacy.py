"""Privacy control: keep hashes and only a bounded sample of prompt text per account-day.

With ``keep_prompt_text = false`` in the settings, ``prompt_text`` and ``system_prompt`` are
kept for at most ``embedding_sample_k`` requests per (account, UTC day) (the first ones
committed), and are null for the others; hashes, lengths and counts are always kept. The
request/response bodies stored in ``request_json``/``response_json`` have every text
replaced by ``"[redacted N chars]"`` (see :func:`redact`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from detector.ingest.redact import redact  # noqa: F401  (re-exported)
from detector.ingest.tables import PROMPT_COL, SYSTEM_COL, account_of
from detector.ingest.timeparse import day_of


def apply_sample(con: sqlite3.Connection, rows: list[tuple], k: int) -> list[tuple]:
    """Rows with prompt/system text nulled beyond the first ``k`` per account-day.

    Must run inside the chunk transaction: it reads and advances the ``samples`` counters.
    """
    counts: Counter = Counter()
    out: list[tuple] = []
    for row in rows:
        key = (account_of(row), day_of(row[1]))
        if key not in counts:
            got = con.execute("SELECT n FROM samples WHERE account_id = ? AND date = ?",
                              key).fetchone()
            counts[key] = got[0] if got else 0
        if counts[key] < k:
            counts[key] += 1
            out.append(row)
        else:
            cut = list(row)
            cut[PROMPT_COL] = None
            cut[SYSTEM_COL] = None
            out.append(tuple(cut))
    con.executemany(
        "INSERT INTO samples VALUES (?, ?, ?) ON CONFLICT(account_id, date) DO UPDATE SET n = ?",
        [(a, d, n, n) for (a, d), n in counts.items()])
    return out
