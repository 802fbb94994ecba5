"""Where webhook deliveries may go: URLs of a safe form, hosts that resolve to public
addresses only (whatever IPv6 form carries a private IPv4 address), cloud metadata never,
and the connection pinned to the address checked."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.alerts.egress import EgressPolicy, RefusedUrlError, parse_url, system_resolve

HOSTS = {
    "ehr.example.org": ["93.184.215.14"],
    "v6.example.org": ["2606:4700:4700::1111"],
    "internal.example.org": ["10.20.30.40"],
    "mixed.example.org": ["93.184.215.14", "192.168.1.20"],
    "rebound.example.org": ["127.0.0.1"],
}


def resolve(host: str, port: int) -> list[str]:
    """`HOSTS`, else the system resolver (IP addresses in any form, localhost)."""
    return HOSTS[host] if host in HOSTS else system_resolve(host, port)


PRODUCTION = EgressPolicy(allow_private_networks=False, resolve=resolve)
DEVELOPMENT = EgressPolicy(allow_private_networks=True, resolve=PRODUCTION.resolve)

NOT_PUBLIC = [
    "127.0.0.1", "127.255.0.9", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.1.1",
    "100.64.0.1", "100.127.255.254", "192.0.2.1", "198.18.0.1", "240.0.0.1",
    "::1", "fd00::1", "fc12::5", "fe80::1", "fec0::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.5", "::ffff:100.64.0.1",  # IPv4-mapped
    "2002:7f00:1::", "2002:a00:5::",  # 6to4 of 127.0.0.1, 10.0.0.5
    "64:ff9b::7f00:1", "64:ff9b::a00:5", "64:ff9b:1::c0a8:101",  # NAT64 of private ones
]  # fmt: skip
NEVER = [
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254",  # metadata
    "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",  # metadata, in IPv6 forms
    "0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "ff02::1", "255.255.255.255",
]  # fmt: skip
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
          "64:ff9b::808:808", "2002:808:808::"]  # fmt: skip


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_an_address_that_is_not_public_is_refused_unless_private_networks_are_allowed(
    address: str,
) -> None:
    assert PRODUCTION.refusal(ipaddress.ip_address(address)) == "not a public address"
    assert DEVELOPMENT.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", NEVER)
def test_metadata_unspecified_multicast_and_broadcast_addresses_are_refused_always(
    address: str,
) -> None:
    assert PRODUCTION.refusal(ipaddress.ip_address(address)) is not None
    assert DEVELOPMENT.refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_address_is_allowed(address: str) -> None:
    assert PRODUCTION.refusal(ipaddress.ip_address(address)) is None


@given(st.ip_addresses(v=4))
def test_an_ipv6_form_of_an_ipv4_address_is_judged_as_that_address(
    address: ipaddress.IPv4Address,
) -> None:
    expected = PRODUCTION.refusal(address) is None
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))
    assert (PRODUCTION.refusal(mapped) is None) == expected
    assert (PRODUCTION.refusal(nat64) is None) == expected
    if not expected:  # a 6to4 address is no more reachable than the IPv4 one it carries
        assert PRODUCTION.refusal(sixtofour) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://internal.example.org/alerts",  # resolves to a private address
        "https://mixed.example.org/alerts",  # one of its addresses is private
        "https://unknown.invalid/alerts",  # does not resolve (RFC 6761)
        "https://10.0.0.5/alerts",
        "https://2130706433/alerts",  # 127.0.0.1 as one number
        "https://[::ffff:7f00:1]/alerts",
        "http://localhost:8080/alerts",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://METADATA.google.internal./computeMetadata/v1/",
    ],
)
def test_a_host_that_does_not_resolve_to_public_addresses_only_is_refused(url: str) -> None:
    with pytest.raises(RefusedUrlError) as refused:
        PRODUCTION.destination(url)
    assert refused.value.reason == "refused_address"


def test_metadata_names_stay_refused_when_private_networks_are_allowed() -> None:
    with pytest.raises(RefusedUrlError):
        DEVELOPMENT.destination("https://metadata.google.internal/computeMetadata/v1/")
    assert DEVELOPMENT.destination("https://internal.example.org/a").url.host == "10.20.30.40"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ehr.example.org/a\r\nX-Injected: 1", "control characters"),
        ("https://ehr.example.org/a\nb", "control characters"),
        ("https://ehr.example.org/\x00", "control characters"),
        ("https://ehr.example.org/\x7f", "control characters"),
        ("https://ehr.example.org/\x85", "control characters"),
        ("https://ehr.example.org/a b", "spaces"),
        ("https://user:password@ehr.example.org/alerts", "user name"),
        ("https://@ehr.example.org/alerts", "user name"),
        ("https://ehr.example.org\\@internal.example.org/", "user name"),
        ("http://ehr.example.org/alerts", "plain http"),
        ("http://127.0.0.2/alerts", "plain http"),
        ("ftp://ehr.example.org/alerts", "https://"),
        ("ehr.example.org/alerts", "https://"),
        ("https://", "https://"),
        ("mailto:a@b", "https://"),
        ("https://ehr.example.org:port/alerts", "https://"),
        ("https://ehr.example.org:70000/alerts", "port"),
        ("https://ehr%2eexample.org/alerts", "host name"),
        ("https://[fe80::1%25eth0]/alerts", "host name"),
    ],
)
def test_a_url_of_a_form_deliveries_may_not_use_is_refused_saying_why(
    url: str, expected: str
) -> None:
    with pytest.raises(RefusedUrlError) as refused:
        parse_url(url)
    assert refused.value.reason == "invalid_url"
    assert expected in refused.value.expected


def test_a_delivery_goes_to_the_address_checked_naming_the_host() -> None:
    destination = PRODUCTION.destination("https://EHR.example.org:8443/bordin/alerts?x=1")
    assert str(destination.url) == "https://93.184.215.14:8443/bordin/alerts?x=1"
    assert destination.headers == {"host": "ehr.example.org:8443"}
    assert destination.extensions == {"sni_hostname": "ehr.example.org"}
    v6 = PRODUCTION.destination("https://v6.example.org/alerts")
    assert str(v6.url) == "https://[2606:4700:4700::1111]/alerts"
    assert v6.headers == {"host": "v6.example.org"}
    literal = PRODUCTION.destination("https://93.184.215.14/alerts")
    assert literal.extensions == {}  # no SNI for an IP address (RFC 6066)
    loopback = DEVELOPMENT.destination("http://localhost:9/alerts")
    assert (str(loopback.url), loopback.headers) == (
        "http://127.0.0.1:9/alerts",
        {"host": "localhost:9"},
    )
