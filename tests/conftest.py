"""Shared test helpers: skipping tests whose optional extra is not installed.

A test that needs an optional package (Ray, Optuna, Selenium and a Chromium) is skipped with the
reason and the install command when the package is missing, unless the environment variable
``ASSORT_REQUIRE_EXTRAS`` is set: then it runs and fails, so a CI step that installed the
extras cannot pass by skipping them (``.ci/run`` sets it).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

REQUIRE_EXTRAS = bool(os.environ.get("ASSORT_REQUIRE_EXTRAS"))


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def needs(module: str, extra: str, what: str) -> pytest.MarkDecorator:
    """Skip unless ``module`` is installed (see the module docstring)."""
    return pytest.mark.skipif(
        not installed(module) and not REQUIRE_EXTRAS,
        reason=f'{what} needs {module}, which is not installed: pip install -e ".[{extra}]"',
    )
