"""OpenAI Batch API files: input, output and error JSONL (and the Batch object), paired by
``custom_id``.

Lines (OpenAI Batch API docs): input ``{"custom_id", "method", "url", "body": {...}}``;
output ``{"id": "batch_req_...", "custom_id", "response": {"status_code", "request_id",
"body": {chat.completion ...}}, "error": null}``; error-file line ``{"id", "custom_id",
"response": null, "error": {"code", "message"}}`` or a response whose ``status_code`` is 4xx/5xx.
A *result line* is an output or error line. The Batch object (``GET /v1/batches/{id}``: ``id``,
``created_at``, ``metadata``, ``input_file_id``, ``completion_window``...) is context, not a
request: given on the command line (or as ``<batch_id>.json`` beside the files) it is read
as 0 records and gives its batch's time and account.

**Pairing.** Files are named as OpenAI names them (``batchinput.jsonl``,
``batch_<id>_output.jsonl``, ``batch_<id>_error.jsonl``) or anyhow. Every line is paired with
its partner by ``custom_id`` across *all* OpenAI Batch files of one ``detector ingest`` command
(the pipeline passes them to :func:`records_for` as ``related``, ``Format.wants_related``), plus the partner found
by name (``X_output`` <-> ``X_input``, also ``-``/``.`` separators) or named in a sidecar.
Partners in the same batch (name swap, sidecar, same ``batch_<id>`` in the name) are preferred;
otherwise a custom_id found in exactly one other file of the command pairs with it, and one
found with different lines in several files (two batches reusing ``request-1``) is quarantined
as ambiguous rather than guessed. So an input and its output given together are always stored
together, whatever their names and order: the prompt is never stored apart from its answer.
Across commands (deliveries), a record's id depends only on its result line and batch id, so
a re-delivered result is a duplicate; lines that found no partner are held
(:mod:`detector.ingest.adapters.batch_held`) and pair with their batch's later files, so a
result stored first without its prompt is enriched when its input arrives, and an input held
first is stored when its result arrives (see ``docs/ingest.md``).

Each file is read once into an index of its lines (:mod:`.batch_files`).

Sidecar: ``<file>.batch.toml`` or ``batch.toml`` in the folder: ``account_id``, ``created_at``
(the batch's time: epoch seconds or RFC 3339), ``input = "name"`` / ``output = "name"``.

**Account** (batch files carry none): ``detector ingest --account-id``, else the sidecar's
``account_id`` (result file's, then input file's), else the Batch object's
``metadata.account_id``. Never made up: when no source of an account exists for any file of
the batch, the file is refused (InputError: give ``--account-id``); a record whose batch alone
lacks one is quarantined (``missing_field: account_id`` with the same hint).

**Time**: the response body's ``created`` (epoch seconds); a result line without one (error
lines) takes its batch's time: the sidecar's ``created_at``, else the Batch object's
``created_at``, else the earliest ``created`` of an output line of the same batch in the
command; ``metadata.timestamp_source`` then says which. None of these: quarantined
(``missing_field: timestamp`` naming what was looked for). An input line without any result
line is quarantined (``no output or error line``): the request has no time of its own, and
storing it would let its later result count as a second request.

| native | batch |
|---|---|
| request_id | result ``response.request_id``, else ``batch:<batch_id>:<custom_id>`` (batch id from the result file's name or Batch object), else ``batch:<result file name>:<custom_id>`` |
| timestamp | result ``response.body.created`` (epoch s), else the batch's time (above) |
| account_id | see above |
| endpoint | input ``url`` |
| model | input ``body.model``, else ``response.body.model`` |
| request | input ``body`` (``{}`` when the input line is missing) |
| response | the response body (all keys but ``usage``), ``status`` = ``response.status_code``, ``error`` = the line's ``error`` (or the error body of a 4xx/5xx response) |
| usage | ``response.body.usage`` |
| metadata | ``custom_id``, ``batch_request_id`` (result ``id``), ``batch_id``, ``method``, ``error_code``, ``timestamp_source`` |

Nothing else is invented: a missing value stays null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import orjson

from detector.errors import InputError
from detector.ingest.adapters import batch_held
from detector.ingest.adapters.batch_files import (
    BATCH_ID,
    BatchFile,
    _by_name,
    _from_held,
    _is_batch_object,
    _seconds,
    batch_file,
    line_kind,
)
from detector.ingest.adapters.common import drop_none
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register
from detector.ingest.jsonio import decode_line

_BATCH_ID = BATCH_ID
_ACCOUNT_HINT = ("OpenAI Batch files carry no account: give --account-id ID, or account_id "
                 "in a batch.toml beside them, or the Batch object with metadata.account_id")


@dataclass
class Group:
    """The files a batch file may pair with: the command's batch files and its partners."""

    me: BatchFile
    files: list[BatchFile]
    partners: set[Path]
    held: list[BatchFile] = field(default_factory=list)  # held lines of the same batch

    def _same_batch(self, f: BatchFile) -> bool:
        return f.path in self.partners or f.path == self.me.path or (
            self.me.batch_id is not None and f.batch_id == self.me.batch_id)

    def find(self, cid: str, kind: str) -> tuple[bytes, BatchFile] | str | None:
        """The partner line (``kind``: "inputs" or "results") of ``cid``, a reason when it is
        ambiguous, or None when there is none."""
        same = [f for f in self.files if self._same_batch(f) and getattr(f, kind)]
        if same:  # the batch's own files hold this kind of line: only they can pair
            files = same
        else:  # any file of the command, except those of another known batch
            files = [f for f in self.files if not (
                self.me.batch_id and f.batch_id and f.batch_id != self.me.batch_id)]
        hits = [(getattr(f, kind)[cid], f) for f in files if cid in getattr(f, kind)]
        if not hits:  # an earlier delivery of the batch, held
            hits = [(getattr(f, kind)[cid], f) for f in self.held if cid in getattr(f, kind)]
        if not hits:
            return None
        pool = hits
        distinct = {orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
                    for raw, _ in pool}
        if len(distinct) == 1:
            return pool[0]
        names = ", ".join(sorted({f.path.name for _, f in pool}))
        return (f"ambiguous: OpenAI batch custom_id {cid!r} has different "
                f"{'input' if kind == 'inputs' else 'result'} lines in {names}; give one batch "
                f"per command or name the partner in a batch.toml")

    def batch_object(self, batch_id: str | None) -> dict | None:
        for f in self.files + self.held:
            if f.batch_object is not None and (batch_id is None or f.batch_id == batch_id):
                return f.batch_object
        return None

    def batch_time(self, res: BatchFile, inp: BatchFile | None) -> tuple[float, str] | None:
        """(epoch seconds, source) of the batch of result file ``res``."""
        for f in (res, inp):
            if f is not None and "created_at" in f.sidecar:
                return _seconds(f.sidecar["created_at"]), "sidecar created_at"  # type: ignore[return-value]
        obj = self.batch_object(res.batch_id)
        if obj is not None and _seconds(obj.get("created_at")) is not None:
            return _seconds(obj.get("created_at")), "batch object created_at"  # type: ignore[return-value]
        times = [f.first_created for f in self.files + self.held if f.first_created is not None and (
            f.batch_id == res.batch_id or f.path in self.partners or f.path == res.path)]
        if times:
            return min(times), "earliest output line of the batch"
        return None

    def account(self, res: BatchFile | None, inp: BatchFile | None) -> str | None:
        for f in (res, inp):
            if f is not None and f.sidecar.get("account_id"):
                return f.sidecar["account_id"]
        obj = self.batch_object(res.batch_id if res is not None else None)
        meta = obj.get("metadata") if obj is not None else None
        acct = meta.get("account_id") if isinstance(meta, dict) else None
        return acct if isinstance(acct, str) and acct.strip() else None

    def any_account(self) -> bool:
        files = self.files + self.held
        return any(f.sidecar.get("account_id") for f in files) or any(
            isinstance((f.batch_object or {}).get("metadata"), dict)
            and (f.batch_object or {})["metadata"].get("account_id") for f in files)


