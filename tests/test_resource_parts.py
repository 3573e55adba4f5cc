"""ResourcePolicy validation and the in-memory replay store (issue 5)."""

from __future__ import annotations

from typing import Any

import pytest

from aauth.errors import LocalError
from aauth.resource import AccessMode, MemoryReplayStore, ReplayStore, ResourcePolicy


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "agent-token"},
        {"scope": 3},
        {"signature_window": 0},
        {"signature_window": 3601},
        {"signature_window": True},
        {"algorithms": ("EdDSA",)},
        {"algorithms": ()},
        {"agent_providers": {"https://ap.example"}},
        {"person_servers": frozenset({1})},
        {"access_servers": None},
    ],
)
def test_policy_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        ResourcePolicy(**kwargs)


def test_policy_trust_sets() -> None:
    open_policy = ResourcePolicy(mode=AccessMode.AUTH_TOKEN, scope="a b")
    assert open_policy.scopes == frozenset({"a", "b"})
    assert open_policy.trusts_agent_provider("https://any.example")
    assert open_policy.trusts_auth_issuer("https://any.example")
    closed = ResourcePolicy(
        agent_providers=frozenset({"https://ap.example"}),
        person_servers=frozenset({"https://ps.example"}),
        access_servers=frozenset({"https://as.example"}),
    )
    assert closed.trusts_agent_provider("https://ap.example")
    assert not closed.trusts_agent_provider("https://ps.example")
    assert closed.trusts_person_server("https://ps.example")
    assert not closed.trusts_person_server("https://as.example")
    assert closed.trusts_auth_issuer("https://as.example")
    assert closed.trusts_auth_issuer("https://ps.example")
    assert not closed.trusts_auth_issuer("https://ap.example")


def test_replay_store_refuses_a_live_duplicate_and_forgets_expired() -> None:
    store: ReplayStore = MemoryReplayStore(max_entries=10)
    assert store.add(b"sig-1", expires_at=100, now=50)
    assert not store.add(b"sig-1", expires_at=100, now=99)
    # at expires_at the entry is gone: created can no longer pass the window
    assert store.add(b"sig-1", expires_at=200, now=100)
    assert not store.add(b"sig-1", expires_at=200, now=150)


def test_replay_store_is_bounded() -> None:
    store = MemoryReplayStore(max_entries=3)
    for i, expires in enumerate((30, 10, 20)):
        assert store.add(bytes([i]), expires_at=expires, now=0)
    assert store.add(b"new", expires_at=40, now=0)
    assert len(store) == 3
    # the one expiring soonest (b"\x01") was dropped; the others are still refused
    assert store.add(b"\x01", expires_at=40, now=0)
    assert not store.add(b"\x00", expires_at=40, now=0)
    assert not store.add(b"new", expires_at=40, now=0)


@pytest.mark.parametrize("bad", [0, -1, True, "10"])
def test_replay_store_limit_must_be_positive(bad: Any) -> None:
    with pytest.raises(LocalError):
        MemoryReplayStore(max_entries=bad)
