"""Season simulation with dynamic stock-out substitution and common random numbers.

``simulate(instance, stock, seasons, seed)`` returns per-season results; ``evaluate`` streams
seasons in batches and keeps only running sums, so its memory depends neither on ``seasons``
nor (for Markov chain customers) on seasons x N. Season ``k`` of seed ``seed`` meets the same
customers whatever the stock vector (see :mod:`envs.streams`), so differences between stock
vectors are paired comparisons.

Per season and customer (Markov chain customers; DESIGN.md 2): the first choice i ~ lambda
(or no purchase); while i is out of stock she moves to j ~ rho_i. (or leaves); if nothing is in
stock she leaves at once. Key performance indicators per season:

* ``sales[i]``: units of product i sold; ``profit`` = r.sales + s.(x - sales) - c.x, summed
  as (s - c).x + sum_i (r_i - s_i) sales_i over the products in the order of their first sale;
* ``customers``: arrivals; ``purchases``: customers who bought;
* ``lost``: customers whose first choice was a product but who bought nothing;
* ``substitutions``: purchases of a product other than the first choice;
* so ``customers = purchases + lost + no-purchase customers``.

When ``instance.shopper`` is set (a customer process that is not a Markov chain), both
functions call ``instance.shopper.run_seasons(stock, seed, first_season, customers, poisson,
sales, kpis)`` (contract in :mod:`envs.multistep`) instead of the Markov chain kernel.

Speed: one numba kernel (fastmath off); seasons are split into contiguous chunks run in
parallel with ``prange`` (a lone season runs serially, without thread start-up). Each chunk
keeps one ``remaining`` inventory vector and an out-of-stock bitset and restores them after
each season from the list of products sold, so a season costs O(customers + products sold),
not O(N). Customers are served in blocks whose substitution walks advance in lockstep, so
that their memory accesses overlap (see ``_run_chunk``). Every season's result is a pure
function of (seed, season) and the per-chunk sales sums are integers, so results are
bit-identical for any number of threads. Measured speed: ``benchmarks/results_simulator.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from envs.instance import Instance, profit_of, stock_iv
from envs.streams import POISSON_CUSTOMER, customer_key, draw, season_key, table_sample
from envs.tables import ChoiceTables, poisson_count
from envs.validation import InputError, InputTypeError, describe, integer_iv, seed_iv

DEFAULT_BATCH_SEASONS = 4096
MAX_BATCH_ENTRIES = 1 << 22
CHUNKS_PER_THREAD = 4
BLOCK = 64
MAX_SEASONS = 10_000_000
MAX_SIMULATED_CUSTOMERS = 10**11
"""One call simulates at most this many customers (seasons x T): bounded time for any input."""
MAX_FIRST_SEASON = 2**62


@dataclass(frozen=True)
class SeasonResults:
    """Results of seasons ``first_season, ..., first_season + K - 1`` (arrays of length K)."""

    first_season: int
    profit: np.ndarray
    sales: np.ndarray
    customers: np.ndarray
    purchases: np.ndarray
    lost: np.ndarray
    substitutions: np.ndarray

    @property
    def seasons(self) -> int:
        return int(self.profit.shape[0])


@dataclass(frozen=True)
class Evaluation:
    """Aggregates of ``seasons`` simulated seasons of one stock vector."""

    seasons: int
    mean_profit: float
    std_error: float
    mean_sales: np.ndarray
    mean_customers: float
    mean_purchases: float
    mean_lost: float
    mean_substitutions: float
    mean_leftover: float
    fill_rate: float

    def to_dict(self) -> dict:
        return {
            "mean_profit": self.mean_profit,
            "std_error": self.std_error,
            "seasons": self.seasons,
            "fill_rate": self.fill_rate,
            "mean_customers": self.mean_customers,
            "mean_purchases": self.mean_purchases,
            "mean_lost": self.mean_lost,
            "mean_substitutions": self.mean_substitutions,
            "mean_leftover": self.mean_leftover,
            "mean_sales": self.mean_sales.tolist(),
        }


def _seasons_iv(instance: Instance, seasons: object, first_season: object) -> tuple[int, int]:
    """``seasons`` in [1, MAX_SEASONS] with seasons x T at most MAX_SIMULATED_CUSTOMERS, and
    ``first_season`` in [0, 2**62]."""
    seasons = integer_iv("seasons", seasons, low=1, high=MAX_SEASONS)
    first_season = integer_iv("first_season", first_season, low=0, high=MAX_FIRST_SEASON)
    if seasons * instance.customers > MAX_SIMULATED_CUSTOMERS:
        raise InputError(
            f"`seasons` {seasons:,} of {instance.customers:,} customers each is "
            f"{seasons * instance.customers:,} customers; one call simulates at most "
            f"{MAX_SIMULATED_CUSTOMERS:,} (about half an hour on one core)"
        )
    return seasons, first_season


def _tables_iv(instance: Instance, tables) -> ChoiceTables:
    if tables is None:
        return ChoiceTables.for_instance(instance)
    if not isinstance(tables, ChoiceTables):
        raise InputTypeError(f"`tables` must be a ChoiceTables or None; got {describe(tables)}")
    if tables.n_products != instance.n_products:
        raise InputError(
            f"`tables` were built for {tables.n_products} products; "
            f"`instance` has {instance.n_products}"
        )
    return tables


def _run(
    instance: Instance,
    tables: ChoiceTables | None,
    x: np.ndarray,
    seed: int,
    first_season: int,
    seasons: int,
    full: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profit[K], kpis[K, 3], sales) of K seasons: sales[K, N] if ``full``, else its column
    sums."""
    n = instance.n_products
    poisson = instance.arrivals == "poisson"
    kpis = np.zeros((seasons, 3), dtype=np.int64)
    if instance.shopper is not None:
        sales = np.zeros((seasons, n), dtype=np.int64)
        instance.shopper.run_seasons(
            x, seed, first_season, instance.customers, poisson, sales, kpis
        )
        profit = np.asarray(profit_of(instance, x, sales), dtype=np.float64).reshape(seasons)
        return profit, kpis, sales if full else sales.sum(axis=0)
    tables = _tables_iv(instance, tables)
    profit = np.empty(seasons)
    args = (
        x,
        np.uint64(seed),
        np.int64(first_season),
        np.int64(instance.customers),
        poisson,
        np.float64(instance.customers),
        tables.row_start,
        tables.slots,
        instance.prices,
        instance.costs,
        instance.salvage,
    )
    # A lone season runs serially (no thread start-up); otherwise seasons are split in chunks.
    chunks = 1 if seasons == 1 else min(seasons, CHUNKS_PER_THREAD * numba.get_num_threads())
    # Per-season sales (full) or one row of sales sums per chunk; the unused one is a 1 x 1 dummy.
    sales = np.zeros((seasons, n) if full else (1, 1), dtype=np.int64)
    sums = np.zeros((1, 1) if full else (chunks, n), dtype=np.int64)
    if chunks == 1:
        _simulate_serial(*args, full, sales, sums, profit, kpis)
    else:
        _simulate_parallel(chunks, *args, full, sales, sums, profit, kpis)
    return profit, kpis, sales if full else sums.sum(axis=0)


