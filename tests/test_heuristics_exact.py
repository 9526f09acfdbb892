"""On tiny instances: exact optimum <= fluid bound, and every registered heuristic's exact
expected profit <= the exact optimum (the registry is iterated, never a hand-kept list)."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.registry import POLICIES, solve
from envs.exact import exact_expected_profit
from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import make_instance

TOLERANCE = 1e-9


def tiny_instances() -> list:
    out = [make_family_instance("tiny", seed) for seed in (0, 1)]
    out.append(
        make_instance(
            prices=[6.0, 9.0],
            costs=[2.0, 6.0],
            salvage=[1.0, 2.0],
            arrival=[0.5, 0.3],
            substitution=[[0.0, 0.5], [0.6, 0.0]],
            customers=4,
            arrivals="poisson",
            name="tiny-poisson",
        )
    )
    return out


@pytest.fixture(scope="module", params=range(3), ids=["tiny-0", "tiny-1", "tiny-poisson"])
def solved(request) -> tuple:
    instance = tiny_instances()[request.param]
    optimum = solve("exact", instance)
    return instance, optimum, fluid_lp(instance).value


def test_exact_optimum_is_below_the_fluid_bound(solved) -> None:
    instance, optimum, bound = solved
    value = exact_expected_profit(instance, optimum.stock).profit
    assert value == pytest.approx(optimum.info["exact_profit"])
    assert value <= bound * (1 + TOLERANCE) + TOLERANCE


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_heuristic_is_below_the_exact_optimum(solved, name: str) -> None:
    instance, optimum, _ = solved
    result = optimum if name == "exact" else solve(name, instance, rng=0)
    stock = np.asarray(result.stock)
    assert stock.shape == (instance.n_products,) and np.all(stock >= 0)
    value = exact_expected_profit(instance, stock).profit
    assert value <= optimum.info["exact_profit"] + TOLERANCE * max(
        1.0, abs(optimum.info["exact_profit"])
    )
