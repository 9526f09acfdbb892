"""Training speed: today's DummyVecEnv path against the batched CatalogVecEnv, in one run.

Usage::

    python benchmarks/bench_training.py           # writes benchmarks/results_training.md
    python benchmarks/bench_training.py --quick   # fewer steps (under a minute)

For the small and medium families (``Assort/OneShot<Family>Family-v1``) under two settings,
``plain`` (the environment's defaults: absolute action, one season per episode, no reward
baseline) and ``serious`` (the serious run's: residual action around the fluid LP, fluid reward
baseline, 4 seasons per episode), both with a pool of 100 training instances, measured in one
process, one thread (torch and numba):

* **environment episodes per second** with random actions: SB3's ``make_vec_env`` (a
  DummyVecEnv of Monitor-wrapped Gymnasium environments, the path every agent used before)
  against :class:`agents.vec_env.CatalogVecEnv` under a VecMonitor, both with the same copies
  and settings, after the instances of the pool have been prepared (warm caches in both); and
  the DummyVecEnv drawing a fresh instance for almost every episode (a pool of 1,000,000
  seeds: the per-episode construction of instances, features and tables that every episode
  paid before instance pools existed);
* **PPO steps per second** of the same learner (PPO with :class:`agents.catalog_policy.
  CatalogPolicy`, the serious run's hyperparameters) on each environment, and the share of
  the wall time spent inside the environment's ``step`` (a timing wrapper around the VecEnv).

The targets of the issue: at least 10x the episodes per second on small and medium, and the
environment at most 20 % of PPO's wall time. The machine is shared: ratios measured in the same
run are what to quote, not absolute rates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numba
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecMonitor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs  # noqa: E402,F401  (registers the ids)
from agents.catalog_policy import CatalogPolicy  # noqa: E402
from agents.vec_env import CatalogVecEnv  # noqa: E402

POOL = 100
FRESH_POOL = 1_000_000
"""Training seeds of the fresh-instance path: almost every episode draws a new instance."""
SETTINGS = {
    "plain": {"instance_pool": POOL},
    "serious": {
        "instance_pool": POOL,
        "action_anchor": "fluid",
        "reward_baseline": "fluid",
        "seasons_per_episode": 4,
    },
}
PPO_SETTINGS = {
    "n_steps": 4,
    "batch_size": 128,
    "n_epochs": 5,
    "learning_rate": 3e-4,
    "gamma": 0.0,
    "gae_lambda": 0.0,
    "ent_coef": 0.0,
}
FAMILIES = {"small": 10, "medium": 100}
COPIES = 32
"""Copies of the environment under PPO (the same on both paths)."""
BATCH_COPIES = 128
"""Copies of the CatalogVecEnv when timing episodes."""


class Timed(VecEnvWrapper):
    """Counts the wall time spent in ``step_wait`` and ``reset`` of the wrapped VecEnv."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.seconds = 0.0

    def reset(self):
        start = time.perf_counter()
        obs = self.venv.reset()
        self.seconds += time.perf_counter() - start
        return obs

    def step_async(self, actions) -> None:
        start = time.perf_counter()
        self.venv.step_async(actions)
        self.seconds += time.perf_counter() - start

    def step_wait(self):
        start = time.perf_counter()
        result = self.venv.step_wait()
        self.seconds += time.perf_counter() - start
        return result


def dummy_env(env_id: str, copies: int, settings: dict) -> VecEnv:
    return make_vec_env(
        env_id,
        n_envs=copies,
        seed=0,
        env_kwargs={**settings, "render_mode": None},
        vec_env_cls=DummyVecEnv,
    )


def catalog_env(env_id: str, copies: int, settings: dict) -> VecEnv:
    env = CatalogVecEnv(env_id, copies, settings)
    env.seed(0)
    return VecMonitor(env)


def warm(env: VecEnv) -> None:
    """Play until every copy has drawn 3 pool sizes of instances, so that its cache of prepared
    instances is warm (95 % of the pool), as in a long training run."""
    env.reset()
    rng = np.random.default_rng(1)
    n = env.action_space.shape[0]
    for _ in range(3 * POOL):
        env.step(rng.uniform(-1, 1, (env.num_envs, n)).astype(np.float32))


