"""Learned policies for any catalog: the per-product network, the vectorized training env, the
reference baselines and the knob ranges."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env

import baselines.registry  # noqa: F401  (registers the heuristics as references)
import envs  # noqa: F401
from agents.catalog_policy import CatalogPolicy
from agents.vec_env import CatalogVecEnv
from baselines.registry import solve
from envs.episodes import draw_knobs
from envs.families import make_family_instance
from envs.features import demand_cap
from envs.fluid_lp import fluid_lp
from envs.instance import Instance, make_instance
from envs.observation import catalog_observation, top_neighbours
from envs.references import REFERENCE_SEED
from envs.simulate import simulate
from envs.validation import InputError
from experiments.config import parse_config
from experiments.runs import learned_policy
from experiments.train import train_run

SMALL = "Assort/OneShotSmallFamily-v1"
KWARGS = [
    {},
    {"action_anchor": "fluid", "reward_baseline": "fluid", "seasons_per_episode": 3},
    {"action_anchor": "assortment-newsvendor", "reward_baseline": "newsvendor"},
    {"instance_pool": 7, "family_ranges": {"customers": [50, 400], "alpha": [0.8, 1.5]}},
]


# ------------------------------------------------------------------- the vectorized env


@pytest.mark.parametrize("kwargs", KWARGS)
def test_the_vectorized_env_plays_the_single_envs_episodes_bit_for_bit(kwargs) -> None:
    vec = CatalogVecEnv(SMALL, 4, kwargs)
    vec.seed(11)
    single = make_vec_env(SMALL, n_envs=4, seed=11, env_kwargs=kwargs)
    assert np.array_equal(vec.reset(), single.reset())
    rng = np.random.default_rng(0)
    for _ in range(6):
        actions = rng.uniform(-1.2, 1.2, (4, 10)).astype(np.float32)
        obs, rewards, dones, infos = vec.step(actions)
        obs2, rewards2, dones2, infos2 = single.step(actions)
        assert np.array_equal(rewards, rewards2) and np.array_equal(obs, obs2)
        assert dones.all() and dones2.all()
        for info, info2 in zip(infos, infos2, strict=True):
            for key in ("instance_seed", "scenario_seed", "profit", "baseline_profit"):
                assert info.get(key) == info2.get(key), key
            assert np.array_equal(info["terminal_observation"], info2["terminal_observation"])


def test_the_vectorized_env_plays_a_fixed_instance_too() -> None:
    vec = CatalogVecEnv("Assort/OneShotSmall-v1", 3, {})
    vec.seed(2)
    single = make_vec_env("Assort/OneShotSmall-v1", n_envs=3, seed=2)
    assert np.array_equal(vec.reset(), single.reset())
    actions = np.full((3, 10), 0.3, dtype=np.float32)
    assert np.array_equal(vec.step(actions)[1], single.step(actions)[1])


def test_the_vectorized_env_refuses_what_it_cannot_play() -> None:
    with pytest.raises(InputError, match="is not a one-shot environment"):
        CatalogVecEnv("Assort/SequentialSmall-v1", 2)
    vec = CatalogVecEnv(SMALL, 2)
    vec.reset()
    with pytest.raises(InputError, match=r"`actions` must have shape \(2, 10\)"):
        vec.step(np.zeros((2, 9), dtype=np.float32))
    with pytest.raises(InputError, match="entries of type str"):
        vec.step(np.full((2, 10), "0.5"))


# ------------------------------------------------------------------- references


def test_a_heuristic_anchor_at_action_zero_stocks_the_heuristic() -> None:
    env = gym.make("Assort/OneShotSmall-v1", action_anchor="saa")
    env.reset(seed=0)
    instance = env.unwrapped.instance
    _, _, _, _, info = env.step(np.zeros(10, dtype=np.float32))
    expected = solve("saa", instance, rng=REFERENCE_SEED).stock
    assert np.array_equal(info["stock"], expected)


def test_a_heuristic_baseline_is_subtracted_on_the_same_customers() -> None:
    env = gym.make(
        "Assort/OneShotSmall-v1",
        reward_baseline="assortment-newsvendor",
        seasons_per_episode=4,
        reward_scale="none",
    )
    _, reset_info = env.reset(seed=3)
    instance = env.unwrapped.instance
    action = np.full(10, 0.2, dtype=np.float32)
    _, reward, _, _, info = env.step(action)
    seed = reset_info["scenario_seed"]
    stock = info["stock"]
    baseline = solve("assortment-newsvendor", instance, rng=REFERENCE_SEED).stock
    profit = simulate(instance, stock, 4, seed).profit.mean()
    base = simulate(instance, baseline, 4, seed).profit.mean()
    assert info["profit"] == profit and info["baseline_profit"] == base
    assert reward == profit - base


# ------------------------------------------------------------------- knob ranges


def test_knob_ranges_are_drawn_per_seed_and_checked() -> None:
    ranges = {"customers": (100, 1_000), "alpha": (0.8, 1.5), "neighbours": (3, 5)}
    first = draw_knobs(ranges, 17)
    assert first == draw_knobs(ranges, 17) and first != draw_knobs(ranges, 18)
    assert 100 <= first["customers"] <= 1_000 and isinstance(first["neighbours"], int)
    env = gym.make(SMALL, family_ranges={k: list(v) for k, v in ranges.items()})
    _, info = env.reset(seed=4)
    knobs = draw_knobs(ranges, info["instance_seed"])
    assert env.unwrapped.instance.customers == knobs["customers"]
    for ranges, message in [
        ({"n_products": [10, 20]}, "`family_ranges.n_products` is not a knob that can vary"),
        ({"alpha": [2.0, 1.0]}, r"`family_ranges.alpha` is \[2.0, 1.0\]; low must be at most"),
        ({"alpha": 1.0}, r"`family_ranges.alpha` must be \[low, high\]"),
        ({"customers": [0, 10]}, r"`family_ranges.customers` must be an integer in \[1,"),
    ]:
        with pytest.raises(InputError, match=message):
            gym.make(SMALL, family_ranges=ranges)
    with pytest.raises(InputError, match="needs `resample_instance=True`"):
        gym.make("Assort/OneShotSmall-v1", family_ranges={"alpha": [1.0, 1.2]})


# ------------------------------------------------------------------- the network


def permuted(instance: Instance, order: np.ndarray) -> Instance:
    """The same catalog with product order[i] renamed i."""
    rho = instance.substitution_dense()[np.ix_(order, order)]
    return make_instance(
        name=f"{instance.name}-permuted",
        prices=instance.prices[order],
        costs=instance.costs[order],
        salvage=instance.salvage[order],
        arrival=instance.arrival[order],
        substitution=rho,
        customers=instance.customers,
        arrivals=instance.arrivals,
    )


def observation(instance: Instance) -> np.ndarray:
    return catalog_observation(instance, fluid_lp(instance), demand_cap(instance))


def random_policy(n: int, **kwargs) -> CatalogPolicy:
    """A policy for the spaces of N = n with random weights everywhere (the head too)."""
    torch.manual_seed(0)
    env = gym.make("Assort/OneShotSmall-v1", family_kwargs={"n_products": n})
    policy = CatalogPolicy(env.observation_space, env.action_space, lambda _: 3e-4, **kwargs)
    torch.nn.init.normal_(policy.mlp_extractor.head.weight, std=0.5)
    return policy


@pytest.mark.parametrize("columns", ["all", "size-free"])
def test_permuting_the_products_permutes_the_action(columns) -> None:
    policy = random_policy(10, columns=columns, rounds=2)
    instance = make_family_instance("small", 1_000_003)
    order = np.random.default_rng(5).permutation(instance.n_products)
    action = policy.deterministic_action(observation(instance))
    moved = policy.deterministic_action(observation(permuted(instance, order)))
    assert np.abs(action).max() > 0.05  # a real, non-constant action
    np.testing.assert_allclose(moved, action[order], rtol=1e-5, atol=1e-6)


def test_message_passing_reads_the_substitution_graph() -> None:
    policy = random_policy(10)
    instance = make_family_instance("small", 1_000_003)
    index, _ = top_neighbours(instance, 5)
    # Moving one substitute of product 0 changes product 0's action: the edges are read.
    rho = instance.substitution_dense().copy()
    j = int(index[0, 0])
    rho[0, j], rho[0, (j + 1) % 10 or 1] = 0.0, rho[0, j]
    rho[0, 0] = 0.0
    rewired = make_instance(
        name="rewired",
        prices=instance.prices,
        costs=instance.costs,
        salvage=instance.salvage,
        arrival=instance.arrival,
        substitution=rho,
        customers=instance.customers,
    )
    with torch.no_grad():
        first, second = (
            policy.mlp_extractor.forward_actor(torch.as_tensor(observation(i)[None]))[0]
            for i in (instance, rewired)
        )
    assert abs(float(first[0] - second[0])) > 1e-4


def test_one_network_decides_catalogs_of_10_100_and_1000_products() -> None:
    policy = random_policy(10, columns="size-free")
    for family, n in (("small", 10), ("medium", 100), ("heavy-tail", 1_000)):
        action = policy.deterministic_action(observation(make_family_instance(family, 1_000_000)))
        assert action.shape == (n,) and np.all(np.abs(action) <= 1.0)


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_ppo_and_a2c_train_the_catalog_policy_and_save_and_load_it(algo, tmp_path) -> None:
    vec = CatalogVecEnv(SMALL, 8, {"instance_pool": 20, "action_anchor": "fluid"})
    model = algo(
        CatalogPolicy,
        vec,
        n_steps=4,
        seed=0,
        device="cpu",
        gamma=0.0,
        policy_kwargs={"hidden": 16, "rounds": 1},
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(64)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model.zip", device="cpu")
    obs = observation(make_family_instance("medium", 1_000_001))
    np.testing.assert_array_equal(
        model.policy.deterministic_action(obs), loaded.policy.deterministic_action(obs)
    )


# ------------------------------------------------------------------- runs and configs


AGENT = {
    "algo": "ppo",
    "label": "graph",
    "policy": "CatalogPolicy",
    "vec_env": "catalog",
    "n_envs": 16,
    "total_timesteps": 128,
    "seeds": [0],
    "hyperparams": {"n_steps": 4, "batch_size": 32, "n_epochs": 1, "gamma": 0.0},
    "policy_kwargs": {"hidden": 8, "rounds": 1, "columns": "size-free"},
}
ENV = {"id": SMALL, "kwargs": {"instance_pool": 30, "action_anchor": "fluid"}}


def test_a_trained_catalog_agent_plays_any_catalog_size(tmp_path: Path) -> None:
    config = parse_config(
        {
            "name": "any",
            "env": ENV,
            "agents": [AGENT],
            "train": {"checkpoint_every": 128, "runs_dir": str(tmp_path)},
        }
    )
    folder = train_run(config)
    policy = learned_policy(folder)
    assert policy.any_size
    for family, n in (("small", 10), ("medium", 100), ("heavy-tail", 1_000)):
        instance = make_family_instance(family, 1_000_002)
        stock = policy.stock_for(instance)
        assert stock.shape == (n,) and stock.min() >= 0
        again = policy.stock_for(instance)
        assert np.array_equal(stock, again)
    assert (folder / "monitor" / "all-copies.monitor.csv").is_file()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"normalize": {"observation": True}}, "must be false for CatalogPolicy"),
        ({"policy_kwargs": {"neighbours": 3}}, "`agents.0.policy_kwargs.neighbours` is 3 but"),
        ({"policy_kwargs": {"columns": "some"}}, "`agents.0.policy_kwargs.columns` must be one"),
        ({"policy_kwargs": {"rounds": 9}}, "`agents.0.policy_kwargs.rounds` must be an integer"),
        ({"algo": "sac", "hyperparams": {}}, "is not a policy of SAC"),
        ({"vec_env": "subproc"}, "`agents.0.vec_env` must be one of ['dummy', 'catalog']"),
        ({"env": {"id": "Assort/SequentialSmall-v1"}}, "steps one-shot environments only"),
        (
            {"vec_env": "dummy", "env": {"id": "Assort/SequentialSmall-v1"}},
            "`agents.0.policy_kwargs.layout` is 'one-shot' but Assort/SequentialSmall-v1 needs "
            "'sequential'",
        ),
        (
            {"policy_kwargs": {"layout": "sequential"}},
            "`agents.0.policy_kwargs.layout` is 'sequential' but",
        ),
        ({"policy_kwargs": {"layout": "flat"}}, "`agents.0.policy_kwargs.layout` must be one of"),
    ],
)
def test_catalog_settings_are_checked_at_load(change, fragment) -> None:
    with pytest.raises(InputError) as caught:
        parse_config(
            {
                "name": "bad",
                "env": ENV,
                "agents": [{**AGENT, **change}],
                "train": {"checkpoint_every": 128},
            }
        )
    assert fragment in str(caught.value), str(caught.value)
