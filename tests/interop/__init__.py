"""Interop tests: aauth against code no one here wrote (Node packages from npm)."""
