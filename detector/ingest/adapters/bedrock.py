"""AWS Bedrock model-invocation logs, as delivered to S3 (gzipped JSON Lines) or CloudWatch.

One record per model call (``schemaType: "ModelInvocationLog"``): ``schemaVersion``,
``timestamp`` (RFC 3339), ``accountId``, ``identity.arn`` (the calling principal), ``region``,
``requestId``, ``operation`` (``InvokeModel``, ``Converse``, ``ConverseStream``,
``InvokeModelWithResponseStream``), ``modelId``, ``input`` (``inputContentType``,
``inputBodyJson``, ``inputTokenCount``), ``output`` (``outputContentType``, ``outputBodyJson``,
``outputTokenCount``), and on failures ``errorCode``. Text bodies are present only when
"text data delivery" is on in the logging configuration; otherwise prompts and outputs are
empty and the fill-rate report says so.

The billing account is one unit for the whole command, ``--account-key``:

| --account-key | account_id |
|---|---|
| ``arn`` (default) | ``identity.arn`` (an IAM role / user / assumed-role session: the caller) |
| ``account`` | ``accountId`` (the AWS account, all its callers together) |

| native | Bedrock |
|---|---|
| request_id | ``requestId`` |
| timestamp | ``timestamp`` |
| account_id | see above |
| org_id | ``accountId`` |
| api_key_id | ``identity.arn`` |
| endpoint | ``operation`` |
| model | ``modelId`` |
| request | ``input.inputBodyJson`` (Converse ``messages``/``system``/``inferenceConfig``, Anthropic Messages, Titan ``inputText``, Llama/Mistral ``prompt``); a top-level ``system`` becomes a system message, ``inferenceConfig`` the usual parameters |
| response | ``output_text`` and ``finish_reason`` read from ``output.outputBodyJson`` (Converse, Anthropic, Titan, streamed chunks), ``status`` from ``errorCode`` (throttling 429, validation 400, access 403, other errors 500) |
| usage | ``input.inputTokenCount``, ``output.outputTokenCount`` |
| latency_ms | ``outputBodyJson.metrics.latencyMs`` (Converse) |
| metadata | ``schemaType``, ``schemaVersion``, ``region``, ``inferenceRegion``, ``requestMetadata``, content types, cache token counts, ``errorCode``... |

Bedrock logs carry no client IP, user agent, payment fingerprint or account creation time.
"""

from __future__ import annotations

from detector.ingest.adapters.common import drop_none, object_reader
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register

ACCOUNT_KEYS = ("arn", "account")
_STATUS = {"ThrottlingException": 429, "ServiceQuotaExceededException": 429,
           "ValidationException": 400, "AccessDeniedException": 403,
           "ResourceNotFoundException": 404, "ModelTimeoutException": 408,
           "ModelNotReadyException": 503, "ServiceUnavailableException": 503}
_MAPPED = {"requestId", "timestamp", "accountId", "identity", "operation", "modelId", "input",
           "output"}


def _texts(parts: object) -> list[str]:
    if isinstance(parts, str):
        return [parts]
    if isinstance(parts, list):
        return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def _request(body: object) -> dict:
    """The request body with Bedrock's system / inferenceConfig / inputText made native."""
    if not isinstance(body, dict):
        return {}
    req = dict(body)
    system = _texts(body.get("system"))
    messages = body.get("messages")
    if system and isinstance(messages, list):
        req["messages"] = [{"role": "system", "content": "\n".join(system)}, *messages]
    if isinstance(body.get("inputText"), str) and "prompt" not in req:
        req["prompt"] = body["inputText"]
    cfg = body.get("inferenceConfig")
    if isinstance(cfg, dict):
        for src, dst in (("maxTokens", "max_tokens"), ("temperature", "temperature"),
                         ("topP", "top_p")):
            if src in cfg:
                req.setdefault(dst, cfg[src])
    tcfg = body.get("textGenerationConfig")  # Titan
    if isinstance(tcfg, dict):
        for src, dst in (("maxTokenCount", "max_tokens"), ("temperature", "temperature"),
                         ("topP", "top_p")):
            if src in tcfg:
                req.setdefault(dst, tcfg[src])
    return req


