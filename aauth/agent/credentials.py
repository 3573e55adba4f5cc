"""Where an agent's signing key and agent token come from (AAuth -11 §"Agent Token", digest
§1.7 and §4.2).

An :class:`AgentCredentials` provider yields an :class:`AgentCredential` (a private key and the
``aa-agent+jwt`` whose ``cnf.jwk`` is that key) for the current time. Three providers:

* :class:`StaticAgentCredentials`: fixed key and token (plus optional alternates for other
  algorithms); fails with :class:`~aauth.agent.errors.CredentialsError` once the token expired.
* :class:`RefreshingAgentCredentials`: asks the application's callable for a new pair when the
  token is within ``margin`` seconds of ``exp`` (the callable does whatever IO it needs; keep it
  fast or have the driver call it ahead of time).
* :class:`SelfSignedAgentCredentials`: an agent that is its own Agent Provider, like the
  TypeScript ``signAgentToken``: an ephemeral key from the caller's ``new_key`` factory (the
  engine never reads the RNG) and an agent token signed by a durable root key, re-minted before
  expiry with a fresh key.

The agent's own token is not verified against its issuer's keys here (it is ours; the resource
and the PS verify it); it is checked for shape, ``typ``, ``exp`` and that ``cnf.jwk`` is the
key we sign with, so a mismatched pair fails at once with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import AAuthError, JoseError, LocalError
from ..jwk import jwk_thumbprint
from ..jws import parse_jwt
from ..keys import PrivateKey
from ..tokens import TYP_AGENT, build_agent_token
from .errors import CredentialsError

__all__ = [
    "AgentCredential",
    "AgentCredentials",
    "RefreshingAgentCredentials",
    "SelfSignedAgentCredentials",
    "StaticAgentCredentials",
]


def _key_facts(key: object) -> tuple[str, str]:
    """``(alg, thumbprint)`` of a private key, or :class:`CredentialsError`."""
    try:
        alg = key.alg  # type: ignore[attr-defined]
        thumbprint = key.thumbprint  # type: ignore[attr-defined]
        sign = key.sign  # type: ignore[attr-defined]
    except AttributeError:
        raise CredentialsError(
            "the agent key must be a PrivateKey (Ed25519Key, EcP256Key)"
        ) from None
    if not isinstance(alg, str) or not isinstance(thumbprint, str) or not callable(sign):
        raise CredentialsError("the agent key must be a PrivateKey (Ed25519Key, EcP256Key)")
    return alg, thumbprint


def _str_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"the agent token has no {name!r} claim")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCredential:
    """A signing key and the agent token bound to it.

    Build one with :meth:`from_token`, which checks the pair. ``person_server`` is the token's
    ``ps`` claim (``None`` without one); ``expires_at`` its ``exp``.
    """

    key: PrivateKey
    token: str
    expires_at: int
    issuer: str
    agent_id: str
    person_server: str | None
    algorithm: str
    thumbprint: str

    @classmethod
    def from_token(cls, key: PrivateKey, token: str) -> AgentCredential:
        """Check that ``token`` is an ``aa-agent+jwt`` bound to ``key`` and read its claims.

        :raises CredentialsError: not a JWT, another ``typ``, no ``exp``/``iss``/``sub``, or a
            ``cnf.jwk`` that is not ``key`` (RFC 7638 thumbprints differ).
        """
        alg, thumbprint = _key_facts(key)
        if not isinstance(token, str):
            raise CredentialsError("the agent token must be a str (a compact JWT)")
        try:
            parsed = parse_jwt(token)
        except JoseError as exc:
            raise CredentialsError(f"the agent token is not a compact JWT: {exc.message}") from None
        if parsed.header.get("typ") != TYP_AGENT:
            raise CredentialsError(f"the agent token's typ is not {TYP_AGENT}")
        claims = parsed.claims
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int):
            raise CredentialsError("the agent token has no integer 'exp' claim")
        cnf = claims.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not isinstance(jwk, dict):
            raise CredentialsError("the agent token has no cnf.jwk")
        try:
            bound = jwk_thumbprint(jwk)
        except JoseError as exc:
            raise CredentialsError(
                f"the agent token's cnf.jwk is unusable: {exc.message}"
            ) from None
        if bound != thumbprint:
            # AAuth -11 §"Proof of Possession": the request MUST be signed by cnf.jwk's key
            raise CredentialsError("the agent token's cnf.jwk is not the agent's signing key")
        ps = claims.get("ps")
        return cls(
            key=key,
            token=token,
            expires_at=exp,
            issuer=_str_claim(claims, "iss"),
            agent_id=_str_claim(claims, "sub"),
            person_server=ps if isinstance(ps, str) and ps else None,
            algorithm=alg,
            thumbprint=thumbprint,
        )


class AgentCredentials(Protocol):
    """A source of :class:`AgentCredential` for the current time.

    ``algorithms`` lists the JOSE algorithms it can sign with, preferred first (an agent
    switches when a server answers ``unsupported_algorithm`` with an ``Accept-Signature-Alg``
    it can meet). ``renew`` is a hint that a server refused the agent token as expired: mint
    or fetch a new one on the next :meth:`current` if possible.
    """

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms :meth:`current` can return a credential for, preferred first."""
        ...

    def current(self, *, now: int, algorithm: str | None = None) -> AgentCredential:
        """The credential to sign with at ``now`` (with ``algorithm``, or the preferred one).

        :raises CredentialsError: none can be had.
        """
        ...

    def renew(self) -> None:
        """Forget the current agent token: the next :meth:`current` gets a new one if it can."""
        ...


