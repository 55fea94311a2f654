"""``detector erase --account ID``: remove one account's personal data from every artefact.

What goes (each file rewritten atomically, ``write_parquet_atomic`` / ``write_text_atomic``):

* lake requests rows of the account; quarantine lines whose raw text carries the id as a JSON
  string; held lines of the ingest's held store (``detector.ingest.held``: what it can and
  cannot tie to an account);
* embedding cache vectors of the account's prompts (by prompt hash; recomputed if another
  account sends the same prompt);
* every derived Parquet row keyed by the account (``account_id``, or ``src``/``dst`` of cluster
  edges: features, partials, coverage, centroids, cluster members and edges with their raw IPs
  and payment fingerprints, campaign files, verdicts, the returning-actor index); the id inside
  other rows' JSON evidence (``*_json``, ``evidence``) is replaced by the pseudonym;
* leftover Spark scratch folders (``.spark-*``) under those stores and the embedding cache,
  deleted whole (disposable; they may hold any account's rows);
* JSON files under ``clusters/`` and text reports under ``reports/`` (the id replaced by the
  pseudonym), signed exports re-written from the erased verdicts;
* the case store: account id replaced by the pseudonym and free text (notes, reasons) blanked
  in cases, decisions, labels, allow-list entries, the audit log and delivered webhook events;
  claims on the account are deleted.

What is kept, and why: the pseudonym ``erased:<keyed hash>`` (HMAC with a per-home secret,
``state/erasure.secret``) in place of the id, so that the fact that a decision or block
happened, when and by whom stays auditable, and the same id erased twice gives the same
pseudonym; decisions, their dates and statuses (the record of what the service did); request
ids in the ingest id store (opaque; without them a redelivered log would re-ingest the erased
requests); webhook events still pending delivery (a gateway must still learn a block; erase
again after delivery); model versions trained on earlier data (aggregate weights, no rows).
One audit row ``account.erase`` (entity ``account``, the pseudonym) records who erased, when,
and the counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector import verdicts
from detector.embeddings.paths import cache_root
from detector.ingest.held import erase_held
from detector.lake.io import write_parquet_atomic, write_text_atomic
from detector.privacy.erase_files import (
    drop_scratch,
    erase_cache,
    erase_quarantine,
    erase_requests,
    json_literal,
)
from detector.settings import Settings

#: columns that name the account a row is about
ACCOUNT_COLUMNS = ("account_id", "src", "dst")
#: what is kept after an erasure, and why (printed by the CLI, recorded in the audit row)
KEPT = {
    "pseudonym": "erased:<keyed hash> replaces the id in the case store and evidence, so the "
                 "fact that a decision or block happened stays auditable",
    "decisions": "decision, date, status and analyst of each case decision (what the service "
                 "did); notes and reasons blanked",
    "audit_log": "append-only record of every change, with the id pseudonymised",
    "request_ids": "ingest id store (opaque request ids): a redelivered log stays a duplicate "
                   "instead of re-ingesting the erased requests",
    "pending_webhooks": "events not yet delivered: a gateway must still learn a block "
                        "(erase again after delivery)",
    "models": "trained model versions hold aggregate weights, no rows",
    "held_unattributed": "held ingest lines naming no account (a Batch input awaiting its "
                         "result, a Langfuse observation awaiting its trace) until "
                         "ingest_held_retention_days",
}


@dataclass
class EraseResult:
    account_pseudonym: str
    removed: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=lambda: dict(KEPT))

    def add(self, what: str, n: int, path: Path | None = None) -> None:
        if n:
            self.removed[what] = self.removed.get(what, 0) + n
            if path is not None:
                self.files.append(str(path))

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account_pseudonym, "removed": self.removed,
                "files": sorted(set(self.files)), "kept": self.kept}


def _secret(settings: Settings) -> bytes:
    path = settings.state_dir / "erasure.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode()


def pseudonym(settings: Settings, account_id: str) -> str:
    """``erased:<24 hex>``: HMAC-SHA256 of the id under the home's erasure secret."""
    mac = hmac.new(_secret(settings), account_id.encode("utf-8", "surrogatepass"),
                   hashlib.sha256).hexdigest()
    return f"erased:{mac[:24]}"


def _walk(obj: Any, account_id: str, alias: str) -> Any:
    """A JSON value with every string equal to ``account_id`` replaced by ``alias``; in an
    object about the account, free text (note, reason) blanked."""
    if isinstance(obj, str):
        return alias if obj == account_id else obj
    if isinstance(obj, list):
        return [_walk(v, account_id, alias) for v in obj]
    if isinstance(obj, dict):
        about = account_id in obj.values()
        out = {k: _walk(v, account_id, alias) for k, v in obj.items()}
        if about:
            for k in ("note", "reason"):
                if out.get(k):
                    out[k] = "[erased]"
        return out
    return obj


def _scrub_json_text(text: str | None, account_id: str, alias: str) -> str | None:
    if text is None or json_literal(account_id) not in text:
        return text
    try:
        return json.dumps(_walk(json.loads(text), account_id, alias), sort_keys=True)
    except ValueError:
        return text.replace(json_literal(account_id), json_literal(alias))


