"""Progress people can read: message lines, and one progress display per phase.

A *progress* is a callable that receives one line of text per event (``Progress``), or None.
A :class:`Reporter` is such a callable that also draws *phases* (training, suite, evaluation,
tuning): a phase counts units of work (timesteps, instances, cells) and finished tasks, and shows
them in one of two ways, chosen once per command (:func:`resolve_mode`):

* ``bars`` (a terminal): one tqdm bar per phase with counts, rate and ETA, redrawn in place;
  message lines are printed above the bar (``tqdm.write``) so they never break it.
* ``lines`` (a log file, a pipe, CI): no carriage returns; a plain line when the phase starts,
  then at most one line every ``interval`` seconds (default :data:`LINE_INTERVAL`) with the
  counts, the elapsed time and the ETA, and a closing line with the totals.

``none`` shows no phase at all (message lines still go out). Code below the CLI opens a phase
with :func:`phase`, which gives a silent phase when the progress is a plain callable (``print``,
a test's list.append) or None, so library callers need no display.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, TextIO

from tqdm.auto import tqdm

from envs.validation import choice_iv

Progress = Callable[[str], None]
Tick = Callable[..., None]
"""``tick(units, note=None)``: ``units`` more units of work are done; ``note`` (optional) is a
short status shown next to the counts (e.g. the recent episode profit of a training run)."""

Mode = Literal["bars", "lines", "none"]
MODES = ("auto", "bars", "lines", "none")
LINE_INTERVAL = 10.0
"""Seconds between two progress lines of a phase in ``lines`` mode."""


def say(progress: Progress | None, message: str) -> None:
    """Send ``message`` to ``progress`` when there is one."""
    if progress is not None:
        progress(message)


def resolve_mode(mode: str, stream: TextIO) -> Mode:
    """``auto`` is ``bars`` on an interactive terminal and ``lines`` otherwise (a file, a pipe,
    or any terminal when the ``CI`` environment variable is set or ``TERM`` is ``dumb``)."""
    mode = choice_iv("--progress", mode, MODES)
    if mode != "auto":
        return mode  # type: ignore[return-value]
    interactive = bool(getattr(stream, "isatty", lambda: False)())
    if not interactive or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return "lines"
    return "bars"


def duration(seconds: float) -> str:
    """``75.4`` -> ``"1m15s"``, ``3725`` -> ``"1h02m05s"``, ``8.2`` -> ``"8s"``."""
    if not math.isfinite(seconds):
        return "?"
    total = int(round(max(seconds, 0.0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Phase:
    """The progress of one phase: ``total`` units (``initial`` of them done before it started,
    e.g. finished runs) in ``tasks`` tasks (counted in ``task_unit``, default ``unit``). Use
    :meth:`tick` (the backend's ``Tick``) and :meth:`task_done`; :meth:`close` (or leaving the
    ``with`` block) ends it."""

    def __init__(
        self,
        reporter: Reporter | None,
        name: str,
        total: int,
        unit: str,
        *,
        tasks: int = 0,
        initial: int = 0,
        tasks_done: int = 0,
        task_unit: str | None = None,
    ) -> None:
        self.reporter = reporter
        self.name = name
        self.total = max(int(total), 0)
        self.unit = unit
        self.tasks = tasks
        self.task_unit = task_unit or unit
        self.initial = min(int(initial), self.total)
        self.done = self.initial
        self.tasks_done = tasks_done
        self.note = ""
        self.closed = False
        mode = reporter.mode if reporter is not None else "none"
        self.mode: Mode = mode
        clock = reporter.clock if reporter is not None else time.monotonic
        self.clock = clock
        self.start = clock()
        self.last_line = self.start
        self.bar: Any = None
        if mode == "bars":
            self.bar = tqdm(
                total=self.total,
                initial=self.initial,
                desc=name,
                unit=f" {unit}",
                unit_scale=self.total >= 100_000,
                file=reporter.stream,
                dynamic_ncols=True,
                leave=True,
                bar_format=(
                    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
                    "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"
                ),
            )
            self._postfix()
        elif mode == "lines":
            reporter.emit(f"{name}: started, {self._counts()}")
        if reporter is not None:
            reporter.active = self

    # -- updates ---------------------------------------------------------------------------

    def tick(self, units: int = 1, note: str | None = None) -> None:
        """``units`` more units are done (clamped to the total)."""
        units = max(0, min(int(units), self.total - self.done))
        self.done += units
        if note:
            self.note = note
        if self.bar is not None:
            if units:
                self.bar.update(units)
            if note:
                self._postfix()
        elif self.mode == "lines":
            now = self.clock()
            if now - self.last_line >= self.reporter.interval:  # type: ignore[union-attr]
                self.last_line = now
                self.reporter.emit(f"{self.name}: {self._status(now)}")  # type: ignore[union-attr]

    __call__ = tick

    def task_done(self, note: str | None = None) -> None:
        """One more task finished."""
        self.tasks_done += 1
        if note:
            self.note = note
        if self.bar is not None:
            self._postfix()
            self.bar.refresh()

    def close(self, stopped: bool = False) -> None:
        """End the phase; ``stopped`` says it ended by an error, not by finishing."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self._postfix()
            self.bar.close()
        elif self.mode == "lines":
            elapsed = self.clock() - self.start
            how = "stopped" if stopped else "finished"
            self.reporter.emit(  # type: ignore[union-attr]
                f"{self.name}: {how}, {self._counts()} in {duration(elapsed)}"
            )
        if self.reporter is not None and self.reporter.active is self:
            self.reporter.active = None

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.close(stopped=kind is not None)

    # -- text ------------------------------------------------------------------------------

    def _counts(self) -> str:
        parts = []
        if self.tasks:
            parts.append(f"{self.tasks_done}/{self.tasks} {self.task_unit}")
        if self.unit != self.task_unit or not self.tasks:
            parts.append(f"{self.done:,}/{self.total:,} {self.unit}")
        return ", ".join(parts)

    def eta(self, now: float) -> float:
        """Seconds left at the rate of the work done since the phase started."""
        worked = self.done - self.initial
        elapsed = now - self.start
        if worked <= 0 or elapsed <= 0:
            return math.nan
        return (self.total - self.done) * elapsed / worked

    def _status(self, now: float) -> str:
        percent = 100.0 * self.done / self.total if self.total else 100.0
        text = (
            f"{self._counts()} ({percent:.0f}%), {duration(now - self.start)} elapsed, "
            f"ETA {duration(self.eta(now))}"
        )
        return f"{text}; {self.note}" if self.note else text

    def _postfix(self) -> None:
        parts = []
        if self.tasks and self.task_unit != self.unit:  # else the bar's own count says it
            parts.append(f"{self.tasks_done}/{self.tasks} {self.task_unit}")
        if self.note:
            parts.append(self.note)
        self.bar.set_postfix_str(", ".join(parts), refresh=False)