def simulate(
    instance: Instance,
    stock,
    seasons: int,
    seed: int = 0,
    *,
    first_season: int = 0,
    tables: ChoiceTables | None = None,
) -> SeasonResults:
    """Simulate seasons ``first_season .. first_season + seasons - 1`` of stock vector ``stock``.

    ``tables`` (optional) are the instance's :class:`ChoiceTables`; by default they are built
    once per instance and cached (:meth:`ChoiceTables.for_instance`).
    """
    x = stock_iv(stock, instance.n_products)
    seed = seed_iv("seed", seed)
    seasons, first_season = _seasons_iv(instance, seasons, first_season)
    profit, kpis, sales = _run(instance, tables, x, seed, first_season, seasons, full=True)
    return SeasonResults(
        first_season=first_season,
        profit=profit,
        sales=sales,
        customers=kpis[:, 0],
        purchases=sales.sum(axis=1),
        lost=kpis[:, 1],
        substitutions=kpis[:, 2],
    )


def evaluate(
    instance: Instance,
    stock,
    seasons: int,
    seed: int = 0,
    *,
    batch_seasons: int = DEFAULT_BATCH_SEASONS,
    tables: ChoiceTables | None = None,
) -> Evaluation:
    """Mean profit (with its standard error) and KPIs over seasons 0 .. ``seasons`` - 1, streamed.

    Seasons run in batches of ``batch_seasons`` (fewer for a ``shopper``, so that a batch's
    sales matrix holds at most ``MAX_BATCH_ENTRIES`` numbers); only running sums are kept. The
    mean and the sum of squared deviations are combined across batches by Chan et al.'s update.
    """
    x = stock_iv(stock, instance.n_products)
    seed = seed_iv("seed", seed)
    seasons, _ = _seasons_iv(instance, seasons, 0)
    batch_seasons = integer_iv("batch_seasons", batch_seasons, low=1, high=MAX_SEASONS)
    if instance.shopper is not None:
        batch_seasons = max(1, min(batch_seasons, MAX_BATCH_ENTRIES // instance.n_products))
    else:
        tables = _tables_iv(instance, tables)
    count = 0
    mean = 0.0
    m2 = 0.0
    sales_sum = np.zeros(instance.n_products, dtype=np.int64)
    totals = np.zeros(3, dtype=np.int64)
    for start in range(0, seasons, batch_seasons):
        size = min(batch_seasons, seasons - start)
        profit, kpis, batch_sales = _run(instance, tables, x, seed, start, size, full=False)
        b_mean = float(profit.mean())
        b_m2 = float(((profit - b_mean) ** 2).sum())
        delta = b_mean - mean
        total = count + size
        mean += delta * size / total
        m2 += b_m2 + delta * delta * count * size / total
        count = total
        sales_sum += batch_sales
        totals += kpis.sum(axis=0)
    std_error = math.sqrt(m2 / (count - 1) / count) if count > 1 else float("nan")
    purchases = int(sales_sum.sum())
    wanting = purchases + int(totals[1])
    return Evaluation(
        seasons=count,
        mean_profit=mean,
        std_error=std_error,
        mean_sales=sales_sum / count,
        mean_customers=float(totals[0] / count),
        mean_purchases=purchases / count,
        mean_lost=float(totals[1] / count),
        mean_substitutions=float(totals[2] / count),
        mean_leftover=float(x.sum() - purchases / count),
        fill_rate=purchases / wanting if wanting else 1.0,
    )


# ------------------------------------------------------------------------------ kernels


@njit(cache=True)
def _run_chunk(
    k0,
    k1,
    chunk,
    stock,
    seed,
    first_season,
    customers,
    poisson,
    mean,
    row_start,
    slots,
    prices,
    costs,
    salvage,
    full,
    sales,
    sums,
    profit,
    kpis,
):
    """Seasons k0 .. k1 - 1 (the whole kernel; the drivers below only split seasons).

    ``empty`` is a bitset of the products out of stock (bit i of word i >> 6): the walk tests
    it at every step, and at 1 bit per product it stays in the fastest cache even for large N;
    ``remaining`` is touched only on a purchase.

    Customers are served in blocks of ``BLOCK``. Pass 1 draws the block's first choices and
    walks every customer whose choice is out of stock, all customers one step per round
    (lockstep), against the stock at the block's start: the rounds' table reads are
    independent, so their cache misses overlap (1.5-2x faster for large N, where every
    substitution step is a miss). Pass 2 serves the customers in order, resuming a walk whose
    product sold out earlier in the block. Stock only falls within a season, so a product out
    of stock at the block's start is still out of stock later, and the outcome equals serving
    one customer at a time (the plain-Python reference does exactly that).
    """
    n = stock.shape[0]
    remaining = stock.astype(np.int32)
    touched = np.empty(n, dtype=np.int32)
    empty_start = np.zeros((n >> 6) + 1, dtype=np.uint64)
    in_stock_start = 0
    fixed = 0.0
    for i in range(n):
        if stock[i] > 0:
            in_stock_start += 1
            fixed += (salvage[i] - costs[i]) * stock[i]
        else:
            empty_start[i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    empty = empty_start.copy()
    one = np.uint64(1)
    keys = np.empty(BLOCK, dtype=np.uint64)
    firsts = np.empty(BLOCK, dtype=np.int64)
    found = np.empty(BLOCK, dtype=np.int64)
    steps = np.empty(BLOCK, dtype=np.int64)
    active = np.empty(BLOCK, dtype=np.int64)
    for k in range(k0, k1):
        skey = season_key(seed, first_season + k)
        n_customers = customers
        if poisson:
            n_customers = poisson_count(customer_key(skey, POISSON_CUSTOMER), mean)
        in_stock = in_stock_start
        n_touched = 0
        lost = 0
        substitutions = 0
        for t0 in range(0, n_customers, BLOCK):
            size = min(BLOCK, n_customers - t0)
            walking = 0
            for b in range(size):
                ckey = customer_key(skey, t0 + b)
                first = table_sample(draw(ckey, 0), 0, n + 1, slots)
                keys[b] = ckey
                firsts[b] = first
                found[b] = first
                steps[b] = 1
                out = (
                    first != n
                    and in_stock > 0
                    and (empty[first >> 6] >> np.uint64(first & 63)) & one != 0
                )
                active[walking] = b
                walking += out
            while walking > 0:
                still = 0
                for a in range(walking):
                    b = active[a]
                    i = found[b]
                    start = row_start[i]
                    j = table_sample(
                        draw(keys[b], steps[b]), start, row_start[i + 1] - start, slots
                    )
                    found[b] = j
                    steps[b] += 1
                    out = j != n and (empty[j >> 6] >> np.uint64(j & 63)) & one != 0
                    active[still] = b
                    still += out
                walking = still
            for b in range(size):
                first = firsts[b]
                if first == n:
                    continue
                if in_stock == 0:
                    lost += 1
                    continue
                i = found[b]
                step = steps[b]
                while i != n and (empty[i >> 6] >> np.uint64(i & 63)) & one:
                    start = row_start[i]
                    i = table_sample(draw(keys[b], step), start, row_start[i + 1] - start, slots)
                    step += 1
                if i == n:
                    lost += 1
                    continue
                if i != first:
                    substitutions += 1
                if remaining[i] == stock[i]:
                    touched[n_touched] = i
                    n_touched += 1
                remaining[i] -= 1
                if remaining[i] == 0:
                    in_stock -= 1
                    empty[i >> 6] |= one << np.uint64(i & 63)
        value = 0.0
        for m in range(n_touched):
            i = touched[m]
            sold = stock[i] - remaining[i]
            value += (prices[i] - salvage[i]) * sold
            if full:
                sales[k, i] = sold
            else:
                sums[chunk, i] += sold
            remaining[i] = stock[i]
            empty[i >> 6] = empty_start[i >> 6]
        profit[k] = value + fixed
        kpis[k, 0] = n_customers
        kpis[k, 1] = lost
        kpis[k, 2] = substitutions


@njit(cache=True)
def _simulate_serial(
    stock,
    seed,
    first_season,
    customers,
    poisson,
    mean,
    row_start,
    slots,
    prices,
    costs,
    salvage,
    full,
    sales,
    sums,
    profit,
    kpis,
):
    _run_chunk(
        0,
        profit.shape[0],
        0,
        stock,
        seed,
        first_season,
        customers,
        poisson,
        mean,
        row_start,
        slots,
        prices,
        costs,
        salvage,
        full,
        sales,
        sums,
        profit,
        kpis,
    )


@njit(parallel=True, cache=True)
def _simulate_parallel(
    chunks,
    stock,
    seed,
    first_season,
    customers,
    poisson,
    mean,
    row_start,
    slots,
    prices,
    costs,
    salvage,
    full,
    sales,
    sums,
    profit,
    kpis,
):
    seasons = profit.shape[0]
    for c in prange(chunks):
        _run_chunk(
            c * seasons // chunks,
            (c + 1) * seasons // chunks,
            c,
            stock,
            seed,
            first_season,
            customers,
            poisson,
            mean,
            row_start,
            slots,
            prices,
            costs,
            salvage,
            full,
            sales,
            sums,
            profit,
            kpis,
        )


@njit(parallel=True, cache=True)
def play_batch(
    index,
    stocks,
    seeds,
    seasons,
    row_start,
    slot_offset,
    slots,
    prices,
    costs,
    salvage,
    customers,
    poisson,
    profit,
):
    """Batched episodes on packed instances (:class:`envs.pool.InstancePool`): for every copy e
    (in parallel), the profits of seasons 0..K-1 of seed ``seeds[e]`` of ``stocks[e]`` on
    instance ``index[e]`` into ``profit[e, :]``. Instance p's tables are
    ``slots[slot_offset[p]:slot_offset[p + 1]]`` with row starts ``row_start[p]``. Each
    season's profit is the one :func:`simulate` gives (the same kernel), bit for bit."""
    n = stocks.shape[1]
    for e in prange(stocks.shape[0]):
        p = index[e]
        sums = np.zeros((1, n), dtype=np.int64)
        unused = np.zeros((1, 1), dtype=np.int64)
        kpis = np.zeros((seasons, 3), dtype=np.int64)
        season_profit = np.empty(seasons)
        _run_chunk(
            0,
            seasons,
            0,
            stocks[e],
            seeds[e],
            0,
            customers[p],
            poisson,
            np.float64(customers[p]),
            row_start[p],
            slots[slot_offset[p] : slot_offset[p + 1]],
            prices[p],
            costs[p],
            salvage[p],
            False,
            unused,
            sums,
            season_profit,
            kpis,
        )
        profit[e, :] = season_profit
