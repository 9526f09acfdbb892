"""The fluid LP bound: hand-solved LP, assortment enumeration, fixed point vs HiGHS, primal."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp

from envs.choice import markov_chain_choice_probabilities, mnl_instance
from envs.fluid_lp import (
    DIRECT_LIMIT,
    MAX_ITERATIONS,
    fluid_lp,
    fluid_lp_matrices,
    offer_probabilities,
    policy_values,
    single_customer_values,
)
from envs.instance import make_instance
from envs.validation import InputError, InputTypeError


def random_instance(
    n, rng, *, sparse=False, degree=3, leak=(0.2, 0.6), customers=100, arrivals="fixed"
):
    """A random valid MC instance; margins r - c range from -20 % to +80 % of the price."""
    lam = rng.random(n)
    lam *= rng.uniform(0.5, 1.0) / lam.sum()
    if sparse:
        rows = np.repeat(np.arange(n), degree)
        cols = (rows + rng.integers(1, n, size=rows.size)) % n
        rho = sp.csr_array((rng.random(rows.size), (rows, cols)), shape=(n, n))
        rho.sum_duplicates()
    else:
        rho = rng.random((n, n))
        np.fill_diagonal(rho, 0.0)
    sums = np.asarray(rho.sum(axis=1)).ravel()
    target = 1.0 - rng.uniform(*leak, size=n)
    scale = np.divide(target, sums, out=np.zeros(n), where=sums > 0)
    rho = sp.csr_array(sp.diags(scale) @ rho) if sparse else rho * scale[:, None]
    prices = rng.uniform(1, 10, n)
    costs = prices * rng.uniform(0.2, 1.2, n)
    return make_instance(
        prices=prices,
        costs=costs,
        arrival=lam,
        substitution=rho,
        customers=customers,
        arrivals=arrivals,
    )


def random_mnl(n, rng, outside_weight, customers=50):
    prices = rng.uniform(1, 10, n)
    return mnl_instance(
        rng.random(n) + 0.1,
        outside_weight,
        prices=prices,
        costs=prices * rng.uniform(0.2, 1.2, n),
        customers=customers,
    )


def assert_primal_feasible(instance, solution, rtol=1e-9):
    z, w = solution.sales, solution.visits
    t = instance.customers
    assert np.all(z >= -1e-12) and np.all(w >= -1e-12)
    lhs = z + w - instance.substitution_csr.T @ w
    np.testing.assert_allclose(lhs, t * instance.arrival, rtol=rtol, atol=rtol * t)
    m = instance.prices - instance.costs
    assert m @ z == pytest.approx(solution.value, rel=rtol, abs=1e-12)


def test_two_product_lp_solved_by_hand():
    # T = 10, lambda = (0.5, 0.3), rho_12 = 0.5, rho_21 = 0.4, m = r - c = (2, 0.5).
    # A fluid unit at product 1 is worth g_1 = max(2, 0.5 g_2); at product 2 it is worth
    # g_2 = max(0.5, 0.4 g_1) (sell it, or send it on to 1). g_2 <= 2 gives 0.5 g_2 <= 1 < 2, so
    # g_1 = 2 and g_2 = max(0.5, 0.8) = 0.8: stock only product 1. Bound = T (0.5 * 2 + 0.3 * 0.8)
    # = 12.4. Primal: w_2 = T * 0.3 = 3 customers visit 2 and 0.4 * 3 = 1.2 move on to 1, so
    # z_1 = 5 + 1.2 = 6.2, z_2 = 0, w_1 = 0; profit 2 * 6.2 = 12.4 (primal = dual, so optimal).
    instance = make_instance(
        prices=[3.0, 2.0],
        costs=[1.0, 1.5],
        arrival=[0.5, 0.3],
        substitution=[[0.0, 0.5], [0.4, 0.0]],
        customers=10,
    )
    for method in ("fixed-point", "highs", "auto"):
        solution = fluid_lp(instance, method=method)
        assert solution.status == "optimal"
        assert solution.value == pytest.approx(12.4, rel=1e-12)
        np.testing.assert_allclose(solution.sales, [6.2, 0.0], atol=1e-9)
        np.testing.assert_allclose(solution.visits, [0.0, 3.0], atol=1e-9)
        np.testing.assert_allclose(solution.dual, [2.0, 0.8], atol=1e-9)
    assert fluid_lp(instance, method="fixed-point").assortment.tolist() == [True, False]


def test_builder_matrices():
    instance = make_instance(
        prices=[3.0, 2.0],
        costs=[1.0, 1.5],
        arrival=[0.5, 0.3],
        substitution=[[0.0, 0.5], [0.4, 0.0]],
        customers=10,
    )
    c, a_eq, b_eq = fluid_lp_matrices(instance)
    np.testing.assert_array_equal(c, [-2.0, -0.5, 0.0, 0.0])
    np.testing.assert_array_equal(a_eq.toarray(), [[1, 0, 1, -0.4], [0, 1, -0.5, 1]])
    np.testing.assert_array_equal(b_eq, [5.0, 3.0])


@pytest.mark.parametrize("seed", range(12))
def test_bound_equals_best_single_customer_assortment(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    instance = random_instance(n, rng, sparse=seed % 3 == 0, degree=2)
    m = instance.prices - instance.costs
    best = 0.0
    for mask in itertools.product([False, True], repeat=n):
        pi = markov_chain_choice_probabilities(
            instance.arrival, instance.substitution, np.array(mask)
        )
        best = max(best, float(m @ pi))
    solution = fluid_lp(instance, method="fixed-point")
    assert solution.value == pytest.approx(instance.customers * best, rel=1e-10, abs=1e-12)
    assert solution.value == pytest.approx(
        instance.customers * float(instance.arrival @ solution.dual), rel=1e-10, abs=1e-12
    )


def _agreement_cases():
    rng = np.random.default_rng(2024)
    cases = []
    for k in range(6):
        cases.append(random_instance(int(rng.integers(5, 80)), rng, sparse=False))
        cases.append(random_instance(int(rng.integers(5, 300)), rng, sparse=True, degree=5))
    cases.append(random_instance(40, rng, leak=(0.0, 0.05)))
    for outside in (0.0, 0.3, 2.0):
        cases.append(random_mnl(25, rng, outside))
    return cases


@pytest.mark.parametrize("instance", _agreement_cases())
def test_fixed_point_and_highs_agree(instance):
    fixed = fluid_lp(instance, method="fixed-point")
    highs = fluid_lp(instance, method="highs")
    assert fixed.status == "optimal" and highs.status == "optimal"
    assert fixed.value == pytest.approx(highs.value, rel=1e-9)
    assert_primal_feasible(instance, fixed)
    assert_primal_feasible(instance, highs, rtol=1e-7)


def test_mnl_without_outside_option_stocks_best_margin_product():
    # Every customer buys whenever anything is offered, so the bound is T * max margin.
    rng = np.random.default_rng(5)
    instance = random_mnl(30, rng, 0.0)
    m = instance.prices - instance.costs
    solution = fluid_lp(instance)
    assert solution.value == pytest.approx(instance.customers * m.max(), rel=1e-12)


def test_all_margins_negative_gives_zero_bound_even_without_leak():
    instance = mnl_instance([1.0, 2.0], 0.0, prices=[1.0, 1.0], costs=[1.5, 1.2], customers=7)
    for method in ("fixed-point", "highs"):
        solution = fluid_lp(instance, method=method)
        assert solution.value == pytest.approx(0.0, abs=1e-9)
        assert not solution.assortment.any()


def test_poisson_arrivals_use_the_mean():
    rng = np.random.default_rng(9)
    fixed = random_instance(8, np.random.default_rng(9))
    poisson = random_instance(8, rng, arrivals="poisson")
    assert fluid_lp(poisson).value == fluid_lp(fixed).value


def test_input_validation():
    instance = random_instance(3, np.random.default_rng(0))
    with pytest.raises(
        InputError,
        match=r"`method` must be one of \['auto', 'fixed-point', 'highs'\]; got 'simplex' \(str\)",
    ):
        fluid_lp(instance, method="simplex")
    with pytest.raises(
        InputTypeError, match=r"`instance` must be an envs.instance.Instance; got \{\} \(dict\)"
    ):
        fluid_lp({})
    with pytest.raises(
        InputError, match=r"`tolerance` must be a finite number in \(0, 1\); got 2.0"
    ):
        fluid_lp(instance, tolerance=2.0)
    rule = r"`max_iterations` must be an integer in \[1, 10,000,000\]"
    with pytest.raises(InputError, match=rf"{rule}; got 0$"):
        fluid_lp(instance, max_iterations=0)
    with pytest.raises(InputError, match=rf"{rule}; got 10000001$"):
        fluid_lp(instance, max_iterations=MAX_ITERATIONS + 1)
    with pytest.raises(InputTypeError, match=rf"{rule}; got 5.0 \(float\)"):
        fluid_lp(instance, max_iterations=5.0)


def assert_optimality_certificate(instance, solution, rtol=1e-9):
    """Primal feasible, dual feasible (g >= m, g >= rho g) and equal objectives: optimal."""
    assert_primal_feasible(instance, solution, rtol=rtol)
    g = solution.dual
    m = instance.prices - instance.costs
    slack = rtol * max(float(m.max()), 1.0)
    assert np.all(g >= m - slack) and np.all(g >= instance.substitution @ g - slack)
    dual_value = instance.customers * float(instance.arrival @ g)
    assert solution.value == pytest.approx(dual_value, rel=rtol)


def sparse_chain(n, leak, seed, degree=5):
    """A strongly connected sparse chain (i -> i + 1 plus random arcs), row sums 1 - leak * U."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate(
        [np.ones((n, 1), int), rng.integers(2, n, size=(n, degree - 1))], axis=1
    )
    cols = (np.arange(n)[:, None] + offsets) % n
    rho = sp.csr_array(
        (rng.random(n * degree), (np.repeat(np.arange(n), degree), cols.ravel())), shape=(n, n)
    )
    rho.sum_duplicates()
    sums = np.asarray(rho.sum(axis=1)).ravel()
    rho = sp.csr_array(sp.diags((1.0 - leak * rng.random(n)) / sums) @ rho)
    lam = rng.random(n)
    prices = rng.uniform(1, 10, n)
    return make_instance(
        prices=prices,
        costs=prices * rng.uniform(0.2, 1.5, n),
        arrival=lam / lam.sum(),
        substitution=rho,
        customers=1000,
    )


