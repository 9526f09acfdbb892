"""The registered environment ids: one flat list; variants are keyword arguments.

``import envs`` runs this module once per interpreter. Every id lives in the ``Assort``
namespace; bump ``-vN`` whenever dynamics, observations or rewards change. Tests iterate
``gymnasium.registry`` over this namespace, never a second list.
"""

from gymnasium.envs.registration import register

ONE_SHOT = "envs.one_shot:OneShotStockingEnv"

register(
    id="Assort/OneShotTiny-v0", entry_point=ONE_SHOT, kwargs={"family": "tiny", "instance_seed": 0}
)
register(
    id="Assort/OneShotSmall-v0",
    entry_point=ONE_SHOT,
    kwargs={"family": "small", "instance_seed": 0},
)
register(
    id="Assort/OneShotSmallFamily-v0",
    entry_point=ONE_SHOT,
    kwargs={"family": "small", "instance_seed": 0, "resample_instance": True},
)
register(
    id="Assort/OneShotMedium-v0",
    entry_point=ONE_SHOT,
    kwargs={"family": "medium", "instance_seed": 0},
)
register(
    id="Assort/OneShotMediumFamily-v0",
    entry_point=ONE_SHOT,
    kwargs={"family": "medium", "instance_seed": 0, "resample_instance": True},
)
register(
    id="Assort/OneShotSmallFamilyResidual-v0",
    entry_point=ONE_SHOT,
    kwargs={
        "family": "small",
        "instance_seed": 0,
        "resample_instance": True,
        "action_anchor": "fluid",
        "reward_baseline": "fluid",
    },
)
register(
    id="Assort/OneShotMediumFamilyResidual-v0",
    entry_point=ONE_SHOT,
    kwargs={
        "family": "medium",
        "instance_seed": 0,
        "resample_instance": True,
        "action_anchor": "fluid",
        "reward_baseline": "fluid",
    },
)
register(
    id="Assort/OneShotMNL-v0", entry_point=ONE_SHOT, kwargs={"family": "mnl", "instance_seed": 0}
)
register(
    id="Assort/OneShotHeavyTail-v0",
    entry_point=ONE_SHOT,
    kwargs={"family": "heavy-tail", "instance_seed": 0},
)
register(
    id="Assort/OneShotMultiStep-v0",
    entry_point=ONE_SHOT,
    kwargs={"family": "multistep", "instance_seed": 0},
)

SEQUENTIAL = "envs.sequential:SequentialStockingEnv"

register(
    id="Assort/SequentialSmall-v0",
    entry_point=SEQUENTIAL,
    kwargs={"family": "small", "instance_seed": 0, "batch_size": 4},
)
register(
    id="Assort/SequentialSmallFamily-v0",
    entry_point=SEQUENTIAL,
    kwargs={"family": "small", "instance_seed": 0, "batch_size": 4, "resample_instance": True},
)
register(
    id="Assort/SequentialMedium-v0",
    entry_point=SEQUENTIAL,
    kwargs={"family": "medium", "instance_seed": 0, "batch_size": 10},
)
