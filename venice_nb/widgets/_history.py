"""Region-based, compressed undo for a full-resolution mask.

Each step stores only the rectangle it changed, compressed: a hard-edged region (0/255 only)
as one bit per pixel (``np.packbits``), anything else with zlib. Whole-mask actions are recorded
as the action itself where that is enough (invert undoes itself; redoing fill / clear replays
them), so 20 inverts of a 33 Mpx mask cost bytes, not gigabytes. A shadow copy of the mask (the
state at the last commit) provides the "before" pixels, so nothing is copied during a stroke.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import numpy as np

from .. import masks
from .._types import Box as Box  # x0, y0, x1, y1 (half-open); _painter imports it here

# Undo keeps the most recent steps within this many bytes (always at least one step).
DEFAULT_BUDGET_BYTES = 64 * 2**20
DEFAULT_MAX_STEPS = 100
OPS = ("invert", "fill", "clear")  # whole-mask actions that can be replayed instead of stored


@dataclass(frozen=True)
class Packed:
    """A compressed mask region: zlib of its bits for 0/255 regions, else zlib of the bytes."""

    shape: tuple[int, int]
    bits: bool
    data: bytes

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def unpack(self) -> np.ndarray:
        if self.bits:
            bits = np.frombuffer(zlib.decompress(self.data), np.uint8)
            flat = np.unpackbits(bits, count=self.shape[0] * self.shape[1])
            return np.asarray(flat * np.uint8(255)).reshape(self.shape)
        return np.frombuffer(zlib.decompress(self.data), np.uint8).reshape(self.shape)


def pack(region: np.ndarray) -> Packed:
    """Compress ``region`` losslessly (the cheapest exact form for its values)."""
    shape = (int(region.shape[0]), int(region.shape[1]))
    if np.all((region == 0) | (region == 255)):
        bits = np.packbits(region.astype(bool, copy=False))
        return Packed(shape, True, zlib.compress(bits.tobytes(), 1))
    return Packed(shape, False, zlib.compress(np.ascontiguousarray(region).tobytes(), 1))


@dataclass(frozen=True)
class _Step:
    """One change of ``box``: ``before`` / ``after`` are stored pixels or an op name to replay.

    ``after`` is None until the step is first undone (the redo pixels are captured then).
    """

    box: Box
    before: Packed | str
    after: Packed | str | None = None

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in (self.before, self.after) if isinstance(p, Packed))


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


def apply_op(region: np.ndarray, op: str) -> None:
    """Run a whole-mask action in place (the painter and undo share this)."""
    if op == "invert":
        masks.invert(region, out=region)
    else:
        region.fill(255 if op == "fill" else 0)


class MaskHistory:
    """Undo/redo stacks of compressed mask changes, bounded by bytes and step count."""

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

    @property
    def nbytes(self) -> int:
        """Bytes the undo and redo steps hold (the budget applies to this)."""
        return sum(s.nbytes for s in (*self._undo, *self._redo))

    def commit(self, box: Box | None) -> bool:
        """Record that the mask changed inside ``box``; False (and nothing kept) if it did not."""
        if box is None:
            return False
        sl = _slices(box)
        before = self._shadow[sl]
        after = self._mask[sl]
        if np.array_equal(before, after):
            return False
        self._push(_Step(box, pack(before)))
        self._shadow[sl] = after
        return True

    def apply(self, op: str) -> bool:
        """Run whole-mask ``op`` (one of OPS) on the mask and record it; False if nothing changed.

        Invert is its own undo; fill / clear keep the previous mask compressed for undo.
        """
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS}; got {op!r}")
        h, w = self._mask.shape
        if op == "invert":
            if self._mask.size == 0:
                return False
            before: Packed | str = "invert"
        else:
            value = 255 if op == "fill" else 0
            if np.all(self._mask == value):
                return False
            before = pack(self._mask)
        apply_op(self._mask, op)
        self._shadow[...] = self._mask
        self._push(_Step((0, 0, w, h), before, op))
        return True

    def undo(self) -> Box | None:
        """Restore the previous state; returns the box that changed (None if nothing to undo)."""
        if not self._undo:
            return None
        step = self._undo.pop()
        if step.after is None:  # first undo of a region step: keep what redo must put back
            step = replace(step, after=pack(self._mask[_slices(step.box)]))
        self._put(step.box, step.before)
        self._redo.append(step)
        return step.box

    def redo(self) -> Box | None:
        if not self._redo:
            return None
        step = self._redo.pop()
        assert step.after is not None  # set when it was undone
        self._put(step.box, step.after)
        self._undo.append(step)
        return step.box

    def reset(self, mask: np.ndarray) -> None:
        """Start over with a new mask array (e.g. a new base image): history is dropped."""
        self._mask = mask
        self._shadow = mask.copy()
        self._undo.clear()
        self._redo.clear()

    def _push(self, step: _Step) -> None:
        self._undo.append(step)
        self._redo.clear()
        self._trim()

    def _put(self, box: Box, content: Packed | str) -> None:
        sl = _slices(box)
        if isinstance(content, str):
            apply_op(self._mask[sl], content)
        else:
            self._mask[sl] = content.unpack()
        self._shadow[sl] = self._mask[sl]

    def _trim(self) -> None:
        total = sum(s.nbytes for s in self._undo)
        while len(self._undo) > 1 and (
            total > self.budget_bytes or len(self._undo) > self.max_steps
        ):
            total -= self._undo.pop(0).nbytes


def _slices(box: Box) -> tuple[slice, slice]:
    return slice(box[1], box[3]), slice(box[0], box[2])
