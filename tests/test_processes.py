"""Ground-truth processes beyond the Markov chain: shocked seasons and customer segments.

Exactness against oracles that do not share the code under test, on tiny instances (within 3
standard errors, and a chi-square check of the z-scores, as for the MC simulator):

* shocks: (a) without shocks the process is MC customers with Poisson(T) arrivals (the DP of
  envs.exact); (b) with shocks, each season's environment (G, M) is reproduced from the streams
  and E[profit | G, M] computed by envs.exact on the equivalent Poisson MC instance (thinned to
  an integer mean); the simulated profits minus these conditional means average to 0, while the
  conditional means themselves vary a lot; (c) G and M have their moments; (d) the kernel
  equals a plain-Python twin bit for bit (with households), and household demand has the
  compound moments;
* segments: a DP over (remaining inventory, customer position) with the segment-mixed MC choice
  probabilities at each position (constant and drifting mix, fixed and Poisson T).

The fitted MC against the process's own choice probabilities: for segments the closed form
equals envs.choice.markov_chain_approximation of the mixture to 1e-12; for shocks the one-step
substitution flows of the simulated process match lambda and rho. Then the JSON round trips,
and every validation message.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import chi2, poisson

from envs.choice import (
    markov_chain_approximation,
    markov_chain_choice_probabilities,
    mnl_instance,
)
from envs.exact import exact_expected_profit
from envs.families import family_parameters, make_family_instance, style_clusters
from envs.instance import (
    instance_from_dict,
    instance_to_dict,
    load_instance,
    make_instance,
    save_instance,
)
from envs.segments import SegmentShopper, segment_chain, segment_instance
from envs.shocks import BATCH_DRAW, DemandEnvironment, ShockShopper, shock_instance
from envs.simulate import simulate
from envs.streams import (
    POISSON_CUSTOMER,
    py_alias_sample,
    py_customer_key,
    py_draw,
    py_season_key,
    py_table_sample,
)
from envs.tables import alias_rows, poisson_count
from envs.validation import InputError, InputTypeError

NEW_FAMILIES = ("market", "popularity", "fashion", "households", "segments", "drift")


def _z(values: np.ndarray, expected: float) -> float:
    return float((values.mean() - expected) / (values.std(ddof=1) / math.sqrt(values.size)))


# ------------------------------------------------------------------------------ shocks


def _tiny_shocks(seed: int, customers: int, **environment) -> tuple:
    base = make_family_instance("tiny", seed, customers=customers, arrivals="poisson")
    return base, shock_instance(base, DemandEnvironment(**environment))


def test_shocks_without_shocks_are_poisson_markov_chain_customers():
    z = []
    for seed in (0, 1):
        base, inst = _tiny_shocks(seed, 6)
        for x in ([2, 1, 1], [0, 3, 1], [1, 0, 0], [3, 2, 2]):
            exact = exact_expected_profit(base, np.array(x)).profit
            profit = simulate(inst, np.array(x), 100_000, seed=11 + seed).profit
            z.append(_z(profit, exact))
    assert max(abs(v) for v in z) < 3, z
    assert chi2.sf(sum(v * v for v in z), len(z)) > 1e-3, z


def _conditional_profit(base, stock, g: float, m: np.ndarray) -> float:
    """E[profit | G, M]: Poisson(T G sum lambda M) customers choosing first by lambda M, i.e.
    Poisson(T') MC customers of the thinned chain (arrival lambda M T G / T'), T' an integer
    above the mean (envs.exact's Poisson DP needs an integer mean)."""
    mean = base.customers * g * float((base.arrival * m).sum())
    integer_mean = max(1, math.ceil(mean))
    thinned = make_instance(
        prices=base.prices,
        costs=base.costs,
        salvage=base.salvage,
        arrival=base.arrival * m * base.customers * g / integer_mean,
        substitution=base.substitution,
        customers=integer_mean,
        arrivals="poisson",
    )
    return exact_expected_profit(thinned, stock).profit


@pytest.mark.parametrize("seed", [0, 1])
def test_shocked_profit_matches_the_dp_given_each_season_environment(seed):
    base, inst = _tiny_shocks(
        seed, 5, cv_market=0.6, cv_popularity=0.5, cluster_share=0.5, clusters=[0, 0, 1]
    )
    x = np.array([2, 1, 2])
    seasons = 400
    profit = simulate(inst, x, seasons, seed=5).profit
    g, m = inst.shopper.season_environment(5, np.arange(seasons))
    conditional = np.array([_conditional_profit(base, x, g[k], m[k]) for k in range(seasons)])
    residual = profit - conditional
    assert abs(_z(residual, 0.0)) < 3
    # The conditional means carry much of the spread: the shocks matter and are reproduced.
    assert conditional.std() > 0.3 * profit.std()
    assert np.corrcoef(conditional, profit)[0, 1] > 0.3


def test_environment_moments_and_cluster_correlation():
    n = 10
    environment = DemandEnvironment(
        cv_market=0.4, cv_popularity=0.5, cluster_share=0.6, clusters=np.arange(n) % 3
    )
    base = make_family_instance("small", 0)
    shopper = ShockShopper.for_instance(base, environment)
    g, m = shopper.season_environment(9, np.arange(200_000))
    assert abs(g.mean() - 1) < 0.005 and abs(g.std() - 0.4) < 0.005
    assert np.all(np.abs(m.mean(axis=0) - 1) < 0.01)
    assert np.all(np.abs(m.std(axis=0) - 0.5) < 0.015)
    log_m = np.log(m)
    assert abs(np.corrcoef(log_m[:, 0], log_m[:, 3])[0, 1] - 0.6) < 0.01  # same style
    assert abs(np.corrcoef(log_m[:, 0], log_m[:, 1])[0, 1]) < 0.01  # different styles
    assert abs(np.corrcoef(g, log_m[:, 0])[0, 1]) < 0.01
    # CV above 1: the Gamma sampler's small-shape path.
    wide = ShockShopper.for_instance(base, DemandEnvironment(cv_market=1.5))
    g, m = wide.season_environment(3, np.arange(200_000))
    assert abs(g.mean() - 1) < 0.02 and abs(g.std() / 1.5 - 1) < 0.03
    assert np.all(m == 1.0)


def _twin_seasons(inst, stock, seed: int, seasons: int) -> np.ndarray:
    """Plain-Python twin of the shock kernel (the draws of envs/shocks.py's docstring)."""
    shopper = inst.shopper
    n = inst.n_products
    slots = [int(v) for v in shopper.tables.slots]
    row_start = [int(v) for v in shopper.tables.row_start]
    g_all, m_all = shopper.season_environment(seed, np.arange(seasons))
    b = shopper.environment.batch_mean
    out = np.zeros((seasons, n), dtype=np.int64)
    for k in range(seasons):
        skey = py_season_key(seed, k)
        weights = inst.arrival * m_all[k]
        total = 0.0
        for w in weights:
            total += w
        keep, alias = alias_rows(np.array([0, n], dtype=np.int64), weights)
        threshold = [min(int(q * 4294967296.0), 4294967295) for q in keep]
        count = poisson_count(
            np.uint64(py_customer_key(skey, int(POISSON_CUSTOMER))),
            inst.customers * g_all[k] * total / b,
        )
        remaining = [int(v) for v in stock]
        in_stock = sum(v > 0 for v in remaining)
        for t in range(count):
            ckey = py_customer_key(skey, t)
            first = py_alias_sample(py_draw(ckey, 0), 0, n, threshold, alias)
            if in_stock == 0:
                continue
            need = 1
            if b > 1:
                u = ((py_draw(ckey, int(BATCH_DRAW)) >> 11) + 0.5) * (1.0 / 9007199254740992.0)
                need = 1 + int(math.floor(math.log(u) / math.log(1.0 - 1.0 / b)))
            i, step = first, 1
            while need > 0 and in_stock > 0:
                while i != n and remaining[i] == 0:
                    start = row_start[i]
                    i = py_table_sample(py_draw(ckey, step), start, row_start[i + 1] - start, slots)
                    step += 1
                if i == n:
                    break
                take = min(need, remaining[i])
                remaining[i] -= take
                out[k, i] += take
                need -= take
                if remaining[i] == 0:
                    in_stock -= 1
    return out


@pytest.mark.parametrize("batch_mean", [1.0, 2.5])
def test_shock_kernel_equals_its_plain_python_twin(batch_mean):
    base = make_family_instance("small", 2, customers=60, arrivals="poisson")
    environment = DemandEnvironment(
        cv_market=0.5,
        cv_popularity=0.4,
        cluster_share=0.5,
        clusters=np.arange(10) % 2,
        batch_mean=batch_mean,
    )
    inst = shock_instance(base, environment)
    x = np.array([3, 0, 5, 2, 1, 4, 0, 6, 2, 3])
    result = simulate(inst, x, 40, seed=4)
    np.testing.assert_array_equal(result.sales, _twin_seasons(inst, x, 4, 40))
    assert result.sales.sum() > 0 and (result.sales == x).any()  # stock-outs happened


def test_household_demand_has_the_compound_moments():
    """Without stock-outs unit demand has mean T lambda_i and variance (2b - 1) T lambda_i."""
    base = make_family_instance("small", 0, customers=100, arrivals="poisson")
    inst = shock_instance(base, DemandEnvironment(batch_mean=2.0))
    sales = simulate(inst, np.full(10, 10_000), 50_000, seed=1).sales
    mean = 100 * base.arrival
    np.testing.assert_allclose(sales.mean(axis=0), mean, rtol=0.02)
    np.testing.assert_allclose(sales.var(axis=0), 3 * mean, rtol=0.05)
    np.testing.assert_allclose(
        inst.shopper.demand_cv(100) ** 2, 3 / mean, rtol=1e-12
    )  # the documented formula


def test_shocked_one_step_substitution_flows_are_the_fitted_chain():
    """The fitted MC's lambda and rho are the process's own: with everything in stock, mean
    sales are T lambda; with product i out, j gains T lambda_i rho_ij (paired seasons)."""
    inst = make_family_instance("fashion", 5, n_products=6, customers=50, neighbours=3)
    rho = inst.substitution_dense()
    plenty = np.full(6, 100_000)
    seasons = 100_000
    full = simulate(inst, plenty, seasons, seed=2).sales
    z = [_z(full[:, j].astype(float), 50 * inst.arrival[j]) for j in range(6)]
    for i in (0, 3):
        out = plenty.copy()
        out[i] = 0
        gain = simulate(inst, out, seasons, seed=2).sales - full
        for j in range(6):
            if j != i and rho[i, j] > 0:
                z.append(_z(gain[:, j].astype(float), 50 * inst.arrival[i] * rho[i, j]))
            elif j != i:
                assert np.all(gain[:, j] == 0)
    assert max(abs(v) for v in z) < 3.5, z
    assert chi2.sf(sum(v * v for v in z), len(z)) > 1e-3, z


# ---------------------------------------------------------------------------- segments


def _tiny_segments(seed: int, drift: bool, arrivals: str = "fixed", customers: int = 8):
    base = make_family_instance("tiny", seed, customers=customers, arrivals=arrivals)
    rng = np.random.default_rng(seed)
    n = base.n_products
    mnl = mnl_instance(
        rng.uniform(0.5, 2.0, n), 0.3, prices=base.prices, costs=base.costs, customers=1
    )
    chains = (
        segment_chain(base.arrival, np.zeros((n, n)), base, "loyal"),
        segment_chain(mnl.arrival, mnl.substitution, base, "mnl"),
        segment_chain(base.arrival, base.substitution, base, "base"),
    )
    start = np.array([0.7, 0.2, 0.1]) if drift else np.array([0.4, 0.4, 0.2])
    end = np.array([0.1, 0.3, 0.6]) if drift else None
    return segment_instance(
        SegmentShopper(chains, start, end),
        prices=base.prices,
        costs=base.costs,
        salvage=base.salvage,
        customers=base.customers,
        arrivals=arrivals,
    )


def _segment_revenue(inst, stock: np.ndarray, count: int) -> float:
    """Expected revenue (margins r - s) of ``count`` customers: a DP over (remaining inventory,
    position t) with P_t(S) = sum_s w_s((t + 1/2) / count) pi^s(S) (independent of the kernel)."""
    shopper = inst.shopper
    n = inst.n_products
    margin = inst.prices - inst.salvage
    states = list(itertools.product(*[range(v + 1) for v in stock]))
    index = {state: k for k, state in enumerate(states)}
    cache: dict[tuple, np.ndarray] = {}

    def segment_probabilities(offered: tuple) -> np.ndarray:
        if offered not in cache:
            mask = np.array(offered, dtype=bool)
            cache[offered] = np.array(
                [
                    markov_chain_choice_probabilities(c.arrival, c.substitution, mask)
                    for c in shopper.chains
                ]
            )
        return cache[offered]

    value = np.zeros(len(states))
    for t in range(count - 1, -1, -1):
        w = shopper.shares_at((t + 0.5) / count)
        new = np.empty_like(value)
        for k, state in enumerate(states):
            offered = tuple(v > 0 for v in state)
            if not any(offered):
                new[k] = value[k]
                continue
            p = w @ segment_probabilities(offered)
            total = (1.0 - p.sum()) * value[k]
            for i in range(n):
                if state[i] > 0:
                    after = list(state)
                    after[i] -= 1
                    total += p[i] * (margin[i] + value[index[tuple(after)]])
            new[k] = total
        value = new
    return float(value[index[tuple(int(v) for v in stock)]])


def _segment_exact(inst, stock: np.ndarray) -> float:
    fixed = float(((inst.salvage - inst.costs) * stock).sum())
    if inst.arrivals == "fixed":
        return _segment_revenue(inst, stock, inst.customers) + fixed
    top = int(poisson.isf(1e-12, inst.customers)) + 1
    weights = poisson.pmf(np.arange(top + 1), inst.customers)
    revenue = [0.0] + [_segment_revenue(inst, stock, count) for count in range(1, top + 1)]
    return float(weights @ np.array(revenue)) + fixed


def test_segments_match_the_dp():
    z = []
    for seed, drift, arrivals in itertools.product(range(3), (False, True), ("fixed",)):
        inst = _tiny_segments(seed, drift, arrivals)
        rng = np.random.default_rng(100 + seed)
        for _ in range(2):
            x = rng.integers(0, 4, inst.n_products)
            profit = simulate(inst, x, 100_000, seed=7 + seed).profit
            z.append(_z(profit, _segment_exact(inst, x)))
    for seed in (0, 1):  # Poisson T: shares follow each season's own count
        inst = _tiny_segments(seed, True, "poisson", customers=4)
        x = np.array([2, 1, 1])
        z.append(_z(simulate(inst, x, 100_000, seed=3).profit, _segment_exact(inst, x)))
    assert max(abs(v) for v in z) < 3, z
    assert chi2.sf(sum(v * v for v in z), len(z)) > 1e-3, z


def test_the_dp_has_the_power_to_tell_the_mixture_from_its_fitted_chain():
    inst = _tiny_segments(1, True)
    x = np.array([3, 1, 2])
    fitted = exact_expected_profit(replace(inst, shopper=None), x).profit
    profit = simulate(inst, x, 100_000, seed=1).profit
    assert abs(_z(profit, fitted)) > 10
    assert abs(_z(profit, _segment_exact(inst, x))) < 3


@pytest.mark.parametrize("drift", [False, True])
def test_segment_fit_is_the_markov_chain_approximation_of_the_mixture(drift):
    inst = _tiny_segments(3, drift)
    shopper = inst.shopper

    def mixture(offered: np.ndarray) -> np.ndarray:
        return sum(
            w * markov_chain_choice_probabilities(c.arrival, c.substitution, offered)
            for w, c in zip(shopper.mean_shares, shopper.chains)
        )

    arrival, rho = markov_chain_approximation(mixture, inst.n_products)
    np.testing.assert_allclose(inst.arrival, arrival, rtol=0, atol=1e-12)
    np.testing.assert_allclose(inst.substitution_dense(), rho, rtol=0, atol=1e-12)


def test_one_segment_is_its_chain_and_an_mnl_segment_is_exact():
    base = make_family_instance("tiny", 0)
    only = SegmentShopper((segment_chain(base.arrival, base.substitution, base, "one"),), [1.0])
    arrival, rho = only.fit_markov_chain()
    np.testing.assert_allclose(arrival, base.arrival, atol=1e-15)
    np.testing.assert_allclose(rho, base.substitution, atol=1e-15)


# ------------------------------------------------------------------------------ families


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_new_family_files_round_trip_with_their_process(family, tmp_path):
    inst = make_family_instance(family, 4)
    path = tmp_path / f"{family}.json"
    save_instance(inst, path)
    again = load_instance(path)
    assert type(again.shopper) is type(inst.shopper)
    assert instance_to_dict(again) == instance_to_dict(inst)
    x = np.round(inst.customers * inst.arrival).astype(np.int64)
    np.testing.assert_array_equal(simulate(again, x, 50, 7).sales, simulate(inst, x, 50, 7).sales)
    key = "segments" if family in ("segments", "drift") else "demand_environment"
    assert key in json.loads(path.read_text())


def test_strength_zero_gives_back_a_markov_chain_process():
    """cv = 0 is Poisson MC customers in distribution; loyal share 1 is the loyal chain exactly."""
    market = make_family_instance("market", 2, cv_market=0.0)
    x = np.round(0.9 * market.customers * market.arrival).astype(np.int64)
    mc = replace(market, shopper=None)
    shocked = simulate(market, x, 20_000, 3).profit
    plain = simulate(mc, x, 20_000, 3).profit
    difference = shocked.mean() - plain.mean()
    se = math.sqrt(shocked.var(ddof=1) / shocked.size + plain.var(ddof=1) / plain.size)
    assert abs(difference) < 3 * se
    loyal = make_family_instance("segments", 2, loyal_share=1.0)
    assert np.all(loyal.substitution_dense() == 0)


def test_shock_families_differ_only_in_their_knobs():
    fashion = family_parameters("fashion")
    for family in ("market", "popularity", "households"):
        assert set(family_parameters(family)) == set(fashion)
    inst = make_family_instance("fashion", 0)
    assert inst.arrivals == "poisson" and inst.shopper.environment.cv_market == 0.4
    assert inst.shopper.environment.clusters.max() == 3  # 2 x 2 styles
    positions = np.array([[0.1, 0.1], [0.9, 0.9], [0.1, 0.95], [0.12, 0.2]])
    np.testing.assert_array_equal(style_clusters(positions, 2), [0, 2, 1, 0])


# ---------------------------------------------------------------------------- messages


def _shock_file() -> dict:
    return instance_to_dict(make_family_instance("fashion", 0, n_products=4, neighbours=2))


def _segment_file() -> dict:
    return instance_to_dict(make_family_instance("drift", 0, n_products=4, neighbours=2))


def _changed(data: dict, path: tuple, value) -> dict:
    data = json.loads(json.dumps(data))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


JSON_CASES = [
    (
        _changed(_shock_file(), ("demand_environment", "cv_market"), 2.5),
        InputError,
        r"`cv_market` must be a finite number in \[0, 2\]; got 2.5",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "cv_popularity"), "0.4"),
        InputTypeError,
        r"`cv_popularity` must be a finite number in \[0, 2\]; got '0.4' \(str\)",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "cluster_share"), -0.1),
        InputError,
        r"`cluster_share` must be a finite number in \[0, 1\]; got -0.1",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "batch_mean"), 0.5),
        InputError,
        r"`batch_mean` must be a finite number in \[1, 100\]; got 0.5",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "cv_markt"), 0.1),
        InputError,
        r"unknown `demand_environment` key 'cv_markt'; did you mean `cv_market`\?",
    ),
    (
        _changed(_shock_file(), ("demand_environment",), [0.4]),
        InputTypeError,
        r"`demand_environment` must be a JSON object with keys among \['cv_market'",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "clusters"), [0, 1, 2]),
        InputError,
        r"`clusters` has 3 entries; the catalog has 4 products, they must match",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "clusters"), [0, 1, 7, 0]),
        InputError,
        r"`clusters` must be a list of integers in \[0, N\), one per product; entry 2 is 7 and "
        r"N is 4",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "clusters"), [0, 1.5, 1, 0]),
        InputTypeError,
        r"`clusters` must be a list of integers in \[0, N\), one per product; got \[0, 1.5",
    ),
    (
        _changed(_shock_file(), ("demand_environment", "clusters"), [0, True, 1, 0]),
        InputTypeError,
        r"`clusters` must be a list of integers in \[0, N\), one per product; got \[0, True",
    ),
    (
        _changed(_shock_file(), ("arrivals",), "fixed"),
        InputError,
        r"`arrivals` must be 'poisson' with a `demand_environment` block \(the season's "
        r"customer count is mixed Poisson\); got 'fixed'",
    ),
    (
        {**_shock_file(), "segments": _segment_file()["segments"]},
        InputError,
        r"an instance holds at most one process block; got 'demand_environment' and 'segments'",
    ),
    (
        _changed(_segment_file(), ("segments",), 3),
        InputTypeError,
        r"`segments` must be a JSON object with keys \['chains', 'start_shares', 'end_shares'\]; "
        r"got 3 \(int\)",
    ),
    (
        _changed(_segment_file(), ("segments", "start_shares"), KeyError),
        InputError,
        r"`segments` must have the keys 'chains' and 'start_shares' \(and optionally "
        r"'end_shares'\); got \['chains', 'end_shares'\]",
    ),
    (
        _changed(_segment_file(), ("segments", "chains"), []),
        InputError,
        r"`segments.chains` must be a list of 1 to 16 chains; got \[\] \(list\)",
    ),
    (
        _changed(_segment_file(), ("segments", "chains", 1, "rho"), [[0.0] * 4] * 4),
        InputError,
        r"`segments.chains` entry 1 must be a JSON object with exactly the keys "
        r"\['arrival', 'substitution'\]",
    ),
    (
        _changed(_segment_file(), ("segments", "chains", 0, "arrival"), [0.5, 0.5, 0.5, 0.5]),
        InputError,
        r"`segments.chains` entry 0: `arrival` sums to 2.0; arrival probabilities must sum to "
        r"at most 1",
    ),
    (
        _changed(_segment_file(), ("segments", "start_shares"), [0.6, 0.6]),
        InputError,
        r"`start_shares` sums to 1.2; segment shares must sum to 1",
    ),
    (
        _changed(_segment_file(), ("segments", "end_shares"), [1.0]),
        InputError,
        r"`end_shares` has 1 entries; `chains` has 2, they must match",
    ),
    (
        _changed(_segment_file(), ("arrival", 2), 0.01),
        InputError,
        r"`arrival` must be the fitted Markov chain of the `segments` block \(to 1e-09\); "
        r"entry 2 is 0.01, the fit gives 0\.",
    ),
]


