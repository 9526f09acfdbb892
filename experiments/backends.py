"""Where independent tasks run: in this process one after another, or as Ray tasks.

A backend has one operation, ``map(fn, items, tick=None)``: call ``fn(item, tick)`` for every
item and yield ``(index, result)`` pairs as the calls finish (in any order; the caller puts
them back in order). ``fn`` must be a module-level function and ``items`` picklable, so that
the same call can run in another process or on another machine; ``tick(units, note=None)``
(:data:`experiments.progress.Tick`) lets a task report work done to the caller's progress
display. Training runs (:mod:`experiments.train`), suite instances (:mod:`experiments.suite`),
leaderboard cells (:mod:`experiments.leaderboard`) and tuning trials (:mod:`experiments.tune`)
are all mapped this way, so both backends share every line of the logic they run.

* :class:`SerialBackend` (the default) runs the calls in order in this process. It needs no
  extra package.
* :class:`RayBackend` submits every item as a Ray task with a resource request of one CPU
  (``num_cpus=1``) and one thread for torch, numba and BLAS (the workers' environment sets
  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``NUMBA_NUM_THREADS`` to
  1; :func:`agents.factory.make_model` sets torch's threads), so a cluster with C CPUs runs C
  tasks at once. Without an address it starts a local Ray of its own inside the command (as
  many CPUs as the machine has, or ``workers``; never a cluster named by ``RAY_ADDRESS`` or
  started on this node with ``ray start``) and stops it at :meth:`~RayBackend.close`; with an
  address (``auto`` or ``HOST:PORT``) it joins that cluster. Ray is imported only when this
  backend is built (install it with ``pip install -e ".[ray]"``); importing the project never
  imports it.
  A task whose worker dies (a killed process, a lost node) is retried up to
  :data:`MAX_RETRIES` times by Ray; every task here is safe to repeat (a training run resumes
  from its last checkpoint, a leaderboard cell is looked up in the result store first). If a
  task raises, the tasks not yet finished are cancelled and the task's own exception is
  raised here (so bad input still ends the command with one line, see :mod:`experiments.cli`).

The results are the same, bit for bit, with either backend: every task is deterministic given
its item (seeded training on one torch thread, common random numbers in the simulator, whose
results do not depend on its thread count).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from envs.validation import InputError, choice_iv, integer_iv
from experiments.progress import Tick

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("serial", "ray")
MAX_RETRIES = 2
"""Ray retries a task this many times when its worker process dies."""
TICK_INTERVAL = 0.5
"""Seconds between two progress messages a Ray task sends to the driver."""
POLL_SECONDS = 0.5
"""How often the driver collects progress while it waits for Ray tasks."""
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
"""Environment of every Ray worker: one thread per task, so tasks do not fight over cores."""
MAX_WORKERS = 4096


class Backend(Protocol):
    """Something that maps a function over items (module docstring)."""

    name: str
    workers: int
    """How many tasks run at once (1 for the serial backend)."""

    def map(
        self,
        fn: Callable[[T, Tick], R],
        items: Sequence[T],
        tick: Tick | None = None,
    ) -> Iterator[tuple[int, R]]: ...

    def close(self) -> None: ...


def _no_tick(units: int = 1, note: str | None = None) -> None:
    """A tick that goes nowhere."""


def run_ordered(
    backend: Backend | None,
    fn: Callable[[T, Tick], R],
    items: Sequence[T],
    tick: Tick | None = None,
    done: Callable[[int, R], None] | None = None,
) -> list[R]:
    """``[fn(item, tick) for item in items]`` on ``backend`` (serial when None), in the order
    of ``items``; ``done(index, result)`` is called as each task finishes."""
    results: dict[int, R] = {}
    for index, result in (backend or SerialBackend()).map(fn, items, tick):
        results[index] = result
        if done is not None:
            done(index, result)
    return [results[index] for index in range(len(items))]


class SerialBackend:
    """Every call in this process, in order."""

    name = "serial"
    workers = 1

    def map(
        self,
        fn: Callable[[T, Tick], R],
        items: Sequence[T],
        tick: Tick | None = None,
    ) -> Iterator[tuple[int, R]]:
        for index, item in enumerate(items):
            yield index, fn(item, tick or _no_tick)

    def close(self) -> None:
        pass

    def __enter__(self) -> SerialBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TickSink:
    """The driver's end of the tasks' progress messages (a Ray actor of zero CPUs): tasks add
    units and notes, the driver drains them while it waits."""

    def __init__(self) -> None:
        self.units = 0
        self.note: str | None = None

    def add(self, units: int, note: str | None) -> None:
        self.units += units
        if note:
            self.note = note

    def drain(self) -> tuple[int, str | None]:
        units, note = self.units, self.note
        self.units, self.note = 0, None
        return units, note


class _ThrottledTick:
    """A task's ``tick``: sums units and sends them to the sink at most every
    :data:`TICK_INTERVAL` seconds (and once more at the end of the task)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.units = 0
        self.note: str | None = None
        self.last = time.monotonic()

    def __call__(self, units: int = 1, note: str | None = None) -> None:
        self.units += units
        if note:
            self.note = note
        if time.monotonic() - self.last >= TICK_INTERVAL:
            self.flush()

    def flush(self) -> None:
        if self.units or self.note:
            self.sink.add.remote(self.units, self.note)
        self.units, self.note = 0, None
        self.last = time.monotonic()