class Reporter:
    """Message lines (``reporter("text")``) and phase displays on ``stream`` (stderr by
    default), each line prefixed with ``prefix`` (e.g. ``"[run] "``); ``mode`` as in
    :func:`resolve_mode`."""

    def __init__(
        self,
        prefix: str = "",
        *,
        mode: str = "auto",
        stream: TextIO | None = None,
        interval: float = LINE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix
        self.mode = resolve_mode(mode, self.stream)
        self.interval = float(interval)
        self.clock = clock
        self.active: Phase | None = None

    def emit(self, line: str) -> None:
        """One line, above the active bar if there is one."""
        text = f"{self.prefix}{line}"
        if self.active is not None and self.active.bar is not None:
            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    __call__ = emit

    def phase(self, name: str, total: int, unit: str, **kwargs: Any) -> Phase:
        """A new :class:`Phase` on this display (closing the one still open)."""
        if self.active is not None:
            self.active.close()
        return Phase(self, name, total, unit, **kwargs)


def phase(progress: Progress | None, name: str, total: int, unit: str, **kwargs: Any) -> Phase:
    """A phase on ``progress``'s display when it is a :class:`Reporter`, else a silent one."""
    if isinstance(progress, Reporter):
        return progress.phase(name, total, unit, **kwargs)
    return Phase(None, name, total, unit, **kwargs)
