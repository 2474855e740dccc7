"""Settings read from the process environment: one parser per kind of value, one message per mistake."""

from __future__ import annotations

import math
import os

from evalharness.errors import EvalHarnessError


def env_seconds(name: str, default: float, error: type[EvalHarnessError], example: str) -> float:
    """``default``, or ``$name`` where it is set: a number of seconds above 0 and finite; anything else raises
    ``error`` naming the variable, what it holds and an example (``example`` seconds)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < math.inf:
        raise error(f"{name}={value!r}: expected a number of seconds above 0, e.g. {example}")
    return seconds
