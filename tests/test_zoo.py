"""rl-baselines3-zoo hyperparameter files: registered ids, constructor arguments, and the
entries that claim serious.yaml's settings really have them."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import gymnasium
import pytest
import yaml

import envs  # noqa: F401  (registers the Assort/* ids)
from agents import ALGORITHMS
from experiments.config import load_config

ROOT = Path(__file__).resolve().parents[1]
ZOO = sorted((ROOT / "experiments" / "zoo").glob("*.yml"))
ZOO_ONLY = {
    "n_timesteps",
    "policy",
    "normalize",
    "n_envs",
    "policy_kwargs",
    "frame_stack",
    "env_wrapper",
    "vec_env_wrapper",
    "callback",
    "normalize_kwargs",
}
"""Keys rl_zoo3 consumes itself instead of passing them to the algorithm's constructor."""


def load_zoo(path: Path) -> dict[str, dict[str, Any]]:
    """The file as rl_zoo3 reads it (``yaml.UnsafeLoader``, so ``!!float 1e4`` and anchors
    work)."""
    with open(path) as handle:
        return yaml.load(handle, Loader=yaml.UnsafeLoader)  # noqa: S506 (the zoo's own loader)


def policy_kwargs(entry: dict[str, Any]) -> dict[str, Any]:
    """The zoo's ``policy_kwargs`` string evaluated as rl_zoo3 does (only ``dict`` needed)."""
    text = entry.get("policy_kwargs", "dict()")
    return eval(text, {"__builtins__": {}, "dict": dict})  # noqa: S307 (trusted repo file)


def test_the_zoo_ships_ppo_and_sac() -> None:
    assert [p.stem for p in ZOO] == ["ppo", "sac"]


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_every_entry_is_a_registered_id_with_constructor_arguments(path: Path) -> None:
    algo = ALGORITHMS[path.stem]
    constructor = inspect.signature(algo.__init__).parameters
    entries = load_zoo(path)
    assert entries
    for env_id, entry in entries.items():
        assert env_id in gymnasium.registry, env_id
        assert isinstance(entry["n_timesteps"], int | float) and entry["n_timesteps"] > 0
        for key in set(entry) - ZOO_ONLY:
            assert key in constructor, f"{path.name} {env_id}: {key} is not an argument of {algo}"
        policy = algo.policy_aliases[entry["policy"]]
        accepted = inspect.signature(policy.__init__).parameters
        for key in policy_kwargs(entry):
            assert key in accepted, f"{path.name} {env_id}: policy_kwargs {key}"


def test_entries_for_serious_ids_use_serious_settings() -> None:
    """The serious run's flat-MLP agents (the ones rl-zoo can express: a registered id without
    kwargs, an SB3 policy, SB3's DummyVecEnv) have zoo entries with the same settings."""
    config = load_config(ROOT / "experiments" / "configs" / "serious.yaml")
    zoo = {path.stem: load_zoo(path) for path in ZOO}
    checked = set()
    for agent in config.agents:
        if (
            agent.policy != "MlpPolicy"
            or agent.vec_env != "dummy"
            or config.agent_env(agent).kwargs
        ):
            continue
        env_id = config.agent_env(agent).id
        entry = zoo[agent.algo][env_id]
        assert entry["n_timesteps"] == agent.total_timesteps, env_id
        assert entry.get("n_envs", 1) == agent.n_envs, env_id
        assert set(entry) - ZOO_ONLY == set(agent.hyperparams), env_id
        assert {k: entry[k] for k in agent.hyperparams} == agent.hyperparams, env_id
        assert policy_kwargs(entry) == agent.policy_kwargs, env_id
        normalize = eval(entry["normalize"], {"__builtins__": {}})  # noqa: S307
        assert normalize == {
            "norm_obs": agent.normalize.observation,
            "norm_reward": agent.normalize.reward,
        }
        checked.add((agent.algo, env_id))
    assert ("ppo", "Assort/OneShotSmallFamily-v1") in checked