def test_no_leak_chain_above_direct_limit_sells_everything_at_top_margin():
    # Without leaks every customer walks until she finds a stocked product, so the best is to
    # offer only the top-margin product: bound = T * max(m) (lambda sums to 1).
    instance = sparse_chain(DIRECT_LIMIT + 500, 0.0, seed=1)
    solution = fluid_lp(instance, method="fixed-point")
    assert solution.status == "optimal"
    m = instance.prices - instance.costs
    assert solution.value == pytest.approx(instance.customers * m.max(), rel=1e-9)
    assert_optimality_certificate(instance, solution)


def test_weakly_leaking_chain_above_direct_limit_is_certified_optimal():
    instance = sparse_chain(DIRECT_LIMIT + 500, 0.003, seed=2)
    solution = fluid_lp(instance, method="fixed-point")
    assert solution.status == "optimal"
    assert_optimality_certificate(instance, solution)


def test_auto_falls_back_to_highs_when_the_fixed_point_stops_early():
    instance = random_instance(30, np.random.default_rng(4))
    assert fluid_lp(instance, method="fixed-point", max_iterations=1).status == "iteration_limit"
    solution = fluid_lp(instance, method="auto", max_iterations=1)
    assert solution.method == "highs" and solution.status == "optimal"
    assert solution.value == pytest.approx(fluid_lp(instance).value, rel=1e-9)


