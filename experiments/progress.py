"""Progress messages: a callable that receives one line of text per event, or None."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def say(progress: Progress | None, message: str) -> None:
    """Send ``message`` to ``progress`` when there is one."""
    if progress is not None:
        progress(message)
