"""Where webhooks may post: the allow list (setting ``webhooks_allow``).

An entry is a host name pattern (``hooks.example.com``, ``*.example.com``, ``*``) or a
network (``203.0.113.0/24``, ``127.0.0.1/32``). A destination is allowed when its host matches
a pattern or every address it resolves to lies in a listed network; an address that is not
public (private, loopback, link-local, reserved) must always lie in a listed network, since a
name pattern alone would let a webhook reach the service's own neighbours. Checked when a
webhook is added and again before delivering, so a name that comes to resolve elsewhere is
caught (though not one that changes between the check and the connection).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket

import anyio
import httpx

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationError(ValueError):
    """The destination is malformed or not allowed; the message says which and why."""


class AllowList:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self.patterns: list[str] = []
        self.networks: list[IPNetwork] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.patterns.append(entry.lower())

    def host_named(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host.lower(), p) for p in self.patterns)

    def in_network(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    async def check(self, url: str) -> None:
        """Raise ``DestinationError`` unless a webhook may post to ``url``."""
        host = parse(url).host
        named = self.host_named(host)
        for address in await _addresses(host):
            if self.in_network(address):
                continue
            if not address.is_global:
                raise DestinationError(
                    f"{host!r} resolves to {address}, a private or loopback address that "
                    "no network in the allow list (webhooks_allow) covers"
                )
            if not named:
                raise DestinationError(f"{host!r} is not in the allow list (webhooks_allow)")


def parse(url: str) -> httpx.URL:
    """The URL, if it is one a webhook can post to (http or https, a host, no credentials)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise DestinationError(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise DestinationError(f"the scheme must be http or https, not {parsed.scheme!r}")
    if not parsed.host:
        raise DestinationError("the URL names no host")
    if parsed.userinfo:
        raise DestinationError("the URL carries credentials; receivers verify the signature")
    return parsed


async def _addresses(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DestinationError(f"{host!r} cannot be resolved: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