def test_single_customer_values_and_offer_probabilities():
    instance = make_instance(
        prices=[3.0, 2.0],
        costs=[1.0, 1.5],
        arrival=[0.5, 0.3],
        substitution=[[0.0, 0.5], [0.4, 0.0]],
        customers=10,
    )
    g, offered, status = single_customer_values(instance)
    np.testing.assert_allclose(g, [2.0, 0.8])
    assert offered.tolist() == [True, False] and status == "optimal"
    np.testing.assert_allclose(offer_probabilities(instance, offered), [0.62, 0.0])
    np.testing.assert_allclose(offer_probabilities(instance, np.array([False, True])), [0.0, 0.55])
    with pytest.raises(
        InputTypeError,
        match=r"`offered` must be a boolean mask over the 2 products; got dtype int64",
    ):
        offer_probabilities(instance, np.array([1, 0]))
    with pytest.raises(
        InputError, match=r"`offered` must have shape \(2,\), one entry per product; got shape"
    ):
        offer_probabilities(instance, np.array([True, False, True]))
    with pytest.raises(
        InputError,
        match=r"`margins` has 1 entries; `instance.prices` has 2, they must match",
    ):
        single_customer_values(instance, np.array([1.0]))
    with pytest.raises(
        InputError, match=r"`margins` entry 1 is nan; entries must be finite numbers"
    ):
        single_customer_values(instance, np.array([1.0, np.nan]))