@lru_cache(maxsize=256)
def _is_batch_path(path: str, mtime_ns: int, size: int) -> bool:
    """Whether another input of the command is an OpenAI Batch file (its first records)."""
    from detector.ingest.sample import sample  # noqa: PLC0415

    try:
        objs = sample(Path(path), 5).objects()
    except Exception:  # noqa: BLE001 - an unreadable neighbour is simply not a partner
        return False
    return bool(objs) and any(claims(o) for o in objs)


def _batch_object_beside(f: BatchFile) -> list[Path]:
    """The Batch object saved as ``<batch_id>.json`` beside a batch file, if any."""
    obj = f.path.parent / f"{f.batch_id}.json" if f.batch_id else None
    return [obj.resolve()] if obj is not None and obj.exists() and obj != f.path else []


def _same_batch_beside(f: BatchFile) -> list[Path]:
    """Other deliveries of the same batch beside ``f``: batch files whose name holds the same
    ``batch_<id>`` (its output file beside a later error file, and so on)."""
    if not f.batch_id:
        return []
    out = []
    for cand in f.path.parent.glob(f"*{f.batch_id}*"):
        m = _BATCH_ID.search(cand.name)
        if cand == f.path or not cand.is_file() or m is None or m.group(0) != f.batch_id:
            continue
        st = cand.stat()
        if _is_batch_path(str(cand.resolve()), st.st_mtime_ns, st.st_size):
            out.append(cand.resolve())
    return out


