"""Season simulator, instances and Gymnasium environments for assortment and inventory planning.

Importing :mod:`envs` registers the environments (see :mod:`envs.registration`).
"""

from envs import registration  # noqa: F401  (registers the Assort/ environment ids)