def _pick(
    credentials: Sequence[AgentCredential], algorithm: str | None, now: int
) -> AgentCredential:
    chosen = credentials[0]
    if algorithm is not None:
        matching = [c for c in credentials if c.algorithm == algorithm]
        if not matching:
            raise CredentialsError(f"no agent credential signs with {algorithm}")
        chosen = matching[0]
    if now >= chosen.expires_at:
        raise CredentialsError(
            f"the agent token expired at {chosen.expires_at} (now {now}) and cannot be renewed"
        )
    return chosen


class StaticAgentCredentials:
    """A fixed key and agent token, plus optional ``alternates`` (``(key, token)`` pairs for
    other algorithms, tried when a server does not accept the first one's).

    :raises CredentialsError: a pair does not match (see :meth:`AgentCredential.from_token`).
    """

    def __init__(
        self,
        key: PrivateKey,
        token: str,
        *,
        alternates: Sequence[tuple[PrivateKey, str]] = (),
    ) -> None:
        self._credentials: tuple[AgentCredential, ...] = tuple(
            AgentCredential.from_token(k, t) for k, t in ((key, token), *alternates)
        )

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms of the key and its alternates, in the order given."""
        return tuple(dict.fromkeys(c.algorithm for c in self._credentials))

    def current(self, *, now: int, algorithm: str | None = None) -> AgentCredential:
        """The pair for ``algorithm`` (default: the first).

        :raises CredentialsError: no pair for ``algorithm``, or its token expired.
        """
        return _pick(self._credentials, algorithm, now)

    def renew(self) -> None:
        """Nothing to renew: a static token that expired stays expired."""


def _wrapped(what: str, exc: Exception) -> CredentialsError:
    """A failure of the application's callable, without its message (it may hold secrets)."""
    if isinstance(exc, CredentialsError):
        return exc
    if isinstance(exc, AAuthError):
        return CredentialsError(f"{what} failed: {exc}")
    return CredentialsError(f"{what} raised {type(exc).__name__}")


