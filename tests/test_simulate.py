"""The season simulator: exact-DP agreement, reference twin, determinism, CRN, KPIs, bad input."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import chi2

from envs import simulate as simulate_module
from envs.choice import mnl_instance
from envs.exact import exact_expected_profit
from envs.instance import MAX_CUSTOMERS, Instance, make_instance, profit_of
from envs.reference import simulate_season_reference
from envs.simulate import evaluate, simulate
from envs.tables import ChoiceTables
from envs.validation import InputError, InputTypeError

KINDS = ("mc-dense", "mc-sparse", "mnl", "mnl-no-outside")


def random_mc(
    rng: np.random.Generator, n: int, customers: int, arrivals: str, sparse: bool
) -> Instance:
    """Random MC instance: rows of rho keep a random subset and sum to U(0.2, 0.95)."""
    rho = rng.random((n, n)) * (rng.random((n, n)) < 0.7)
    np.fill_diagonal(rho, 0.0)
    sums = rho.sum(axis=1, keepdims=True)
    rho = np.divide(rho, sums, out=np.zeros_like(rho), where=sums > 0) * rng.uniform(
        0.2, 0.95, (n, 1)
    )
    arrival = rng.dirichlet(np.ones(n + 1))[:n] * rng.uniform(0.5, 1.0)
    costs = rng.uniform(0.5, 2.0, n)
    return make_instance(
        prices=costs * rng.uniform(1.2, 3.0, n),
        costs=costs,
        salvage=costs * rng.uniform(0, 0.5, n),
        arrival=arrival,
        substitution=sp.csr_array(rho) if sparse else rho,
        customers=customers,
        arrivals=arrivals,
    )


def random_tiny(rng: np.random.Generator, kind: str, arrivals: str) -> Instance:
    n = int(rng.integers(1, 4))
    customers = int(rng.integers(2, 13))
    if kind.startswith("mc"):
        return random_mc(rng, n, customers, arrivals, sparse=kind == "mc-sparse")
    v0 = 0.0 if kind == "mnl-no-outside" else float(rng.uniform(0.2, 3.0))
    costs = rng.uniform(0.5, 2.0, n)
    return mnl_instance(
        rng.uniform(0.2, 3.0, n),
        v0,
        prices=costs * rng.uniform(1.2, 3.0, n),
        costs=costs,
        customers=customers,
        arrivals=arrivals,
    )


def test_simulated_mean_profit_agrees_with_exact_dp() -> None:
    """64 random tiny instances (4 kinds x fixed/Poisson x 8): |z| < 3 each, sum z^2 ~ chi^2.

    z = (simulated mean - exact mean) / sqrt(exact variance / seasons): the exact standard
    error, because the sample one is unreliable when a rare event (a short Poisson season)
    drives the variance.
    """
    rng = np.random.default_rng(20261124)
    seasons = 3000
    z_scores = []
    for kind in KINDS:
        for arrivals in ("fixed", "poisson"):
            for trial in range(8):
                inst = random_tiny(rng, kind, arrivals)
                stock = rng.integers(0, 4, inst.n_products)
                stock[rng.integers(inst.n_products)] += 1
                exact = exact_expected_profit(inst, stock)
                result = evaluate(inst, stock, seasons, seed=trial)
                label = f"{kind} {arrivals} trial {trial} stock {stock.tolist()}"
                if exact.variance < 1e-20:
                    assert result.mean_profit == pytest.approx(exact.profit, abs=1e-9), label
                    continue
                z = (result.mean_profit - exact.profit) / np.sqrt(exact.variance / seasons)
                assert abs(z) < 3.0, f"{label}: z = {z:.2f}"
                z_scores.append(z)
    z2 = float(np.sum(np.square(z_scores)))
    df = len(z_scores)
    assert df >= 50
    assert chi2.ppf(0.001, df) < z2 < chi2.ppf(0.999, df), f"sum z^2 = {z2:.1f} on {df} instances"


def test_expected_sales_agree_with_exact_dp() -> None:
    inst = random_mc(np.random.default_rng(3), 3, 10, "poisson", sparse=False)
    stock = np.array([2, 3, 1])
    exact = exact_expected_profit(inst, stock)
    result = simulate(inst, stock, 20000, seed=1)
    se = result.sales.std(axis=0, ddof=1) / np.sqrt(result.seasons)
    assert np.all(np.abs(result.sales.mean(axis=0) - exact.sales) < 4 * se + 1e-12)


# --------------------------------------------------------------- the plain-Python twin


def _medium(rng: np.random.Generator, n: int, sparse: bool, arrivals: str) -> Instance:
    inst = random_mc(rng, n, 300, arrivals, sparse)
    return inst


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("arrivals", ["fixed", "poisson"])
def test_kernel_matches_plain_python_reference(sparse: bool, arrivals: str) -> None:
    rng = np.random.default_rng(11)
    inst = _medium(rng, 40, sparse, arrivals)
    stock = np.round(0.9 * inst.customers * inst.arrival).astype(np.int64)
    results = simulate(inst, stock, 4, seed=99, first_season=7)
    for k in range(4):
        ref = simulate_season_reference(inst, stock, 99, 7 + k)
        np.testing.assert_array_equal(results.sales[k], ref.sales)
        assert (results.customers[k], results.lost[k], results.substitutions[k]) == (
            ref.customers,
            ref.lost,
            ref.substitutions,
        )
    assert results.substitutions.sum() > 0 and results.lost.sum() > 0


def test_kernel_matches_reference_with_scarce_stock_across_blocks() -> None:
    # Stock at a third of demand: products sell out inside the kernel's customer blocks, so
    # walks computed against a block's starting stock must be resumed; results stay exact.
    inst = random_mc(np.random.default_rng(15), 300, 1000, "poisson", sparse=True)
    stock = np.round(0.3 * inst.customers * inst.arrival).astype(np.int64)
    results = simulate(inst, stock, 3, seed=4)
    for k in range(3):
        ref = simulate_season_reference(inst, stock, 4, k)
        np.testing.assert_array_equal(results.sales[k], ref.sales)
        assert (results.lost[k], results.substitutions[k]) == (ref.lost, ref.substitutions)
    assert results.substitutions.min() > 0


def test_kernel_matches_reference_without_outside_option() -> None:
    inst = mnl_instance(
        np.arange(1.0, 9.0), 0.0, prices=np.full(8, 2.0), costs=np.ones(8), customers=60
    )
    stock = np.array([0, 3, 0, 5, 1, 0, 2, 9])
    results = simulate(inst, stock, 3, seed=5)
    for k in range(3):
        ref = simulate_season_reference(inst, stock, 5, k)
        np.testing.assert_array_equal(results.sales[k], ref.sales)
        assert results.lost[k] == ref.lost == 60 - stock.sum()


# ------------------------------------------------------------------ determinism, threads


def test_seeded_determinism_and_season_offsets() -> None:
    inst = _medium(np.random.default_rng(2), 25, False, "poisson")
    stock = np.round(0.8 * inst.customers * inst.arrival).astype(np.int64)
    a = simulate(inst, stock, 6, seed=123)
    b = simulate(inst, stock, 6, seed=123)
    for field in ("profit", "sales", "customers", "lost", "substitutions"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    tail = simulate(inst, stock, 2, seed=123, first_season=4)
    np.testing.assert_array_equal(tail.sales, a.sales[4:])
    np.testing.assert_array_equal(tail.profit, a.profit[4:])
    one = simulate(inst, stock, 1, seed=123, first_season=3)
    np.testing.assert_array_equal(one.sales[0], a.sales[3])
    other = simulate(inst, stock, 6, seed=124)
    assert not np.array_equal(other.sales, a.sales)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_bit_identical_for_one_and_two_threads() -> None:
    inst = _medium(np.random.default_rng(4), 60, True, "poisson")
    stock = np.round(0.9 * inst.customers * inst.arrival).astype(np.int64)
    before = numba.get_num_threads()
    try:
        outputs = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            outputs.append(
                (
                    simulate(inst, stock, 37, seed=8),
                    evaluate(inst, stock, 101, seed=8, batch_seasons=13),
                )
            )
    finally:
        numba.set_num_threads(before)
    (s1, e1), (s2, e2) = outputs
    np.testing.assert_array_equal(s1.sales, s2.sales)
    assert s1.profit.tobytes() == s2.profit.tobytes()
    assert e1.to_dict() == e2.to_dict()


# ------------------------------------------------------------- common random numbers


def test_common_random_numbers_across_stock_vectors() -> None:
    inst = _medium(np.random.default_rng(6), 20, False, "poisson")
    n = inst.n_products
    ample = simulate(inst, np.full(n, 10_000), 30, seed=3)
    ampler = simulate(inst, np.full(n, 20_000), 30, seed=3)
    # Nobody is ever short: everyone buys her first choice, the same first choices both times.
    np.testing.assert_array_equal(ample.sales, ampler.sales)
    assert ample.lost.sum() == 0 and ample.substitutions.sum() == 0
    # Product 0 missing: every other product sells at least its first-choice demand, and the
    # extra sales are exactly the substitutions (customers whose first choice was product 0).
    gap = np.full(n, 10_000)
    gap[0] = 0
    missing = simulate(inst, gap, 30, seed=3)
    np.testing.assert_array_equal(missing.customers, ample.customers)
    assert np.all(missing.sales[:, 1:] >= ample.sales[:, 1:])
    extra = missing.sales[:, 1:].sum(axis=1) - ample.sales[:, 1:].sum(axis=1)
    np.testing.assert_array_equal(extra, missing.substitutions)
    np.testing.assert_array_equal(missing.substitutions + missing.lost, ample.sales[:, 0])
    # Nothing stocked: every customer who wanted a product is lost.
    empty = simulate(inst, np.zeros(n, dtype=np.int64), 30, seed=3)
    np.testing.assert_array_equal(empty.lost, ample.purchases)
    np.testing.assert_array_equal(empty.sales, np.zeros_like(empty.sales))


def test_shared_product_sells_identically_until_stock_out() -> None:
    # Two stock vectors differing only in product 1's stock: product 0's sales path is the
    # same as long as product 1 is in stock in both; with product 1 ample in both (different
    # levels) product 0 sells identically every season.
    inst = _medium(np.random.default_rng(9), 10, False, "fixed")
    a = np.full(10, 5)
    b = a.copy()
    a[1], b[1] = 10_000, 20_000
    np.testing.assert_array_equal(
        simulate(inst, a, 20, seed=1).sales, simulate(inst, b, 20, seed=1).sales
    )


# ---------------------------------------------------------------------------- KPIs


def test_evaluate_equals_mean_of_simulate() -> None:
    inst = _medium(np.random.default_rng(12), 30, True, "poisson")
    stock = np.round(0.9 * inst.customers * inst.arrival).astype(np.int64)
    results = simulate(inst, stock, 37, seed=21)
    ev = evaluate(inst, stock, 37, seed=21, batch_seasons=5)
    assert ev.seasons == 37
    assert ev.mean_profit == pytest.approx(results.profit.mean(), rel=1e-13)
    assert ev.std_error == pytest.approx(results.profit.std(ddof=1) / np.sqrt(37), rel=1e-10)
    np.testing.assert_array_equal(ev.mean_sales, results.sales.mean(axis=0))
    assert ev.mean_customers == results.customers.mean()
    assert ev.mean_purchases == results.purchases.mean()
    assert ev.mean_lost == results.lost.mean()
    assert ev.mean_substitutions == results.substitutions.mean()
    assert ev.mean_leftover == pytest.approx(stock.sum() - results.purchases.mean(), rel=1e-14)
    purchases, lost = results.purchases.sum(), results.lost.sum()
    assert ev.fill_rate == pytest.approx(purchases / (purchases + lost), rel=1e-14)
    assert set(ev.to_dict()) >= {"mean_profit", "std_error", "seasons", "fill_rate", "mean_sales"}
    single = evaluate(inst, stock, 1, seed=21)
    assert single.mean_profit == results.profit[0] and np.isnan(single.std_error)


def test_evaluate_memory_does_not_grow_with_seasons_or_seasons_times_n() -> None:
    n = 5000
    rho = sp.csr_array((np.full(n, 0.5), (np.arange(n), (np.arange(n) + 1) % n)), shape=(n, n))
    inst = make_instance(
        prices=np.full(n, 2.0),
        costs=np.ones(n),
        arrival=np.full(n, 0.9 / n),
        substitution=rho,
        customers=20,
    )
    stock = np.ones(n, dtype=np.int64)
    evaluate(inst, stock, 2, seed=0)
    peaks = []
    for seasons in (200, 20_000):
        tracemalloc.start()
        evaluate(inst, stock, seasons, seed=0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # A seasons x N sales matrix would take 20,000 x 5,000 x 8 bytes = 800 MB.
    assert peaks[1] < 8_000_000, peaks
    assert peaks[1] < 2 * peaks[0] + 1_000_000, peaks


def test_kpis_are_consistent() -> None:
    inst = _medium(np.random.default_rng(13), 15, False, "fixed")
    stock = np.round(0.7 * inst.customers * inst.arrival).astype(np.int64)
    r = simulate(inst, stock, 50, seed=2)
    np.testing.assert_array_equal(r.customers, np.full(50, inst.customers))
    np.testing.assert_array_equal(r.purchases, r.sales.sum(axis=1))
    assert np.all(r.purchases + r.lost <= r.customers)
    assert np.all(r.substitutions <= r.purchases)
    assert np.all(r.sales <= stock)
    np.testing.assert_allclose(r.profit, profit_of(inst, stock, r.sales), rtol=1e-12, atol=1e-9)
    # Without a no-purchase option every customer either buys or is lost.
    mnl = mnl_instance(np.ones(5), 0.0, prices=np.full(5, 2.0), costs=np.ones(5), customers=40)
    r = simulate(mnl, [3, 0, 10, 2, 1], 20, seed=4)
    np.testing.assert_array_equal(r.purchases + r.lost, r.customers)


@pytest.mark.parametrize("mean", [5, 60])
def test_poisson_season_length(mean: int) -> None:
    inst = _medium(np.random.default_rng(14), 5, False, "poisson").with_customers(mean)
    counts = simulate(inst, np.zeros(5, dtype=np.int64), 4000, seed=17).customers
    assert abs(counts.mean() - mean) < 4 * np.sqrt(mean / 4000)
    assert counts.var(ddof=1) / mean == pytest.approx(1.0, abs=0.1)
    # A pure function of (seed, season): the same for another stock vector and offset.
    again = simulate(inst, np.ones(5, dtype=np.int64), 10, seed=17, first_season=100).customers
    np.testing.assert_array_equal(again, counts[100:110])


# ---------------------------------------------------------------------- shopper hook


class RecordingShopper:
    """A stand-in for a non-MC customer process: season k sells k + 1 units of product 0."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def run_seasons(self, stock, seed, first_season, customers, poisson, sales, kpis) -> None:
        assert stock.dtype == np.int64 and sales.dtype == np.int64 and kpis.dtype == np.int64
        assert not sales.any() and not kpis.any() and kpis.shape == (sales.shape[0], 3)
        self.calls.append((stock.tolist(), seed, first_season, customers, poisson, sales.shape))
        k = np.arange(sales.shape[0])
        sales[:, 0] = first_season + k + 1
        kpis[:] = (customers, 1, 2)


