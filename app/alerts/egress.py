"""Where the service sends requests of its own (webhook deliveries): a URL is checked, its
host resolved, every address it resolves to checked against the networks refused, and the
connection made to the address that was checked (no second lookup for DNS to answer
differently), with the host name kept for the `Host` header and TLS (SNI and certificate).

Refused always: cloud metadata endpoints (by name and by address), unspecified and
multicast addresses. Refused unless `WEBHOOK_ALLOW_PRIVATE_NETWORKS` (local development,
tests): every address that is not global unicast: loopback, private (RFC 1918, unique local),
link-local, shared (CGNAT, 100.64/10), reserved and documentation ranges. IPv6 forms of IPv4
addresses (IPv4-mapped, 6to4, NAT64, Teredo) are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (a test may resolve names of its own).
Resolve = Callable[[str, int], list[str]]

# Plain http is allowed to these hosts only: a receiver on the same machine (an alert names
# a patient by reference and must not cross a network in clear).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",
    )
)
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # CGNAT (RFC 6598)
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_HOST_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host`."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


class RefusedUrlError(Exception):
    """A URL the service will not send to: `reason` is `invalid_url` (its form) or
    `refused_address` (its host does not resolve, or resolves to an address refused)."""

    def __init__(self, reason: str, expected: str) -> None:
        super().__init__(expected)
        self.reason = reason
        self.expected = expected


@dataclass(frozen=True)
class Destination:
    """A URL as it is to be requested: to the address checked, naming the host it was for."""

    url: httpx.URL  # the host replaced by the address checked
    headers: dict[str, str]  # Host
    extensions: dict[str, Any]  # sni_hostname, for https to a name


@dataclass(frozen=True)
class EgressPolicy:
    allow_private_networks: bool = False
    resolve: Resolve = field(default=system_resolve)

    def destination(self, url: str) -> Destination:
        """Where a request to `url` goes, or `RefusedUrlError` saying why it may not."""
        parsed = parse_url(url)
        host = parsed.raw_host.decode("ascii").lower()
        name = host.rstrip(".")
        if name in METADATA_NAMES:
            raise RefusedUrlError("refused_address", ADDRESS_RULE)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            resolved = [ipaddress.ip_address(found) for found in self.resolve(host, port)]
        except (OSError, UnicodeError, ValueError):
            resolved = []
        if not resolved or any(self.refusal(address) for address in resolved):
            raise RefusedUrlError("refused_address", ADDRESS_RULE)
        address = str(resolved[0])
        headers = {"host": parsed.netloc.decode("ascii")}
        extensions: dict[str, Any] = {}
        if parsed.scheme == "https" and not _is_address(host):
            extensions["sni_hostname"] = host
        return Destination(parsed.copy_with(host=address), headers, extensions)

    def refusal(self, address: IPAddress) -> str | None:
        """Why a request may not go to `address`, or None if it may."""
        if isinstance(address, ipaddress.IPv6Address):
            for carried in _carried_ipv4(address):
                if (why := self.refusal(carried)) is not None:
                    return why
            if address.ipv4_mapped is not None or _is_nat64(address):
                return None  # nothing but the IPv4 address it carries
        if address in METADATA_ADDRESSES:
            return "a cloud metadata endpoint"
        if address.is_unspecified or address.is_multicast or address == BROADCAST:
            return "not a unicast address"
        if self.allow_private_networks:
            return None
        if (
            not address.is_global
            or address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
            or (isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE)
            or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        ):
            return "not a public address"
        return None


ADDRESS_RULE = "a host that resolves to public internet addresses only"


def parse_url(url: str) -> httpx.URL:
    """The URL if its form is one deliveries may use: absolute `https://` (plain `http://`
    only to a loopback host), no user name or password, no control characters or spaces, a
    port in range and a plain host name or IP address."""
    if any(unicodedata.category(character) == "Cc" or character.isspace() for character in url):
        raise RefusedUrlError("invalid_url", "a URL without control characters or spaces")
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError):
        raise RefusedUrlError("invalid_url", "an absolute https:// URL") from None
    if parsed.scheme not in ("https", "http") or not host:
        raise RefusedUrlError("invalid_url", "an absolute https:// URL")
    if parsed.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise RefusedUrlError(
            "invalid_url", "https:// (plain http:// only to 127.0.0.1, ::1 or localhost)"
        )
    if parsed.userinfo or "@" in urlsplit(url).netloc:
        raise RefusedUrlError("invalid_url", "a URL without user name or password")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise RefusedUrlError("invalid_url", "a port from 1 to 65535")
    if "%" in host or not (_is_address(host) or set(host) <= _HOST_NAME_CHARACTERS):
        raise RefusedUrlError("invalid_url", "a host name or an IP address")
    return parsed


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_nat64(address: ipaddress.IPv6Address) -> bool:
    return any(address in prefix for prefix in NAT64_PREFIXES)


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, 6to4, Teredo, NAT64)."""
    carried = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        carried.extend(address.teredo)
    if _is_nat64(address):
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [found for found in carried if found is not None]
