"""Season simulator, instances and Gymnasium environments for assortment and inventory planning.

Importing :mod:`envs` registers the environments (:mod:`envs.registration`) and the loaders of
the instance JSON's process blocks (:mod:`envs.segments`, :mod:`envs.shocks`).
"""

from envs import registration, segments, shocks  # noqa: F401  (registrations on import)
