"""Masking of cluster edge evidence by role, and the PII masking gaps (IPv6, IDN
e-mail addresses, cloud secrets, masking before truncation)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.api.redact import mask_evidence, mask_pii
from detector.lake.io import write_parquet_atomic

from ..api.fixtures import page_login
from .conftest import auth

RAW = {
    "ip": "203.0.113.77",
    "ip6": "2001:db8:85a3::8a2e:370:7334",
    "prefix": "198.51.100.0/24",
    "payment": "pm_5f1e0c2a9b7d4e3f8a6c",
    "ua": "HarvestBot/2.1 (+ops@harvest.example)",
}


@pytest.fixture()
def cluster_home(settings):
    """The API test home with a cluster whose edges carry every kind of sensitive key."""
    cdir = settings.home / "clusters" / "date=2026-11-27"
    shared = lambda key: json.dumps({"shared": [{"key": key, "accounts": 2, "slots": 3}],  # noqa: E731
                                     "n_keys": 1, "n_slots": 3})
    edges = [
        ("ip", shared(RAW["ip"])), ("ip", shared(RAW["ip6"])), ("prefix", shared(RAW["prefix"])),
        ("payment", shared(RAW["payment"])),
        ("fingerprint", shared(f"ua={RAW['ua']} | max_tokens=4096 | temperature=0.0")),
        ("shared_payment", json.dumps({"payment_fingerprint": RAW["payment"],
                                       "client_ip": RAW["ip"], "user_agent": RAW["ua"]})),
    ]
    write_parquet_atomic(cdir / "edges.parquet", pa.table({
        "src": ["acct_block"] * len(edges), "dst": ["acct_review"] * len(edges),
        "edge_type": [t for t, _ in edges], "window": [f"w{i}" for i in range(len(edges))],
        "weight": [0.9] * len(edges), "evidence": [e for _, e in edges]}))
    return settings


def _raw_values_in(text: str) -> list[str]:
    probes = [RAW["ip"], "2001:db8", "198.51.100", RAW["payment"], "HarvestBot", "ops@harvest"]
    return [p for p in probes if p in text]


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_cluster_api_never_shows_raw_keys(cluster_home, client, keys, role):
    body = client.get("/v1/clusters/clu_1", headers=auth(keys[role]))
    assert body.status_code == 200
    text = json.dumps(body.json()["edges"], ensure_ascii=False)
    leaked = _raw_values_in(text)
    if role == "viewer":
        assert leaked == [], leaked
        assert "[payment]" in text and "[ip]" in text and "[ip-prefix]" in text
        assert "ua=[user-agent]" in text
    else:  # analysts and admins: IPs masked as in prompts, UA shown PII-masked
        assert RAW["ip"] not in text and "2001:db8" not in text and "198.51.100" not in text
        assert RAW["payment"] not in text and "[payment …" in text
        assert "[ip]/24" in text and "HarvestBot/2.1" in text and "ops@harvest" not in text


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_cluster_page_never_shows_raw_keys(cluster_home, client, keys, role):
    page_login(client, keys[role])
    page = client.get("/clusters/clu_1")
    assert page.status_code == 200 and "cluster-edges" in page.text
    leaked = _raw_values_in(page.text)
    if role == "viewer":
        assert leaked == [], leaked
    else:
        assert [x for x in leaked if x != "HarvestBot"] == []


def test_one_function_masks_per_role():
    ev = {"shared": [{"key": RAW["ip"], "accounts": 2}]}
    assert mask_evidence(ev, "ip", "viewer") == {"shared": [{"key": "[ip]", "accounts": 2}]}
    assert mask_evidence(ev, "ip", "analyst") == {"shared": [{"key": "[ip]", "accounts": 2}]}
    assert mask_evidence({"note": "mail jane@example.com"}, "timing", "viewer") == \
        {"note": "mail [email]"}
    assert mask_evidence({"minute_corr": 0.93}, "timing", "viewer") == {"minute_corr": 0.93}
    deep: dict = {}
    cur = deep
    for _ in range(100):
        cur["x"] = {}
        cur = cur["x"]
    mask_evidence(deep, "ip", "viewer")  # bounded depth, no RecursionError


@pytest.mark.parametrize("text", [
    "from 2001:db8::1 ok", "[2001:db8:85a3::8a2e:370:7334]:443", "fe80::1%eth0", "::1",
    "::ffff:192.0.2.1", "2001:0db8:0000:0000:0000:ff00:0042:8329",
])
def test_ipv6_masked(text):
    out = mask_pii(text)
    assert "[ip]" in out and "db8" not in out and "ff00" not in out and "192.0.2" not in out


@pytest.mark.parametrize("text", [
    "пример@пример.рф", "josé.garcía@correo.es", "user@bücher.de", "用户@例子.广告",
    "info@xn--bcher-kva.de", "δοκιμή@παράδειγμα.δοκιμή",
])
def test_idn_emails_masked(text):
    assert mask_pii(f"write to {text} now") == "write to [email] now"


@pytest.mark.parametrize("text", [
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "the key is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    '{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
    "AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A",
    "DefaultEndpointsProtocol=https;AccountName=x;AccountKey="
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    "client_secret: GOCSPX-abcdefghijklmnopqrstuvwxyz12",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
    "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "sk_live_abcdefghijklmnop1234",
    "glpat-abcdefghij1234567890", "ya29.a0AfH6SMBx1234567890abcdefghijklmnop",
])
def test_cloud_secrets_masked(text):
    out = mask_pii(text)
    assert "[secret]" in out
    for raw in ("wJalrXUtnFEMI", "IOSFODNN7", "Eby8vdM02", "abcdefghijklmnop", "Y34FZKBO",
                "GOCSPX-abc", "a0AfH6SMBx"):
        assert raw not in out


def test_ordinary_text_stays_readable():
    for text in ("std::vector<int> and Foo::bar", "meet at 10:30:45", "ratio 3:4:5",
                 "MAC 00:1a:2b:3c:4d:5e", "Explain step by step: 17 * 23"):
        assert mask_pii(text) == text


def test_masked_before_truncation():
    """A value cut at the display boundary is masked whole, never shown in part."""
    for value in ("jane.doe@example.com", "203.0.113.77", "2001:db8::8a2e:370:7334",
                  "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  "4111 1111 1111 1111", "пример@пример.рф"):
        for cut in range(4, len(value)):
            text = "a" * (1999 - cut) + " " + value + " tail"  # value starts at 2000 - cut
            out = mask_pii(text, max_chars=2000)
            assert value[:cut] not in out, (value, cut, out[-60:])


def test_huge_text_is_masked_in_a_bounded_window():
    text = ("-----BEGIN RSA PRIVATE KEY-----" + "A" * 50_000 + "-----END RSA PRIVATE KEY----- "
            "then mail jane@example.com " + "z " * 3000)
    out = mask_pii(text, max_chars=100)
    assert "jane@example" not in out and "[secret]" in out and out.endswith("more characters]")


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(alphabet=st.characters(blacklist_characters="qzxjvwk@"), max_size=60),
       cut=st.integers(min_value=2, max_value=20))
def test_fuzz_email_at_any_boundary(prefix, cut):
    email = "qzxjv.wkq@example.org"
    text = prefix + " " + email + " end"
    out = mask_pii(text, max_chars=len(prefix) + 1 + cut)
    assert email[:cut] not in out
