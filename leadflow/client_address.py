"""The address a request really came from, seen through the proxies the operator trusts.

``X-Forwarded-For`` is a claim anyone can send; it is believed only when the connection comes
from a proxy listed in ``LEADFLOW_TRUSTED_PROXIES`` (CIDRs or addresses, comma-separated), and
then only as far as the chain stays within trusted proxies: the first hop from the right that
is not a trusted proxy is the client. Without trusted proxies the peer address is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["client_address", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """CIDRs or single addresses, separated by commas or spaces.

    Raises:
        ValueError: an entry is not an address or network.
    """
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in spec.replace(",", " ").split() if item.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   trusted_proxies: str) -> str | None:
    """The client's address for a connection from ``peer``.

    Args:
        peer: the address the connection came from.
        forwarded_for: every ``X-Forwarded-For`` header value, in order.
        trusted_proxies: the ``LEADFLOW_TRUSTED_PROXIES`` setting.
    """
    networks = parse_networks(trusted_proxies or "")
    current = _ip(peer) if peer else None
    if current is None or not networks or not _trusted(current, networks):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            break  # garbage in the chain: stop at the last hop we could vouch for
        current = address
        if not _trusted(address, networks):
            break
    return str(current)