def group_of(path: Path, related: tuple[str, ...] = (), held: str | None = None) -> Group:
    """The pairing scope of ``path``: the OpenAI Batch files among ``related`` (the other
    inputs of the command), its partners by name and the files named in its sidecar; and
    the lines of the same batch held from earlier commands (``held``: the held store)."""
    path = Path(path)
    me = batch_file(path)
    partners: set[Path] = set()
    for key in ("input", "output"):
        if me.sidecar.get(key):
            other = path.parent / me.sidecar[key]
            if not other.exists():
                raise InputError(f"{path}: batch {key} file {other} named in the sidecar is "
                                 f"missing")
            partners.add(other.resolve())
    partners.update(p.resolve() for p in _by_name(path))
    partners.update(_batch_object_beside(me))
    partners.update(_same_batch_beside(me))
    scope = set(partners)
    for r in related:
        rp = Path(r)
        if rp.exists():
            st = rp.stat()
            if _is_batch_path(str(rp.resolve()), st.st_mtime_ns, st.st_size):
                scope.add(rp.resolve())
                scope.update(_batch_object_beside(batch_file(rp)))
    files = [me] + [batch_file(p) for p in sorted(scope) if p != me.path and p.exists()]
    here = {f.path for f in files}
    kept = [h for h in batch_held.load(held, _from_held)
            if h.path not in here and batch_held.same_batch(h, me)]
    return Group(me, files, partners, kept)


def hold_file(path: Path, account_id: str | None = None, related: tuple[str, ...] = (),
              held: str | None = None) -> None:
    """``Format.holds``: keep the lines of ``path`` that found no partner, and what the file
    knows of its batch, for the batch's later deliveries (:mod:`.batch_held`)."""
    if not held:
        return
    group = group_of(Path(path), related, held)
    me = group.me
    inputs = {c: r.decode() for c, r in me.inputs.items() if group.find(c, "results") is None}
    results = {c: r.decode() for c, r in me.results.items() if group.find(c, "inputs") is None}
    if not (inputs or results or me.batch_object is not None or me.first_created is not None):
        return
    sidecar = {k: v for k, v in (("account_id", me.sidecar.get("account_id")),
                                 ("created_at", _seconds(me.sidecar.get("created_at"))),
                                 ("input", me.sidecar.get("input")),
                                 ("output", me.sidecar.get("output"))) if v is not None}
    batch_held.hold(held, {"path": str(me.path), "batch_id": me.batch_id, "sidecar": sidecar,
                           "inputs": inputs, "results": results,
                           "first_created": me.first_created, "batch_object": me.batch_object,
                           **({"account_id": account_id} if account_id else {})})


