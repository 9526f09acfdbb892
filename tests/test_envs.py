"""The Gymnasium environments: API checkers, determinism, bounds, KPIs, action scale, errors.

Every test that is about "all environments" iterates ``gymnasium.registry`` over the
``Assort/`` namespace; the only hand-written ids are the ones other teams were promised.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.utils.env_checker import data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import envs  # noqa: F401  (registers the ids)
from envs.actions import action_to_stock, stock_to_action
from envs.choice import mnl_instance
from envs.episodes import HELD_OUT_SEED_START, IncompatibleInstanceError
from envs.families import FAMILIES, make_family_instance
from envs.features import (
    AUTO_SCALE_FLOOR,
    CATALOG_FEATURES,
    FEATURES,
    auto_reward_scale,
    catalog_features,
    demand_cap,
    feature_bounds,
    product_features,
)
from envs.fluid_lp import fluid_lp
from envs.instance import make_instance
from envs.observation import product_columns
from envs.one_shot import OneShotStockingEnv
from envs.rendering import stock_image
from envs.sequential import SequentialStockingEnv
from envs.simulate import simulate
from envs.validation import InputError, InputTypeError

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("Assort/"))
PROMISED_IDS = (
    "Assort/OneShotSmall-v1",
    "Assort/OneShotSmallFamily-v1",
    "Assort/OneShotMedium-v1",
    "Assort/OneShotMediumFamily-v1",
    "Assort/SequentialSmall-v1",
    "Assort/SequentialMedium-v1",
)
KPI_KEYS = (
    "revenue",
    "cost",
    "profit",
    "units_sold",
    "lost_customers",
    "substitutions",
    "leftover_units",
    "products_offered",
    "stock",
)


def play(env: gym.Env, seed: int, action_seed: int = 0) -> tuple[list, float, dict]:
    """Reset with ``seed`` and play seeded random actions to the end: (observations, return,
    info)."""
    env.action_space.seed(action_seed)
    obs, info = env.reset(seed=seed)
    observations = [obs]
    total = 0.0
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        observations.append(obs)
        total += reward
        done = terminated or truncated
    return observations, total, info


def two_product_instance(*, substitution: float, customers: int = 3):
    """All customers want product 0; after a stock-out a share ``substitution`` moves to 1."""
    return make_instance(
        prices=[5.0, 4.0],
        costs=[2.0, 1.5],
        salvage=[0.5, 1.0],
        arrival=[1.0, 0.0],
        substitution=[[0.0, substitution], [0.0, 0.0]],
        customers=customers,
        name="two",
    )


# ----------------------------------------------------------------------------- registry


def test_promised_ids_are_registered():
    missing = [env_id for env_id in PROMISED_IDS if env_id not in ENV_IDS]
    assert not missing


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_checkers_pass_without_warnings(env_id):
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env)
        sb3_check_env(env)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_episodes_are_identical(env_id):
    first = play(gym.make(env_id), seed=11)
    second = play(gym.make(env_id), seed=11)
    assert data_equivalence(first, second, exact=True)
    other = play(gym.make(env_id), seed=12)
    assert other[2]["scenario_seed"] != first[2]["scenario_seed"]
    assert set(KPI_KEYS) <= set(first[2])
    assert first[2]["stock"].dtype == np.int64


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observations_lie_in_the_declared_box(env_id):
    env = gym.make(env_id)
    space = env.observation_space
    assert np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
    for seed in range(3):
        for obs in play(env, seed=seed, action_seed=seed)[0]:
            assert obs.dtype == np.float32
            assert space.contains(obs)


def test_gym_make_works_in_a_fresh_interpreter():
    code = (
        "import gymnasium as gym, numpy as np, envs\n"
        f"for env_id in {ENV_IDS!r}:\n"
        "    env = gym.make(env_id)\n"
        "    env.reset(seed=0)\n"
        "    env.step(np.zeros(env.action_space.shape, np.float32))\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "env_id, vec_env_cls",
    [
        ("Assort/OneShotSmallFamily-v1", DummyVecEnv),
        ("Assort/SequentialSmall-v1", DummyVecEnv),
        # Worker processes start fresh (forkserver), which costs seconds: one id is enough.
        ("Assort/SequentialSmallFamily-v1", SubprocVecEnv),
    ],
)
def test_sb3_vector_envs_step(env_id, vec_env_cls):
    # "envs:<id>" makes gymnasium import envs first, as a fresh worker process needs.
    vec = make_vec_env(f"envs:{env_id}", n_envs=2, seed=5, vec_env_cls=vec_env_cls)
    try:
        obs = vec.reset()
        assert obs.shape == (2, *vec.observation_space.shape)
        finished = 0
        for _ in range(8):
            obs, rewards, dones, infos = vec.step(
                np.zeros((2, *vec.action_space.shape), np.float32)
            )
            assert rewards.shape == (2,)
            finished += int(dones.sum())
            assert all("profit" in info for info, done in zip(infos, dones) if done)
        assert finished >= 2
    finally:
        vec.close()


# ------------------------------------------------------------------------------- KPIs


@pytest.mark.parametrize(
    "env_id", ["Assort/OneShotSmall-v1", "Assort/OneShotMNL-v1", "Assort/SequentialMedium-v1"]
)
def test_final_info_matches_the_simulator_and_its_arithmetic(env_id):
    env = gym.make(env_id)
    _, total, info = play(env, seed=3)
    instance = env.unwrapped.instance
    stock = info["stock"]
    season = simulate(instance, stock, 1, info["scenario_seed"])
    sales = season.sales[0]
    assert info["profit"] == pytest.approx(float(season.profit[0]), rel=1e-12)
    assert np.array_equal(info["sales"], sales)
    assert info["revenue"] == pytest.approx(float(np.dot(instance.prices, sales)))
    assert info["cost"] == pytest.approx(float(np.dot(instance.costs, stock)))
    assert info["salvage_value"] == pytest.approx(float(np.dot(instance.salvage, stock - sales)))
    assert info["revenue"] + info["salvage_value"] - info["cost"] == pytest.approx(
        info["profit"], abs=1e-9
    )
    assert info["units_sold"] == int(sales.sum())
    assert info["leftover_units"] == int(stock.sum() - sales.sum())
    assert info["products_offered"] == int(np.count_nonzero(stock))
    assert info["lost_customers"] == int(season.lost[0])
    assert info["substitutions"] == int(season.substitutions[0])
    assert total == pytest.approx(info["profit"] / auto_reward_scale(instance), rel=1e-12)


@pytest.mark.parametrize(
    "substitution, sales, lost, swaps", [(0.0, [2, 0], 1, 0), (1.0, [2, 1], 0, 1)]
)
def test_kpis_of_a_hand_solved_season(substitution, sales, lost, swaps):
    # Three customers all want product 0 (2 units); the third moves to product 1 (1 unit)
    # with probability `substitution` in {0, 1}: the season is deterministic.
    instance = two_product_instance(substitution=substitution)
    stock = np.array([2, 1])
    cap = demand_cap(instance)
    env = OneShotStockingEnv(instance=instance, reward_scale="none")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(2.0 * stock / cap - 1.0)
    assert terminated and not truncated
    assert info["stock"].tolist() == [2, 1]
    assert info["sales"].tolist() == sales
    revenue = 5.0 * sales[0] + 4.0 * sales[1]
    salvage = 0.5 * (2 - sales[0]) + 1.0 * (1 - sales[1])
    assert info["revenue"] == revenue and info["salvage_value"] == salvage
    assert info["cost"] == 2.0 * 2 + 1.5 * 1
    assert reward == pytest.approx(revenue + salvage - 5.5)
    assert (info["lost_customers"], info["substitutions"]) == (lost, swaps)
    assert info["customers"] == 3 and info["units_sold"] == sum(sales)
    assert info["leftover_units"] == 3 - sum(sales) and info["products_offered"] == 2


def test_reward_scales():
    instance = two_product_instance(substitution=1.0)
    # auto scale: T sum_i lambda_i max(r_i - c_i, 0) = 3 * 1 * (5 - 2) = 9.
    assert auto_reward_scale(instance) == 9.0
    action = np.array([1.0, 1.0], np.float32)
    rewards = {}
    for scale in ("none", "auto", 2.5):
        env = OneShotStockingEnv(instance=instance, reward_scale=scale)
        env.reset(seed=4)
        rewards[scale] = env.step(action)[1]
    assert rewards["auto"] == pytest.approx(rewards["none"] / 9.0)
    assert rewards[2.5] == pytest.approx(rewards["none"] / 2.5)


def test_auto_reward_scale_has_a_floor_when_no_margin_is_positive():
    # Every margin r - c is <= 0: the divisor is the floor AUTO_SCALE_FLOOR T max_i r_i, a
    # normal positive float, so rewards stay finite (and keep their sign).
    instance = make_instance(
        prices=[5.0, 4.0],
        costs=[5.0, 6.0],
        arrival=[0.5, 0.5],
        substitution=[[0.0, 0.0], [0.0, 0.0]],
        customers=3,
    )
    floor = AUTO_SCALE_FLOOR * 3 * 5.0
    assert auto_reward_scale(instance) == floor
    env = OneShotStockingEnv(instance=instance, reward_scale="auto")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([1.0, 1.0], np.float32))
    assert math.isfinite(reward) and info["profit"] < 0
    assert reward == pytest.approx(info["profit"] / floor, rel=1e-12)
    # A tiny positive margin below the floor is floored too; above it, the formula holds.
    tiny = make_instance(
        prices=[5.0], costs=[5.0 - 1e-12], arrival=[1.0], substitution=[[0.0]], customers=3
    )
    assert auto_reward_scale(tiny) == AUTO_SCALE_FLOOR * 3 * 5.0
    assert auto_reward_scale(two_product_instance(substitution=0.0)) == 9.0


# --------------------------------------------------------------------- action scale


def test_action_to_stock_and_back_round_trip():
    instance = make_family_instance("medium", 1)
    cap = demand_cap(instance)
    rng = np.random.default_rng(0)
    stock = rng.integers(0, cap + 1)
    assert np.array_equal(action_to_stock(instance, stock_to_action(instance, stock)), stock)
    assert np.array_equal(action_to_stock(instance, stock_to_action(instance, cap + 7)), cap)
    action = rng.uniform(-1.0, 1.0, instance.n_products).astype(np.float32)
    back = stock_to_action(instance, action_to_stock(instance, action))
    assert np.all(np.abs(back - action) <= 1.0 / cap + 1e-6)
    n = instance.n_products
    assert np.array_equal(action_to_stock(instance, -np.ones(n)), np.zeros(n))
    assert np.array_equal(action_to_stock(instance, np.ones(n)), cap)
    assert np.array_equal(action_to_stock(instance, np.full(n, 3.0)), cap)


@pytest.mark.parametrize("family", ["small", "medium", "heavy-tail", "mnl", "multistep"])
def test_fluid_solution_fits_under_the_demand_cap(family):
    # The action scale can express the fluid LP policy (DESIGN.md 5) on every family.
    for seed in range(2):
        instance = make_family_instance(family, seed)
        assert np.all(fluid_lp(instance).sales <= demand_cap(instance))


def test_demand_cap_of_hand_instances():
    # p_0 = 1 and T = 3 -> the 99.9 % quantile of Binomial(3, 1) is 3.
    assert demand_cap(two_product_instance(substitution=0.0)).tolist() == [3, 1]
    assert demand_cap(two_product_instance(substitution=1.0)).tolist() == [3, 3]


def test_demand_cap_with_poisson_customers():
    # Every customer (mean 5 of them) asks for product 0: cap_0 is the smallest k with
    # P(Poisson(5) <= k) >= 0.999, computed here from the probability mass function.
    instance = make_instance(
        prices=[2.0, 2.0],
        costs=[1.0, 1.0],
        arrival=[1.0, 0.0],
        customers=5,
        arrivals="poisson",
        substitution=[[0.0, 0.0], [0.0, 0.0]],
    )
    cdf, k = 0.0, 0
    while True:
        cdf += math.exp(-5.0) * 5.0**k / math.factorial(k)
        if cdf >= 0.999:
            break
        k += 1
    assert demand_cap(instance).tolist() == [k, 1]
    assert product_features(instance)[0, -1] == 1.0


def test_action_errors_are_pinned():
    instance = two_product_instance(substitution=0.5)
    with pytest.raises(
        InputError,
        match=r"`action` must have shape \(2,\), one entry per product; got shape \(3,\)",
    ):
        action_to_stock(instance, [0.0, 0.0, 0.0])
    with pytest.raises(InputError, match="`action` entry 1 is nan; entries must be finite numbers"):
        action_to_stock(instance, [0.0, np.nan])
    with pytest.raises(
        InputTypeError,
        match=r"`action` must be a list of numbers \(real numbers within float range\); "
        r"got entries of type str",
    ):
        action_to_stock(instance, ["0.5", "1"])
    with pytest.raises(InputError, match="`stock` entry 0 is -1.0; stock must be non-negative"):
        stock_to_action(instance, [-1, 2])


def test_rgb_array_rendering_draws_stock_against_demand():
    # Columns: stock at the cap, nothing stocked, half the cap; red marks demand / cap.
    image = stock_image(np.array([4, 0, 2]), np.array([4, 4, 4]), np.array([0.0, 4.0, 0.0]))
    assert image.shape == (64, 3, 3) and image.dtype == np.uint8
    blue, red, white = [40, 90, 200], [220, 30, 30], [255, 255, 255]
    assert all(image[y, 0].tolist() == blue for y in range(63)) and image[63, 0].tolist() == red
    assert image[0, 1].tolist() == red and all(image[y, 1].tolist() == white for y in range(1, 64))
    assert image[31, 2].tolist() == white and image[32, 2].tolist() == blue  # a 32-pixel bar
    env = gym.make("Assort/OneShotSmall-v1", render_mode="rgb_array")
    env.reset(seed=0)
    assert (env.render() == np.array(blue, np.uint8)).all(axis=2).sum() == 0
    env.step(np.ones(10, np.float32))
    # Full bars, each with one red demand pixel inside.
    assert (env.render() == np.array(blue, np.uint8)).all(axis=2).sum() == 63 * 10


# ----------------------------------------------------------------------- observations


def _feature_instances():
    for family in FAMILIES:
        overrides = {"n_products": 2000, "customers": 20_000} if family == "large" else {}
        yield make_family_instance(family, 3, **overrides)
    weights = [0.5, 1.0, 2.0, 4.0]
    yield mnl_instance(
        weights, 0.0, prices=[1.0, 2.0, 3.0, 4.0], costs=[0.5, 2.5, 1.0, 4.0], customers=1
    )
    # Cost above price (critical ratio -4 before the clip; salvage above price), no demand at
    # all, Poisson customers.
    yield make_instance(
        prices=[1.0, 2.0, 3.0, 2.0],
        costs=[3.0, 2.0, 0.0, 2.5],
        salvage=[0.5, 1.0, 0.0, 2.2],
        arrival=[0.0, 0.0, 0.0, 0.0],
        customers=5,
        arrivals="poisson",
        substitution=[[0, 1.0, 0, 0], [0, 0, 0.5, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 0]],
        name="odd",
    )


@pytest.mark.parametrize("instance", list(_feature_instances()), ids=lambda inst: inst.name)
def test_features_lie_in_their_bounds(instance):
    table = product_features(instance)
    low, high = feature_bounds(FEATURES)
    assert table.shape == (instance.n_products, len(FEATURES)) and table.dtype == np.float32
    assert np.all(table >= low) and np.all(table <= high)
    catalog = catalog_features(instance)
    catalog_low, catalog_high = feature_bounds(CATALOG_FEATURES)
    assert np.all(catalog >= catalog_low) and np.all(catalog <= catalog_high)


def test_feature_values_of_a_hand_instance():
    instance = two_product_instance(substitution=1.0)
    table = product_features(instance)
    names = [name for name, _, _ in FEATURES]
    row0 = dict(zip(names, table[0].tolist()))
    row1 = dict(zip(names, table[1].tolist()))
    assert row0["price"] == 1.0 and row1["price"] == pytest.approx(0.8)
    assert row0["margin"] == pytest.approx(0.6) and row0["critical_ratio"] == pytest.approx(
        3.0 / 4.5
    )
    assert row0["first_choice_demand"] == 1.0 and row1["first_choice_demand"] == 0.0
    assert row0["leave"] == 0.0 and row1["leave"] == 1.0
    assert row1["substitution_in"] == 0.5 and row1["inflow_demand"] == 1.0
    assert catalog_features(instance).tolist() == pytest.approx(
        [np.log1p(3) / (1 + np.log1p(3)), 0.0, 0.0, 0.0]
    )


# ------------------------------------------------------------------------ instances


def test_family_env_draws_a_new_instance_each_reset():
    env = gym.make("Assort/OneShotSmallFamily-v1")
    seeds = set()
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        instance = make_family_instance("small", info["instance_seed"])
        assert np.array_equal(env.unwrapped.instance.prices, instance.prices)
        rows = obs[: instance.n_products * product_columns()].reshape(instance.n_products, -1)
        assert np.array_equal(rows[:, : len(FEATURES)], product_features(instance))
        seeds.add(info["instance_seed"])
    assert len(seeds) == 3


def test_reset_option_plays_the_given_instance():
    env = gym.make("Assort/OneShotSmall-v1")
    other = make_family_instance("small", 42)
    _, info = env.reset(seed=1, options={"instance": other})
    assert info["instance_seed"] is None
    action = np.zeros(other.n_products, np.float32)
    _, _, _, _, info = env.step(action)
    season = simulate(other, action_to_stock(other, action), 1, info["scenario_seed"])
    assert info["profit"] == float(season.profit[0])
    env.reset(seed=1)
    assert env.unwrapped.instance is not other


def test_reset_option_errors_are_pinned():
    env = OneShotStockingEnv("small", 0)
    wrong = make_family_instance("small", 0, n_products=7)
    with pytest.raises(
        IncompatibleInstanceError,
        match=r"options\['instance'\] has 7 products; this environment's spaces are built for 10",
    ):
        env.reset(options={"instance": wrong})
    with pytest.raises(
        InputTypeError,
        match=r"options\['instance'\] must be an envs.instance.Instance; got \{\} \(dict\)",
    ):
        env.reset(options={"instance": {}})
    with pytest.raises(
        InputError, match=r"unknown reset option 'instanse'; known options are \['instance'\]"
    ):
        env.reset(options={"instanse": wrong})
    with pytest.raises(RuntimeError, match=r"the episode is over; call reset\(\) before step\(\)"):
        env.step(np.zeros(10, np.float32))


REWARD_SCALE_RULE = r"`reward_scale` must be a finite number in \[1e-09, 1e\+15\]"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"family": "tinny"},
            InputError,
            r"`family` must be one of \[.*'small'.*\]; got 'tinny' \(str\)",
        ),
        (
            {"instance_seed": -1},
            InputError,
            r"`instance_seed` must be an integer seed in \[0, 2\*\*63\); got -1",
        ),
        (
            {"instance_seed": 1.0},
            InputTypeError,
            r"`instance_seed` must be an integer seed in \[0, 2\*\*63\); got 1.0 \(float\)",
        ),
        (
            {"reward_scale": "big"},
            InputError,
            r"`reward_scale` must be 'none', 'auto' or a number in \[1e-09, 1e\+15\]; got 'big'",
        ),
        ({"reward_scale": 0}, InputError, rf"{REWARD_SCALE_RULE}; got 0$"),
        ({"reward_scale": 1e-10}, InputError, rf"{REWARD_SCALE_RULE}; got 1e-10$"),
        ({"reward_scale": 1e16}, InputError, rf"{REWARD_SCALE_RULE}; got 1e\+16$"),
        ({"reward_scale": float("nan")}, InputError, rf"{REWARD_SCALE_RULE}; got nan$"),
        ({"reward_scale": True}, InputTypeError, rf"{REWARD_SCALE_RULE}; got True \(bool\)"),
        (
            {"resample_instance": "yes"},
            InputTypeError,
            r"`resample_instance` must be True or False; got 'yes' \(str\)",
        ),
        (
            {"family_kwargs": [("customers", 5)]},
            InputTypeError,
            r"`family_kwargs` must be a dict of family overrides; "
            r"got \[\('customers', 5\)\] \(list\)",
        ),
        (
            {"instance": "small"},
            InputTypeError,
            r"`instance` must be an envs.instance.Instance; got 'small' \(str\)",
        ),
        (
            {"render_mode": "human"},
            InputError,
            r"`render_mode` must be one of \['rgb_array'\]; got 'human' \(str\)",
        ),
    ],
)
@pytest.mark.parametrize("env_cls", [OneShotStockingEnv, SequentialStockingEnv])
def test_bad_constructor_arguments_are_pinned(env_cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        env_cls(**kwargs)


def test_family_kwargs_reach_the_family():
    env = OneShotStockingEnv("small", 2, family_kwargs={"n_products": 6, "customers": 50})
    assert env.action_space.shape == (6,)
    assert env.instance.customers == 50
    assert np.array_equal(
        env.instance.prices, make_family_instance("small", 2, n_products=6, customers=50).prices
    )


def test_fixed_instance_cannot_be_resampled():
    with pytest.raises(
        InputError,
        match="`resample_instance=True` draws every instance from `family`; it cannot be combined",
    ):
        OneShotStockingEnv(instance=two_product_instance(substitution=0.0), resample_instance=True)


def test_training_instances_come_from_the_pool_and_never_from_held_out_seeds() -> None:
    env = OneShotStockingEnv(family="small", resample_instance=True, instance_pool=3)
    seeds = set()
    for k in range(30):
        _, info = env.reset(seed=k)
        seeds.add(info["instance_seed"])
    assert seeds == {0, 1, 2}
    # A cached instance is the same as a freshly generated one.
    _, info = env.reset(seed=99)
    fresh = OneShotStockingEnv(family="small", instance_seed=info["instance_seed"])
    np.testing.assert_array_equal(env.instance.prices, fresh.instance.prices)


@pytest.mark.parametrize(
    ("pool", "error"),
    [(0, InputError), (1_000_001, InputError), (True, InputTypeError), (2.5, InputTypeError)],
)
def test_instance_pool_must_stay_below_the_held_out_seeds(pool: Any, error: type) -> None:
    # Seeds from HELD_OUT_SEED_START = 1,000,000 on are held out for evaluation.
    assert HELD_OUT_SEED_START == 1_000_000
    with pytest.raises(
        error, match=rf"`instance_pool` must be an integer in \[1, 1,000,000\]; got {pool!r}"
    ):
        OneShotStockingEnv(family="small", resample_instance=True, instance_pool=pool)


def test_fluid_anchored_action_zero_is_the_fluid_policy() -> None:
    from baselines.fluid import fluid_policy
    from envs.actions import anchored_stock

    env = gym.make("Assort/OneShotSmallFamilyResidual-v1")
    env.reset(seed=3)
    instance = env.unwrapped.instance
    _, _, _, _, info = env.step(np.zeros(instance.n_products, dtype=np.float32))
    np.testing.assert_array_equal(info["stock"], fluid_policy(instance).stock)
    z = np.array([0.0, 4.0, 9.0])
    np.testing.assert_array_equal(anchored_stock(np.array([1.0, -1.0, 2.0]), z), [2, 0, 17])


def test_action_anchor_must_be_known() -> None:
    with pytest.raises(InputError, match=r"`action_anchor` must be one of \['none', 'fluid'"):
        OneShotStockingEnv(family="small", action_anchor="lp")
    with pytest.raises(InputError, match=r"; got 'lp'$"):
        OneShotStockingEnv(family="small", action_anchor="lp")


def test_fluid_reward_baseline_is_the_profit_difference_on_the_same_customers() -> None:
    env = gym.make("Assort/OneShotSmallFamilyResidual-v1")
    _, reset_info = env.reset(seed=5)
    n = env.unwrapped.instance.n_products
    _, reward, _, _, info = env.step(np.zeros(n, dtype=np.float32))
    assert (
        reward == 0.0 and info["profit"] == info["baseline_profit"]
    )  # a = 0 is the baseline itself
    env.reset(seed=5)
    _, reward, _, _, info = env.step(np.full(n, 0.5, dtype=np.float32))
    instance = env.unwrapped.instance
    again = simulate(instance, info["stock"], 1, reset_info["scenario_seed"])
    assert info["profit"] == again.profit[0]
    expected = (info["profit"] - info["baseline_profit"]) / auto_reward_scale(instance)
    assert reward == pytest.approx(expected, rel=1e-12)


def test_reward_baseline_must_be_known() -> None:
    with pytest.raises(InputError, match=r"`reward_baseline` must be one of \['none', 'fluid'"):
        OneShotStockingEnv(family="small", reward_baseline="fifo")
    with pytest.raises(InputError, match=r"; got 'fifo'$"):
        OneShotStockingEnv(family="small", reward_baseline="fifo")
