"""IP, User-Agent, timezone and timing pools for the foreign traffic generator.

Time is in UTC seconds since the epoch (floats). Diurnal profiles are weights per *local* hour
(24 numbers); a timezone is a UTC offset in hours.
"""

from __future__ import annotations

import math
import random

# ---------------------------------------------------------------------------------------------
# IP address pools (own choice of ranges; datacenter-like and residential-like blocks)

DATACENTER_V4 = ["3.{a}.{b}.{c}", "18.{a}.{b}.{c}", "34.{a}.{b}.{c}", "35.{a}.{b}.{c}", "52.{a}.{b}.{c}",
                 "54.{a}.{b}.{c}", "13.{a}.{b}.{c}", "20.{a}.{b}.{c}", "40.{a}.{b}.{c}",
                 "104.{a}.{b}.{c}", "138.197.{b}.{c}", "159.89.{b}.{c}", "167.99.{b}.{c}",
                 "95.216.{b}.{c}", "65.108.{b}.{c}", "5.161.{b}.{c}", "51.15.{b}.{c}", "45.76.{b}.{c}",
                 "149.28.{b}.{c}", "47.{a}.{b}.{c}", "43.{a}.{b}.{c}", "129.146.{b}.{c}"]
RESIDENTIAL_V4 = ["24.{a}.{b}.{c}", "73.{a}.{b}.{c}", "98.{a}.{b}.{c}", "71.{a}.{b}.{c}", "86.{a}.{b}.{c}",
                  "81.{a}.{b}.{c}", "92.{a}.{b}.{c}", "90.{a}.{b}.{c}", "2.{a}.{b}.{c}", "79.{a}.{b}.{c}",
                  "101.{a}.{b}.{c}", "118.{a}.{b}.{c}", "122.{a}.{b}.{c}", "177.{a}.{b}.{c}",
                  "187.{a}.{b}.{c}", "189.{a}.{b}.{c}", "41.{a}.{b}.{c}", "197.{a}.{b}.{c}",
                  "100.{a}.{b}.{c}", "172.{a}.{b}.{c}", "174.{a}.{b}.{c}", "109.{a}.{b}.{c}"]
RESIDENTIAL_V6 = ["2a02:{h}:{h}:{h}::{l}", "2600:{h}:{h}:{h}:{h}::{l}", "2001:{h}:{h}:{h}::{l}",
                  "2409:{h}:{h}:{h}::{l}", "2804:{h}:{h}:{h}::{l}"]


def _ip(rng: random.Random, pattern: str) -> str:
    return pattern.format(a=rng.randint(1, 254), b=rng.randint(0, 255), c=rng.randint(1, 254))


def datacenter_ip(rng: random.Random) -> str:
    """One address in a cloud/hosting-like block."""
    return _ip(rng, rng.choice(DATACENTER_V4))


def residential_ip(rng: random.Random, v6_share: float = 0.15) -> str:
    """One address in a consumer ISP-like block (some IPv6)."""
    if rng.random() < v6_share:
        p = rng.choice(RESIDENTIAL_V6)
        while "{h}" in p:
            p = p.replace("{h}", f"{rng.randint(0, 0xffff):x}", 1)
        return p.replace("{l}", f"{rng.randint(1, 0xffff):x}")
    return _ip(rng, rng.choice(RESIDENTIAL_V4))


def subnet24(rng: random.Random, datacenter: bool = True) -> str:
    """A /24 prefix like '52.14.201' (datacenter or residential block)."""
    ip = datacenter_ip(rng) if datacenter else _ip(rng, rng.choice(RESIDENTIAL_V4))
    return ip.rsplit(".", 1)[0]


# ---------------------------------------------------------------------------------------------
# User agents (own pools, realistic formats)

def _v(rng: random.Random, major: tuple[int, int], minor: int = 99, patch: int = 20) -> str:
    return f"{rng.randint(*major)}.{rng.randint(0, minor)}.{rng.randint(0, patch)}"


def ua_browser(rng: random.Random) -> str:
    """A desktop or mobile browser UA (a web chat front-end calling the API from the browser)."""
    return rng.choice([
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{rng.randint(124, 131)}.0.0.0 Safari/537.36",
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{rng.randint(16, 18)}.{rng.randint(0, 6)} Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0".format(v=rng.randint(120, 133)),
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_{rng.randint(0, 2)} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        f"Mozilla/5.0 (Linux; Android {rng.randint(12, 15)}; Pixel {rng.randint(6, 9)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{rng.randint(124, 131)}.0.0.0 Mobile Safari/537.36",
    ])


def ua_chat_app(rng: random.Random) -> str:
    """A third-party chat app / desktop client UA."""
    return rng.choice([
        f"ChatBox/{_v(rng, (1, 1), 12, 5)} (Windows)", f"MindMac/{_v(rng, (1, 2), 9, 9)}",
        f"TypingMind/{_v(rng, (2, 3), 20, 9)}", f"LibreChat/{_v(rng, (0, 0), 8, 9)}",
        f"Pal/{_v(rng, (4, 4), 3, 9)} (iOS)", f"Msty/{_v(rng, (1, 1), 5, 9)} (macOS)",
    ])


