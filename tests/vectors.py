"""Where the shared test vectors live: ``../shared/vectors`` beside the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


def load_vectors(name: str) -> Any:
    """Load one JSON file of the shared vector pack, e.g. ``load_vectors("jose.json")``."""
    path = VECTORS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"shared vector file {path} is missing: the repository must sit beside ../shared"
        )
    return json.loads(path.read_text(encoding="utf-8"))
