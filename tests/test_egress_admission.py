"""Egress admission of a resolver's answer: :func:`aauth.discovery.admit_addresses`, the one
decision every binding runs between resolving a fetch's host and connecting (digest §3.6;
signature-key-08 egress admission). Pure: lists of strings in, a tuple or an EgressError out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.discovery import (
    EgressError,
    EgressPolicy,
    admit_addresses,
    check_resolved_address,
)

DEV = EgressPolicy(allow_insecure_loopback_for_development=True)
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def refusal(resolved: list[Any], policy: EgressPolicy | None = None) -> str:
    """The message of the EgressError ``admit_addresses`` raises (it must raise one)."""
    with pytest.raises(EgressError) as info:
        admit_addresses(resolved, policy)
    assert info.value.code == "invalid_key"
    return info.value.message


def test_public_addresses_are_admitted_in_resolver_order() -> None:
    assert admit_addresses([PUBLIC_V6, PUBLIC_V4]) == (PUBLIC_V6, PUBLIC_V4)
    assert admit_addresses([PUBLIC_V4, PUBLIC_V6]) == (PUBLIC_V4, PUBLIC_V6)


def test_duplicates_are_dropped_keeping_the_first_place() -> None:
    resolved = [PUBLIC_V4, PUBLIC_V6, PUBLIC_V4, PUBLIC_V6, PUBLIC_V4]
    assert admit_addresses(resolved) == (PUBLIC_V4, PUBLIC_V6)


def test_addresses_come_back_canonical_so_spellings_dedupe() -> None:
    spelled = "2606:2800:021f:cb07:6820:80DA:AF6B:8B2C"  # leading zero, upper case
    assert admit_addresses([spelled, PUBLIC_V6]) == (PUBLIC_V6,)


def test_a_zone_index_is_dropped() -> None:
    # a link-local address with a zone is still link-local, refused...
    assert "link-local" in refusal(["fe80::1%eth0"])
    # ...and admitted without its zone where the policy admits the range
    lan = EgressPolicy(admitted_networks=("fe80::/10",))
    assert admit_addresses(["fe80::1%eth0", "fe80::1%2", "fe80::1"], lan) == ("fe80::1",)


def test_one_refused_address_refuses_the_whole_answer() -> None:
    for resolved in ([PUBLIC_V4, "10.0.0.7"], ["10.0.0.7", PUBLIC_V4]):
        message = refusal(resolved)
        assert message == "egress refused: an address the host resolves to is a private address"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("10.0.0.5", "a private address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("0.0.0.0", "the unspecified address"),
        ("239.255.255.250", "not a globally routable unicast address"),
    ],
)
def test_the_reason_is_the_kind_of_address_never_the_address(address: str, reason: str) -> None:
    message = refusal([PUBLIC_V4, address])
    assert message.endswith(f"is {reason}")
    assert address not in message
    assert str(ipaddress.ip_address(address)) not in message
    assert PUBLIC_V4 not in message


def test_the_policy_opens_exceptions() -> None:
    assert admit_addresses(["127.0.0.1", "::1"], DEV) == ("127.0.0.1", "::1")
    assert "loopback" in refusal(["127.0.0.1"])  # the default policy
    assert "loopback" in refusal(["127.0.0.1"], None)
    internal = EgressPolicy(admitted_networks=("10.0.0.0/24",))
    assert admit_addresses(["10.0.0.1", PUBLIC_V4], internal) == ("10.0.0.1", PUBLIC_V4)
    assert "private" in refusal(["10.0.1.1"], internal)


def test_nothing_resolved_is_refused() -> None:
    assert refusal([]) == "egress refused: the host resolves to no address"
    assert refusal([], DEV) == "egress refused: the host resolves to no address"


@pytest.mark.parametrize(
    "entry",
    ["ap.example", "", "%eth0", "127.1", "[::1]", 2130706433, None, b"127.0.0.1"],
)
def test_what_is_not_an_address_is_refused(entry: object) -> None:
    # an int would be an address to ipaddress (2130706433 is 127.0.0.1): strings only
    message = refusal([entry], DEV)
    assert message == "egress refused: the host resolves to something that is not an IP address"


def test_the_answer_is_read_once_in_order_and_judged_before_anything_is_returned() -> None:
    seen: list[str] = []

    def answer() -> Iterator[str]:
        for address in (PUBLIC_V4, "127.0.0.1", PUBLIC_V6):
            seen.append(address)
            yield address

    assert "loopback" in refusal(cast(list[Any], answer()))
    assert seen == [PUBLIC_V4, "127.0.0.1"]  # stops at the first refusal
    assert admit_addresses(iter([PUBLIC_V4, PUBLIC_V6])) == (PUBLIC_V4, PUBLIC_V6)


_V4 = st.ip_addresses(v=4).map(str)
_V6 = st.ip_addresses(v=6).map(str)


@given(st.lists(st.one_of(_V4, _V6), max_size=6), st.booleans())
def test_agrees_with_check_resolved_address(resolved: list[str], development: bool) -> None:
    """Admitted exactly when every address passes the one-address check; the result is the
    distinct addresses in first-seen order."""
    policy = EgressPolicy(allow_insecure_loopback_for_development=development)
    every_one_passes = True
    for address in resolved:
        try:
            check_resolved_address(address, policy)
        except EgressError:
            every_one_passes = False
    if resolved and every_one_passes:
        assert admit_addresses(resolved, policy) == tuple(dict.fromkeys(resolved))
    else:
        with pytest.raises(EgressError):
            admit_addresses(resolved, policy)