@pytest.mark.parametrize(("data", "error", "message"), JSON_CASES)
def test_process_blocks_are_validated_with_named_messages(data, error, message):
    with pytest.raises(error, match=message):
        instance_from_dict(data)


def test_a_file_chain_that_is_not_the_segment_fit_is_refused():
    data = _segment_file()
    rho = np.array(data["substitution"])
    i, j = np.argwhere(rho > 0)[0]
    data["substitution"][i][j] = float(rho[i, j]) * 0.5
    with pytest.raises(
        InputError,
        match=rf"`substitution` must be the fitted Markov chain of the `segments` block "
        rf"\(to 1e-09\); entry \({i}, {j}\) is ",
    ):
        instance_from_dict(data)


def test_family_knobs_of_the_processes_are_checked():
    with pytest.raises(InputError, match=r"`cv_market` must be a finite number in \[0, 2\]; got 3"):
        make_family_instance("market", 0, cv_market=3)
    with pytest.raises(InputError, match=r"`style_grid` must be an integer in \[1, 32\]; got 0"):
        make_family_instance("fashion", 0, style_grid=0)
    with pytest.raises(
        InputError,
        match=r"override `drift` is 0.8; with `loyal_share` = 0.7 the loyal share moves from "
        r"loyal_share \+ drift / 2 to loyal_share - drift / 2, which must stay within \[0, 1\]",
    ):
        make_family_instance("drift", 0, loyal_share=0.7, drift=0.8)
    with pytest.raises(InputError, match=r"unknown override 'arrivals' for family 'market'"):
        make_family_instance("market", 0, arrivals="fixed")


