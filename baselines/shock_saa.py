"""Shock-aware SAA: the SAA LP planned on scenarios of the instance's shocked seasons.

**This planner knows the demand environment.** It is :func:`baselines.saa.saa_policy` (the same
LP over first-choice scenarios, or flow ascent above ``LP_VARIABLE_LIMIT`` variables),
but its K scenarios are drawn from the season's demand environment
(:func:`baselines.scenarios.environment_counts`: a market size G and popularity multipliers M
per scenario, d_i ~ Poisson(T lambda_i G M_i), households in clumps), which the instance
carries in its ``shopper`` (:class:`envs.shocks.ShockShopper`, the instance JSON's
``"demand_environment"`` block). The other heuristics see only the chain and plan as if the
season were Poisson(T) customers of it. So this is "the Markov chain abstraction plus a model
of the forecast error", with no learning and no knowledge of the customers' choices beyond the
chain: the reference that tells how much of the price of the abstraction (DESIGN.md 3) is
about the demand environment rather than the choice model. Without a demand environment it is
the SAA with ``scenarios`` first-choice scenarios.

Default K = 200 (the shocks make scenarios far more variable than Poisson counts; K = 32 left a
visible sampling error in the study of issue 9); at N = 20 that is 8,020 LP variables, within
the HiGHS limit.
"""

from __future__ import annotations

import numpy as np

from baselines.policy import PolicyResult
from baselines.saa import plan_saa
from baselines.scenarios import environment_counts
from envs.instance import Instance
from envs.shocks import ShockShopper

DEFAULT_SCENARIOS = 200


def shock_aware_saa_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    scenarios: int = DEFAULT_SCENARIOS,
    rounding: str = "nearest",
    solver: str = "auto",
    method: str = "highs-ipm",
    iterations: int | None = None,
    time_limit: float | None = None,
) -> PolicyResult:
    """The SAA of :func:`baselines.saa.saa_policy` on demand-environment scenarios (module
    docstring); knobs and ``info`` as there, plus ``info["knows"] = "demand environment"``
    when the instance has one."""
    result = plan_saa(
        instance,
        None,
        rng=rng,
        scenarios=scenarios,
        rounding=rounding,
        solver=solver,
        method=method,
        iterations=iterations,
        time_limit=time_limit,
        draw_scenarios=environment_counts,
    )
    knows = "demand environment" if isinstance(instance.shopper, ShockShopper) else "chain only"
    return PolicyResult(
        policy="shock-aware-saa",
        stock=result.stock,
        solve_seconds=result.solve_seconds,
        info={**result.info, "knows": knows},
    )
