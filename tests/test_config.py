"""Experiment configs: exact round trips, overrides, and every rejection message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from experiments.config import (
    AgentConfig,
    ExperimentConfig,
    apply_overrides,
    load_config,
    parse_config,
    rollout_size,
    run_name,
)

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "experiments" / "configs").glob("*.yaml"))


def base() -> dict[str, Any]:
    return {
        "name": "unit",
        "description": "a test",
        "env": {"id": "Assort/OneShotSmall-v0", "kwargs": {"reward_scale": "auto"}},
        "agents": [
            {
                "algo": "ppo",
                "total_timesteps": 20_000,
                "n_envs": 4,
                "seeds": [0, 1],
                "normalize": {"observation": True, "reward": False},
                "hyperparams": {"learning_rate": 3.0e-4, "n_steps": 64, "batch_size": 64},
                "policy_kwargs": {"net_arch": [64, 64]},
            },
            {"algo": "sac", "total_timesteps": 1000},
        ],
        "train": {"checkpoint_every": 5_000, "runs_dir": "runs"},
        "evaluation": {
            "families": ["small"],
            "instance_seeds": [1_000_000, 1_000_001],
            "seasons": 2_000,
            "seed": 7,
            "heuristics": ["fluid", "newsvendor"],
        },
    }


def with_change(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base())
    node: Any = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return data


def test_parse_reads_every_field() -> None:
    config = parse_config(base())
    assert config.agents[0] == AgentConfig(
        algo="ppo",
        total_timesteps=20_000,
        n_envs=4,
        seeds=(0, 1),
        normalize=config.agents[0].normalize,
        hyperparams={"learning_rate": 3.0e-4, "n_steps": 64, "batch_size": 64},
        policy_kwargs={"net_arch": [64, 64]},
    )
    assert config.agents[0].normalize.observation and not config.agents[0].normalize.reward
    assert config.agents[1].seeds == (0,) and config.agents[1].n_envs == 1  # defaults
    assert config.train.checkpoint_every == 5_000 and config.train.keep_checkpoints == 2
    assert config.evaluation.instance_seeds == (1_000_000, 1_000_001)
    assert config.agent("sac").total_timesteps == 1000


def test_dict_and_yaml_round_trip_exactly(tmp_path: Path) -> None:
    config = parse_config(base())
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    assert load_config(path) == config
    assert yaml.safe_load(config.to_yaml()) == config.to_dict()
    assert load_config(path).to_yaml() == config.to_yaml()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load_and_round_trip(path: Path) -> None:
    config = load_config(path)
    assert parse_config(config.to_dict()) == config


def test_yaml_1_1_number_strings_are_coerced(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: u\nenv: {id: Assort/OneShotSmall-v0}\nagents:\n"
        "  - {algo: sac, total_timesteps: 2e4,\n"
        "     hyperparams: {learning_rate: 3e-4, buffer_size: 1e5}}\n"
    )
    agent = load_config(path).agents[0]
    assert agent.total_timesteps == 20_000 and isinstance(agent.total_timesteps, int)
    assert agent.hyperparams == {"learning_rate": 3e-4, "buffer_size": 100_000}
    assert isinstance(agent.hyperparams["buffer_size"], int)  # SAC's default is an int


def test_overrides_set_dotted_paths_before_validation() -> None:
    data = apply_overrides(
        base(),
        [
            "agents.0.total_timesteps=500",
            "agents.*.n_envs=2",
            "agents.1.hyperparams.learning_rate=1e-3",
            "train.runs_dir=/tmp/x",
            "env.kwargs.reward_scale=2.5",
            "evaluation.families=[small, medium]",
        ],
    )
    config = parse_config(data)
    assert config.agents[0].total_timesteps == 500
    assert [a.n_envs for a in config.agents] == [2, 2]
    assert config.agents[1].hyperparams["learning_rate"] == 1e-3
    assert config.train.runs_dir == "/tmp/x"
    assert config.env.kwargs["reward_scale"] == 2.5
    assert config.evaluation.families == ("small", "medium")
    assert base()["agents"][0]["total_timesteps"] == 20_000  # input untouched


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "agents.0.total_timestep=5",
            r"unknown key `agents\.0\.total_timestep`; did you mean `total_timesteps`\?",
        ),
        ("agents.5.n_envs=2", r"override 'agents\.5\.n_envs': '5' is not an index of a list of 2"),
        ("name.x=1", r"override 'name\.x': cannot set 'x' inside the scalar 'unit'"),
        ("novalue", r"override 'novalue' must look like dotted\.key=value"),
    ],
)
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config(apply_overrides(base(), [override]))


@pytest.mark.parametrize(
    ("path", "value", "error", "message"),
    [
        ("trian", {}, ValueError, r"unknown key `trian`; did you mean `train`\?"),
        (
            "train.checkpoint_evry",
            5,
            ValueError,
            r"unknown key `train\.checkpoint_evry`; did you mean `checkpoint_every`\?",
        ),
        (
            "agents.0.normalize.obs",
            True,
            ValueError,
            r"unknown key `agents\.0\.normalize\.obs`; known keys: observation, reward",
        ),
        (
            "agents.0.total_timesteps",
            "lots",
            TypeError,
            r"`agents\.0\.total_timesteps` must be an integer, got str 'lots'",
        ),
        (
            "agents.0.total_timesteps",
            "1e-3",
            TypeError,
            r"`agents\.0\.total_timesteps` must be an integer, got '1e-3'; write integers like "
            r"1_000_000 \(YAML reads 1e6 as a string\)",
        ),
        (
            "agents.0.total_timesteps",
            True,
            TypeError,
            r"`agents\.0\.total_timesteps` must be an integer, got bool True",
        ),
        (
            "agents.0.total_timesteps",
            0,
            ValueError,
            r"`agents\.0\.total_timesteps` must be at least 1, got 0",
        ),
        ("agents.0.n_envs", 0, ValueError, r"`agents\.0\.n_envs` must be at least 1, got 0"),
        (
            "agents.0.normalize.reward",
            "yes",
            TypeError,
            r"`agents\.0\.normalize\.reward` must be true or false, got str 'yes'",
        ),
        ("agents.0.seeds", 3, TypeError, r"`agents\.0\.seeds` must be a list, got int 3"),
        (
            "agents.0.seeds",
            [],
            ValueError,
            r"`agents\.0\.seeds` must name at least one seed, got \[\]",
        ),
        (
            "agents.0.seeds",
            [0, -1],
            ValueError,
            r"`agents\.0\.seeds\.1` must be a non-negative integer, got -1",
        ),
        (
            "agents.0.seeds",
            [0, 0],
            ValueError,
            r"`agents\.0` repeats the run ppo-seed0; each \(label, seed\) pair names one run "
            r"folder",
        ),
        (
            "agents.0.algo",
            "ppo2",
            ValueError,
            r"`agents\.0\.algo` 'ppo2' is not one of \['a2c', 'ppo', 'sac', 'td3'\]; did you mean "
            r"`ppo`\?",
        ),
        (
            "agents.0.hyperparams",
            {"n_step": 64},
            ValueError,
            r"`agents\.0\.hyperparams\.n_step` is not an argument of PPO; did you mean `n_steps`\?",
        ),
        (
            "agents.0.hyperparams",
            {"seed": 3},
            ValueError,
            r"`agents\.0\.hyperparams\.seed` cannot be set here: seeds come from the agent's "
            r"`seeds` list",
        ),
        (
            "agents.0.hyperparams",
            [1],
            TypeError,
            r"`agents\.0\.hyperparams` must be a mapping with string keys, got list \[1\]",
        ),
        (
            "agents.0.label",
            "a/b",
            ValueError,
            r"`agents\.0\.label` must be a folder name of letters, digits, '_', '-' and '\.', got "
            r"'a/b'",
        ),
        (
            "agents.0.env",
            {"id": "Assort/OneShotMediumFamly-v0"},
            ValueError,
            r"`agents\.0\.env\.id` 'Assort/OneShotMediumFamly-v0' is not a registered Gymnasium "
            r"id; did you mean `Assort/OneShotMediumFamily-v0`\?",
        ),
        (
            "agents.0.env",
            "medium",
            TypeError,
            r"`agents\.0\.env` must be a mapping, got str 'medium'",
        ),
        ("agents.0.policy", 3, TypeError, r"`agents\.0\.policy` must be a string, got int 3"),
        (
            "agents",
            [{"algo": "ppo"}],
            ValueError,
            r"`agents\.0` is missing the required key `agents\.0\.total_timesteps`",
        ),
        ("agents", [5], TypeError, r"`agents\.0` must be a mapping, got int 5"),
        (
            "env.id",
            "Assort/OneShotSmal-v0",
            ValueError,
            r"`env\.id` 'Assort/OneShotSmal-v0' is not a registered Gymnasium id; did you mean "
            r"`Assort/OneShotSmall-v0`\?",
        ),
        (
            "name",
            "a b",
            ValueError,
            r"`name` must be a folder name of letters, digits, '_', '-' and '\.', got 'a b'",
        ),
        (
            "train.checkpoint_every",
            0,
            ValueError,
            r"`train\.checkpoint_every` must be at least 1, got 0",
        ),
        (
            "train.checkpoint_every",
            100,
            ValueError,
            r"`train\.checkpoint_every` 100 is smaller than the rollout of `agents\.0` "
            r"\(256 timesteps\); "
            r"checkpoints are taken between rollouts, .* set it to at least 256",
        ),
        (
            "train.keep_checkpoints",
            0,
            ValueError,
            r"`train\.keep_checkpoints` must be at least 1, got 0",
        ),
        (
            "evaluation.families",
            ["small", "medum"],
            ValueError,
            r"`evaluation\.families\.1` 'medum' is not in envs\.families\.FAMILIES; did you mean "
            r"`medium`\?",
        ),
        (
            "evaluation.heuristics",
            ["fluid", "newsvender"],
            ValueError,
            r"`evaluation\.heuristics\.1` 'newsvender' is not in baselines\.registry\.POLICIES; "
            r"did you mean `newsvendor`\?",
        ),
        ("evaluation.seasons", 1, ValueError, r"`evaluation\.seasons` must be at least 2, got 1"),
        ("evaluation.seed", -1, ValueError, r"`evaluation\.seed` must be non-negative, got -1"),
        (
            "evaluation.families",
            [],
            ValueError,
            r"`evaluation\.families` must name at least one entry, got \[\]",
        ),
        (
            "evaluation.instance_seeds",
            [],
            ValueError,
            r"`evaluation\.instance_seeds` must name at least one entry, got \[\]",
        ),
        (
            "evaluation.instance_seeds",
            [1_000_000, 999_999],
            ValueError,
            r"`evaluation\.instance_seeds\.1` is 999999, but instance seeds must be at least "
            r"1_000_000 \(envs\.one_shot\.HELD_OUT_SEED_START\): training instances come from "
            r"the seeds below",
        ),
        (
            "agents.0.policy",
            "MlpPolicyy",
            ValueError,
            r"`agents\.0\.policy` 'MlpPolicyy' is not a policy of PPO \(one of \['CnnPolicy', "
            r"'MlpPolicy', 'MultiInputPolicy'\]\); did you mean `MlpPolicy`\?",
        ),
        (
            "agents.0.policy_kwargs",
            {"net_arc": [8]},
            ValueError,
            r"`agents\.0\.policy_kwargs\.net_arc` is not an argument of ActorCriticPolicy \(ppo "
            r"MlpPolicy\); did you mean `net_arch`\?",
        ),
        (
            "agents.1.policy_kwargs",
            {"n_critic": 2},
            ValueError,
            r"`agents\.1\.policy_kwargs\.n_critic` is not an argument of SACPolicy \(sac "
            r"MlpPolicy\); did you mean `n_critics`\?",
        ),
        (
            "agents.0.policy_kwargs",
            {"activation_fn": "gelu"},
            ValueError,
            r"`agents\.0\.policy_kwargs\.activation_fn` must be one of \['elu', 'leaky_relu', "
            r"'relu', 'tanh'\], got 'gelu'; did you mean `elu`\?",
        ),
        (
            "env.kwargs",
            {"reward_scal": "auto"},
            ValueError,
            r"`env\.kwargs\.reward_scal` is not an argument of Assort/OneShotSmall-v0 "
            r"\(OneShotStockingEnv\); did you mean `reward_scale`\?",
        ),
        (
            "env.kwargs",
            {"reward_scale": "bogus"},
            ValueError,
            r"`env\.kwargs` \{'reward_scale': 'bogus'\} are rejected by Assort/OneShotSmall-v0: "
            r"`reward_scale` must be 'none', 'auto' or a positive finite number; got 'bogus'",
        ),
        (
            "agents.1.env",
            {"id": "Assort/OneShotSmall-v0", "kwargs": {"reward_scale": -1}},
            ValueError,
            r"`agents\.1\.env\.kwargs` \{'reward_scale': -1\} are rejected by "
            r"Assort/OneShotSmall-v0: `reward_scale` must be",
        ),
        (
            "agents.1.env",
            {"id": "Assort/OneShotSmall-v0", "kwargs": {"famly": "small"}},
            ValueError,
            r"`agents\.1\.env\.kwargs\.famly` is not an argument of Assort/OneShotSmall-v0 "
            r"\(OneShotStockingEnv\); did you mean `family`\?",
        ),
        (
            "agents.0.hyperparams",
            {"n_steps": "abc"},
            TypeError,
            r"`agents\.0\.hyperparams\.n_steps` must be an integer \(PPO's default is 2048\), got "
            r"str 'abc'",
        ),
        (
            "agents.0.hyperparams",
            {"n_steps": 64.5},
            TypeError,
            r"`agents\.0\.hyperparams\.n_steps` must be an integer \(PPO's default is 2048\), got "
            r"float 64\.5",
        ),
        (
            "agents.0.hyperparams",
            {"learning_rate": "fast"},
            TypeError,
            r"`agents\.0\.hyperparams\.learning_rate` must be a number \(PPO's default is "
            r"0\.0003; schedules cannot be written in YAML\), got str 'fast'",
        ),
        (
            "agents.0.hyperparams",
            {"normalize_advantage": 1},
            TypeError,
            r"`agents\.0\.hyperparams\.normalize_advantage` must be true or false \(PPO's default "
            r"is True\), got int 1",
        ),
        (
            "agents.1.hyperparams",
            {"ent_coef": "autox"},
            TypeError,
            r"`agents\.1\.hyperparams\.ent_coef` must be a number or 'auto' or 'auto_<initial "
            r"value>' \(SAC's default is 'auto'\), got str 'autox'",
        ),
        (
            "agents.1.hyperparams",
            {"train_freq": [1, "epoch"]},
            TypeError,
            r"`agents\.1\.hyperparams\.train_freq` must be an integer \(SAC's default is 1\), got "
            r"list \[1, 'epoch'\]",
        ),
        (
            "evaluation.seed",
            1.5,
            TypeError,
            r"`evaluation\.seed` must be an integer, got 1\.5; write integers",
        ),
        (
            "evaluation.seed",
            float("nan"),
            TypeError,
            r"`evaluation\.seed` must be a finite number, got float nan",
        ),
    ],
)
def test_rejections_name_the_key(
    path: str, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_config(with_change(path, value))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config file '.*nope\.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    message = r"config file '.*list\.yaml' must hold a mapping, got list"
    with pytest.raises(TypeError, match=message):
        load_config(path)
    data = base()
    del data["env"]
    with pytest.raises(ValueError, match=r"`config` is missing the required key `env`"):
        parse_config(data)


def test_agents_sharing_an_algorithm_need_labels_and_may_have_their_own_env() -> None:
    data = base()
    medium = {"algo": "sac", "total_timesteps": 10, "env": {"id": "Assort/OneShotMediumFamily-v0"}}
    data["agents"].append(medium)
    message = r"`agents\.2` repeats the run sac-seed0; .*different labels"
    with pytest.raises(ValueError, match=message):
        parse_config(data)
    data["agents"][2] = {**medium, "label": "sac-medium"}
    config = parse_config(data)
    assert run_name(config.agents[2], 0) == "sac-medium-seed0"
    assert run_name(config.agents[1], 4) == "sac-seed4"
    assert config.agent_env(config.agents[2]).id == "Assort/OneShotMediumFamily-v0"
    assert config.agent_env(config.agents[1]) == config.env
    assert parse_config(config.to_dict()) == config


def test_config_is_frozen() -> None:
    config = parse_config(base())
    with pytest.raises(AttributeError):
        config.name = "other"  # type: ignore[misc]


def test_agent_lookup_names_the_agents() -> None:
    message = r"no agent with algo 'td3'; the config has \['ppo', 'sac'\]"
    with pytest.raises(KeyError, match=message):
        parse_config(base()).agent("td3")


@pytest.mark.parametrize(
    "hyperparams",
    [
        {"ent_coef": "auto"},
        {"ent_coef": "auto_0.01"},
        {"ent_coef": 0.1},
        {"target_entropy": -2},
        {"train_freq": [1, "episode"]},
        {"learning_rate": 1},
        {"buffer_size": "1e4"},
    ],
)
def test_hyperparameter_values_sb3_accepts_pass(hyperparams: dict[str, Any]) -> None:
    assert parse_config(with_change("agents.1.hyperparams", hyperparams)).agents[1].hyperparams


def test_env_kwargs_are_checked_at_load_time_through_overrides() -> None:
    with pytest.raises(ValueError, match=r"`env\.kwargs` \{'reward_scale': 0\.0\} are rejected"):
        parse_config(apply_overrides(base(), ["env.kwargs.reward_scale=0.0"]))
    assert parse_config(apply_overrides(base(), ["env.kwargs.reward_scale=2"])).env.kwargs == {
        "reward_scale": 2
    }


def test_rollout_size_counts_timesteps_between_training_phases() -> None:
    config = parse_config(base())
    assert rollout_size(config.agents[0]) == 64 * 4  # n_steps x n_envs
    assert rollout_size(config.agents[1]) == 1  # SAC's default train_freq, one env
    data = with_change("agents.1.hyperparams", {"train_freq": 3})
    data["agents"][1]["n_envs"] = 2
    assert rollout_size(parse_config(data).agents[1]) == 6
    episodes = parse_config(with_change("agents.1.hyperparams", {"train_freq": [2, "episode"]}))
    assert rollout_size(episodes.agents[1]) is None
    data = base()
    data["agents"][1] = {"algo": "a2c", "total_timesteps": 10}
    assert rollout_size(parse_config(data).agents[1]) == 5  # A2C's default n_steps
