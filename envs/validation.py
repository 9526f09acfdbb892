"""Input validation for the whole project: one error family, and every validator written once.

Bad input (an argument, a file, a config value, an environment action) raises
:class:`InputError`, a ``ValueError``; when the value has the wrong *type* (a string for a
number, a float for a count, a bool anywhere a number is meant) it raises
:class:`InputTypeError`, which is both an ``InputError`` and a ``TypeError``. Every message
names the argument, the rule and the value received::

    `seasons` must be an integer in [1, 10,000,000]; got 0

The command line turns exactly these errors (and ``OSError``) into one line and exit code 2;
any other exception is a bug and keeps its traceback. Types are checked before ranges, so a
string never reaches a comparison.

Files are read through :func:`read_file_bytes`, which opens without blocking, refuses anything
that is not a regular file (a directory, a FIFO, a device) and reads at most a stated number of
bytes, so no input can hang a command or exhaust its memory.
"""

from __future__ import annotations

import difflib
import errno
import json
import math
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SEED_LIMIT = 2**63
"""Seeds lie in [0, 2**63): they key the counter-based streams and numpy's SeedSequence."""
SHOWN_CHARACTERS = 80
"""A value quoted in a message is cut to this many characters."""


class InputError(ValueError):
    """Bad input: the message names the argument, the rule and the value received."""


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong type (also a ``TypeError``)."""


def describe(value: object) -> str:
    """``repr(value)`` cut to :data:`SHOWN_CHARACTERS`, followed by its type name."""
    text = repr(value)
    if len(text) > SHOWN_CHARACTERS:
        text = text[: SHOWN_CHARACTERS - 3] + "..."
    return f"{text} ({type(value).__name__})"


def did_you_mean(key: object, known: Iterable[str]) -> str:
    """``"; did you mean `x`?"`` for the closest of ``known`` to ``key``, else the list of
    known names when it is short (at most 12), else ``""``."""
    names = [str(name) for name in known]
    close = difflib.get_close_matches(str(key), names, n=1)
    if close:
        return f"; did you mean `{close[0]}`?"
    return f"; known: {', '.join(sorted(names))}" if len(names) <= 12 else ""


def is_integer(value: object) -> bool:
    """An ``int`` or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """An integer (not a bool) or a ``float``/numpy float."""
    return is_integer(value) or isinstance(value, (float, np.floating))


def _number(value: float) -> str:
    """Integers exactly with thousands separators, other numbers in ``%g``."""
    if isinstance(value, int) or (
        isinstance(value, float) and value.is_integer() and abs(value) < 1e15
    ):
        return f"{int(value):,}"
    return f"{value:g}"


def range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """`` in [low, high]`` (brackets by openness), `` >= low``, `` <= high`` or ``""``."""
    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f" in {left}{_number(low)}, {_number(high)}{right}"
    if low is not None:
        return f" {'>' if low_open else '>='} {_number(low)}"
    if high is not None:
        return f" {'<' if high_open else '<='} {_number(high)}"
    return ""


def integer_iv(
    label: str,
    value: object,
    *,
    low: int | None = None,
    high: int | None = None,
    integral_float: bool = False,
) -> int:
    """An integer in [low, high] (either end optional). ``integral_float`` also accepts a
    whole-number float such as ``3.0`` (JSON and family knobs write counts that way)."""
    rule = f"`{label}` must be an integer{range_text(low, high, False, False)}"
    if integral_float and isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        if math.isfinite(value) and float(value).is_integer():
            value = int(value)
    if not is_integer(value):
        raise InputTypeError(f"{rule}; got {describe(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{rule}; got {value!r}")
    return int(value)


