"""A clock that only moves when a test says so (the engine takes ``now`` as an argument)."""

from __future__ import annotations

import math

__all__ = ["T0", "FakeClock"]

#: Default start: 2026-01-01T00:00:00Z.
T0 = 1_767_225_600


class FakeClock:
    """Virtual Unix time.

    ``now()`` (or calling the clock) gives whole seconds, as the engine wants; ``advance`` and
    ``sleep`` move time forward (fractions accumulate), never backwards. ``slept`` records each
    ``sleep`` so a test can assert the waits a driver or flow asked for.
    """

    def __init__(self, start: float = T0) -> None:
        if not math.isfinite(start) or start < 0:
            raise ValueError("start must be a finite, non-negative Unix time")
        self._t = float(start)
        self.slept: list[float] = []

    def now(self) -> int:
        """The current time in whole seconds."""
        return math.floor(self._t)

    def __call__(self) -> int:
        return self.now()

    @property
    def exact(self) -> float:
        """The current time with its fraction."""
        return self._t

    def advance(self, seconds: float) -> int:
        """Move forward by ``seconds`` (>= 0); returns the new ``now()``."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("a FakeClock only moves forward by a finite amount")
        self._t += seconds
        return self.now()

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` stand-in: records the wait and advances."""
        self.slept.append(seconds)
        self.advance(seconds)

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now()})"
