"""The registered environment ids: one flat list; variants are keyword arguments.

``import envs`` runs this module once per interpreter. Every id lives in the ``Assort``
namespace; bump ``-vN`` whenever dynamics, observations or rewards change. Tests iterate
``gymnasium.registry`` over this namespace, never a second list.
"""

from gymnasium.envs.registration import register

ONE_SHOT = "envs.one_shot:OneShotStockingEnv"
RESIDUAL = {"action_anchor": "fluid", "reward_baseline": "fluid"}

register(id="Assort/OneShotTiny-v1", entry_point=ONE_SHOT, kwargs={"family": "tiny"})
register(id="Assort/OneShotSmall-v1", entry_point=ONE_SHOT, kwargs={"family": "small"})
register(
    id="Assort/OneShotSmallFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "small", "resample_instance": True},
)
register(
    id="Assort/OneShotSmallFamilyResidual-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "small", "resample_instance": True, **RESIDUAL},
)
register(id="Assort/OneShotMedium-v1", entry_point=ONE_SHOT, kwargs={"family": "medium"})
register(
    id="Assort/OneShotMediumFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "medium", "resample_instance": True},
)
register(
    id="Assort/OneShotMediumFamilyResidual-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "medium", "resample_instance": True, **RESIDUAL},
)
register(id="Assort/OneShotMNL-v1", entry_point=ONE_SHOT, kwargs={"family": "mnl"})
register(
    id="Assort/OneShotMNLFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "mnl", "resample_instance": True},
)
register(id="Assort/OneShotHeavyTail-v1", entry_point=ONE_SHOT, kwargs={"family": "heavy-tail"})
register(
    id="Assort/OneShotHeavyTailFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "heavy-tail", "resample_instance": True},
)
register(id="Assort/OneShotMultiStep-v1", entry_point=ONE_SHOT, kwargs={"family": "multistep"})
# Ground-truth processes beyond the Markov chain (envs.shocks, envs.segments): the observation
# shows the fitted chain; the season is played by the true process.
register(id="Assort/OneShotMarket-v1", entry_point=ONE_SHOT, kwargs={"family": "market"})
register(
    id="Assort/OneShotMarketFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "market", "resample_instance": True},
)
register(id="Assort/OneShotPopularity-v1", entry_point=ONE_SHOT, kwargs={"family": "popularity"})
register(
    id="Assort/OneShotPopularityFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "popularity", "resample_instance": True},
)
register(id="Assort/OneShotFashion-v1", entry_point=ONE_SHOT, kwargs={"family": "fashion"})
register(
    id="Assort/OneShotFashionFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "fashion", "resample_instance": True},
)
register(id="Assort/OneShotHouseholds-v1", entry_point=ONE_SHOT, kwargs={"family": "households"})
register(
    id="Assort/OneShotHouseholdsFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "households", "resample_instance": True},
)
register(id="Assort/OneShotSegments-v1", entry_point=ONE_SHOT, kwargs={"family": "segments"})
register(
    id="Assort/OneShotSegmentsFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "segments", "resample_instance": True},
)
register(id="Assort/OneShotDrift-v1", entry_point=ONE_SHOT, kwargs={"family": "drift"})
register(
    id="Assort/OneShotDriftFamily-v1",
    entry_point=ONE_SHOT,
    kwargs={"family": "drift", "resample_instance": True},
)

SEQUENTIAL = "envs.sequential:SequentialStockingEnv"
# v0 (batches in index order, features on the whole catalog: it leaked the future) is retired.

register(
    id="Assort/SequentialSmall-v1",
    entry_point=SEQUENTIAL,
    kwargs={"family": "vendors-small", "instance_seed": 0},
)
register(
    id="Assort/SequentialSmallFamily-v1",
    entry_point=SEQUENTIAL,
    kwargs={"family": "vendors-small", "resample_instance": True},
)
register(
    id="Assort/SequentialMedium-v1",
    entry_point=SEQUENTIAL,
    kwargs={"family": "vendors-medium", "instance_seed": 0},
)
register(
    id="Assort/SequentialMediumFamily-v1",
    entry_point=SEQUENTIAL,
    kwargs={"family": "vendors-medium", "resample_instance": True},
)
