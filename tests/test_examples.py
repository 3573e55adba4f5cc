"""The README's first command runs the example; it must keep working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sign_and_verify_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sign_and_verify.py")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = result.stdout
    assert "Verified: label=sig scheme=jwt alg=Ed25519" in out
    assert '"content-digest" "signature-key"' in out
    assert "Tampered body refused: invalid_signature" in out
    assert "Signature-Error: error=invalid_signature" in out
