"""PII masking, one place for everything shown to people: prompt samples (analysts) and cluster
edge evidence (every role, masked per role).

:func:`mask_pii` replaces emails (IDN addresses included), phone numbers, payment card numbers
(Luhn-checked), secrets (API keys, cloud credentials such as AWS access key ids and secret keys,
private keys, tokens after ``password=``-like names), IP addresses (IPv4 and IPv6) and US SSNs
with ``[email]``, ``[phone]``, ``[card]``, ``[secret]``, ``[ip]``, ``[ssn]``. The text is masked
*before* it is cut to its display length, so a value at the cut is never shown in part.

:func:`mask_evidence` masks the evidence of a cluster edge for a role: viewers never see an IP
address, network prefix, payment fingerprint or user agent (each becomes a placeholder);
analysts and admins see IPs and prefixes masked as in prompts, payment fingerprints reduced to
their last 4 characters and user agents PII-masked. Every other string goes through
:func:`mask_pii` for every role.

Masking is deliberately greedy on secrets (a long mixed letter/digit token is treated as one)
and conservative on numbers (short numbers and arithmetic stay readable).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

MAX_SAMPLE_CHARS = 2000

_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
                          re.S)
_SECRET_PREFIXED = re.compile(
    r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9_-]{2,}-)?[A-Za-z0-9_-]{16,}"      # OpenAI/Anthropic-style keys
    r"|\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"                # Stripe keys
    r"|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[0-9A-Z]{16}\b"  # AWS key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}\b"                               # GitHub tokens
    r"|\bgithub_pat_[A-Za-z0-9_]{22,}"                               # GitHub fine-grained
    r"|\bglpat-[A-Za-z0-9_-]{20,}"                                   # GitLab tokens
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"                               # Slack tokens
    r"|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"           # Slack webhooks
    r"|\bAIza[0-9A-Za-z_-]{30,}"                                     # Google API keys
    r"|\bGOCSPX-[A-Za-z0-9_-]{20,}"                                  # Google OAuth secrets
    r"|\bya29\.[0-9A-Za-z_-]{20,}"                                   # Google access tokens
    r"|\bhf_[A-Za-z0-9]{30,}"                                        # Hugging Face tokens
    r"|\bnpm_[A-Za-z0-9]{36}\b"                                      # npm tokens
    r"|\bdop_v1_[a-f0-9]{64}\b"                                      # DigitalOcean tokens
    r"|(?i:\bAccountKey=)[A-Za-z0-9+/=]{40,}"                        # Azure storage keys
    r"|(?i:\bSharedAccessKey=)[A-Za-z0-9+/=]{20,}"                   # Azure service bus keys
    r"|(?i:[?&]sig=)[A-Za-z0-9%+/=]{20,}"                            # Azure SAS signatures
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
    r"|\bdg_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}"                         # our own keys
)
_BEARER = re.compile(r"(?i)\b(bearer|token|api[_-]?key|password|passwd|secret)(\s*[:=]\s*|\s+)"
                     r"(\"?)([^\s\"']{6,})")
#: ``aws_secret_access_key = ...``, ``"client_secret": "..."``: a credential-like name assigned
_ASSIGNED = re.compile(
    r"(?i)(\b[A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credential)[A-Za-z0-9_.-]*[\"']?\s*[:=]\s*)([\"']?)([^\s\"',;]{6,})")
#: AWS secret access keys and similar: 40 base64 characters with a digit and a letter
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*\d)(?=[A-Za-z0-9/+]*[A-Za-z])"
                         r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_LONG_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b")
#: ASCII and internationalised (IDN, UTF-8 local part) addresses; punycode TLDs too
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.(?:xn--[\w-]+|[^\W\d_]{2,})")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}(?!\w)")
_DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{4}")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
#: IPv6 candidates (validated by ``ipaddress``): hex groups with colons, an optional dotted
#: IPv4 tail and zone; brackets stay outside the match
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|"
                   r"[0-9A-Fa-f]{1,4})?(?:%[\w.]+)?(?![\w:])")
_PLACEHOLDER = re.compile(r"\[[a-z-]*$")


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum (payment card numbers do)."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else m.group(0)


def _phone(m: re.Match[str]) -> str:
    text = m.group(0)
    if _DATE.fullmatch(text):
        return text
    digits = re.sub(r"\D", "", text)
    has_sep = any(c in text for c in " .-()+")
    return "[phone]" if 8 <= len(digits) <= 15 and (has_sep or len(digits) >= 10) else text


def _ipv6(m: re.Match[str]) -> str:
    text = m.group(0)
    if not any(c.isdigit() for c in text):  # "Dad::add", "a::b": code, not addresses
        return text
    try:
        ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        return text
    return "[ip]"


def _mask(t: str) -> str:
    t = _PRIVATE_KEY.sub("[secret]", t)
    t = _SECRET_PREFIXED.sub("[secret]", t)
    t = _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}[secret]", t)
    t = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}[secret]", t)
    t = _EMAIL.sub("[email]", t)
    t = _AWS_SECRET.sub("[secret]", t)
    t = _LONG_TOKEN.sub("[secret]", t)
    t = _IPV6.sub(_ipv6, t)
    t = _CARD.sub(_card, t)
    t = _SSN.sub("[ssn]", t)
    t = _IPV4.sub("[ip]", t)
    t = _PHONE.sub(_phone, t)
    return t


def mask_pii(text: str | None, max_chars: int = MAX_SAMPLE_CHARS) -> str:
    """``text`` with PII replaced by bracketed placeholders, then cut to ``max_chars``.

    Masking comes first: a value straddling the cut is masked whole, never shown in part.
    Only a window of the text is masked (enough that what is shown was masked with at least
    256 characters of context after it), so a huge text costs no more than a long one.
    """
    if not text:
        return ""
    window = max(4 * max_chars, max_chars + 4096)
    while True:
        masked = _mask(text[:window])
        if window >= len(text) or len(masked) >= max_chars + 256:
            break
        window *= 4  # masking shrank the text a lot: mask more of it
    if len(masked) <= max_chars and window >= len(text):
        return masked
    shown = masked[:max_chars]
    cut = _PLACEHOLDER.search(shown)  # never end on half a placeholder
    if cut is not None:
        shown = shown[:cut.start()]
    more = max(len(text) - max_chars, 1)
    return shown + f" … [{more} more characters]"


# --- cluster edge evidence -------------------------------------------------------------------

#: edge types whose shared keys are personal data, and what each key is
SENSITIVE_EDGE_KEYS = {"ip": "ip", "prefix": "prefix", "payment": "payment",
                       "fingerprint": "user_agent"}
#: evidence field names that hold the same kinds of values, whatever the edge type
SENSITIVE_FIELDS = {"ip": "ip", "client_ip": "ip", "ips": "ip", "ip_prefix": "prefix",
                    "prefix": "prefix", "payment": "payment", "payment_fingerprint": "payment",
                    "user_agent": "user_agent", "ua": "user_agent"}
_VIEWER_PLACEHOLDER = {"ip": "[ip]", "prefix": "[ip-prefix]", "payment": "[payment]",
                       "user_agent": "[user-agent]"}
_MAX_EVIDENCE_DEPTH = 16


def _sensitive(value: str, kind: str, full: bool) -> str:
    """One sensitive value of ``kind``: a placeholder for viewers (``full`` False), masked
    as prompts mask it for analysts and admins."""
    if not full:
        if kind == "user_agent" and value.startswith("ua="):
            # a client profile: 'ua=... | max_tokens=... | ...': only the user agent goes
            head, sep, rest = value.partition(" | ")
            return "ua=[user-agent]" + (sep + mask_pii(rest) if sep else "")
        return _VIEWER_PLACEHOLDER[kind]
    if kind == "payment":
        return f"[payment …{value[-4:]}]" if len(value) > 8 else "[payment]"
    masked = mask_pii(value)
    if kind in ("ip", "prefix") and masked == value:  # not recognisable as an address
        return _VIEWER_PLACEHOLDER[kind]
    return masked


def mask_evidence(evidence: Any, edge_type: str | None, role: str) -> Any:
    """A copy of one edge's ``evidence`` masked for ``role`` (see the module docstring).

    The shared keys (``{"shared": [{"key": ...}]}``) of ``ip``, ``prefix``, ``payment`` and
    ``fingerprint`` edges, and fields named like an address, payment fingerprint or user agent
    on any edge, are the sensitive values; every other string is PII-masked.
    """
    full = role in ("analyst", "admin")
    key_kind = SENSITIVE_EDGE_KEYS.get(edge_type or "")

    def walk(value: Any, kind: str | None, depth: int) -> Any:
        if depth > _MAX_EVIDENCE_DEPTH:
            return "[…]"
        if isinstance(value, str):
            return _sensitive(value, kind, full) if kind else mask_pii(value)
        if isinstance(value, list | tuple):
            return [walk(v, kind, depth + 1) for v in value]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                sub = SENSITIVE_FIELDS.get(str(k).lower(), kind)
                if k == "key" and key_kind:
                    sub = key_kind
                out[mask_pii(str(k), 200)] = walk(v, sub, depth + 1)
            return out
        return value

    return walk(evidence, None, 0)