def map_pair(inp: dict | None, out: dict | None, account: str | None, file_name: str,
             *, batch_id: str | None = None, batch_time: tuple[float, str] | None = None
             ) -> dict | str:
    """One input line and/or result line -> a native record, or the quarantine reason.

    ``file_name``: the result file's name (for the fallback id without a batch id);
    ``batch_time``: (epoch seconds, source) for a result line without its own ``created``.
    """
    inp, out = inp or {}, out or {}
    custom_id = out.get("custom_id", inp.get("custom_id"))
    if not out:
        return (f"missing_field: timestamp (OpenAI batch custom_id {custom_id!r}: no output or "
                f"error line in the files of this command or beside it; held: stored when "
                f"its batch's result file is ingested)")
    resp = out.get("response") if isinstance(out.get("response"), dict) else {}
    body = resp.get("body") if isinstance(resp.get("body"), dict) else {}
    created, source = body.get("created"), None
    if not isinstance(created, int | float) or isinstance(created, bool):
        if batch_time is None:
            return (f"missing_field: timestamp (OpenAI batch custom_id {custom_id!r}: the "
                    f"result line has no response.body.created, and its batch has no output "
                    f"line with one in this command, no created_at in batch.toml, no Batch "
                    f"object)")
        created, source = batch_time
    if account is None:
        return f"missing_field: account_id ({_ACCOUNT_HINT})"
    error = out.get("error")
    status = resp.get("status_code")
    if error is None and isinstance(status, int) and status >= 400:
        error = body.get("error", body or None)
    code = error.get("code") if isinstance(error, dict) else None
    if code is None and isinstance(error, dict) and isinstance(error.get("type"), str):
        code = error["type"]
    req = inp.get("body") if isinstance(inp.get("body"), dict) else {}
    response = {k: v for k, v in body.items() if k != "usage"} if not (
        isinstance(status, int) and status >= 400) else {}
    response.update(drop_none({"status": status, "error": error}))
    rid = resp.get("request_id")
    if not (isinstance(rid, str) and rid.strip()):
        rid = f"batch:{batch_id or file_name}:{custom_id}"
    return drop_none({
        "request_id": rid, "timestamp": created * 1000.0, "account_id": account,
        "endpoint": inp.get("url"), "model": req.get("model") or body.get("model"),
        "request": req, "response": response or None, "usage": body.get("usage"),
        "metadata": drop_none({"custom_id": custom_id, "batch_request_id": out.get("id"),
                               "batch_id": batch_id, "method": inp.get("method"),
                               "error_code": code, "timestamp_source": source}),
    })


def records_for(path: Path, account_id: str | None = None, related: tuple[str, ...] = (),
                held: str | None = None):
    """Record reader for one batch file; each line paired within :func:`group_of` ``path``
    (``related``: the other input files of the command, given by the pipeline).

    ``account_id`` (``detector ingest --account-id``) takes precedence over the sidecar and
    the Batch object. InputError when no file of the group can give an account.
    """
    group = group_of(Path(path), related, held)
    if account_id is None and not group.any_account() and (
            group.me.inputs or group.me.results):
        raise InputError(f"{path}: {_ACCOUNT_HINT}")

    def read(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
        value, reason = decode_line(raw, flags)
        if reason is not None:
            return [(raw, reason)]
        kind = line_kind(value)
        if kind == "batch":
            return []  # the Batch object: context for its batch, not a request
        if kind is None or not isinstance(value.get("custom_id"), str):
            return [(raw, "not_an_object: expected an OpenAI batch line with custom_id")]
        cid = value["custom_id"]
        if kind == "input":
            found = group.find(cid, "results")
            inp, inp_file = value, group.me
            out, res_file = (found if isinstance(found, tuple) else (None, None))
        else:
            found = group.find(cid, "inputs")
            out, res_file = value, group.me
            inp, inp_file = (found if isinstance(found, tuple) else (None, None))
        if isinstance(found, str):
            return [(raw, found)]
        inp = orjson.loads(inp) if isinstance(inp, bytes) else inp
        out = orjson.loads(out) if isinstance(out, bytes) else out
        if res_file is None:
            return [(raw, map_pair(inp, None, None, ""))]
        account = account_id or group.account(res_file, inp_file)
        return [(raw, map_pair(inp, out, account, res_file.path.name,
                               batch_id=res_file.batch_id,
                               batch_time=group.batch_time(res_file, inp_file)))]
    return read


def claims(line: dict) -> bool:
    """A batch input line (``custom_id`` with ``body``/``url``), result line (``custom_id``
    with ``response``/``error``) or the Batch object (``input_file_id`` and
    ``completion_window``): keys and value types only."""
    if "custom_id" not in line:
        return _is_batch_object(line)
    return isinstance(line.get("custom_id"), str) and line_kind(line) is not None


def unpaired_records(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
    """Reader for a line read without its file (no partner, no account): used by nothing
    that knows the path; ``records_for`` is the real reader."""
    value, reason = decode_line(raw, flags)
    if reason is not None:
        return [(raw, reason)]
    kind = line_kind(value)
    if kind == "batch":
        return []
    if kind is None:
        return [(raw, "not_an_object: expected an OpenAI batch line with custom_id")]
    pair = (value, None) if kind == "input" else (None, value)
    return [(raw, map_pair(*pair, None, "unknown"))]


register(Format("openai-batch", unpaired_records, source_for, claims, priority=15,
                records_for=records_for, wants_related=True, holds=hold_file))
