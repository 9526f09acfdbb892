"""Prepared instances packed as arrays, for batched one-shot episodes in one numba call.

An :class:`InstancePool` holds the instances an :class:`envs.episodes.InstanceSource` plays
(a fixed instance, or the family instances of the seeds drawn so far), each prepared once by
the same :class:`envs.episodes.PreparedInstance` as the single environment, and packed into
arrays: observations, demand caps, anchors, baseline stocks, reward divisors, economics and the
simulator's packed sampling tables (:class:`envs.tables.ChoiceTables`, concatenated with
offsets). :meth:`InstancePool.play` then simulates every copy's episode, and its baseline's,
in one parallel call of :func:`envs.simulate.play_batch`, which runs the simulator's own
kernel: the rewards are those of the single environment, bit for bit. Arrays grow by doubling,
so a pool prepares each instance once and never copies per episode.

Only Markov chain customers are batched in one numba call. The episodes of an instance with a
ground-truth ``shopper`` (another customer process, :mod:`envs.shocks`, :mod:`envs.segments`,
:mod:`envs.multistep`) are simulated copy by copy through :func:`envs.simulate.simulate`, as
the single environment does: the same rewards, without the batching.
"""

from __future__ import annotations

import numpy as np

from envs.episodes import InstanceSource, PreparedInstance
from envs.instance import Instance
from envs.simulate import play_batch, simulate
from envs.tables import ChoiceTables

INITIAL_CAPACITY = 16


class InstancePool:
    """The prepared instances of ``source``, packed (module docstring). ``slot(seed)`` prepares
    a family seed on first use; the fixed instance of a non-resampling source is slot 0."""

    def __init__(self, source: InstanceSource) -> None:
        self.source = source
        self.n_products = source.n_products
        self.seasons = source.settings.seasons
        self.has_anchor = source.fixed.anchor is not None
        self.has_baseline = source.fixed.baseline_stock is not None
        self.poisson = source.fixed.instance.arrivals == "poisson"
        self._slots: dict[int, int] = {}
        self.processes: dict[int, Instance] = {}
        """Pool index -> instance, for the instances whose customers are a ground-truth shopper."""
        self.size = 0
        self.capacity = 0
        self.table_size = 0
        self._allocate(INITIAL_CAPACITY, 1 << 12)
        if not source.resample:
            self._add(source.fixed)

    def slot(self, seed: int) -> int:
        """The pool index of family seed ``seed``, preparing it on first use."""
        index = self._slots.get(seed)
        if index is None:
            index = self._add(self.source.prepared(seed))
            self._slots[seed] = index
        return index

    def _allocate(self, capacity: int, table_capacity: int) -> None:
        n = self.n_products
        old = self.__dict__.copy() if self.capacity else None
        length = self.source.fixed.observation.shape[0]
        shapes = {
            "observation": ((capacity, length), np.float32),
            "cap": ((capacity, n), np.int64),
            "anchor": ((capacity, n), np.float64),
            "baseline": ((capacity, n), np.int64),
            "divisor": ((capacity,), np.float64),
            "customers": ((capacity,), np.int64),
            "prices": ((capacity, n), np.float64),
            "costs": ((capacity, n), np.float64),
            "salvage": ((capacity, n), np.float64),
            "row_start": ((capacity, n + 1), np.int64),
            "slot_offset": ((capacity + 1,), np.int64),
        }
        for name, (shape, dtype) in shapes.items():
            array = np.zeros(shape, dtype=dtype)
            if old is not None:
                array[: old[name].shape[0]] = old[name]
            setattr(self, name, array)
        slots = np.zeros(table_capacity, dtype=np.uint64)
        if old is not None:
            slots[: self.table_size] = old["slots"][: self.table_size]
        self.slots = slots
        self.capacity = capacity

    def _add(self, prepared: PreparedInstance) -> int:
        instance = prepared.instance
        tables = ChoiceTables.for_instance(instance)
        needed = self.table_size + tables.slots.shape[0]
        if self.size == self.capacity or needed > self.slots.shape[0]:
            capacity = self.capacity * 2 if self.size == self.capacity else self.capacity
            self._allocate(capacity, max(needed, 2 * self.slots.shape[0]))
        p = self.size
        self.observation[p] = prepared.observation
        self.cap[p] = prepared.cap
        if prepared.anchor is not None:
            self.anchor[p] = prepared.anchor
        if prepared.baseline_stock is not None:
            self.baseline[p] = prepared.baseline_stock
        self.divisor[p] = prepared.divisor
        self.customers[p] = instance.customers
        self.prices[p] = instance.prices
        self.costs[p] = instance.costs
        self.salvage[p] = instance.salvage
        self.row_start[p] = tables.row_start
        self.slots[self.table_size : needed] = tables.slots
        self.slot_offset[p + 1] = needed
        self.table_size = needed
        if instance.shopper is not None:
            self.processes[p] = instance
        self.size += 1
        return p

    def play(
        self, index: np.ndarray, stocks: np.ndarray, seeds: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean profit over the episode's seasons of ``stocks[e]`` on instance ``index[e]``
        with customers ``seeds[e]``, and of the baseline stock on the same customers (None
        without a baseline)."""
        profit = self._profits(index, stocks, seeds).mean(axis=1)
        if not self.has_baseline:
            return profit, None
        base = self._profits(index, self.baseline[index], seeds).mean(axis=1)
        return profit, base

    def _profits(self, index: np.ndarray, stocks: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        profit = np.empty((index.shape[0], self.seasons))
        process = np.array([int(p) in self.processes for p in index], dtype=bool)
        chain = np.flatnonzero(~process)
        if chain.size:
            part = np.empty((chain.size, self.seasons))
            play_batch(
                index[chain],
                np.ascontiguousarray(stocks[chain], dtype=np.int64),
                seeds[chain].astype(np.uint64),
                self.seasons,
                self.row_start,
                self.slot_offset,
                self.slots,
                self.prices,
                self.costs,
                self.salvage,
                self.customers,
                self.poisson,
                part,
            )
            profit[chain] = part
        for e in np.flatnonzero(process):
            instance = self.processes[int(index[e])]
            profit[e] = simulate(instance, stocks[e], self.seasons, int(seeds[e])).profit
        return profit