class RefreshingAgentCredentials:
    """Calls ``fetch(now) -> (key, agent_token)`` when there is no token yet or it is within
    ``margin`` seconds of ``exp`` (or after :meth:`renew`).

    Exceptions from ``fetch`` become :class:`CredentialsError` naming only their type.
    """

    def __init__(self, fetch: Callable[[int], tuple[PrivateKey, str]], *, margin: int = 60) -> None:
        if not callable(fetch):
            raise LocalError("fetch must be a callable returning (key, agent_token)")
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
            raise LocalError("margin must be an int >= 0 (seconds)")
        self._fetch = fetch
        self._margin = margin
        self._credential: AgentCredential | None = None

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithm of the last fetched key (none before the first fetch)."""
        return () if self._credential is None else (self._credential.algorithm,)

    def current(self, *, now: int, algorithm: str | None = None) -> AgentCredential:
        """The cached pair, or a new one from ``fetch`` when it is due.

        :raises CredentialsError: ``fetch`` failed or returned an unusable or expired pair, or
            ``algorithm`` is not the fetched key's.
        """
        credential = self._credential
        if credential is None or now >= credential.expires_at - self._margin:
            try:
                key, token = self._fetch(now)
            except Exception as exc:  # the application's code: report, never crash the flow
                raise _wrapped("the agent token source", exc) from exc
            credential = AgentCredential.from_token(key, token)
            if now >= credential.expires_at:
                raise CredentialsError(
                    f"the agent token source returned a token that expired at "
                    f"{credential.expires_at} (now {now})"
                )
            self._credential = credential
        return _pick((credential,), algorithm, now)

    def renew(self) -> None:
        """Fetch a new pair on the next :meth:`current`."""
        self._credential = None


class SelfSignedAgentCredentials:
    """An agent that mints its own agent tokens (Agent and Agent Provider collocated, AAuth -11
    §"Roles"), like the TypeScript ``signAgentToken``.

    :param root_key: the durable key of the Agent Provider ``issuer`` (published in its JWKS
        as ``kid``); it signs the agent tokens.
    :param issuer: the AP's server identifier (``iss``).
    :param agent_id: the agent identifier ``aauth:local@domain`` (``sub``).
    :param kid: ``root_key``'s key id in the AP's JWKS.
    :param new_key: the caller's factory for a fresh ephemeral key of an algorithm
        (``lambda alg: Ed25519Key.generate(os.urandom(32))``): the engine never reads the RNG.
    :param lifetime: agent token lifetime in seconds (typical 1 h; at most 24 h).
    :param margin: re-mint (with a new key) when this close to ``exp``.
    :param person_server: the ``ps`` claim, the agent's Person Server.
    :param algorithms: what ``new_key`` can make, preferred first.
    """

    def __init__(
        self,
        root_key: PrivateKey,
        *,
        issuer: str,
        agent_id: str,
        kid: str,
        new_key: Callable[[str], PrivateKey],
        lifetime: int = 3600,
        margin: int = 60,
        person_server: str | None = None,
        algorithms: Sequence[str] = ("Ed25519",),
        allow_insecure_loopback_for_development: bool = False,
    ) -> None:
        _key_facts(root_key)
        if not callable(new_key):
            raise LocalError("new_key must be a callable (algorithm) -> PrivateKey")
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
            raise LocalError("margin must be an int >= 0 (seconds)")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= margin:
            raise LocalError("lifetime must be an int greater than margin (seconds)")
        algs = tuple(algorithms)
        if not algs or not all(isinstance(a, str) for a in algs):
            raise LocalError("algorithms must name at least one JOSE algorithm")
        self._root = root_key
        self._issuer = issuer
        self._agent_id = agent_id
        self._kid = kid
        self._new_key = new_key
        self._lifetime = lifetime
        self._margin = margin
        self._ps = person_server
        self._algorithms = algs
        self._dev = allow_insecure_loopback_for_development
        self._minted: dict[str, AgentCredential] = {}

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms ``new_key`` is asked for, preferred first."""
        return self._algorithms

    def current(self, *, now: int, algorithm: str | None = None) -> AgentCredential:
        """The minted credential for ``algorithm``, re-minted with a new key when due.

        :raises CredentialsError: ``algorithm`` is not offered, ``new_key`` failed or made a
            key of another algorithm, or the token cannot be built (bad issuer, agent id …).
        """
        alg = self._algorithms[0] if algorithm is None else algorithm
        if alg not in self._algorithms:
            raise CredentialsError(f"no agent credential signs with {alg}")
        credential = self._minted.get(alg)
        if credential is None or now >= credential.expires_at - self._margin:
            credential = self._mint(alg, now)
            self._minted[alg] = credential
        return credential

    def _mint(self, alg: str, now: int) -> AgentCredential:
        try:
            key = self._new_key(alg)
        except Exception as exc:  # the application's factory: report, never crash the flow
            raise _wrapped("the ephemeral key factory", exc) from exc
        key_alg, thumbprint = _key_facts(key)
        if key_alg != alg:
            raise CredentialsError(f"new_key({alg!r}) returned a {key_alg} key")
        try:
            token = build_agent_token(
                self._root,
                kid=self._kid,
                now=now,
                # unique without an RNG: the fresh key's thumbprint and the minting time
                jti=f"{thumbprint}.{now}",
                iss=self._issuer,
                sub=self._agent_id,
                cnf_jwk=key.public_jwk,
                lifetime=self._lifetime,
                ps=self._ps,
                allow_insecure_loopback_for_development=self._dev,
            )
        except LocalError as exc:
            raise CredentialsError(f"cannot mint the agent token: {exc}") from None
        return AgentCredential.from_token(key, token)

    def renew(self) -> None:
        """Mint new tokens (with new keys) on the next :meth:`current`."""
        self._minted.clear()
