"""PII masking for prompt samples shown to analysts: emails, phone numbers, payment card
numbers (Luhn-checked), secrets/API keys, IP addresses and US SSNs become ``[email]``,
``[phone]``, ``[card]``, ``[secret]``, ``[ip]``, ``[ssn]``. Viewers get no prompt text at all.

Masking is deliberately greedy on secrets (a long mixed letter/digit token is treated as one)
and conservative on numbers (short numbers and arithmetic stay readable).
"""

from __future__ import annotations

import re

MAX_SAMPLE_CHARS = 2000

_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
                          re.S)
_SECRET_PREFIXED = re.compile(
    r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9_-]{2,}-)?[A-Za-z0-9_-]{16,}"      # OpenAI-style keys
    r"|\bAKIA[0-9A-Z]{16}\b"                                         # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}\b"                               # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"                               # Slack tokens
    r"|\bAIza[0-9A-Za-z_-]{30,}"                                     # Google API keys
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
    r"|\bdg_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}"                         # our own keys
)
_BEARER = re.compile(r"(?i)\b(bearer|token|api[_-]?key|password|passwd|secret)(\s*[:=]\s*|\s+)"
                     r"(\"?)([^\s\"']{6,})")
_LONG_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}(?!\w)")
_DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{4}")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")


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


def mask_pii(text: str | None, max_chars: int = MAX_SAMPLE_CHARS) -> str:
    """``text`` truncated to ``max_chars`` with PII replaced by bracketed placeholders."""
    if not text:
        return ""
    t = text[:max_chars]
    t = _PRIVATE_KEY.sub("[secret]", t)
    t = _SECRET_PREFIXED.sub("[secret]", t)
    t = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}[secret]", t)
    t = _EMAIL.sub("[email]", t)
    t = _LONG_TOKEN.sub("[secret]", t)
    t = _CARD.sub(_card, t)
    t = _SSN.sub("[ssn]", t)
    t = _IPV4.sub("[ip]", t)
    t = _PHONE.sub(_phone, t)
    if len(text) > max_chars:
        t += f" … [{len(text) - max_chars} more characters]"
    return t
