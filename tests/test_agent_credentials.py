"""Credential providers of the agent: static, refreshing, self-signed (AAuth -11 §"Agent Token";
digest §1.7, §4.2)."""

from __future__ import annotations

from typing import Any

import pytest

from aauth.agent import (
    AgentCredential,
    CredentialsError,
    RefreshingAgentCredentials,
    SelfSignedAgentCredentials,
    StaticAgentCredentials,
)
from aauth.errors import JoseError, LocalError
from aauth.jws import encode_jwt
from aauth.keys import EcP256Key, Ed25519Key, PrivateKey
from aauth.tokens import validate_agent_token
from tests.test_agent_support import (
    AGENT_ID,
    AGENT_KEY,
    AP,
    AP_KEY,
    EC_AGENT_KEY,
    OTHER_KEY,
    PS,
    T0,
    agent_token,
    person_token,
)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": AP,
        "dwk": "aauth-agent.json",
        "sub": AGENT_ID,
        "jti": "j",
        "cnf": {"jwk": AGENT_KEY.public_jwk},
        "iat": T0,
        "exp": T0 + 600,
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _raw(header: dict[str, Any] | None = None, **overrides: Any) -> str:
    return encode_jwt(
        header or {"typ": "aa-agent+jwt", "kid": "ap-1"}, _claims(**overrides), AP_KEY
    )


# ---------------------------------------------------------------------- AgentCredential


def test_from_token_reads_the_claims() -> None:
    credential = AgentCredential.from_token(AGENT_KEY, agent_token())
    assert credential.key is AGENT_KEY
    assert credential.issuer == AP and credential.agent_id == AGENT_ID
    assert credential.person_server == PS
    assert credential.expires_at == T0 - 60 + 3600
    assert credential.algorithm == "Ed25519"
    assert credential.thumbprint == AGENT_KEY.thumbprint


def test_from_token_without_ps() -> None:
    assert AgentCredential.from_token(AGENT_KEY, agent_token(ps=None)).person_server is None


@pytest.mark.parametrize(
    ("key", "token", "message"),
    [
        (object(), agent_token(), "PrivateKey"),
        (AGENT_KEY, 42, "must be a str"),
        (AGENT_KEY, "a.b", "not a compact JWT"),
        (AGENT_KEY, person_token(), "typ"),
        (AGENT_KEY, _raw(exp=None), "'exp'"),
        (AGENT_KEY, _raw(exp="soon"), "'exp'"),
        (AGENT_KEY, _raw(cnf=None), "cnf.jwk"),
        (AGENT_KEY, _raw(cnf={"jwk": "x"}), "cnf.jwk"),
        (AGENT_KEY, _raw(cnf={"jwk": {"kty": "oct", "k": "AA"}}), "unusable"),
        (OTHER_KEY, agent_token(), "not the agent's signing key"),
        (AGENT_KEY, _raw(iss=None), "'iss'"),
        (AGENT_KEY, _raw(sub=""), "'sub'"),
    ],
)
def test_from_token_refuses_a_mismatched_or_broken_pair(key: Any, token: Any, message: str) -> None:
    with pytest.raises(CredentialsError, match=message) as caught:
        AgentCredential.from_token(key, token)
    assert isinstance(caught.value, LocalError)


class _OddKey:
    alg = 5
    thumbprint = "t"

    def sign(self, data: bytes) -> bytes:
        return data


def test_a_key_with_the_wrong_shape_is_refused() -> None:
    with pytest.raises(CredentialsError, match="PrivateKey"):
        AgentCredential.from_token(_OddKey(), agent_token())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- static


def test_static_credentials_with_an_alternate() -> None:
    static = StaticAgentCredentials(
        AGENT_KEY, agent_token(), alternates=[(EC_AGENT_KEY, agent_token(EC_AGENT_KEY))]
    )
    assert static.algorithms == ("Ed25519", "ES256")
    assert static.current(now=T0).algorithm == "Ed25519"
    assert static.current(now=T0, algorithm="ES256").key is EC_AGENT_KEY
    with pytest.raises(CredentialsError, match="PS256"):
        static.current(now=T0, algorithm="PS256")
    static.renew()  # nothing to renew
    assert static.current(now=T0).key is AGENT_KEY


def test_static_credentials_expire() -> None:
    static = StaticAgentCredentials(AGENT_KEY, agent_token(now=T0, lifetime=100))
    assert static.current(now=T0 + 99).expires_at == T0 + 100
    with pytest.raises(CredentialsError, match="expired at"):
        static.current(now=T0 + 100)


def test_static_credentials_check_the_pair_at_once() -> None:
    with pytest.raises(CredentialsError):
        StaticAgentCredentials(OTHER_KEY, agent_token())


# ----------------------------------------------------------------------------- refreshing


class _Source:
    def __init__(self, lifetime: int = 600, fail: Exception | None = None) -> None:
        self.calls: list[int] = []
        self.lifetime = lifetime
        self.fail = fail

    def __call__(self, now: int) -> tuple[PrivateKey, str]:
        self.calls.append(now)
        if self.fail is not None:
            raise self.fail
        return AGENT_KEY, agent_token(now=now, lifetime=self.lifetime, jti=f"at-{len(self.calls)}")


