"""A signed verdict export for gateways that poll instead of receiving webhooks.

Per evaluated day ``D``: ``exports/verdicts-D.json`` and ``exports/verdicts-D.csv`` list the
accounts whose decision on ``D`` is ``review`` or ``block`` (``allow`` rows are omitted), and
each file has a ``.sig`` JSON sidecar ``{"id", "timestamp", "signature", "sha256"}``. The
signature is the Standard Webhooks one over ``id.timestamp.<file bytes as UTF-8>`` with the
export secret, so a gateway verifies it with the same HMAC code as a webhook, without the
webhook's 5-minute freshness window (use :func:`verify_export`, or recompute the HMAC).

The export secret comes from ``$DETECTOR_EXPORT_SECRET``, else ``<home>/state/export.secret``
(created with a random ``whsec_`` secret, mode 0600, on first use).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from detector.errors import InputError
from detector.hooks.signing import new_secret, webhook_for
from detector.lake.days import parse_date
from detector.lake.io import write_text_atomic
from detector.settings import Settings
from detector.verdicts import connect, evaluated_days, root

EXPORT_COLUMNS = ("account_id", "date", "decision", "score", "reasons", "cluster_id",
                  "model_version", "run_id")


@dataclass(frozen=True)
class ExportFiles:
    date: str
    json: Path
    csv: Path
    rows: int


def export_secret(settings: Settings) -> str:
    """The export signing secret (environment first, else the home's secret file)."""
    env = os.environ.get("DETECTOR_EXPORT_SECRET")
    if env:
        return env
    path = settings.state_dir / "export.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_secret() + "\n")
    return path.read_text().strip()


def sign_file(data: bytes, secret: str, msg_id: str) -> dict[str, str]:
    """The ``.sig`` sidecar content for ``data``."""
    now = dt.datetime.fromtimestamp(int(dt.datetime.now(dt.UTC).timestamp()), dt.UTC)
    signature = webhook_for(secret, "export secret").sign(msg_id, now, data.decode("utf-8"))
    return {"id": msg_id, "timestamp": str(int(now.timestamp())), "signature": signature,
            "sha256": hashlib.sha256(data).hexdigest()}


def verify_export(path: Path, secret: str) -> bool:
    """True when ``path`` matches its ``.sig`` sidecar under ``secret``."""
    data = Path(path).read_bytes()
    sig = json.loads(Path(str(path) + ".sig").read_text())
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    mac = hmac.new(key, f"{sig['id']}.{sig['timestamp']}.".encode() + data, hashlib.sha256)
    expected = "v1," + base64.b64encode(mac.digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in sig["signature"].split(" "))


def _rows(settings: Settings, day: dt.date | None) -> tuple[str, list[dict]]:
    con = connect(settings)
    try:
        days = evaluated_days(con)
        if not days:
            raise InputError(f"no verdicts under {root(settings)}: run `detector run` first")
        day = day or days[-1]
        if day not in days:
            raise InputError(f"--date {day}: no verdicts under {root(settings)} for that day")
        select = ", ".join(EXPORT_COLUMNS)  # view verdicts: every column, typed
        cur = con.execute(
            f"SELECT {select} FROM verdicts WHERE CAST(date AS DATE) = ? "
            "AND decision IN ('review', 'block') "
            "ORDER BY CASE decision WHEN 'block' THEN 0 ELSE 1 END, score DESC, account_id", [day])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        for r in rows:
            r["date"] = day.isoformat()
        return day.isoformat(), rows
    finally:
        con.close()


def export_verdicts(settings: Settings, date: str | dt.date | None = None,
                    out_dir: Path | None = None) -> ExportFiles:
    """Write the signed JSON and CSV export of ``date`` (default: latest evaluated day)."""
    day, rows = _rows(settings, parse_date(date))
    out_dir = Path(out_dir) if out_dir else settings.reports_dir / "exports"
    secret = export_secret(settings)
    generated = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    doc = {"date": day, "generated_at": generated, "count": len(rows), "verdicts": rows}
    json_text = json.dumps(doc, indent=1, default=str) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    files = ExportFiles(day, out_dir / f"verdicts-{day}.json", out_dir / f"verdicts-{day}.csv",
                        len(rows))
    for path, text in ((files.json, json_text), (files.csv, buf.getvalue())):
        data = text.encode("utf-8")
        msg_id = f"export_{day}_{path.suffix[1:]}_{hashlib.sha256(data).hexdigest()[:16]}"
        # data, then signature: a reader between the two renames sees a mismatch and fails
        # verification (and polls again); it never accepts data that was not signed
        sig_path = Path(str(path) + ".sig")
        write_text_atomic(path, text)
        write_text_atomic(sig_path, json.dumps(sign_file(data, secret, msg_id)) + "\n")
        for p in (path, sig_path):
            os.chmod(p, 0o644)
    return files
