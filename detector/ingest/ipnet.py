"""Network prefix of a caller address: IPv4 /24, IPv6 /48 (IPv4-mapped IPv6 counts as IPv4)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


def _octet(p: str) -> bool:
    return p.isdigit() and len(p) <= 3 and (p == "0" or p[0] != "0") and int(p) < 256


def ip_prefix(text: str) -> str | None:
    """``203.0.113.7`` -> ``203.0.113.0/24``; ``2001:db8:1:2::1`` -> ``2001:db8:1::/48``.

    A port suffix (``1.2.3.4:443``, ``[2001:db8::1]:443``) and an IPv6 zone are ignored;
    anything that is not an IP address gives None. Plain dotted IPv4 takes a fast path.
    """
    parts = text.split(".")
    if len(parts) == 4 and all(_octet(p) for p in parts):
        return f"{parts[0]}.{parts[1]}.{parts[2]}.0/24"
    return _general_prefix(text)


@lru_cache(maxsize=1 << 16)
def _general_prefix(text: str) -> str | None:
    s = text.strip()
    if s.startswith("[") and "]" in s:
        s = s[1:s.index("]")]
    elif s.count(":") == 1 and "." in s:
        s = s.split(":", 1)[0]
    s = s.split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))
