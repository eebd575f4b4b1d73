"""Reading the bundled samples as pixels, shared by the effects tests (test modules never
import each other)."""

from __future__ import annotations

import numpy as np
from PIL import Image

import venice_nb as vnb


def load(name: str) -> Image.Image:
    return Image.open(vnb.sample(name)).convert("RGB")


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), np.float64)


def luma(a: np.ndarray) -> np.ndarray:
    y: np.ndarray = a @ np.array([0.299, 0.587, 0.114])
    return y