def episodes_per_second(env: VecEnv, episodes: int) -> float:
    """Time ``episodes`` episodes with random actions on a warm environment."""
    warm(env)
    rng = np.random.default_rng(0)
    n = env.action_space.shape[0]
    steps = max(1, episodes // env.num_envs)
    actions = [rng.uniform(-1, 1, (env.num_envs, n)).astype(np.float32) for _ in range(steps)]
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    return steps * env.num_envs / (time.perf_counter() - start)


def ppo_rate(env: VecEnv, timesteps: int) -> tuple[float, float]:
    """(PPO steps per second, share of wall time inside the environment)."""
    warm(env)
    timed = Timed(env)
    model = PPO(CatalogPolicy, timed, seed=0, device="cpu", verbose=0, **PPO_SETTINGS)
    model.learn(model.n_steps * env.num_envs)  # warm-up: compile and first rollout
    timed.seconds = 0.0
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=False)
    wall = time.perf_counter() - start
    return timesteps / wall, timed.seconds / wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes and steps")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_training.md")))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    scale = 0.25 if args.quick else 1.0
    load_before = os.getloadavg()
    rows = []
    for family, n in FAMILIES.items():
        env_id = f"Assort/OneShot{family.capitalize()}Family-v1"
        for name, settings in SETTINGS.items():
            episodes = int((20_000 if family == "small" else 4_000) * scale)
            fresh_settings = {**settings, "instance_pool": FRESH_POOL}
            fresh = episodes_per_second(dummy_env(env_id, 4, fresh_settings), episodes // 20)
            dummy = episodes_per_second(dummy_env(env_id, 4, settings), episodes // 4)
            batched = episodes_per_second(catalog_env(env_id, BATCH_COPIES, settings), episodes)
            steps = int((8_192 if family == "small" else 2_048) * scale)
            dummy_ppo, dummy_share = ppo_rate(dummy_env(env_id, COPIES, settings), steps)
            batched_ppo, batched_share = ppo_rate(catalog_env(env_id, COPIES, settings), steps)
            rows.append(
                f"| {family} (N {n}) | {name} | {fresh:,.0f} | {dummy:,.0f} | {batched:,.0f} | "
                f"{batched / fresh:.0f}x | {batched / dummy:.1f}x | "
                f"{dummy_ppo:,.0f} ({dummy_share:.0%}) | "
                f"{batched_ppo:,.0f} ({batched_share:.0%}) | {batched_ppo / dummy_ppo:.1f}x |"
            )
            print(rows[-1], flush=True)
    load_after = os.getloadavg()
    text = "\n".join(
        [
            "# Training speed: DummyVecEnv against CatalogVecEnv",
            "",
            f"Generated by `python benchmarks/bench_training.py{' --quick' if args.quick else ''}`"
            f" on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, one thread (torch and numba).",
            f"Load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}: the "
            "machine is shared, so compare the ratios, which are measured in the same run.",
            "Settings: plain = the environment's defaults (absolute action, 1 season per "
            "episode, no baseline); serious = residual around the fluid LP, fluid reward "
            "baseline, 4 seasons per episode. 100 training instances, warm caches in both "
            "pool paths; fresh instances: a pool of 1,000,000 seeds, a new instance almost every "
            f"episode. Episodes per second with random actions: DummyVecEnv of 4 Monitor-wrapped "
            f"envs, CatalogVecEnv of {BATCH_COPIES} copies under a VecMonitor. PPO: CatalogPolicy, "
            f"{COPIES} copies on both, n_steps 4, batch 128, 5 epochs; in brackets the share of "
            "wall time inside the environment.",
            "",
            "| family | settings | episodes/s, DummyVecEnv, fresh instances | episodes/s, "
            "DummyVecEnv, pool | episodes/s, CatalogVecEnv, pool | ratio to fresh | ratio to "
            "pool | PPO steps/s (env share), DummyVecEnv | PPO steps/s (env share), "
            "CatalogVecEnv | ratio |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
