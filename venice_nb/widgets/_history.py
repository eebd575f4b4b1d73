"""Region-based undo for a full-resolution mask.

Each step stores only the rectangle it changed, so undoing a brush stroke on a 33 Mpx image keeps
a few hundred KB, not a whole mask copy. A shadow copy of the mask (the state at the last commit)
provides the "before" pixels, so nothing has to be copied while a stroke is being painted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (half-open, pixel indices)

# Undo keeps the most recent steps within this many bytes (always at least one step).
DEFAULT_BUDGET_BYTES = 512 * 2**20
DEFAULT_MAX_STEPS = 100


@dataclass(frozen=True)
class _Step:
    box: Box
    pixels: np.ndarray  # the region's content to restore


def union(a: Box | None, b: Box) -> Box:
    """Smallest box holding both (``a`` may be None)."""
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def clip(box: Box, width: int, height: int) -> Box | None:
    """``box`` inside the image, or None when nothing is left."""
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(width, box[2]), min(height, box[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


class MaskHistory:
    """Undo/redo stacks of mask regions, bounded by bytes and step count."""

    def __init__(
        self,
        mask: np.ndarray,
        *,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self._mask = mask
        self._shadow = mask.copy()
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self.budget_bytes = budget_bytes
        self.max_steps = max_steps

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def commit(self, box: Box | None) -> bool:
        """Record that the mask changed inside ``box``; False (and nothing kept) if it did not."""
        if box is None:
            return False
        sl = _slices(box)
        before = self._shadow[sl]
        after = self._mask[sl]
        if np.array_equal(before, after):
            return False
        self._undo.append(_Step(box, before.copy()))
        self._shadow[sl] = after
        self._redo.clear()
        self._trim()
        return True

    def undo(self) -> Box | None:
        """Restore the previous state; returns the box that changed (None if nothing to undo)."""
        return self._swap(self._undo, self._redo)

    def redo(self) -> Box | None:
        return self._swap(self._redo, self._undo)

    def reset(self, mask: np.ndarray) -> None:
        """Start over with a new mask array (e.g. a new base image): history is dropped."""
        self._mask = mask
        self._shadow = mask.copy()
        self._undo.clear()
        self._redo.clear()

    def discard(self, box: Box | None) -> None:
        """Put back the committed pixels in ``box`` (abandon an unfinished change)."""
        if box is not None:
            sl = _slices(box)
            self._mask[sl] = self._shadow[sl]

    def _swap(self, source: list[_Step], target: list[_Step]) -> Box | None:
        if not source:
            return None
        step = source.pop()
        sl = _slices(step.box)
        target.append(_Step(step.box, self._mask[sl].copy()))
        self._mask[sl] = step.pixels
        self._shadow[sl] = step.pixels
        return step.box

    def _trim(self) -> None:
        total = sum(s.pixels.nbytes for s in self._undo)
        while len(self._undo) > 1 and (
            total > self.budget_bytes or len(self._undo) > self.max_steps
        ):
            total -= self._undo.pop(0).pixels.nbytes


def _slices(box: Box) -> tuple[slice, slice]:
    return slice(box[1], box[3]), slice(box[0], box[2])
