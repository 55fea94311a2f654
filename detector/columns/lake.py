"""The request lake's columns (``lake/requests``; grain: one row per request_id), in on-disk
order. ``account_id`` is a row key (:mod:`detector.columns.verdict`); the Arrow types are
:data:`detector.lake.schema.REQUEST_SCHEMA`, which a test keeps in step with these entries.

``request_json``, ``response_json`` and ``metadata_json`` keep the original bodies so nothing of
the native record is lost; the other columns are the parsed, normalised view that features read.
"""

from __future__ import annotations

from detector.columns.model import Column

S, TS, I32, I64, F, B = "string", "timestamp[us, tz=UTC]", "int32", "int64", "float64", "bool"


def _l(name: str, dtype: str, unit: str, label: str, meaning: str) -> Column:
    return Column(name, "lake", dtype, unit, None, label, meaning, "")


LAKE: list[Column] = [
    _l("request_id", S, "id", "Request",
       "Unique request id; duplicates are counted, never stored twice."),
    _l("ts", TS, "time", "Arrival time", "Arrival time, normalised to UTC."),
    _l("org_id", S, "id", "Organisation", "Organisation owning the account (null if unknown)."),
    _l("api_key_id", S, "id", "API key", "API key id (never the secret)."),
    _l("endpoint", S, "path", "Endpoint", "API endpoint, e.g. /v1/chat/completions."),
    _l("model", S, "name", "Model", "Model requested."),
    _l("client_ip", S, "address", "Client address", "Caller IP address as given."),
    _l("ip_prefix", S, "prefix", "Network prefix",
       "Network prefix of client_ip: /24 for IPv4, /48 for IPv6."),
    _l("user_agent", S, "text", "User agent", "HTTP User-Agent."),
    _l("payment_fingerprint", S, "hash", "Payment fingerprint",
       "Opaque hash of the payment instrument."),
    _l("account_created_at", TS, "time", "Account created", "Account creation time (UTC)."),
    _l("n_messages", I32, "messages", "Messages",
       "Number of messages in the request (1 for prompt/input bodies)."),
    _l("n_user_turns", I32, "turns", "User turns",
       "Number of user messages; > 1 means a multi-turn conversation."),
    _l("system_prompt", S, "text", "System prompt",
       "Text of the system/developer messages, joined."),
    _l("system_hash", S, "hash", "System prompt hash",
       "Hash of system_prompt (null when there is none)."),
    _l("prompt_text", S, "text", "Prompt",
       "Text of the user turns (or prompt/input), joined by newlines."),
    _l("prompt_hash", S, "hash", "Prompt hash",
       "Hash of the whitespace-normalised, lower-cased prompt_text."),
    _l("prompt_chars", I64, "characters", "Prompt length",
       "Length of prompt_text in characters."),
    _l("max_tokens", I64, "tokens", "Maximum output tokens",
       "max_tokens / max_completion_tokens / max_output_tokens."),
    _l("temperature", F, "temperature units", "Temperature", "Sampling temperature."),
    _l("top_p", F, "probability 0-1", "Nucleus sampling (top_p)", "Nucleus sampling parameter."),
    _l("n", I32, "completions", "Completions requested",
       "Number of completions requested (default 1)."),
    _l("logprobs", B, "flag", "Logprobs requested",
       "Whether token log-probabilities were requested."),
    _l("top_logprobs", I32, "alternatives", "Alternatives per token",
       "How many alternatives per token were requested."),
    _l("stream", B, "flag", "Streaming", "Streaming response requested."),
    _l("seed", I64, "seed", "Seed", "Sampling seed, if given."),
    _l("reasoning_effort", S, "level", "Reasoning effort",
       "reasoning_effort or reasoning.effort (low/medium/high...)."),
    _l("has_tools", B, "flag", "Tools declared", "Request declared tools/functions."),
    _l("response_format", S, "name", "Response format",
       "response_format.type (text, json_object, json_schema)."),
    _l("end_user_hash", S, "hash", "End user",
       "Hash of the end-user id the caller passed for its own user (request.user, else "
       "request.safety_identifier); null when none. Relays and platforms pass one per end "
       "user."),
    _l("status", I32, "HTTP status", "HTTP status", "HTTP status of the response."),
    _l("finish_reason", S, "name", "Finish reason", "stop, length, tool_calls, content_filter..."),
    _l("output_chars", I64, "characters", "Answer length",
       "Length of response.output_text when retained."),
    _l("prompt_tokens", I64, "tokens", "Prompt tokens", "usage.prompt_tokens."),
    _l("completion_tokens", I64, "tokens", "Completion tokens", "usage.completion_tokens."),
    _l("reasoning_tokens", I64, "tokens", "Reasoning tokens", "usage.reasoning_tokens."),
    _l("latency_ms", F, "milliseconds", "Latency", "Time to serve in milliseconds."),
    _l("request_json", S, "JSON", "Request body", "The request body as JSON (lossless)."),
    _l("response_json", S, "JSON", "Response body",
       "The response object as JSON (null if absent)."),
    _l("metadata_json", S, "JSON", "Metadata", "metadata plus unknown top-level fields, as JSON."),
    _l("source_file", S, "path", "Source file", "File the record came from."),
    _l("source_line", I64, "line", "Source line", "1-based line number in that file."),
    _l("ingest_id", S, "id", "Ingest batch", "Id of the ingest batch that stored this row."),
]
