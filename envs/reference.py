"""Plain-Python reference simulator of Markov chain customers (the benchmark's baseline).

It follows the stream spec of :mod:`envs.streams` draw for draw, so its sales equal the fast
kernels' exactly; it runs one Python step per draw and serves as
the correctness twin and the speed reference of ``benchmarks/bench_simulator.py``.

One season, for stock x and customers t = 0, ..., T' - 1 (T' = T, or Poisson(T)):

* draw 0 picks the first choice i from lambda (outcome N is "no purchase": she leaves);
* while i is out of stock: if nothing at all is in stock she leaves; otherwise draw j + 1
  picks the next product from row i of rho (outcome "leave" ends her visit);
* she buys i: x_i decreases by one.
"""

from __future__ import annotations

import numpy as np

from envs.instance import Instance, stock_iv
from envs.streams import (
    POISSON_CUSTOMER,
    py_alias_sample,
    py_customer_key,
    py_draw,
    py_season_key,
)
from envs.tables import ChoiceTables, poisson_count


def simulate_season_reference(
    instance: Instance, stock, seed: int, season: int, tables: ChoiceTables | None = None
) -> np.ndarray:
    """Sales per product of one season, computed one draw at a time in plain Python."""
    tables = tables or ChoiceTables.from_instance(instance)
    remaining = [int(v) for v in stock_iv(stock, instance.n_products)]
    in_stock = sum(1 for v in remaining if v > 0)
    sales = [0] * instance.n_products
    n = instance.n_products
    first_threshold = tables.first_threshold.tolist()
    first_alias = tables.first_alias.tolist()
    row_start = tables.row_start.tolist()
    row_threshold = tables.row_threshold.tolist()
    row_alias = tables.row_alias.tolist()
    row_target = tables.row_target.tolist()
    skey = py_season_key(seed, season)
    if instance.arrivals == "poisson":
        ckey = py_customer_key(skey, int(POISSON_CUSTOMER))
        customers = int(poisson_count(np.uint64(ckey), float(instance.customers)))
    else:
        customers = instance.customers
    for t in range(customers):
        if in_stock == 0:
            break
        ckey = py_customer_key(skey, t)
        i = py_alias_sample(py_draw(ckey, 0), 0, n + 1, first_threshold, first_alias)
        step = 1
        while i < n and remaining[i] == 0:
            start = row_start[i]
            k = py_alias_sample(py_draw(ckey, step), start, row_start[i + 1] - start, row_threshold, row_alias)
            i = row_target[start + k]
            step += 1
        if i < n:
            remaining[i] -= 1
            sales[i] += 1
            if remaining[i] == 0:
                in_stock -= 1
    return np.array(sales, dtype=np.int64)
