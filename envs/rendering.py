"""The ``"rgb_array"`` rendering of the environments: committed stock against demand."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.validation import choice_iv

RENDER_MODES = ("rgb_array",)
IMAGE_HEIGHT = 64
IMAGE_MAX_WIDTH = 256


def stock_image(stock: np.ndarray, cap: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """uint8[64, W, 3] picture of a stock vector, W = min(N, 256) columns of products.

    Products are averaged into W equal bins in catalog order. In each column a blue bar rises
    to the mean of min(x_i / cap_i, 1) and a red pixel marks the mean of min(d_i / cap_i, 1),
    with d the mean first-choice demand T lambda; the background is white.
    """
    n = cap.shape[0]
    width = min(n, IMAGE_MAX_WIDTH)
    bins = np.arange(n) * width // n
    count = np.bincount(bins, minlength=width)
    fill = np.bincount(bins, np.minimum(stock / cap, 1.0), minlength=width) / count
    level = np.bincount(bins, np.minimum(demand / cap, 1.0), minlength=width) / count
    height_from_bottom = np.arange(IMAGE_HEIGHT)[::-1, None]
    image = np.full((IMAGE_HEIGHT, width, 3), 255, dtype=np.uint8)
    image[height_from_bottom < np.rint(fill * IMAGE_HEIGHT)] = (40, 90, 200)
    image[height_from_bottom == np.rint(level * (IMAGE_HEIGHT - 1))] = (220, 30, 30)
    return image


def render_mode_iv(render_mode: Any) -> str | None:
    """``None`` or one of ``RENDER_MODES``."""
    return None if render_mode is None else choice_iv("render_mode", render_mode, RENDER_MODES)
