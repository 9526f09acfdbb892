"""Shared input validation for the heuristics' knobs.

Every check names the argument, the rule and the value received. A value of the wrong *type*
(a string for a number, a float for a count, a bool anywhere) raises ``TypeError``; a value of
the right type outside its range raises ``ValueError``. Types are checked before any
comparison, so ``drop_fraction="a"`` fails with a message rather than ``'<' not supported``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SEED_LIMIT = 2**63


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return _is_integer(value) or isinstance(value, (float, np.floating))


def positive_int_iv(label: str, value: object) -> int:
    """An integer >= 1."""
    if not _is_integer(value):
        raise TypeError(f"`{label}` must be a positive integer; got {_describe(value)}")
    if value < 1:
        raise ValueError(f"`{label}` must be a positive integer; got {value!r}")
    return int(value)


def nonnegative_int_iv(label: str, value: object) -> int:
    """An integer >= 0."""
    if not _is_integer(value):
        raise TypeError(f"`{label}` must be a non-negative integer; got {_describe(value)}")
    if value < 0:
        raise ValueError(f"`{label}` must be a non-negative integer; got {value!r}")
    return int(value)


def positive_float_iv(label: str, value: object) -> float:
    """A finite real number > 0."""
    if not _is_real(value):
        raise TypeError(f"`{label}` must be a positive real number; got {_describe(value)}")
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"`{label}` must be positive and finite; got {value!r}")
    return float(value)


def unit_interval_iv(label: str, value: object) -> float:
    """A real number in (0, 1]."""
    if not _is_real(value):
        raise TypeError(f"`{label}` must be a real number in (0, 1]; got {_describe(value)}")
    if not 0 < value <= 1:
        raise ValueError(f"`{label}` must lie in (0, 1]; got {value!r}")
    return float(value)


def time_limit_iv(value: object) -> float | None:
    """``None`` (no limit) or positive finite seconds."""
    if value is None:
        return None
    if not _is_real(value):
        raise TypeError(f"`time_limit` must be positive seconds or None; got {_describe(value)}")
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"`time_limit` must be positive seconds or None; got {value!r}")
    return float(value)


def choice_iv(label: str, value: object, choices: Sequence[str]) -> str:
    """One of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{label}` must be one of {tuple(choices)}; got {value!r}")
    return value


def seed_iv(label: str, value: object) -> int:
    """An integer seed in [0, 2**63)."""
    if not _is_integer(value):
        raise TypeError(f"`{label}` must be an integer seed in [0, 2**63); got {_describe(value)}")
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"`{label}` must be an integer seed in [0, 2**63); got {value!r}")
    return int(value)


def rng_iv(rng: object) -> np.random.Generator:
    """``np.random.default_rng(rng)`` for ``rng`` = None, an integer seed in [0, 2**63) or a
    Generator (returned as is, so the caller's stream advances)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if not _is_integer(rng):
        raise TypeError(
            f"`rng` must be None, an integer seed in [0, 2**63) or a numpy Generator; got {_describe(rng)}"
        )
    return np.random.default_rng(seed_iv("rng", rng))