def ua_sdk(rng: random.Random, kind: str | None = None) -> str:
    """A programmatic client UA: official SDKs, HTTP libraries, frameworks."""
    kind = kind or rng.choice(["openai-python", "openai-node", "requests", "httpx", "aiohttp", "curl",
                               "go", "langchain", "litellm", "java"])
    return {
        "openai-python": f"OpenAI/Python 1.{rng.randint(40, 58)}.{rng.randint(0, 4)}",
        "openai-node": f"OpenAI/JS 4.{rng.randint(60, 78)}.{rng.randint(0, 3)}",
        "requests": f"python-requests/2.{rng.randint(28, 32)}.{rng.randint(0, 3)}",
        "httpx": f"python-httpx/0.{rng.randint(25, 28)}.{rng.randint(0, 2)}",
        "aiohttp": f"Python/3.{rng.randint(10, 12)} aiohttp/3.{rng.randint(8, 11)}.{rng.randint(0, 9)}",
        "curl": f"curl/8.{rng.randint(1, 11)}.{rng.randint(0, 1)}",
        "go": "Go-http-client/2.0",
        "langchain": f"langchain-openai/0.{rng.randint(1, 3)}.{rng.randint(0, 9)} OpenAI/Python 1.{rng.randint(40, 58)}.0",
        "litellm": f"litellm/1.{rng.randint(40, 60)}.{rng.randint(0, 9)}",
        "java": f"Java-http-client/{rng.randint(17, 23)}",
        "postman": f"PostmanRuntime/7.{rng.randint(36, 43)}.{rng.randint(0, 3)}",
    }[kind]


def ua_agent(rng: random.Random) -> str:
    """A coding-agent / IDE extension UA."""
    return rng.choice([f"Cline/{_v(rng, (3, 3), 9, 9)}", f"aider/0.{rng.randint(60, 80)}.{rng.randint(0, 3)}",
                       f"Continue/{_v(rng, (0, 1), 9, 9)} (vscode)", f"AgentIDE/0.{rng.randint(30, 50)}.1 (darwin; arm64)",
                       f"OpenAI/Python 1.{rng.randint(40, 58)}.0 (agent-loop)"])


# ---------------------------------------------------------------------------------------------
# Timezones and diurnal profiles

REGION_TZ = {  # region: (utc offset hours, weight)
    "us_west": (-8, 0.12), "us_east": (-5, 0.18), "brazil": (-3, 0.06), "uk": (0, 0.08),
    "central_eu": (1, 0.17), "east_eu": (2, 0.05), "india": (5.5, 0.10), "china": (8, 0.07),
    "japan_korea": (9, 0.07), "australia": (11, 0.04), "gulf": (4, 0.03), "mexico": (-6, 0.03),
}


def pick_tz(rng: random.Random) -> float:
    """A UTC offset in hours drawn from the region mix."""
    regions = list(REGION_TZ)
    r = rng.choices(regions, weights=[REGION_TZ[k][1] for k in regions])[0]
    return REGION_TZ[r][0]


def _gauss_mix(peaks: list[tuple[float, float, float]], floor: float) -> list[float]:
    """24 hourly weights from a sum of circular gaussian bumps (hour, width, height) + floor."""
    out = []
    for h in range(24):
        v = floor
        for mu, sd, height in peaks:
            d = min(abs(h + 0.5 - mu), 24 - abs(h + 0.5 - mu))
            v += height * math.exp(-0.5 * (d / sd) ** 2)
        out.append(v)
    return out


PROFILES = {
    "consumer": _gauss_mix([(12.5, 2.0, 0.6), (20.5, 2.2, 1.0), (9.0, 1.5, 0.4)], 0.03),
    "office": _gauss_mix([(10.5, 1.6, 1.0), (15.0, 1.8, 1.0)], 0.01),
    "student": _gauss_mix([(14.0, 3.0, 0.8), (22.5, 2.0, 1.0)], 0.06),
    "business_24h": _gauss_mix([(13.0, 4.0, 1.0)], 0.25),
    "night_batch": _gauss_mix([(2.5, 0.7, 1.0)], 0.0),
    "flat": [1.0] * 24,
}


def local_hour_start(rng: random.Random, profile: str) -> float:
    """A local time of day in hours [0, 24) drawn from a diurnal profile."""
    w = PROFILES[profile]
    h = rng.choices(range(24), weights=w)[0]
    return h + rng.random()


def day_time(rng: random.Random, day0: float, tz: float, profile: str) -> float:
    """A UTC epoch second on local calendar day starting at UTC ``day0`` (shifted by tz)."""
    return day0 - tz * 3600 + local_hour_start(rng, profile) * 3600


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson sample (Knuth for small lam, normal approximation for large)."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def lognormal_around(rng: random.Random, median: float, sigma: float) -> float:
    """A lognormal draw with the given median."""
    return median * math.exp(rng.gauss(0.0, sigma))
