"""Sub-commands of ``assort``; see :mod:`experiments.cli`."""