def test_simulate_and_evaluate_call_the_shopper(monkeypatch: pytest.MonkeyPatch) -> None:
    shopper = RecordingShopper()
    inst = make_instance(
        prices=[3.0, 2.0],
        costs=[1.0, 1.0],
        arrival=[0.5, 0.5],
        substitution=[[0.0, 0.5], [0.5, 0.0]],
        customers=50,
        arrivals="poisson",
        shopper=shopper,
    )
    r = simulate(inst, [100, 4], 3, seed=9, first_season=2)
    assert shopper.calls == [([100, 4], 9, 2, 50, True, (3, 2))]
    np.testing.assert_array_equal(r.sales[:, 0], [3, 4, 5])
    np.testing.assert_allclose(r.profit, 3.0 * np.array([3, 4, 5]) - 104.0)
    np.testing.assert_array_equal(r.customers, [50, 50, 50])
    monkeypatch.setattr(simulate_module, "MAX_BATCH_ENTRIES", 8)  # 4 seasons per batch for N = 2
    shopper.calls.clear()
    ev = evaluate(inst, [100, 4], 10, seed=9)
    assert [call[2] for call in shopper.calls] == [0, 4, 8]
    assert ev.mean_sales[0] == pytest.approx(5.5)
    assert ev.mean_lost == 1.0 and ev.mean_substitutions == 2.0