def _output(body: object) -> tuple[str | None, str | None]:
    """(output text, finish reason) of an output body (or a list of streamed chunks)."""
    if isinstance(body, list):  # streamed: chunks with deltas
        texts, finish = [], None
        for ch in body:
            if not isinstance(ch, dict):
                continue
            delta = ch.get("delta") or (ch.get("contentBlockDelta") or {}).get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("text"), str):
                texts.append(delta["text"])
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                finish = delta["stop_reason"]
            stop = (ch.get("messageStop") or {}).get("stopReason")
            finish = stop if isinstance(stop, str) else finish
        return ("".join(texts) if texts else None), finish
    if not isinstance(body, dict):
        return None, None
    out = body.get("output")
    if isinstance(out, dict) and isinstance(out.get("message"), dict):  # Converse
        texts = _texts(out["message"].get("content"))
        return ("\n".join(texts) if texts else None), body.get("stopReason")
    if isinstance(body.get("content"), list):  # Anthropic Messages
        texts = _texts(body["content"])
        return ("\n".join(texts) if texts else None), body.get("stop_reason")
    results = body.get("results")
    if isinstance(results, list) and results and isinstance(results[0], dict):  # Titan
        return results[0].get("outputText"), results[0].get("completionReason")
    gen = body.get("generation")  # Llama
    if isinstance(gen, str):
        return gen, body.get("stop_reason")
    outputs = body.get("outputs")  # Mistral
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        return outputs[0].get("text"), outputs[0].get("stop_reason")
    return None, None


def map_record(rec: dict, account_key: str = "arn") -> dict | str:
    """One model-invocation log record -> one native record (or the reason it is bad)."""
    identity = rec.get("identity") if isinstance(rec.get("identity"), dict) else {}
    arn = identity.get("arn")
    account = rec.get("accountId") if account_key == "account" else arn
    if not isinstance(account, str) or not account.strip():
        field = "accountId" if account_key == "account" else "identity.arn"
        return (f"missing_field: account_id (--account-key {account_key}: the record has no "
                f"{field})")
    inp = rec.get("input") if isinstance(rec.get("input"), dict) else {}
    out = rec.get("output") if isinstance(rec.get("output"), dict) else {}
    text, finish = _output(out.get("outputBodyJson"))
    error = rec.get("errorCode")
    response = drop_none({
        "output_text": text, "finish_reason": finish if isinstance(finish, str) else None,
        "status": (_STATUS.get(error, 500) if isinstance(error, str) and error else None),
        "error": error or None,
    })
    body = out.get("outputBodyJson")
    metrics = body.get("metrics") if isinstance(body, dict) else None
    latency = metrics.get("latencyMs") if isinstance(metrics, dict) else None
    meta = {k: v for k, v in rec.items() if k not in _MAPPED}
    meta.update({f"input.{k}": v for k, v in inp.items() if k not in (
        "inputBodyJson", "inputTokenCount")})
    meta.update({f"output.{k}": v for k, v in out.items() if k not in (
        "outputBodyJson", "outputTokenCount")})
    if isinstance(body, dict) and isinstance(body.get("usage"), dict):
        meta["output.usage"] = body["usage"]
    usage = drop_none({"prompt_tokens": inp.get("inputTokenCount"),
                       "completion_tokens": out.get("outputTokenCount")})
    return drop_none({
        "request_id": rec.get("requestId"), "timestamp": rec.get("timestamp"),
        "account_id": account, "org_id": rec.get("accountId"),
        "api_key_id": arn if isinstance(arn, str) else None,
        "endpoint": rec.get("operation"), "model": rec.get("modelId"),
        "request": _request(inp.get("inputBodyJson")),
        "response": response or None, "usage": usage or None,
        "latency_ms": latency if isinstance(latency, int | float) and not isinstance(
            latency, bool) else None,
        "metadata": meta or None,
    })


def records_for(path: object, account_key: str | None = None):
    """Record reader with the command's billing unit (``--account-key arn|account``)."""
    key = account_key or "arn"
    return object_reader(lambda rec: map_record(rec, key))


def claims(rec: dict) -> bool:
    """A model-invocation log record: ``schemaType``, ``modelId`` and ``requestId`` strings
    beside an ``input`` / ``output`` / ``identity`` object."""
    return (isinstance(rec.get("schemaType"), str) and isinstance(rec.get("modelId"), str)
            and isinstance(rec.get("requestId"), str)
            and any(isinstance(rec.get(k), dict) for k in ("input", "output", "identity")))


register(Format("bedrock", object_reader(map_record), source_for, claims, priority=12,
                records_for=records_for, account_keys=ACCOUNT_KEYS))
