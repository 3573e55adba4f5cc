"""Signing and verifying a typical AAuth request, as a ratio to raw libsodium.

The request: ``GET https://resource.example/api/documents`` signed with the ``jwt``
``Signature-Key`` scheme carrying the agent token of the digest's §9.2 vectors (about 540
characters), the default AAuth components (``@method @authority @path signature-key``).

Each operation is timed in interleaved rounds (raw sign, ``sign_request``, raw verify,
``verify_request``, then again), and the medians are compared. "Raw" is libsodium's
``crypto_sign`` / ``crypto_sign_open`` on the very signature base the request uses, called
through PyNaCl's bindings: the floor no Python implementation can go under.

Targets (issue 2): sign <= 1.15x raw sign, verify <= 1.15x raw verify.

Run: ``python benchmarks/bench_sign_verify.py [--rounds N] [--number N]``.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import nacl.bindings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aauth import Ed25519Key, HttpRequest, sign_request, signature_base, verify_request
from tests.vectors import load_vectors

SIGN_TARGET = 1.15
VERIFY_TARGET = 1.15


def _fixture() -> tuple[Ed25519Key, str, int]:
    vectors = load_vectors("aauth-computed.json")
    case = next(c for c in vectors["cases"] if c["id"] == "digest-9.2/request-A")
    inputs = case["inputs"]
    key = Ed25519Key.from_seed(bytes.fromhex(vectors["keys"][inputs["signing_key"]]["seed_hex"]))
    member = inputs["signature_key_member_value"]
    token = member.split('jwt="', 1)[1].rstrip('"')
    return key, token, int(inputs["created"])


def run(rounds: int, number: int) -> dict[str, float]:
    """Median microseconds per call of each operation, interleaved."""
    key, token, created = _fixture()
    request = HttpRequest(
        "GET",
        "https://resource.example/api/documents",
        [("Accept", "application/json"), ("User-Agent", "bench/1")],
    )
    signed = sign_request(request, key, signature_key=token, created=created)
    base = signature_base(signed, signed.header("signature-input") or "", "sig")
    # libsodium's own key pair from the same seed, for the raw calls.
    public, libsodium_secret = nacl.bindings.crypto_sign_seed_keypair(
        _seed_bytes(key.private_jwk()["d"])
    )
    raw_signature = nacl.bindings.crypto_sign(base, libsodium_secret)[:64]
    assert verify_request(signed, now=created).thumbprint == key.thumbprint

    operations: dict[str, Callable[[], object]] = {
        "raw sign": lambda: nacl.bindings.crypto_sign(base, libsodium_secret),
        "sign_request": lambda: sign_request(request, key, signature_key=token, created=created),
        "raw verify": lambda: nacl.bindings.crypto_sign_open(raw_signature + base, public),
        "verify_request": lambda: verify_request(signed, now=created),
    }
    samples: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(rounds):
        for name, operation in operations.items():
            samples[name].append(timeit.timeit(operation, number=number) / number * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def _seed_bytes(d: str) -> bytes:
    return base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25, help="interleaved rounds")
    parser.add_argument("--number", type=int, default=400, help="calls per timing")
    args = parser.parse_args()
    medians = run(args.rounds, args.number)
    sign_ratio = medians["sign_request"] / medians["raw sign"]
    verify_ratio = medians["verify_request"] / medians["raw verify"]
    for name, value in medians.items():
        print(f"{name:>15}: {value:8.1f} µs (median of {args.rounds} rounds)")
    print(f"sign   ratio: {sign_ratio:.3f}x raw libsodium (target <= {SIGN_TARGET}x)")
    print(f"verify ratio: {verify_ratio:.3f}x raw libsodium (target <= {VERIFY_TARGET}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