# ------------------------------------------------------------------------- bad input


def _tiny() -> Instance:
    return mnl_instance([1.0, 2.0], 1.0, prices=[2.0, 2.0], costs=[1.0, 1.0], customers=5)


SEED_RULE = r"`seed` must be an integer seed in \[0, 2\*\*63\)"
SEASONS_RULE = r"`seasons` must be an integer in \[1, 10,000,000\]"
STOCK_RULE = r"`stock` must be a list of 2 non-negative integers"
BAD_CALLS = [
    (dict(seed=-1), InputError, rf"{SEED_RULE}; got -1$"),
    (dict(seed=2**63), InputError, rf"{SEED_RULE}; got 9223372036854775808$"),
    (dict(seed=1.0), InputTypeError, rf"{SEED_RULE}; got 1.0 \(float\)"),
    (dict(seed=True), InputTypeError, rf"{SEED_RULE}; got True \(bool\)"),
    (dict(seasons=0), InputError, rf"{SEASONS_RULE}; got 0$"),
    (dict(seasons=10_000_001), InputError, rf"{SEASONS_RULE}; got 10000001$"),
    (dict(seasons=2.0), InputTypeError, rf"{SEASONS_RULE}; got 2.0 \(float\)"),
    (dict(stock=[1, -1]), InputError, r"`stock` entry 1 is -1; stock must be non-negative"),
    (dict(stock=[1, 2**31]), InputError, r"`stock` entry 1 is 2147483648; stock must be below 2"),
    (dict(stock=[1, 0.5]), InputError, r"`stock` entry 1 is 0.5; stock must be a whole number"),
    (dict(stock=[1]), InputError, rf"{STOCK_RULE}, one per product; got shape \(1,\)"),
    (dict(stock=["1", "1"]), InputTypeError, rf"{STOCK_RULE}; got entries of dtype <U1"),
    (
        dict(tables="tables"),
        InputTypeError,
        r"`tables` must be a ChoiceTables or None; got 'tables' \(str\)",
    ),
]


