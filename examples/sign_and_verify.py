"""Sign an AAuth request as an agent, then verify it as a resource would.

Run: ``python examples/sign_and_verify.py``

The engine never reads the clock or the RNG, so this script (the "driver") does: it passes
``os.urandom`` bytes to make keys and ``time.time()`` as ``created`` / ``now``.
"""

from __future__ import annotations

import os
import time

from aauth import (
    Ed25519Key,
    HttpRequest,
    SignatureError,
    encode_jwt,
    sign_request,
    signature_error_headers,
    verify_request,
)


def main() -> None:
    now = int(time.time())

    # The Agent Provider signs an agent token that binds the agent's key (cnf.jwk).
    provider_key = Ed25519Key.generate(os.urandom(32))
    agent_key = Ed25519Key.generate(os.urandom(32))
    agent_token = encode_jwt(
        {"typ": "aa-agent+jwt", "kid": "ap-key-1"},
        {
            "iss": "https://agent.example",
            "dwk": "aauth-agent.json",
            "sub": "aauth:assistant@agent.example",
            "jti": os.urandom(8).hex(),
            "cnf": {"jwk": agent_key.public_jwk},
            "iat": now,
            "exp": now + 3600,
        },
        provider_key,
    )

    # The agent signs a request with its key, presenting the token in Signature-Key.
    request = HttpRequest(
        "POST",
        "https://resource.example/api/documents?draft=1",
        [("Content-Type", "application/json")],
        b'{"title": "hello"}',
    )
    signed = sign_request(request, agent_key, signature_key=agent_token, created=now)
    print("Signed request headers:")
    for name, value in signed.headers:
        print(f"  {name}: {value if len(value) < 100 else value[:97] + '...'}")

    # The resource verifies the signature with the key the Signature-Key header names.
    verified = verify_request(signed, now=now)
    print(f"\nVerified: label={verified.label} scheme={verified.scheme} alg={verified.algorithm}")
    print(f"  signer thumbprint (agent_jkt): {verified.thumbprint}")
    print(f"  covered: {' '.join(verified.components)}")
    print(f"  token subject (not yet trusted): {verified.token_claims['sub']}")

    # Tampering is caught: change the body after signing.
    tampered = HttpRequest(signed.method, signed.url, signed.headers, b'{"title": "evil"}')
    try:
        verify_request(tampered, now=now)
    except SignatureError as error:
        print(f"\nTampered body refused: {error}")
        for name, value in signature_error_headers(error):
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
