"""Outbound hooks (webhook and Slack URLs that users configure) never reach internal addresses.

A URL may use ``https``; plain ``http`` only for a host listed in
``LEADFLOW_ALLOWED_HOOK_HOSTS`` (comma-separated host names or addresses; such a host is
trusted entirely, which is how tests and intranet receivers are allowed). Any other host must
resolve only to public addresses: loopback, private, link-local (cloud metadata at
169.254.169.254), shared, multicast, reserved and unspecified addresses are refused, also when
written as IPv4-mapped IPv6.

Checked twice: :func:`url_problem` when a flow or a rep is saved (without DNS, so validation
stays fast and works offline), and :func:`guarded_client` at send time, whose transport resolves
the host, checks every address and connects to the checked address itself, so a DNS answer
that changes between check and connect (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from leadflow.config import Settings, get_settings
from leadflow.errors import ProviderRefused

__all__ = ["UnsafeURL", "check_address", "guarded_client", "url_problem"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


class UnsafeURL(ProviderRefused):
    """A hook URL that may not be called (scheme, or an internal address): retrying cannot help."""


def _allowed_hosts(settings: Settings) -> set[str]:
    return {h.strip().lower().strip("[]") for h in
            (settings.allowed_hook_hosts or "").replace(",", " ").split() if h.strip()}


def _literal(host: str) -> Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_address(address: Address) -> str | None:
    """Why a hook may not connect to ``address`` (``None``: it may)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return check_address(embedded)
        if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 wraps an IPv4 address
            return check_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def _target(url: str, settings: Settings) -> tuple[str, int, bool]:
    """``(host, port, trusted)`` of a hook URL.

    Raises:
        UnsafeURL: not an http(s) URL with a host, or http to a host not allowed.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"{url[:200]!r} is not a valid URL.") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise UnsafeURL("A hook URL starts with https:// and names a host.")
    trusted = host in _allowed_hosts(settings)
    if scheme == "http" and not trusted:
        raise UnsafeURL(f"A hook URL must use https (http only for hosts in "
                        f"LEADFLOW_ALLOWED_HOOK_HOSTS; {host} is not).")
    return host, port or (443 if scheme == "https" else 80), trusted


def url_problem(url: Any, settings: Settings | None = None) -> str | None:
    """Why ``url`` cannot be a webhook or Slack URL, checked without DNS (``None``: fine).

    Refuses other schemes, http to hosts not allowed, and hosts that are internal addresses or
    names (``localhost``, ``*.internal``, ...); names are resolved and checked again at send.
    """
    settings = settings or get_settings()
    if not isinstance(url, str) or not url:
        return "Give the hook's https:// URL."
    try:
        host, _port, trusted = _target(url, settings)
    except UnsafeURL as exc:
        return exc.detail
    if trusted:
        return None
    address = _literal(host)
    if address is not None:
        why = check_address(address)
        return f"Hooks may not call internal addresses: {why}." if why else None
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        return f"Hooks may not call internal hosts such as {host}."
    return None


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    out: list[Address] = []
    for info in infos:
        address = _literal(str(info[4][0]).split("%", 1)[0])
        if address is not None and address not in out:
            out.append(address)
    return out


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks every address, then connects to a checked address (no second lookup)."""

    def __init__(self, trusted_hosts: Iterable[str]) -> None:
        self._trusted = set(trusted_hosts)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        if host.lower().strip("[]") in self._trusted:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = _resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            why = check_address(address)
            if why:
                raise UnsafeURL(f"Hooks may not call internal addresses: {host} -> {why}.")
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address,
                                           socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last


def guarded_client(url: str, *, timeout: httpx.Timeout | float = 10.0,
                   settings: Settings | None = None) -> httpx.Client:
    """An httpx client for calling the hook ``url``, which must pass the checks above.

    The client ignores proxy variables and follows no redirects, and its connections go only
    to checked addresses (TLS still verifies the URL's host name).

    Raises:
        UnsafeURL: the URL's scheme or host is refused.
    """
    settings = settings or get_settings()
    _target(url, settings)
    transport = httpx.HTTPTransport(retries=0)
    # httpx takes no network backend of its own; its connection pool does.
    transport._pool._network_backend = _GuardedBackend(_allowed_hosts(settings))
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False,
                        follow_redirects=False)