@pytest.mark.parametrize(("changes", "error", "message"), BAD_CALLS)
@pytest.mark.parametrize("function", [simulate, evaluate])
def test_bad_input_messages(
    function, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    kwargs: dict[str, Any] = {"stock": [1, 1], "seasons": 2, "seed": 0}
    kwargs.update(changes)
    with pytest.raises(error, match=message):
        function(_tiny(), **kwargs)


def test_bad_input_messages_specific_to_each_function() -> None:
    inst = _tiny()
    with pytest.raises(InputError, match=r"`first_season` must be an integer in \[0, .*\]; got -1"):
        simulate(inst, [1, 1], 2, 0, first_season=-1)
    with pytest.raises(
        InputError, match=r"`first_season` must be an integer in \[0, .*\]; got 4611686018427387905"
    ):
        simulate(inst, [1, 1], 2, 0, first_season=2**62 + 1)
    with pytest.raises(
        InputError, match=r"`batch_seasons` must be an integer in \[1, 10,000,000\]; got 0"
    ):
        evaluate(inst, [1, 1], 2, 0, batch_seasons=0)
    other = ChoiceTables.from_instance(
        mnl_instance([1.0], 1.0, prices=[2.0], costs=[1.0], customers=5)
    )
    with pytest.raises(InputError, match=r"`tables` were built for 1 products; `instance` has 2"):
        simulate(inst, [1, 1], 2, 0, tables=other)
    with pytest.raises(InputError, match=r"`tables` were built for 1 products; `instance` has 2"):
        evaluate(inst, [1, 1], 2, 0, tables=other)


@pytest.mark.parametrize("function", [simulate, evaluate])
def test_too_many_simulated_customers_are_refused(function) -> None:
    # 47 seasons of T = 2**31 - 1 customers is just over MAX_SIMULATED_CUSTOMERS = 1e11.
    inst = mnl_instance(
        [1.0, 2.0], 1.0, prices=[2.0, 2.0], costs=[1.0, 1.0], customers=MAX_CUSTOMERS
    )
    assert 46 * MAX_CUSTOMERS <= simulate_module.MAX_SIMULATED_CUSTOMERS < 47 * MAX_CUSTOMERS
    with pytest.raises(
        InputError,
        match=r"`seasons` 47 of 2,147,483,647 customers each is 100,931,731,409 customers; "
        r"one call simulates at most 100,000,000,000",
    ):
        function(inst, [1, 1], 47, 0)