def real_iv(
    label: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in the interval given by ``low``/``high`` and their openness."""
    rule = f"`{label}` must be a finite number{range_text(low, high, low_open, high_open)}"
    if not is_real(value):
        raise InputTypeError(f"{rule}; got {describe(value)}")
    number = float(value)
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or below or above:
        raise InputError(f"{rule}; got {value!r}")
    return number


def seed_iv(label: str, value: object) -> int:
    """An integer seed in [0, 2**63)."""
    if not is_integer(value):
        raise InputTypeError(
            f"`{label}` must be an integer seed in [0, 2**63); got {describe(value)}"
        )
    if not 0 <= value < SEED_LIMIT:
        raise InputError(f"`{label}` must be an integer seed in [0, 2**63); got {value!r}")
    return int(value)


def rng_iv(rng: object, label: str = "rng") -> np.random.Generator:
    """``np.random.default_rng(rng)`` for ``rng`` = None, an integer seed in [0, 2**63) or a
    Generator (returned as is, so the caller's stream advances)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if not is_integer(rng):
        raise InputTypeError(
            f"`{label}` must be None, an integer seed in [0, 2**63) or a numpy Generator; "
            f"got {describe(rng)}"
        )
    return np.random.default_rng(seed_iv(label, rng))


def choice_iv(label: str, value: object, choices: Sequence[str]) -> str:
    """One of the strings ``choices``."""
    if not isinstance(value, str):
        raise InputTypeError(f"`{label}` must be one of {list(choices)}; got {describe(value)}")
    if value not in choices:
        raise InputError(f"`{label}` must be one of {list(choices)}; got {describe(value)}")
    return value


def flag_iv(label: str, value: object) -> bool:
    """True or False (a numpy bool too); nothing else counts as a flag."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"`{label}` must be True or False; got {describe(value)}")
    return bool(value)


def time_limit_iv(value: object) -> float | None:
    """``None`` (no limit) or positive finite seconds."""
    if value is None:
        return None
    return real_iv("time_limit", value, low=0.0, low_open=True)


def mask_iv(label: str, value: object, n: int) -> np.ndarray:
    """A boolean mask of shape (n,), one entry per product."""
    mask = np.asarray(value)
    if mask.dtype != bool:
        raise InputTypeError(
            f"`{label}` must be a boolean mask over the {n} products; got dtype {mask.dtype}"
        )
    if mask.shape != (n,):
        raise InputError(
            f"`{label}` must have shape ({n},), one entry per product; got shape {mask.shape}"
        )
    return mask


def number_array_iv(label: str, values: object, ndim: int = 1) -> np.ndarray:
    """``values`` as a float64 array of ``ndim`` dimensions with finite entries.

    Only real numbers count: strings, bools, complex numbers, ``None`` and integers beyond
    float range are refused (numpy would convert ``"2.0"`` or drop an imaginary part silently).
    """
    kind = "a list of numbers" if ndim == 1 else f"a {ndim}-dimensional array of numbers"
    if isinstance(values, (str, bytes, dict)) or values is None:
        raise InputTypeError(f"`{label}` must be {kind}; got {describe(values)}")
    try:
        raw = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"`{label}` must be {kind} of one shape; got {describe(values)}") from exc
    if raw.dtype.kind not in "iuf" or _holds_bool(values):
        raise InputTypeError(
            f"`{label}` must be {kind} (real numbers within float range); "
            f"got entries of type {_entry_type(raw)}"
        )
    if raw.ndim != ndim:
        raise InputError(f"`{label}` must be {kind}; got shape {raw.shape}")
    arr = raw.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr.ravel()))
    if bad.size:
        where = np.unravel_index(int(bad[0]), arr.shape)
        index = where[0] if ndim == 1 else tuple(int(i) for i in where)
        raise InputError(
            f"`{label}` entry {index} is {float(arr[where])!r}; entries must be finite numbers"
        )
    return arr


def _holds_bool(values: object) -> bool:
    """Whether a (nested) list or tuple holds a bool, which numpy would silently turn into 0
    or 1 next to numbers."""
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (bool, np.bool_)):
            return True
    return False


def _entry_type(raw: np.ndarray) -> str:
    if raw.dtype.kind in "iuf":
        return "bool"
    if raw.dtype.kind == "O":
        for item in raw.ravel():
            if not is_real(item):
                return type(item).__name__
        return "int beyond float range"
    return {"b": "bool", "U": "str", "S": "bytes", "c": "complex"}.get(
        raw.dtype.kind, str(raw.dtype)
    )


def vector_iv(
    label: str,
    values: object,
    n: int | None = None,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    length_of: str = "prices",
) -> np.ndarray:
    """A float64[n] vector of finite real numbers, each in the given interval (``n`` None: any
    length). A length mismatch names ``length_of``, the argument that fixed n."""
    arr = number_array_iv(label, values)
    if n is not None and arr.shape[0] != n:
        raise InputError(
            f"`{label}` has {arr.shape[0]} entries; `{length_of}` has {n}, they must match"
        )
    below = (
        (arr <= low) if (low is not None and low_open) else (arr < low if low is not None else None)
    )
    above = arr > high if high is not None else None
    for bad_mask in (below, above):
        if bad_mask is not None and bad_mask.any():
            i = int(np.flatnonzero(bad_mask)[0])
            rule = range_text(low, high, low_open, False)
            raise InputError(f"`{label}` entry {i} is {float(arr[i])!r}; entries must be{rule}")
    return arr


# ------------------------------------------------------------------------------------ files


def read_file_bytes(path: str | os.PathLike[str], label: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``).

    The file is opened without blocking and checked with ``fstat`` on the open handle: a
    missing file, a directory, a FIFO, a socket or a device, and a file larger than
    ``max_bytes``, raise :class:`InputError` naming ``label`` and the path; other ``OSError``
    (a denied permission) propagate.
    """
    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        raise InputError(f"{label} {name!r} does not exist") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{label} {name!r} is a directory, not a file") from exc
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):
            raise InputError(f"{label} {name!r} is not a regular file") from exc
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{label} {name!r} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"{label} {name!r} is not a regular file (a FIFO, socket or device); "
                "give the path of a file"
            )
        if info.st_size > max_bytes:
            raise InputError(
                f"{label} {name!r} is {info.st_size:,} bytes; at most {max_bytes:,} are read"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InputError(f"{label} {name!r} holds more than {max_bytes:,} bytes")
    return data


def read_json_file(path: str | os.PathLike[str], label: str, max_bytes: int) -> Any:
    """Parse the JSON file ``path`` (read by :func:`read_file_bytes`). Invalid UTF-8 or JSON,
    the non-standard constants ``NaN``/``Infinity`` and nesting too deep for the parser raise
    :class:`InputError`."""
    data = read_file_bytes(path, label, max_bytes)
    return parse_json(data, f"{label} {str(path)!r}")


def parse_json(data: bytes | str, what: str) -> Any:
    """``json.loads`` with every failure as an :class:`InputError` naming ``what``."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise InputError(f"{what} is nested too deeply to be JSON we read") from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, constants
        raise InputError(f"{what} is not valid JSON: {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def file_label(path: str | os.PathLike[str]) -> str:
    """The path as quoted in messages."""
    return repr(str(Path(path)))
