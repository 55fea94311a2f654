"""Identities and infrastructure: ids, IP addresses, user agents, payment fingerprints,
timestamp formatting.

Ids are random-looking hex drawn from the simulation's random streams, so nothing in an id
tells the archetype. Address ranges are ordinary public prefixes of cloud providers and
consumer ISPs (illustrative; the detector must not depend on these exact lists).
"""

from __future__ import annotations

import random

import numpy as np

#: /16 prefixes typical of cloud / hosting providers (server-side callers, scripts).
CLOUD_PREFIXES = ("3.90", "3.120", "18.204", "34.82", "34.105", "35.188", "35.203", "44.201",
                  "52.14", "52.87", "54.172", "54.210", "13.58", "20.84", "40.112", "51.158",
                  "65.108", "95.216", "138.68", "159.89", "167.99", "104.248", "128.199")
#: /16 prefixes typical of residential broadband and mobile carriers.
RESIDENTIAL_PREFIXES = ("73.15", "73.162", "24.5", "98.210", "71.190", "86.150", "79.226",
                        "87.123", "90.14", "82.64", "2.84", "109.40", "122.162", "49.36",
                        "177.38", "186.22", "41.90", "105.112", "112.134", "27.57", "151.38",
                        "88.160", "93.184", "176.12")
RESIDENTIAL_V6 = ("2a02:8109", "2601:646", "2804:14c", "2409:4071", "2a01:cb00")
CLOUD_V6 = ("2600:1f18", "2a05:d014", "2001:19f0")

SDK_UAS = ("OpenAI/Python 1.54.4", "OpenAI/Python 1.57.0", "OpenAI/Python 1.35.13",
           "OpenAI/JS 4.73.0", "OpenAI/JS 4.67.3", "python-httpx/0.27.2", "python-httpx/0.28.1",
           "python-requests/2.32.3", "python-requests/2.31.0", "axios/1.7.9", "node-fetch/3.3.2",
           "Go-http-client/2.0", "curl/8.5.0", "okhttp/4.12.0", "langchain-openai/0.2.10",
           "litellm/1.52.0", "Java-http-client/21.0.2", "Ruby", "Guzzle/7.9 curl/8.4 PHP/8.3.6")
APP_UAS = ("Chatbox/1.9.1 (Macintosh)", "TypingMind/2.3", "LibreChat/0.7.5",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
           "Raycast/1.86.1", "Obsidian/1.7.7", "BoltAI/1.28", "MindMac/1.9")
#: Script-style user agents with version drift (what hydra members rotate through).
SCRIPT_UAS = ("python-requests/2.32.3", "python-requests/2.31.0", "python-requests/2.28.2",
              "python-httpx/0.27.0", "python-httpx/0.28.1", "aiohttp/3.10.10", "aiohttp/3.9.5",
              "OpenAI/Python 1.54.4", "OpenAI/Python 1.51.2", "Go-http-client/1.1")


def hex_id(r: random.Random, prefix: str, nbits: int = 32) -> str:
    """A random-looking identifier such as ``acct_3f9a2c1b``."""
    return f"{prefix}_{r.getrandbits(nbits):0{nbits // 4}x}"


def ipv4(r: random.Random, prefixes: tuple[str, ...], prefix16: str | None = None,
         prefix24: str | None = None) -> str:
    """A random IPv4 address in one of ``prefixes`` (/16), or in a given /16 or /24."""
    if prefix24 is not None:
        return f"{prefix24}.{r.randint(2, 254)}"
    p = prefix16 or r.choice(prefixes)
    return f"{p}.{r.randint(0, 255)}.{r.randint(2, 254)}"


def ipv6(r: random.Random, prefixes: tuple[str, ...]) -> str:
    """A random IPv6 address under one of ``prefixes`` (/32)."""
    groups = ":".join(f"{r.getrandbits(16):x}" for _ in range(6))
    return f"{r.choice(prefixes)}:{groups}"


def residential_ip(r: random.Random) -> str:
    return ipv6(r, RESIDENTIAL_V6) if r.random() < 0.15 else ipv4(r, RESIDENTIAL_PREFIXES)


def cloud_ip(r: random.Random) -> str:
    return ipv6(r, CLOUD_V6) if r.random() < 0.05 else ipv4(r, CLOUD_PREFIXES)


def cloud_subnet(r: random.Random) -> str:
    """A cloud /24 (three octets) from which a fleet of workers calls."""
    return f"{r.choice(CLOUD_PREFIXES)}.{r.randint(0, 255)}"


def payment_fingerprint(r: random.Random) -> str:
    return hex_id(r, "pm", 48)


def format_timestamps(ts: np.ndarray, styles: np.ndarray, offset_min: int) -> list[object]:
    """Render epoch seconds per style: 0 RFC 3339 UTC 'Z', 1 RFC 3339 with the account's local
    offset (``offset_min`` minutes east of UTC), 2 epoch milliseconds (int)."""
    ms = np.round(ts * 1000.0).astype("int64")
    out: list[object] = [None] * len(ms)
    utc_idx = np.flatnonzero(styles == 0)
    if len(utc_idx):
        text = np.datetime_as_string(ms[utc_idx].astype("datetime64[ms]"), unit="ms")
        for i, s in zip(utc_idx.tolist(), text.tolist(), strict=True):
            out[i] = s + "Z"
    off_idx = np.flatnonzero(styles == 1)
    if len(off_idx):
        local = (ms[off_idx] + offset_min * 60_000).astype("datetime64[ms]")
        text = np.datetime_as_string(local, unit="ms")
        sign = "+" if offset_min >= 0 else "-"
        suffix = f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
        for i, s in zip(off_idx.tolist(), text.tolist(), strict=True):
            out[i] = s + suffix
    for i in np.flatnonzero(styles == 2).tolist():
        out[i] = int(ms[i])
    return out


def rfc3339(epoch_s: float) -> str:
    """One RFC 3339 UTC timestamp with second precision (account creation times)."""
    return str(np.datetime64(int(epoch_s), "s")) + "Z"
