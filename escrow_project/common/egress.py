"""Outbound HTTP to partners' hosts without reaching our own network (SSRF).

A partner's URL names a host; a name can resolve to anything, and can resolve to something else a
second later (DNS rebinding). So at send time we resolve the name ONCE, refuse unless every address
is public, and connect the socket to the address we checked: the TLS handshake (SNI, certificate
name) and the Host header still use the name. After the connect we check the peer address again,
so nothing else in the stack (a proxy from the environment, a patched resolver) can route around
the check. See docs/decisions/0303-notifications-webhook-hardening.md. Used by every call to a host a
partner names: notifications' webhooks and the insurers' REST, SOAP and SFTP gateways.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """The host resolves to an address we must not connect to (loopback, private, metadata...)."""


class EgressUnresolvable(Exception):
    """The host name does not resolve (now); worth retrying later."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_public(address: str | IPAddress) -> bool:
    """Globally routable unicast, and so is any IPv4 address embedded in it."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    except ValueError:
        return False
    if not parsed.is_global or parsed.is_multicast:
        return False
    embedded = _embedded_ipv4(parsed)
    return embedded is None or address_is_public(embedded)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a literal IP, in any form inet_aton accepts, resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressUnresolvable(f"{host!r} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_address(host: str, port: int, *, allow_private: bool) -> str:
    """The one address to connect to: refuse if ANY address of the name is not public."""
    addresses = resolve(host, port)
    if not addresses:
        raise EgressUnresolvable(f"{host!r} has no address")
    if not allow_private:
        internal = [a for a in addresses if not address_is_public(a)]
        if internal:
            raise EgressRefused(f"{host!r} resolves to non-public {', '.join(internal)}")
    return addresses[0]


class _PinnedConnectionMixin:
    """Connect to the checked address, not to whatever the name resolves to by now."""

    pinned_address: str
    allow_private: bool
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            sock = urllib3_connection.create_connection(
                (self.pinned_address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connect to {self.pinned_address} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(
                cast(HTTPConnection, self), f"Failed to establish a new connection: {exc}"
            ) from exc
        peer = str(sock.getpeername()[0])
        if not self.allow_private and not address_is_public(peer):
            sock.close()
            raise NewConnectionError(cast(HTTPConnection, self), f"connected to non-public {peer}; refused")
        return sock


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, *, pinned_address: str, allow_private: bool) -> None:
        # init_poolmanager runs inside HTTPAdapter.__init__, so these must exist first.
        self._pinned_address = pinned_address
        self._allow_private = allow_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        attrs = {"pinned_address": self._pinned_address, "allow_private": self._allow_private}
        plain = type("PinnedHTTPConnection", (_PinnedConnectionMixin, HTTPConnection), attrs)
        tls = type("PinnedHTTPSConnection", (_PinnedConnectionMixin, HTTPSConnection), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
        }


def pinned_session(*, pinned_address: str, allow_private: bool) -> requests.Session:
    """A session whose every connection goes to `pinned_address` (and only if it is allowed)."""
    session = requests.Session()
    # No proxies from the environment: a proxy would make the connection on our behalf, unchecked.
    session.trust_env = False
    adapter = _PinnedAdapter(pinned_address=pinned_address, allow_private=allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