def test_iteration_limit_is_a_status():
    rng = np.random.default_rng(3)
    instance = random_instance(3000, rng, sparse=True, degree=4, leak=(0.001, 0.002))
    solution = fluid_lp(instance, method="fixed-point", max_iterations=3)
    assert solution.status == "iteration_limit"


def big_sparse_instance(n, degree=20, seed=1):
    """n products, ``degree`` random substitutes each, leak 20-60 %, heavy-tailed lambda."""
    rng = np.random.default_rng(seed)
    lam = rng.pareto(1.0, n) + 1.0
    lam /= lam.sum() * 1.25
    cols = (np.arange(n)[:, None] + rng.integers(1, n, size=(n, degree))) % n
    cols.sort(axis=1)
    vals = rng.random((n, degree))
    vals *= ((1.0 - rng.uniform(0.2, 0.6, n)) / vals.sum(axis=1))[:, None]
    rho = sp.csr_array(
        (vals.ravel(), cols.ravel(), np.arange(0, n * degree + 1, degree)), shape=(n, n)
    )
    rho.sum_duplicates()
    prices = rng.uniform(1, 10, n)
    return make_instance(
        prices=prices,
        costs=prices * rng.uniform(0.2, 1.2, n),
        arrival=lam,
        substitution=rho,
        customers=10 * n,
    )


def test_large_sparse_fixed_point_is_consistent():
    instance = big_sparse_instance(20_000)
    solution = fluid_lp(instance)
    assert solution.status == "optimal" and solution.method == "fixed-point"
    assert_primal_feasible(instance, solution, rtol=1e-8)
    dual = instance.customers * float(instance.arrival @ solution.dual)
    assert solution.value == pytest.approx(dual, rel=1e-9)


@pytest.mark.slow
def test_one_million_products_under_ten_seconds():
    instance = big_sparse_instance(1_000_000)
    start = time.perf_counter()
    solution = fluid_lp(instance)
    seconds = time.perf_counter() - start
    print(
        f"fluid_lp, N = 1,000,000, 20 substitutes each: {seconds:.2f} s, "
        f"{solution.iterations} dual iterations"
    )
    assert seconds < 10.0
    assert solution.status == "optimal"
    assert_primal_feasible(instance, solution, rtol=1e-8)


def test_policy_values_hand_solved():
    # Buy set {1}, margins (1, 3), rho_01 = 0.5: g_1 = 3, g_0 = 0.5 * 3 = 1.5.
    instance = make_instance(
        prices=[3.0, 2.0],
        costs=[1.0, 1.5],
        arrival=[0.5, 0.3],
        substitution=[[0.0, 0.5], [0.4, 0.0]],
        customers=10,
    )
    np.testing.assert_allclose(
        policy_values(instance, np.array([1.0, 3.0]), np.array([False, True])), [1.5, 3.0]
    )
    with pytest.raises(
        InputTypeError, match=r"`buy` must be a boolean mask over the 2 products; got dtype int64"
    ):
        policy_values(instance, np.array([1.0, 3.0]), np.array([0, 1]))


def test_large_sparse_evaluations_report_running_out_of_iterations():
    # |U| > DIRECT_LIMIT and beta <= 0.99: the fixed-policy iterations get a budget of 1 step.
    instance = random_instance(DIRECT_LIMIT + 100, np.random.default_rng(8), sparse=True, degree=3)
    offered = np.zeros(instance.n_products, dtype=bool)
    offered[0] = True
    with pytest.raises(
        RuntimeError, match=r"choice probabilities did not converge within 1 iterations"
    ):
        offer_probabilities(instance, offered, max_iterations=1)
    with pytest.raises(RuntimeError, match=r"policy values did not converge within 1 iterations"):
        policy_values(instance, instance.prices - instance.costs, offered, max_iterations=1)
    values = policy_values(instance, instance.prices - instance.costs, offered)
    m = instance.prices - instance.costs
    np.testing.assert_allclose(
        values, np.where(offered, m, instance.substitution_csr @ values), atol=1e-9
    )
