"""Season simulation with dynamic stock-out substitution and common random numbers.

``simulate(instance, stock, seasons, seed)`` returns per-season results; ``evaluate`` streams
seasons in batches and keeps only running sums, so its memory does not grow with ``seasons``.
Season ``k`` of seed ``seed`` meets the same customers whatever the stock vector (see
:mod:`envs.streams`), so differences between stock vectors are paired comparisons.

Per season and customer (Markov chain customers; DESIGN.md 2): the first choice i ~ lambda
(or no purchase); while i is out of stock she moves to j ~ rho_i. (or leaves); if nothing is in
stock she leaves at once. Key performance indicators per season:

* ``sales[i]``: units of product i sold; ``profit`` = r.sales + s.(x - sales) - c.x;
* ``customers``: arrivals; ``purchases``: customers who bought;
* ``lost``: customers whose first choice was a product but who bought nothing;
* ``substitutions``: purchases of a product other than the first choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from envs.instance import Instance, profit_of, stock_iv
from envs.streams import POISSON_CUSTOMER, alias_sample, customer_key, draw, season_key
from envs.tables import ChoiceTables, poisson_count

DEFAULT_BATCH_SEASONS = 256


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


def _seed_iv(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"`seed` must be an integer in [0, 2**63); got {seed!r}")
    return int(seed)


def _seasons_iv(seasons, label: str = "seasons") -> int:
    if isinstance(seasons, bool) or not isinstance(seasons, (int, np.integer)) or seasons < 1:
        raise ValueError(f"`{label}` must be a positive integer; got {seasons!r}")
    return int(seasons)


def simulate(
    instance: Instance,
    stock,
    seasons: int,
    seed: int = 0,
    *,
    first_season: int = 0,
    tables: ChoiceTables | None = None,
) -> SeasonResults:
    """Simulate seasons ``first_season .. first_season + seasons - 1`` of stock vector ``stock``."""
    x = stock_iv(stock, instance.n_products)
    seed = _seed_iv(seed)
    seasons = _seasons_iv(seasons)
    if isinstance(first_season, bool) or not isinstance(first_season, (int, np.integer)) or first_season < 0:
        raise ValueError(f"`first_season` must be a non-negative integer; got {first_season!r}")
    tables = tables or ChoiceTables.from_instance(instance)
    sales = np.zeros((seasons, instance.n_products), dtype=np.int64)
    kpis = np.zeros((seasons, 3), dtype=np.int64)
    _simulate_markov_chain(
        x, np.uint64(seed), np.int64(first_season), instance.customers, instance.arrivals == "poisson",
        tables.first_threshold, tables.first_alias, tables.row_start, tables.row_threshold,
        tables.row_alias, tables.row_target, sales, kpis,
    )
    profit = np.asarray(profit_of(instance, x, sales), dtype=np.float64)
    return SeasonResults(
        first_season=first_season, profit=profit, sales=sales, customers=kpis[:, 0],
        purchases=sales.sum(axis=1), lost=kpis[:, 1], substitutions=kpis[:, 2],
    )


def evaluate(
    instance: Instance,
    stock,
    seasons: int,
    seed: int = 0,
    *,
    batch_seasons: int = DEFAULT_BATCH_SEASONS,
) -> Evaluation:
    """Mean profit (with its standard error) and KPIs over ``seasons`` seasons, streamed."""
    x = stock_iv(stock, instance.n_products)
    seasons = _seasons_iv(seasons)
    batch_seasons = _seasons_iv(batch_seasons, "batch_seasons")
    tables = ChoiceTables.from_instance(instance)
    count = 0
    mean = 0.0
    m2 = 0.0
    sales_sum = np.zeros(instance.n_products, dtype=np.int64)
    totals = np.zeros(4, dtype=np.int64)
    for start in range(0, seasons, batch_seasons):
        batch = simulate(instance, x, min(batch_seasons, seasons - start), seed, first_season=start, tables=tables)
        # Chan et al. parallel update of the running mean and sum of squared deviations.
        b_count = batch.seasons
        b_mean = float(batch.profit.mean())
        b_m2 = float(((batch.profit - b_mean) ** 2).sum())
        delta = b_mean - mean
        total = count + b_count
        mean += delta * b_count / total
        m2 += b_m2 + delta * delta * count * b_count / total
        count = total
        sales_sum += batch.sales.sum(axis=0)
        totals += [batch.customers.sum(), batch.purchases.sum(), batch.lost.sum(), batch.substitutions.sum()]
    std_error = math.sqrt(m2 / (count - 1) / count) if count > 1 else float("nan")
    wanting = totals[1] + totals[2]
    return Evaluation(
        seasons=count,
        mean_profit=mean,
        std_error=std_error,
        mean_sales=sales_sum / count,
        mean_customers=totals[0] / count,
        mean_purchases=totals[1] / count,
        mean_lost=totals[2] / count,
        mean_substitutions=totals[3] / count,
        mean_leftover=float(x.sum() - totals[1] / count),
        fill_rate=float(totals[1] / wanting) if wanting else 1.0,
    )


@njit(parallel=True, cache=True)
def _simulate_markov_chain(
    stock, seed, first_season, customers, poisson, first_threshold, first_alias,
    row_start, row_threshold, row_alias, row_target, sales, kpis,
):
    n = stock.shape[0]
    for k in prange(sales.shape[0]):
        skey = season_key(seed, first_season + k)
        n_customers = poisson_count(customer_key(skey, POISSON_CUSTOMER), customers) if poisson else customers
        remaining = stock.copy()
        in_stock = 0
        for i in range(n):
            if remaining[i] > 0:
                in_stock += 1
        lost = 0
        substitutions = 0
        for t in range(n_customers):
            ckey = customer_key(skey, t)
            first = alias_sample(draw(ckey, 0), 0, n + 1, first_threshold, first_alias)
            if first == n:
                continue
            if in_stock == 0:
                lost += 1
                continue
            i = first
            step = 1
            while i < n and remaining[i] == 0:
                start = row_start[i]
                slot = alias_sample(draw(ckey, step), start, row_start[i + 1] - start, row_threshold, row_alias)
                i = row_target[start + slot]
                step += 1
            if i == n:
                lost += 1
                continue
            if i != first:
                substitutions += 1
            remaining[i] -= 1
            sales[k, i] += 1
            if remaining[i] == 0:
                in_stock -= 1
        kpis[k, 0] = n_customers
        kpis[k, 1] = lost
        kpis[k, 2] = substitutions
