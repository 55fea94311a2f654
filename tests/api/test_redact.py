"""PII masking of prompt samples."""

from __future__ import annotations

import pytest

from detector.api.redact import luhn_ok, mask_pii


@pytest.mark.parametrize("text, expected", [
    ("write to john.doe+x@mail.example.org now", "write to [email] now"),
    ("call +44 20 7946 0958 today", "call [phone] today"),
    ("call (555) 123-4567", "call [phone]"),
    ("pay with 4111 1111 1111 1111", "pay with [card]"),
    ("pay with 4111-1111-1111-1111", "pay with [card]"),
    ("use sk-proj-abcdefghijklmnop123456", "use [secret]"),
    ("AKIAIOSFODNN7EXAMPLE is the id", "[secret] is the id"),
    ("password: hunter2hunter", "password: [secret]"),
    ("from 203.0.113.7 ok", "from [ip] ok"),
    ("ssn 078-05-1120", "ssn [ssn]"),
])
def test_masks(text, expected):
    assert mask_pii(text) == expected


@pytest.mark.parametrize("text", [
    "Explain step by step how you would solve: 17 * 23",
    "On 2026-11-27 at 10:30 we sold 1500 units for 3.14159 each.",
    "Compute 123456789 * 987654321",   # long numbers that are not phones or cards
    "order 1234 5678 9012 3456",        # fails Luhn: not a card
])
def test_leaves_ordinary_text_alone(text):
    assert mask_pii(text) == text


def test_luhn_and_truncation():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    out = mask_pii("x" * 50, max_chars=10)
    assert out.startswith("x" * 10) and out.endswith("[40 more characters]")
    assert mask_pii(None) == ""

