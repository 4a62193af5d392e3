"""Fast, cached IP parsing shared by the offline and the single-record feature paths."""

import ipaddress
from functools import lru_cache

_MASK32 = 0xFFFFFFFF


@lru_cache(maxsize=131_072)
def parse_ip(text: str) -> tuple[int, int]:
    """Return (version, integer value) of an IPv4/IPv6 address; ValueError if invalid."""
    addr = ipaddress.ip_address(text.strip())
    return addr.version, int(addr)


def ip_feature(text: str) -> tuple[float, float]:
    """Return (integer encoding, is_ipv6) where IPv6 is folded into 32 bits stably."""
    version, value = parse_ip(text)
    if version == 4:
        return float(value), 0.0
    folded = 0
    while value:  # xor of the four 32-bit words: stable across processes, unlike hash()
        folded ^= value & _MASK32
        value >>= 32
    return float(folded), 1.0


def subnet_key(text: str, prefix_v4: int, prefix_v6: int) -> tuple[int, int]:
    """Return a hashable (version, network number) key for the address's subnet."""
    version, value = parse_ip(text)
    if version == 4:
        return 4, value >> (32 - prefix_v4)
    return 6, value >> (128 - prefix_v6)


def is_valid_ip(text: object) -> bool:
    """True when text parses as an IPv4 or IPv6 address."""
    if not isinstance(text, str):
        return False
    try:
        parse_ip(text)
    except ValueError:
        return False
    return True
