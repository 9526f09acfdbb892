"""Plain-Python reference simulator of Markov chain customers (the benchmark's baseline).

It follows the stream spec of :mod:`envs.streams` draw for draw, so its sales and KPIs equal
the numba kernel's exactly; it runs one Python step per draw and serves as the correctness
twin and the speed reference of ``benchmarks/bench_simulator.py``.

One season, for stock x and customers t = 0, ..., T' - 1 (T' = T, or Poisson(T)):

* draw 0 picks the first choice i from lambda (outcome N is "no purchase": she leaves);
* if nothing at all is in stock she is lost; otherwise, while i is out of stock, draw j + 1
  picks the next product from row i of rho (outcome N, "leave", ends her visit: lost);
* she buys i: x_i decreases by one (a substitution if i is not her first choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.instance import Instance, stock_iv
from envs.streams import POISSON_CUSTOMER, py_customer_key, py_draw, py_season_key, py_table_sample
from envs.tables import ChoiceTables, poisson_count


@dataclass(frozen=True)
class ReferenceSeason:
    """One season: sales per product and the KPIs (customers, lost, substitutions)."""

    sales: np.ndarray
    customers: int
    lost: int
    substitutions: int


class ReferenceSimulator:
    """The plain-Python twin of one instance; the tables become Python lists once, here."""

    def __init__(self, instance: Instance, tables: ChoiceTables | None = None) -> None:
        tables = tables or ChoiceTables.for_instance(instance)
        self.instance = instance
        self.row_start = tables.row_start.tolist()
        self.slots = tables.slots.tolist()

    def season(
        self, stock, seed: int, season: int, *, max_customers: int | None = None
    ) -> ReferenceSeason:
        """Season ``season`` of ``stock``, one draw at a time.

        ``max_customers`` stops after the first that many customers of the season (the
        benchmark times the reference on such a prefix for long seasons).
        """
        instance = self.instance
        n = instance.n_products
        row_start, slots = self.row_start, self.slots
        remaining = [int(v) for v in stock_iv(stock, n)]
        in_stock = sum(1 for v in remaining if v > 0)
        sales = [0] * n
        skey = py_season_key(seed, season)
        if instance.arrivals == "poisson":
            ckey = py_customer_key(skey, int(POISSON_CUSTOMER))
            customers = int(poisson_count(np.uint64(ckey), np.float64(instance.customers)))
        else:
            customers = instance.customers
        if max_customers is not None:
            customers = min(customers, max_customers)
        lost = 0
        substitutions = 0
        for t in range(customers):
            ckey = py_customer_key(skey, t)
            first = py_table_sample(py_draw(ckey, 0), 0, n + 1, slots)
            if first == n:
                continue
            if in_stock == 0:
                lost += 1
                continue
            i = first
            step = 1
            while i < n and remaining[i] == 0:
                start = row_start[i]
                i = py_table_sample(py_draw(ckey, step), start, row_start[i + 1] - start, slots)
                step += 1
            if i == n:
                lost += 1
                continue
            substitutions += i != first
            remaining[i] -= 1
            sales[i] += 1
            if remaining[i] == 0:
                in_stock -= 1
        return ReferenceSeason(np.array(sales, dtype=np.int64), customers, lost, int(substitutions))


def simulate_season_reference(
    instance: Instance,
    stock,
    seed: int,
    season: int,
    tables: ChoiceTables | None = None,
    *,
    max_customers: int | None = None,
) -> ReferenceSeason:
    """Season ``season`` of ``stock`` by :class:`ReferenceSimulator` (built for this call)."""
    return ReferenceSimulator(instance, tables).season(
        stock, seed, season, max_customers=max_customers
    )
