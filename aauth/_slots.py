"""Fast construction of frozen, slotted dataclasses on the request hot path.

A frozen dataclass's generated ``__init__`` stores each field through ``object.__setattr__``,
which looks the attribute up on every call. Calling the slot descriptors' ``__set__``
directly does the same store in about half the time; the hot-path result types use these
setters in a hand-written ``__init__`` (same parameters, same values, still frozen).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["slot_setters"]

Setter = Callable[[Any, Any], None]


def slot_setters(cls: type, *names: str) -> tuple[Setter, ...]:
    """The ``__set__`` of each named slot of ``cls`` (for use in its ``__init__``)."""
    return tuple(getattr(cls, name).__set__ for name in names)