# --- Parquet ------------------------------------------------------------------------------
def _string_col(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _erase_parquet(path: Path, account_id: str, alias: str, substitute: bool) -> int:
    """Drop rows whose account columns equal the id; replace it inside JSON columns. Rows
    removed (+ cells rewritten), 0 when the file is unchanged."""
    schema = pq.read_schema(path)
    if not _erasable(schema, substitute):
        return 0
    table, n = _erase_table(pq.read_table(path), account_id, alias, substitute)
    if n:
        write_parquet_atomic(path, table.replace_schema_metadata(schema.metadata))
    return n


def _erasable(schema: pa.Schema, substitute: bool) -> bool:
    return any(c in schema.names and _string_col(schema.field(c).type) for c in ACCOUNT_COLUMNS
               ) or any(substitute and _string_col(f.type) and (
                   f.name.endswith("_json") or f.name == "evidence") for f in schema)


def _erase_table(table: pa.Table, account_id: str, alias: str,
                 substitute: bool) -> tuple[pa.Table, int]:
    """``table`` without the account's rows and with its id replaced inside JSON columns; rows
    removed + cells rewritten."""
    schema = table.schema
    keys = [c for c in ACCOUNT_COLUMNS if c in schema.names and _string_col(schema.field(c).type)]
    json_cols = [f.name for f in schema if substitute and _string_col(f.type)
                 and (f.name.endswith("_json") or f.name == "evidence")]
    drop = None
    for c in keys:
        m = pc.fill_null(pc.equal(table[c].cast(pa.string()), account_id), False)
        drop = m if drop is None else pc.or_(drop, m)
    removed = 0
    if drop is not None:
        removed = int(pc.sum(drop).as_py() or 0)
        if removed:
            table = table.filter(pc.invert(drop))
    changed = 0
    lit = json_literal(account_id)
    for c in json_cols:
        col = table[c].cast(pa.string())
        hits = pc.fill_null(pc.match_substring(col, lit), False)
        n = int(pc.sum(hits).as_py() or 0) if len(col) else 0
        if n:
            values = [_scrub_json_text(v, account_id, alias) for v in col.to_pylist()]
            idx = table.schema.get_field_index(c)
            table = table.set_column(idx, table.schema.field(c).with_type(pa.string()),
                                     pa.array(values, pa.string()))
            changed += n
    return table, removed + changed


#: derived Parquet artefacts (folder under home, what the result calls them)
DERIVED = (("features", "features_rows"), ("embeddings/centroids", "embedding_centroids"),
           ("embeddings/population", "embedding_population_rows"),
           ("clusters", "cluster_rows"),
           ("state/returning", "returning_index_rows"), ("reports", "report_rows"))


def _erase_derived(settings: Settings, account_id: str, alias: str, res: EraseResult) -> None:
    drop_scratch([*(settings.home / sub for sub, _ in DERIVED), verdicts.root(settings),
                  cache_root(settings)], res.add)  # first: never rewritten
    for sub, what in DERIVED:
        for path in sorted((settings.home / sub).rglob("*.parquet")):
            res.add(what, _erase_parquet(path, account_id, alias, substitute=True), path)
    for day in verdicts.evaluated_dates(settings):  # through the verdict store
        counted = [0]

        def erase(table: pa.Table, counted: list[int] = counted) -> pa.Table | None:
            out, counted[0] = _erase_table(table, account_id, alias, substitute=True)
            return out if counted[0] else None

        verdicts.rewrite(settings, day, erase)
        res.add("verdicts", counted[0], verdicts.verdict_path(settings, day))


# --- text files ------------------------------------------------------------------------------
def _erase_text(settings: Settings, account_id: str, alias: str, res: EraseResult) -> list[str]:
    """JSON under clusters/; JSON, CSV, HTML, Markdown under reports/ (exports excepted: they
    are re-signed from the erased verdicts). Returns the export days to rewrite."""
    export_days: list[str] = []
    pattern = re.compile(r"(?<![\w.-])" + re.escape(account_id) + r"(?![\w.-])")
    escaped = re.compile(r"(?<![\w.-])" + re.escape(_html_escape(account_id)) + r"(?![\w.-])")
    files = [*(settings.home / "clusters").rglob("*.json"), *(
        p for p in settings.reports_dir.rglob("*")
        if p.is_file() and p.suffix in (".json", ".csv", ".html", ".md", ".txt"))]
    for path in sorted(files):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if account_id not in text and _html_escape(account_id) not in text:
            continue
        if path.parent.name == "exports" and path.name.startswith("verdicts-"):
            export_days.append(path.stem.removeprefix("verdicts-"))
            continue
        if path.suffix == ".json":
            new = _scrub_json_text(text, account_id, alias) or text
            new = pattern.sub(alias, new)
        else:
            new = escaped.sub(alias, pattern.sub(alias, text))
        if new != text:
            mode = path.stat().st_mode & 0o777
            write_text_atomic(path, new)
            with contextlib.suppress(OSError):
                path.chmod(mode)
            res.add("report_and_cluster_files", 1, path)
    return sorted(set(export_days))


def _html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


# --- case store ---------------------------------------------------------------------------
_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")


def _erase_cases(settings: Settings, account_id: str, alias: str, actor: str,
                 res: EraseResult, summary: Callable[[], dict[str, Any]]) -> None:
    """Pseudonymise the account in the case store, in one transaction that also appends the
    ``account.erase`` audit row. The audit log's append-only triggers are lifted for this one
    transaction only (and restored in it: a failure rolls everything back)."""
    if not settings.cases_db.exists():
        return
    from detector.cases import CaseStore
    from detector.cases.store import now_iso

    store = CaseStore(settings)
    marks = ", ".join("?" for _ in _TRIGGERS)
    triggers = [r["sql"] for r in store.db.query(
        f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",
        list(_TRIGGERS))]
    lit = json_literal(account_id)
    at = now_iso()
    # overwrite freed and rewritten content instead of leaving it in free pages
    store.db.connection().execute("PRAGMA secure_delete = ON")
    with store.db.transaction() as conn:
        cur = conn.execute("UPDATE decisions SET account_id = ?, note = CASE WHEN note = '' "
                           "THEN '' ELSE '[erased]' END WHERE account_id = ?", (alias, account_id))
        res.add("case_decisions", cur.rowcount)
        cur = conn.execute("UPDATE cases SET account_id = ? WHERE account_id = ?",
                           (alias, account_id))
        res.add("case_cases", cur.rowcount)
        cur = conn.execute("UPDATE labels SET account_id = ?, note = '' WHERE account_id = ?",
                           (alias, account_id))
        res.add("case_labels", cur.rowcount)
        cur = conn.execute("UPDATE allowlist SET account_id = ?, reason = '[erased]' "
                           "WHERE account_id = ?", (alias, account_id))
        res.add("case_allowlist", cur.rowcount)
        cur = conn.execute("DELETE FROM claims WHERE account_id = ?", (account_id,))
        res.add("case_claims", cur.rowcount)  # who was working on it: nothing to keep
        for name in _TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        rows = conn.execute(
            "SELECT id, entity_id, before_json, after_json FROM audit_log WHERE entity_id = ? "
            "OR instr(before_json, ?) > 0 OR instr(after_json, ?) > 0",
            (account_id, lit, lit)).fetchall()
        for r in rows:
            conn.execute("UPDATE audit_log SET entity_id = ?, before_json = ?, after_json = ? "
                         "WHERE id = ?",
                         (alias if r["entity_id"] == account_id else r["entity_id"],
                          _scrub_json_text(r["before_json"], account_id, alias),
                          _scrub_json_text(r["after_json"], account_id, alias), r["id"]))
        res.add("audit_rows_pseudonymised", len(rows))
        for statement in triggers:
            conn.execute(statement)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "hook_events" in tables:
            pending = {r[0] for r in conn.execute(
                "SELECT DISTINCT event_id FROM hook_deliveries WHERE status = 'pending'")}
            events = conn.execute("SELECT seq, event_id, payload_json FROM hook_events "
                                  "WHERE subject = ? OR instr(payload_json, ?) > 0",
                                  (account_id, lit)).fetchall()
            done = [e for e in events if e["event_id"] not in pending]
            for e in done:
                conn.execute("UPDATE hook_events SET subject = CASE WHEN subject = ? THEN ? "
                             "ELSE subject END, payload_json = ? WHERE seq = ?",
                             (account_id, alias,
                              _scrub_json_text(e["payload_json"], account_id, alias), e["seq"]))
            res.add("webhook_events_pseudonymised", len(done))
            res.add("webhook_events_pending_kept", len(events) - len(done))
        store._audit(conn, actor, "account.erase", "account", alias, None, summary(), at)
    with contextlib.suppress(Exception):  # old page images leave the write-ahead log
        store.db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- entry point --------------------------------------------------------------------------
def erase_account(settings: Settings, account_id: str, actor: str = "cli") -> EraseResult:
    """Remove ``account_id``'s personal data from the home (see the module docstring)."""
    if not isinstance(account_id, str) or not account_id.strip() or len(account_id) > 1024:
        from detector.errors import InputError

        raise InputError("--account: expected an account id of 1 to 1,024 characters")
    alias = pseudonym(settings, account_id)
    res = EraseResult(alias)
    hashes = erase_requests(settings, account_id, res.add)
    erase_quarantine(settings, account_id, res.add)
    erase_held(settings, account_id, res.add)
    erase_cache(settings, hashes, res.add)
    _erase_derived(settings, account_id, alias, res)
    export_days = _erase_text(settings, account_id, alias, res)
    for day in export_days:
        from detector.hooks.export import export_verdicts

        files = export_verdicts(settings, day)
        res.add("exports_resigned", 1, files.json)
    _erase_cases(settings, account_id, alias, actor, res,
                 lambda: {k: v for k, v in res.as_dict().items() if k != "files"})
    return res