def test_shopper_constructors_name_their_arguments():
    base = make_family_instance("tiny", 0)
    with pytest.raises(
        InputTypeError, match=r"`environment` must be a DemandEnvironment; got 0.5 \(float\)"
    ):
        ShockShopper.for_instance(base, 0.5)
    with pytest.raises(InputError, match=r"`chains` must hold between 1 and 16 segment chains"):
        SegmentShopper((), [1.0])
    other = make_family_instance("small", 0)
    with pytest.raises(
        InputError, match=r"`chains` entry 1 has 10 products; entry 0 has 3, they must match"
    ):
        SegmentShopper((base, other), [0.5, 0.5])
    with pytest.raises(InputTypeError, match=r"`chains` entry 0 must be an Instance"):
        SegmentShopper(([0.1],), [1.0])
    with pytest.raises(InputTypeError, match=r"`shopper` must be a SegmentShopper; got None"):
        segment_instance(None, prices=[1.0], costs=[0.5], customers=3)


def test_generated_files_hold_the_process_for_evaluate_and_solve(tmp_path, capsys):
    from experiments.cli import main

    path = str(tmp_path / "fashion.json")
    assert main(["generate", "--family", "fashion", "--seed", "3", "--out", path]) == 0
    assert "note:" not in capsys.readouterr().err  # the file holds the process itself
    stock = str(tmp_path / "stock.json")
    assert main(["solve", "--instance", path, "--policy", "shock-aware-saa", "--out", stock]) == 0
    capsys.readouterr()
    runs = []
    for source in (["--instance", path], ["--family", "fashion", "--instance-seed", "3"]):
        argv = ["evaluate", *source, "--stock", stock, "--seasons", "200", "--json"]
        assert main(argv) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0]["customer_process"] == "shocked-seasons"
    assert runs[0]["mean_profit"] == runs[1]["mean_profit"]


@pytest.mark.parametrize("env_id", ["Assort/OneShotFashionFamily-v1", "Assort/OneShotDrift-v1"])
def test_the_catalog_vec_env_plays_process_episodes_like_the_single_env(env_id):
    from stable_baselines3.common.env_util import make_vec_env

    from agents.vec_env import CatalogVecEnv

    kwargs = {"action_anchor": "fluid", "reward_baseline": "fluid", "seasons_per_episode": 2}
    vec = CatalogVecEnv(env_id, 3, kwargs)
    vec.seed(5)
    single = make_vec_env(env_id, n_envs=3, seed=5, env_kwargs=kwargs)
    assert np.array_equal(vec.reset(), single.reset())
    rng = np.random.default_rng(1)
    for _ in range(3):
        actions = rng.uniform(-1, 1, (3, 20)).astype(np.float32)
        _, rewards, _, infos = vec.step(actions)
        _, rewards2, _, infos2 = single.step(actions)
        assert np.array_equal(rewards, rewards2)
        assert [i["profit"] for i in infos] == [i["profit"] for i in infos2]
