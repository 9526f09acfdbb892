"""Sequential stocking, vendor by vendor: the vendor families and labels, revealed sub-catalogs,
the commitment LP and its planners, the v1 environment (no leak of later vendors, anchors,
action scale), the sequential catalog policy and the leaderboard's information gap."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import baselines.registry  # noqa: F401  (registers the commitment references)
import envs  # noqa: F401
from agents.catalog_policy import CatalogPolicy
from baselines.saa import saa_policy
from baselines.sequential import (
    FREE,
    composite_catalog,
    lookahead_policy,
    myopic_policy,
    plan_commitments,
)
from envs.actions import proportional_stock
from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import load_instance, make_instance, save_instance
from envs.observation import BASE_COLUMNS, CATALOG_COLUMNS, product_columns
from envs.sequential import SequentialStockingEnv, chained_stock, sequential_columns
from envs.validation import InputError, InputTypeError
from envs.vendors import MissingVendorsError, relabel_vendors, revealed_products, sub_catalog
from experiments.config import parse_config
from experiments.evaluation import Contender, Member, policy_decider, simulate_profits
from experiments.leaderboard import run_leaderboard
from experiments.report import GAP_COLUMN, markdown_report
from experiments.statistics import ratio_ci, stratified_mean_ci
from experiments.store import ResultStore
from experiments.suite import build_suite

# ------------------------------------------------------------------------------ families


@pytest.mark.parametrize("family", ["vendors-small", "vendors-medium"])
def test_vendor_families_split_substitution_within_and_across_vendors(family) -> None:
    instance = make_family_instance(family, 3)
    params = instance.metadata["parameters"]
    vendors = instance.vendors
    assert instance.n_vendors == params["n_vendors"]
    assert np.all(np.bincount(vendors) == params["n_products"] // params["n_vendors"])
    rho = instance.substitution_dense()
    same = vendors[:, None] == vendors[None, :]
    out = 1.0 - instance.leave_probability
    share = params["within_vendor"]
    assert np.allclose((rho * same).sum(axis=1), share * out)
    assert np.allclose((rho * ~same).sum(axis=1), (1.0 - share) * out)
    again = make_family_instance(family, 3)
    assert np.array_equal(again.vendors, vendors) and np.array_equal(again.prices, instance.prices)


def test_within_vendor_knob_moves_the_substitution_mass() -> None:
    inside = make_family_instance("vendors-small", 0, within_vendor=1.0)
    across = make_family_instance("vendors-small", 0, within_vendor=0.0)
    for instance, stays in ((inside, True), (across, False)):
        rho = instance.substitution_dense()
        same = instance.vendors[:, None] == instance.vendors[None, :]
        assert np.all(rho[same if not stays else ~same] == 0.0)


def test_vendor_cost_spread_shifts_vendors_apart() -> None:
    flat = make_family_instance("vendors-medium", 1, vendor_cost_spread=0.0)
    spread = make_family_instance("vendors-medium", 1, vendor_cost_spread=0.5)

    def vendor_means(instance):
        fraction = instance.costs / instance.prices
        return np.array([fraction[instance.vendors == v].mean() for v in range(6)])

    assert np.ptp(vendor_means(spread)) > 2 * np.ptp(vendor_means(flat))


def test_too_many_vendors_is_refused() -> None:
    with pytest.raises(
        InputError,
        match="override `n_vendors` is 13; a catalog of 12 products has at most 12 vendors",
    ):
        make_family_instance("vendors-small", 0, n_vendors=13)


# ------------------------------------------------------------------------- vendor labels


def test_vendor_labels_survive_the_json_format(tmp_path: Path) -> None:
    instance = make_family_instance("vendors-small", 4)
    save_instance(instance, tmp_path / "v.json")
    loaded = load_instance(tmp_path / "v.json")
    assert np.array_equal(loaded.vendors, instance.vendors)
    plain = make_family_instance("small", 4)
    save_instance(plain, tmp_path / "p.json")
    assert "vendors" not in (tmp_path / "p.json").read_text()
    assert load_instance(tmp_path / "p.json").vendors is None


@pytest.mark.parametrize(
    ("vendors", "error", "match"),
    [
        ([0, 2, 2], InputError, "`vendors` skips label 1 but uses 2; labels must be 0..V-1"),
        ([0, -1, 1], InputError, r"`vendors` entry 1 is -1; labels must lie in \[0, 2\]"),
        ([0, 1, 7], InputError, r"`vendors` entry 2 is 7; labels must lie in \[0, 2\]"),
        ([0, 0.5, 1], InputTypeError, "`vendors` entry 1 is 0.5; labels must be integers"),
        ([0, 1], InputError, r"`vendors` must list one vendor label per product \(3\)"),
        ("012", InputTypeError, "`vendors` must be a list of 3 integer vendor labels"),
        ([True, False, True], InputTypeError, "`vendors` must be a list of numbers"),
    ],
)
def test_bad_vendor_labels_are_pinned(vendors, error, match) -> None:
    with pytest.raises(error, match=match):
        make_instance(
            prices=[2.0, 2.0, 2.0],
            costs=[1.0, 1.0, 1.0],
            arrival=[0.3, 0.3, 0.3],
            substitution=np.zeros((3, 3)),
            customers=10,
            vendors=vendors,
        )


def test_revealed_sub_catalog_keeps_only_what_is_revealed() -> None:
    instance = make_family_instance("vendors-small", 2)
    products = revealed_products(instance, 1)
    assert sorted(instance.vendors[products]) == list(instance.vendors[products])
    assert set(instance.vendors[products]) == {0, 1} and products.size == 6
    sub = sub_catalog(instance, products)
    rho = instance.substitution_dense()
    assert np.array_equal(sub.substitution_dense(), rho[np.ix_(products, products)])
    assert np.array_equal(sub.arrival, instance.arrival[products])
    # the mass going to unrevealed products looks like leaving
    assert np.allclose(sub.leave_probability, 1.0 - rho[np.ix_(products, products)].sum(axis=1))
    assert np.all(sub.leave_probability >= instance.leave_probability[products] - 1e-12)
    assert list(sub.vendors) == list(instance.vendors[products])


def test_relabelling_plays_the_vendors_in_another_order() -> None:
    instance = make_family_instance("vendors-small", 2)
    relabelled = relabel_vendors(instance, np.array([2, 0, 1, 3]))
    assert np.array_equal(relabelled.vendors == 0, instance.vendors == 2)
    assert np.array_equal(relabelled.vendors == 1, instance.vendors == 0)
    assert np.array_equal(relabelled.prices, instance.prices)
    with pytest.raises(InputError, match="`order` must be a permutation of the 4 vendor labels"):
        relabel_vendors(instance, np.array([0, 0, 1, 2]))
    with pytest.raises(MissingVendorsError, match="has no vendor labels"):
        relabel_vendors(make_family_instance("small", 0), np.arange(2))


# ------------------------------------------------------------------------ commitment LP


@pytest.mark.parametrize(
    ("family", "seed"), [("vendors-small", 0), ("vendors-small", 1), ("small", 0)]
)
def test_commitment_lp_without_commitments_is_the_saa_lp(family, seed) -> None:
    instance = make_family_instance(family, seed)
    free = np.full(instance.n_products, FREE)
    ours = plan_commitments(instance, free, rng=5, scenarios=32)
    same = saa_policy(instance, rng=5, method="highs", scenarios=32, rounding="nearest")
    assert np.array_equal(ours, same.stock)


def test_a_committed_substitute_is_used_before_buying_more() -> None:
    # Every customer wants B (T = 20); after a stock-out of B she moves to A. A is committed
    # with 10 units (sunk: each sale earns r_A = 3); a unit of B earns 2 - 1 = 1. The fluid
    # plan: B sells min(20, x_B), A sells min(10, 20 - x_B): best x_B = 10 (earns 10 + 30).
    instance = make_instance(
        prices=[3.0, 2.0],
        costs=[2.5, 1.0],
        arrival=[0.0, 1.0],
        substitution=[[0.0, 0.0], [1.0, 0.0]],
        customers=20,
    )
    assert plan_commitments(instance, [10, FREE], planner="fluid").tolist() == [10, 10]
    assert plan_commitments(instance, [0, FREE], planner="fluid").tolist() == [0, 20]
    with pytest.raises(InputError, match="`fixed` entry 0 is -2.0; entries must be whole units"):
        plan_commitments(instance, [-2, FREE], planner="fluid")


def test_myopic_on_a_single_vendor_is_the_whole_catalog_saa() -> None:
    instance = make_family_instance("vendors-small", 6)
    one = replace(instance, vendors=np.zeros(12, dtype=np.int64))
    assert np.array_equal(
        myopic_policy(one, rng=9).stock,
        saa_policy(instance, rng=9, method="highs", scenarios=32, rounding="nearest").stock,
    )


def test_lookahead_composite_with_the_true_future_is_the_instance() -> None:
    instance = make_family_instance("vendors-small", 7)
    for step in range(3):
        products = revealed_products(instance, step)
        future = np.flatnonzero(instance.vendors > step)
        composite, f = composite_catalog(sub_catalog(instance, products), instance, step)
        order = np.concatenate([products, future])
        assert f == future.size
        assert np.allclose(composite.arrival, instance.arrival[order])
        assert np.allclose(
            composite.substitution_dense(), instance.substitution_dense()[np.ix_(order, order)]
        )


def test_lookahead_is_seeded_and_needs_a_family(tmp_path: Path) -> None:
    instance = make_family_instance("vendors-small", 8)
    first = lookahead_policy(instance, rng=3, futures=2, scenarios=2)
    assert np.array_equal(
        first.stock, lookahead_policy(instance, rng=3, futures=2, scenarios=2).stock
    )
    assert first.stock.shape == (12,) and first.stock.min() >= 0
    save_instance(instance, tmp_path / "i.json")
    with pytest.raises(InputError, match="does not say its family"):
        lookahead_policy(load_instance(tmp_path / "i.json"), rng=3, futures=1, scenarios=1)
    same = lookahead_policy(
        load_instance(tmp_path / "i.json"),
        rng=3,
        futures=2,
        scenarios=2,
        family="vendors-small",
        family_knobs=instance.metadata["parameters"],
    )
    assert np.array_equal(same.stock, first.stock)


# ---------------------------------------------------------------------- the environment


def _later_vendors_changed(instance, step: int):
    """``instance`` with every datum of the vendors after ``step`` changed: their prices,
    costs, lambda, rows of rho and the substitution into them."""
    later = instance.vendors > step
    rng = np.random.default_rng(0)
    prices = np.where(later, instance.prices * 1.7, instance.prices)
    costs = np.where(later, prices * 0.2, instance.costs)
    arrival = np.where(later, instance.arrival * 0.5, instance.arrival)
    rho = instance.substitution_dense().copy()
    rho[np.ix_(~later, later)] *= 0.3  # revealed products send less to later ones
    rows = rng.random((int(later.sum()), instance.n_products))
    rows[np.arange(rows.shape[0]), np.flatnonzero(later)] = 0.0  # rho_ii = 0
    rho[later] = 0.5 * rows / rows.sum(axis=1, keepdims=True)
    return make_instance(
        prices=prices,
        costs=costs,
        arrival=arrival,
        substitution=rho,
        customers=instance.customers,
        vendors=instance.vendors,
    )


@pytest.mark.parametrize("anchor", ["none", "myopic-saa"])
def test_observation_does_not_leak_later_vendors(anchor) -> None:
    instance = make_family_instance("vendors-small", 11)
    changed = _later_vendors_changed(instance, 1)
    assert not np.allclose(changed.substitution_dense(), instance.substitution_dense())
    runs = []
    for inst in (instance, changed):
        env = SequentialStockingEnv(instance=inst, vendor_order="labels", action_anchor=anchor)
        obs, _ = env.reset(seed=3)
        seen = [obs]
        for k in range(3):
            obs, *_ = env.step(np.linspace(-0.8, 0.6, 12).astype(np.float32))
            seen.append(obs)
        runs.append(seen)
    for k in range(2):  # steps 0 and 1 reveal vendors 0 and 1 only
        assert np.array_equal(runs[0][k], runs[1][k]), k
    assert not np.array_equal(runs[0][2], runs[1][2])  # step 2 reveals a changed vendor


def test_observation_layout_at_the_first_step() -> None:
    env = SequentialStockingEnv("vendors-small", 5, vendor_order="labels")
    obs, info = env.reset(seed=0)
    assert info["vendor_order"] == [0, 1, 2, 3]
    width = sequential_columns()
    c = product_columns()
    table = obs[: 12 * width].reshape(12, width)
    catalog = obs[12 * width :]
    assert table[:3, c].tolist() == [1.0] * 3 and table[3:, c].tolist() == [0.0] * 9
    assert table[:3, c + 1].tolist() == [1.0] * 3 and table[:3, c + 2].tolist() == [0.0] * 3
    assert np.all(table[3:, :BASE_COLUMNS] == 0.0)
    neighbours = table[:, BASE_COLUMNS : BASE_COLUMNS + 5]
    assert np.all(neighbours[3:] == -1.0) and neighbours[:3].max() <= 2
    assert catalog.size == CATALOG_COLUMNS + 3
    assert catalog[CATALOG_COLUMNS:].tolist() == pytest.approx(
        [0.75, 0.25, math.log1p(4) / math.log1p(1e6)]
    )
    assert env.observation_space.contains(obs)


def test_zero_action_around_the_anchor_is_myopic_replanning() -> None:
    env = SequentialStockingEnv(
        "vendors-small", 9, action_anchor="myopic-saa", reward_baseline="myopic-saa"
    )
    _, info = env.reset(seed=4)
    done = False
    while not done:
        _, reward, done, _, info = env.step(np.zeros(12, np.float32))
    assert reward == 0.0 and info["baseline_profit"] == info["profit"]
    assert np.array_equal(info["stock"], chained_stock(env.instance, "myopic-saa"))


def test_vendor_orders_are_drawn_per_episode() -> None:
    env = SequentialStockingEnv("vendors-medium", 0)
    orders = {tuple(env.reset(seed=s)[1]["vendor_order"]) for s in range(6)}
    assert len(orders) > 1 and all(sorted(o) == list(range(6)) for o in orders)
    assert SequentialStockingEnv.EVALUATION_KWARGS == {"vendor_order": "labels"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"family": "small"}, MissingVendorsError, "instance 'small-0' has no vendor labels"),
        ({"vendor_order": "random"}, InputError, r"`vendor_order` must be one of \['drawn'"),
        ({"action_anchor": "saa"}, InputError, r"`action_anchor` must be one of \['none', "),
        ({"reward_baseline": "nope"}, InputError, r"`reward_baseline` must be one of \['none'"),
    ],
)
def test_bad_sequential_arguments_are_pinned(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        SequentialStockingEnv(**kwargs)


def test_proportional_action_scale() -> None:
    anchor = np.array([0.0, 4.0, 16.0])
    for action, stock in [
        (-1.0, [0, 0, 0]),
        (0.0, [0, 4, 16]),
        (-0.5, [0, 2, 8]),
        (1.0, [2, 14, 42]),
    ]:
        assert proportional_stock(np.full(3, action), anchor).tolist() == stock


def test_sequential_catalog_policy_ignores_padding_rows() -> None:
    torch.manual_seed(0)
    env = gym.make("Assort/SequentialSmall-v1")
    policy = CatalogPolicy(
        env.observation_space, env.action_space, lambda _: 1e-3, layout="sequential"
    )
    torch.nn.init.normal_(policy.mlp_extractor.head.weight)
    obs, _ = env.reset(seed=1)
    width = sequential_columns()
    noisy = obs.copy().reshape(-1)
    table = noisy[: 12 * width].reshape(12, width)
    table[3:, :BASE_COLUMNS] = 0.7  # garbage in padding rows (present = 0, no edges)
    first = policy.deterministic_action(obs)
    second = policy.deterministic_action(noisy)
    assert np.allclose(first[:3], second[:3], atol=1e-6)
    assert not np.allclose(first[:3], 0.0)


# ------------------------------------------------------------------ information gap


def test_ratio_interval_matches_hand_computation() -> None:
    # A = mean(2) = 2, B = 1, R = 2; u = a - 2 b = [-1, 1], var 2, se_strat = sqrt(2/2) = 1.
    interval = ratio_ci([np.array([1.0, 3.0])], [np.array([1.0, 1.0])])
    assert (interval.mean, interval.se) == pytest.approx((2.0, 1.0))
    exact = ratio_ci(
        [np.array([2.0, 4.0]), np.array([6.0, 2.0])], [np.array([1.0, 2.0]), np.array([3.0, 1.0])]
    )
    assert (exact.mean, exact.se) == pytest.approx((2.0, 0.0))
    with pytest.raises(InputError, match="`numerators` has 1 groups but `denominators` has 2"):
        ratio_ci([np.ones(2)], [np.ones(2), np.ones(2)])


def _stand_in(name: str, scale: float) -> Contender:
    class Policy:
        def stock_for(self, instance):
            return np.round(scale * fluid_lp(instance).sales).astype(np.int64)

    return Contender(name, "heuristic", (Member(name, name, policy_decider(Policy)),))


def test_leaderboard_reports_the_value_of_information_and_the_gap_closed(tmp_path: Path) -> None:
    suite = build_suite(["small"], [1_000_000, 1_000_001])
    contenders = [_stand_in("full", 1.0), _stand_in("half", 0.6), _stand_in("none", 0.2)]
    board = run_leaderboard(
        suite,
        contenders,
        seasons=100,
        seed=3,
        store=ResultStore(tmp_path),
        bootstrap_reps=50,
        information_gap=("full", "none"),
    )
    rows = {r.policy: r for r in board.families["small"]}
    assert rows["full"].gap_closed.mean == pytest.approx(1.0)
    assert rows["none"].gap_closed.mean == pytest.approx(0.0)
    pct = {
        name: [
            100
            * simulate_profits(
                item.instance, np.round(scale * fluid_lp(item.instance).sales), 100, 3
            )[0]
            / item.bound
            for item in suite
        ]
        for name, scale in (("full", 1.0), ("half", 0.6), ("none", 0.2))
    }
    by_hand = np.mean([(h - n).mean() for h, n in zip(pct["half"], pct["none"])]) / np.mean(
        [(f - n).mean() for f, n in zip(pct["full"], pct["none"])]
    )
    assert rows["half"].gap_closed.mean == pytest.approx(by_hand)
    assert 0.0 < by_hand < 1.0
    gap = board.gaps["small"]
    assert gap.points == stratified_mean_ci([f - n for f, n in zip(pct["full"], pct["none"])])
    text = markdown_report(board, title="t")
    assert "## Value of information" in text and GAP_COLUMN in text
    with pytest.raises(InputError, match="the information gap's myopic 'x' is not a contender"):
        run_leaderboard(
            suite,
            contenders,
            seasons=100,
            seed=3,
            store=ResultStore(tmp_path),
            information_gap=("full", "x"),
        )


@pytest.mark.parametrize(
    ("gap", "match"),
    [
        ({"ceiling": "saa", "myopic": "fluid"}, "`evaluation.information_gap.myopic` 'fluid' must"),
        ({"ceiling": "myopic-saa", "myopic": "myopic-saa"}, "names 'myopic-saa' as both"),
        ({"ceiling": "saa"}, "is missing the required key `evaluation.information_gap.myopic`"),
    ],
)
def test_information_gap_config_is_checked(gap, match) -> None:
    data = {
        "name": "gap",
        "evaluation": {
            "families": ["vendors-small"],
            "heuristics": ["saa", "myopic-saa"],
            "information_gap": gap,
        },
    }
    with pytest.raises(InputError, match=match):
        parse_config(data)
