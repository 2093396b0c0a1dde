"""Where a webhook may be sent: public addresses only, checked on the address connected to.

`check_url` reads the URL at registration; `resolve` runs before every delivery: it
resolves the host once, refuses the target if any address it resolves to is not public
(loopback, private, link-local with 169.254.169.254, multicast, unspecified, reserved,
shared, documentation; IPv4 and IPv6, IPv4-mapped, NAT64, 6to4 and Teredo forms read
as the IPv4 address they carry), and returns the address the delivery then connects to.
A name that resolves to a public address at registration and a private one later
(DNS rebinding) is refused on that delivery.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import BadInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MAX_URL_LENGTH = 2048


class RefusedTarget(BadInput):
    """A URL or address webhooks may not reach; the message says why."""

    code = "WEBHOOK_TARGET_REFUSED"


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the Host header and the TLS server name)
    port: int
    path: str  # path and query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str, *, require_https: bool) -> Target:
    """The URL's parts, or RefusedTarget when it is not one webhooks may use."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedTarget(f"`url` is longer than {MAX_URL_LENGTH} characters.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedTarget("`url` is not a URL.", field="url") from None
    allowed = ("https",) if require_https else ("https", "http")
    if parts.scheme not in allowed:
        raise RefusedTarget(f"`url` must start with {' or '.join(allowed)}://.", field="url")
    if not parts.hostname:
        raise RefusedTarget("`url` has no host.", field="url")
    if parts.username or parts.password:
        raise RefusedTarget("`url` may not carry a user name or password.", field="url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = (
            address.ipv4_mapped
            or (address.teredo[1] if address.teredo else None)
            or address.sixtofour
            or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        )
        if carried is not None:
            reason = refusal(carried)
            return f"{reason} (carried in {address})" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{address} is {name}"
    return None


async def resolve(target: Target, *, allow_private: bool) -> str:
    """The one address to connect to for `target`, after checking every address its
    host resolves to; RefusedTarget when any of them is not public."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise RefusedTarget(f"{target.host} does not resolve ({exc}).", field="url") from None
        found = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not found:
            raise RefusedTarget(f"{target.host} does not resolve.", field="url")
    if not allow_private:
        for address in found:
            reason = refusal(address)
            if reason is not None:
                raise RefusedTarget(
                    f"{target.host} resolves to an address webhooks may not reach: {reason}.",
                    field="url",
                )
    return str(found[0])