def _ray_task(fn: Callable[[Any, Tick], Any], item: Any, sink: Any) -> Any:
    """What a Ray worker runs: ``fn(item, tick)`` with a tick that reports to ``sink``."""
    tick = _ThrottledTick(sink) if sink is not None else _no_tick
    try:
        return fn(item, tick)
    finally:
        if isinstance(tick, _ThrottledTick):
            tick.flush()


class RayBackend:
    """Every call a Ray task of one CPU, on a local Ray started here or on the cluster at
    ``address`` (module docstring). ``workers`` caps the CPUs of a local Ray (default: all)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, workers: int | None = None) -> None:
        try:
            import ray  # third-party and optional: imported only when this backend is chosen
        except ImportError as error:
            raise InputError(
                '--backend ray needs Ray, which is not installed: pip install -e ".[ray]" '
                "(or pip install 'ray>=2.9')"
            ) from error
        if address is not None and workers is not None:
            raise InputError(
                "--workers sets the CPUs of a local Ray; a cluster joined with --address has "
                "the CPUs its nodes were started with"
            )
        if workers is not None:
            workers = integer_iv("--workers", workers, low=1, high=MAX_WORKERS)
        self.ray = ray
        self.owns = not ray.is_initialized()
        if self.owns:
            ray.init(
                # "local": always a new Ray of our own, never one that RAY_ADDRESS or a
                # `ray start` on this node (/tmp/ray/ray_current_cluster) points at.
                address=address if address is not None else "local",
                num_cpus=workers if address is None else None,
                include_dashboard=False,
                log_to_driver=True,
                logging_level="WARNING",
                runtime_env={"env_vars": dict(ONE_THREAD)},
            )
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_ray_task)
        self.sink_class = ray.remote(num_cpus=0)(TickSink)

    def map(
        self,
        fn: Callable[[T, Tick], R],
        items: Sequence[T],
        tick: Tick | None = None,
    ) -> Iterator[tuple[int, R]]:
        ray = self.ray
        sink = self.sink_class.remote() if tick is not None else None
        refs = [self.remote.remote(fn, item, sink) for item in items]
        where = {ref: index for index, ref in enumerate(refs)}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
                if sink is not None:
                    units, note = ray.get(sink.drain.remote())
                    if units or note:
                        tick(units, note)  # type: ignore[misc]
                for ref in ready:
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as error:
                        cause = getattr(error, "cause", None)
                        if isinstance(cause, BaseException):
                            raise cause from error  # the task's own error; Ray's text below
                        raise
                    yield where[ref], result
        finally:
            for ref in pending:
                ray.cancel(ref)
            if sink is not None:
                ray.kill(sink)

    def close(self) -> None:
        if self.owns and self.ray.is_initialized():
            self.ray.shutdown()
        self.owns = False

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_backend(
    name: str = "serial", *, address: str | None = None, workers: int | None = None
) -> SerialBackend | RayBackend:
    """The backend called ``name`` (:data:`BACKENDS`); ``address`` and ``workers`` are Ray's."""
    name = choice_iv("--backend", name, BACKENDS)
    if name == "serial":
        if address is not None or workers is not None:
            raise InputError("--address and --workers go with --backend ray")
        return SerialBackend()
    return RayBackend(address, workers=workers)


def shared_path(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute (against this process's working directory), as every worker
    must read it: Ray workers do not share the driver's working directory."""
    return os.path.abspath(os.fspath(path))
