"""RFC 9530 Content-Digest: every case of ``content-digest.json`` plus the error paths."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from aauth.digest import DIGEST_ALGORITHMS, content_digest, verify_content_digest
from aauth.errors import LocalError, SignatureError
from tests.vectors import load_vectors

VECTORS = load_vectors("content-digest.json")
INPUTS: dict[str, Any] = VECTORS["inputs"]
CASES: list[dict[str, Any]] = VECTORS["cases"]
DIGESTS = [(case, digest) for case in CASES for digest in case["digests"]]
ERRATA = {"B.5-request", "B.6-request", "B.11-trailer", "C.1-response"}


def _input(name: str) -> bytes:
    return bytes.fromhex(INPUTS[name]["hex"])


def _ids() -> list[str]:
    return [f"{case['id']}:{digest['algorithm']}" for case, digest in DIGESTS]


@pytest.mark.parametrize(("case", "digest"), DIGESTS, ids=_ids())
def test_every_digest_case(case: dict[str, Any], digest: dict[str, Any]) -> None:
    body = _input(digest["input"])
    algorithm = digest["algorithm"]
    true_b64 = digest.get("computed_b64", digest["expected_b64"])
    # Emission: our field value for this body is the true digest, padded standard base64.
    assert content_digest(body, (algorithm,)) == f"{algorithm}=:{true_b64}:"
    # The printed field value, checked against the body.
    printed = case["field_value"]
    if case["id"] in ERRATA:
        # README §6: the printed value has one '=' too many: malformed, so rejected.
        with pytest.raises(SignatureError) as info:
            verify_content_digest(printed, body, accepted=(algorithm,))
        assert info.value.code == "invalid_request"
        # The corrected value verifies.
        fixed = printed.replace(digest["expected_b64"], true_b64)
        assert verify_content_digest(fixed, body, accepted=(algorithm,)) == (algorithm,)
    elif "computed_b64" in digest:
        # RFC 9421 B.2 test-response erratum: a valid field whose digest is wrong.
        with pytest.raises(SignatureError) as info:
            verify_content_digest(printed, body, accepted=(algorithm,))
        assert info.value.code == "invalid_signature"
    else:
        assert verify_content_digest(printed, body, accepted=(algorithm,)) == (algorithm,)


def test_case_counts() -> None:
    assert len(CASES) == 30
    assert len(DIGESTS) == 33
    assert {c["id"] for c in CASES if not c["verified"]} == ERRATA | {"RFC9421-B.2-test-response"}


def test_two_algorithms_same_body_both_checked() -> None:
    body = _input("hello-lf")
    field = content_digest(body, ("sha-256", "sha-512"))
    assert field.startswith("sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:, sha-512=:")
    assert verify_content_digest(field, body) == ("sha-256", "sha-512")
    assert verify_content_digest(field, body, accepted=("sha-512",)) == ("sha-512",)


def test_any_present_accepted_algorithm_must_match() -> None:
    body = _input("hello-lf")
    good256 = content_digest(body, ("sha-256",))
    bad512 = content_digest(b"other", ("sha-512",))
    with pytest.raises(SignatureError) as info:
        verify_content_digest(f"{good256}, {bad512}", body)
    assert info.value.code == "invalid_signature"
    assert "sha-512" in info.value.message
    # Not accepted: ignored.
    assert verify_content_digest(f"{good256}, {bad512}", body, accepted=("sha-256",)) == (
        "sha-256",
    )


def test_unknown_algorithms_are_ignored() -> None:
    body = b"abc"
    field = f"md5=:kAFQmDzST7DWlj99KOF/cg==:, unixsum=30637, {content_digest(body)}"
    assert verify_content_digest(field, body) == ("sha-256",)


def test_no_accepted_algorithm_is_invalid_request() -> None:
    with pytest.raises(SignatureError) as info:
        verify_content_digest("md5=:kAFQmDzST7DWlj99KOF/cg==:", b"abc")
    assert info.value.code == "invalid_request"
    assert "no accepted" in info.value.message
    with pytest.raises(SignatureError) as info:
        verify_content_digest(content_digest(b"abc", ("sha-512",)), b"abc", accepted=("sha-256",))
    assert info.value.code == "invalid_request"


@pytest.mark.parametrize(
    "field",
    [
        "sha-256",  # a bare key is Boolean true, not a byte sequence
        'sha-256="abc"',
        "sha-256=(:YQ==:)",
        "sha-256=:not base64:",
        "SHA-256=:YQ==:",  # keys are lowercase
        "sha-256=:YQ==:, sha-256=:YQ==:",  # repeated key refused
        "",
        ",",
    ],
)
def test_malformed_field_is_invalid_request(field: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_content_digest(field, b"a")
    assert info.value.code == "invalid_request"


def test_wrong_length_digest_is_a_mismatch() -> None:
    with pytest.raises(SignatureError) as info:
        verify_content_digest("sha-256=:YQ==:", b"a")
    assert info.value.code == "invalid_signature"


def test_empty_body_digest() -> None:
    field = content_digest(b"")
    assert field == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    assert verify_content_digest(field, b"") == ("sha-256",)


def test_digest_matches_hashlib_for_many_bodies() -> None:
    for size in (0, 1, 55, 56, 64, 1000):
        body = (bytes(range(256)) * 4)[:size]
        for name in DIGEST_ALGORITHMS:
            expected = base64.b64encode(hashlib.new(name.replace("-", ""), body).digest())
            assert content_digest(body, (name,)) == f"{name}=:{expected.decode()}:"


@pytest.mark.parametrize("algorithms", [(), "sha-256", ("md5",), ("sha-256", "SHA-512")], ids=repr)
def test_content_digest_rejects_bad_algorithms(algorithms: Any) -> None:
    with pytest.raises(LocalError):
        content_digest(b"x", algorithms)
    with pytest.raises(LocalError):
        verify_content_digest("sha-256=:YQ==:", b"a", accepted=algorithms)


def test_local_errors_for_wrong_types() -> None:
    with pytest.raises(LocalError):
        content_digest("text", ("sha-256",))  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        verify_content_digest(b"sha-256=:YQ==:", b"a")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        verify_content_digest("sha-256=:YQ==:", "a")  # type: ignore[arg-type]
