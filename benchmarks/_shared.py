"""What several benchmarks need alike: repeated timings and a photo-like test image."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def timings(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds taken by each of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def photo_like(width: int, height: int) -> np.ndarray:
    """Smooth gradients plus noise (RGB uint8): compresses like a photo, not like a flat fill."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], -1)
    noise = rng.normal(0, 12, (height, width, 1)).astype(np.float32)
    return np.clip(base + noise, 0, 255).astype(np.uint8)