def test_refreshing_fetches_when_due() -> None:
    source = _Source(lifetime=600)
    refreshing = RefreshingAgentCredentials(source, margin=60)
    assert not refreshing.algorithms
    first = refreshing.current(now=T0)
    assert refreshing.algorithms == ("Ed25519",)
    assert refreshing.current(now=T0 + 539) is first
    second = refreshing.current(now=T0 + 540)
    assert second is not first and source.calls == [T0, T0 + 540]
    refreshing.renew()
    refreshing.current(now=T0 + 541)
    assert len(source.calls) == 3
    with pytest.raises(CredentialsError, match="ES256"):
        refreshing.current(now=T0 + 541, algorithm="ES256")


def test_refreshing_hides_the_message_of_a_foreign_exception() -> None:
    refreshing = RefreshingAgentCredentials(_Source(fail=ValueError("password=hunter2")))
    with pytest.raises(CredentialsError) as caught:
        refreshing.current(now=T0)
    assert "ValueError" in str(caught.value) and "hunter2" not in str(caught.value)


def test_refreshing_reports_our_own_errors() -> None:
    with pytest.raises(CredentialsError, match="invalid_jwt"):
        RefreshingAgentCredentials(_Source(fail=JoseError("bad"))).current(now=T0)
    mine = CredentialsError("mine")
    with pytest.raises(CredentialsError) as caught:
        RefreshingAgentCredentials(_Source(fail=mine)).current(now=T0)
    assert caught.value is mine


def test_refreshing_refuses_an_already_expired_token() -> None:
    def stale(now: int) -> tuple[PrivateKey, str]:
        return AGENT_KEY, agent_token(now=now - 1000, lifetime=500)

    with pytest.raises(CredentialsError, match="expired at"):
        RefreshingAgentCredentials(stale).current(now=T0)


@pytest.mark.parametrize(
    ("fetch", "margin"), [("not callable", 60), (_Source(), -1), (_Source(), True)]
)
def test_refreshing_argument_checks(fetch: Any, margin: Any) -> None:
    with pytest.raises(LocalError):
        RefreshingAgentCredentials(fetch, margin=margin)


# ---------------------------------------------------------------------------- self-signed


class _Keys:
    """A deterministic key factory (a real driver passes os.urandom-backed keys)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, alg: str) -> PrivateKey:
        self.count += 1
        seed = bytes([self.count]) * 32
        if alg == "ES256":
            return EcP256Key.generate(seed)
        return Ed25519Key.from_seed(seed)


def _self_signed(**kwargs: Any) -> SelfSignedAgentCredentials:
    options: dict[str, Any] = {
        "issuer": AP,
        "agent_id": AGENT_ID,
        "kid": "ap-1",
        "new_key": _Keys(),
        "lifetime": 600,
        "margin": 60,
        "person_server": PS,
    }
    options.update(kwargs)
    return SelfSignedAgentCredentials(AP_KEY, **options)


def test_self_signed_mints_a_valid_agent_token_for_an_ephemeral_key() -> None:
    credentials = _self_signed()
    credential = credentials.current(now=T0)
    token = validate_agent_token(credential.token, AP_KEY.public_key, now=T0, issuer=AP)
    assert token.cnf_thumbprint == credential.key.thumbprint
    assert token.sub == AGENT_ID and token.ps == PS and token.exp == T0 + 600
    assert token.jti == f"{credential.key.thumbprint}.{T0}"
    assert credentials.current(now=T0 + 539) is credential
    fresh = credentials.current(now=T0 + 540)
    assert fresh.key.thumbprint != credential.key.thumbprint  # a new ephemeral key
    credentials.renew()
    assert credentials.current(now=T0 + 541).key.thumbprint != fresh.key.thumbprint


def test_self_signed_per_algorithm() -> None:
    credentials = _self_signed(algorithms=("Ed25519", "ES256"))
    assert credentials.algorithms == ("Ed25519", "ES256")
    assert credentials.current(now=T0, algorithm="ES256").algorithm == "ES256"
    with pytest.raises(CredentialsError, match="PS256"):
        credentials.current(now=T0, algorithm="PS256")


def test_self_signed_factory_failures() -> None:
    def broken(alg: str) -> PrivateKey:
        raise OSError("no entropy; key=secret")

    with pytest.raises(CredentialsError) as caught:
        _self_signed(new_key=broken).current(now=T0)
    assert "OSError" in str(caught.value) and "secret" not in str(caught.value)
    with pytest.raises(CredentialsError, match="returned a ES256 key"):
        _self_signed(new_key=lambda alg: EC_AGENT_KEY).current(now=T0)


def test_self_signed_token_that_cannot_be_built() -> None:
    with pytest.raises(CredentialsError, match="cannot mint"):
        _self_signed(agent_id="not an agent id").current(now=T0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"new_key": "nope"},
        {"margin": -1},
        {"lifetime": 60, "margin": 60},
        {"lifetime": True},
        {"algorithms": ()},
        {"algorithms": (1,)},
    ],
)
def test_self_signed_argument_checks(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalError):
        _self_signed(**kwargs)


def test_self_signed_root_key_must_be_a_key() -> None:
    with pytest.raises(CredentialsError):
        SelfSignedAgentCredentials(
            object(),  # type: ignore[arg-type]
            issuer=AP,
            agent_id=AGENT_ID,
            kid="ap-1",
            new_key=_Keys(),
        )
