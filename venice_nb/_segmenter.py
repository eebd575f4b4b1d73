"""Optional learned segmenter: a SAM-family model in two ONNX files that the user supplies.

Why a plug-in and not built in: the built-in engine (``_selection``) needs only numpy and
Pillow; a learned model selects better on cluttered photos but weighs 40 MB to 2.5 GB and needs
onnxruntime. So the user chooses: they install the extra (``pip install 'venice_nb[segment]'``)
and bring the weights files. Nothing here downloads anything.

The layout is the one the segment-anything ONNX exports share (SAM, MobileSAM and the exporters
built on segment-anything's ``scripts/export_onnx_model.py``):

* **encoder**: one float32 input, either ``(1, 3, S, S)``, the image resized so its longest
  side is S (1024), normalised with the ImageNet pixel mean and std (0..255 scale) and padded
  with zeros at the right and bottom; or ``(H, W, 3)``, the resized RGB image in 0..255 when the
  export does that normalisation itself. Its first output is the float32 image embeddings
  ``(1, C, h, w)``.
* **decoder**: float32 inputs ``image_embeddings (1, C, h, w)``, ``point_coords (1, N, 2)``
  (x, y in the S frame), ``point_labels (1, N)`` (1 include, 0 exclude, 2 and 3 a box's top-left
  and bottom-right corners, -1 a padding point when there is no box), ``mask_input
  (1, 1, 4h, 4w)``, ``has_mask_input (1,)``, ``orig_im_size (2,)``; outputs ``masks``,
  ``iou_predictions (1, K)`` and ``low_res_masks (1, K, 4h, 4w)`` (logits, > 0 is the object).

The mask is made from ``low_res_masks``, not ``masks``: the low-resolution logits cover the
padded S x S frame, so we crop the image's part and resize it to the image's size ourselves.
That keeps any aspect ratio right (some exports froze the aspect ratio of their dummy input
into the ``masks`` path) and never asks the graph for a 33 Mpx float array per mask; the
decoder is given the resized size as ``orig_im_size`` so its own ``masks`` stay small.
The encoder is the slow half (seconds for ViT-B on a CPU), so its output is cached per image,
keyed by the image's content: a click only runs the decoder (milliseconds).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from ._exceptions import ValidationError

if TYPE_CHECKING:
    from .masks import ImageLike

__all__ = [
    "MAX_MODEL_BYTES",
    "OnnxSession",
    "Segmenter",
    "check_segmenter",
    "load_segmenter",
]

# One ONNX file holds at most 2 GiB (a protobuf's limit); bigger exports keep their weights in
# separate "external data" files, which are not supported (they are opened by relative path).
MAX_MODEL_BYTES = 2 * 1024 * 1024 * 1024
_SIDE = 1024  # SAM's input side when the export leaves it dynamic
_PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
_PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)
_FLOAT = "tensor(float)"
_EXTRA = "pip install 'venice_nb[segment]'"

# The decoder's tensors by name, with their ranks (all float32).
_DECODER_INPUTS = {"image_embeddings": 4, "point_coords": 3, "point_labels": 2,
                   "mask_input": 4, "has_mask_input": 1, "orig_im_size": 1}
_DECODER_OUTPUTS = {"masks": 4, "iou_predictions": 2, "low_res_masks": 4}
_HOW_TO_EXPORT = ("export the decoder with segment-anything's scripts/export_onnx_model.py (or "
                  "an exporter of the same layout, e.g. for MobileSAM); SAM 2 and other "
                  "layouts are not supported")


# --------------------------------------------------------------------------------------------
# what an onnxruntime session looks like to us
# --------------------------------------------------------------------------------------------


class TensorInfo(Protocol):
    """One input or output of a session (onnxruntime's ``NodeArg``)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def shape(self) -> Sequence[int | str | None]: ...


class OnnxSession(Protocol):
    """What the segmenter uses of an ``onnxruntime.InferenceSession``."""

    def get_inputs(self) -> Sequence[TensorInfo]: ...
    def get_outputs(self) -> Sequence[TensorInfo]: ...
    def run(self, output_names: Sequence[str] | None,
            input_feed: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]: ...


def _onnxruntime() -> ModuleType:
    """onnxruntime, imported only when a segmenter is loaded (the core stays light)."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        raise ImportError(
            f"the learned segmenter needs onnxruntime, an optional extra: {_EXTRA}"
        ) from None


def _read_model(path: str | os.PathLike[str], what: str) -> bytes:
    """The bytes of a model file the user named: a regular file (a symbolic link is refused,
    not followed), at most ``MAX_MODEL_BYTES``; opened non-blocking so a FIFO cannot hang."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(
            f"{what} must be a path to an .onnx file; got {type(path).__name__}",
            action=f"pass {what} as a str or pathlib.Path", field=what)
    shown = f"{os.fspath(path)!r:.200}"
    from ._store._files import Unreadable, read_bounded  # the one checked read

    try:
        return read_bounded(path, MAX_MODEL_BYTES)
    except FileNotFoundError:
        raise ValidationError(f"{what} {shown}: there is no such file",
                              action=f"pass the path of the {what} .onnx file",
                              field=what) from None
    except Unreadable as exc:
        action = ("use a smaller export (ViT-B, MobileSAM) saved as a single file"
                  if exc.too_large else f"pass the path of the {what} .onnx file itself")
        raise ValidationError(f"{what} {shown} {exc}", action=action, field=what) from None
    except ValueError as exc:  # a NUL byte in the name
        raise ValidationError(f"{what} {shown}: {exc}", action="check the path",
                              field=what) from None


# --------------------------------------------------------------------------------------------
# checking a model's layout
# --------------------------------------------------------------------------------------------


def _describe(infos: Sequence[TensorInfo]) -> str:
    return ", ".join(f"{i.name} ({i.type}, {len(i.shape)}-D)" for i in infos) or "nothing"


def _expected(tensors: Mapping[str, int]) -> str:
    return ", ".join(f"{name} (float32, {rank}-D)" for name, rank in tensors.items())


def _check_named(session: OnnxSession, what: str) -> None:
    """The decoder must have SAM's inputs and outputs by name, type and rank."""
    for kind, infos, wanted in (("inputs", session.get_inputs(), _DECODER_INPUTS),
                                ("outputs", session.get_outputs(), _DECODER_OUTPUTS)):
        found = {i.name: i for i in infos}
        ok = all(name in found and found[name].type == _FLOAT
                 and len(found[name].shape) == rank for name, rank in wanted.items())
        if not ok or (kind == "inputs" and len(found) != len(wanted)):
            raise ValidationError(
                f"the {what} model does not have a SAM decoder's {kind}: expected "
                f"{_expected(wanted)}; it has {_describe(infos)}",
                action=_HOW_TO_EXPORT, field=what)


def _static(dim: int | str | None) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


@dataclass(frozen=True)
class _Encoder:
    session: OnnxSession
    input_name: str
    output_name: str
    side: int  # S: the longest side of the resized image
    hwc: bool  # True: the export takes the resized 0..255 RGB image and normalises it itself

    @classmethod
    def check(cls, session: OnnxSession, what: str) -> _Encoder:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        wanted = ("one float32 input, (1, 3, S, S) (normalised, padded image) or (H, W, 3) "
                  "(resized RGB image), and a float32 4-D output (1, C, h, w), the image "
                  "embeddings")
        action = ("pass the image encoder first and the prompt decoder second, exported from "
                  "segment-anything (or MobileSAM) to ONNX")
        if len(inputs) != 1 or inputs[0].type != _FLOAT or not outputs \
                or outputs[0].type != _FLOAT or len(outputs[0].shape) != 4:
            raise ValidationError(
                f"the {what} model does not look like a SAM image encoder: expected {wanted}; "
                f"it has inputs {_describe(inputs)} and outputs {_describe(outputs)}",
                action=action, field=what)
        shape = list(inputs[0].shape)
        if len(shape) == 4 and _static(shape[1]) in (3, None) and _static(shape[0]) in (1, None):
            h, w = _static(shape[2]), _static(shape[3])
            if h is not None and w is not None and h != w:
                raise ValidationError(
                    f"the {what} model takes a {h}x{w} image; SAM encoders take a square one",
                    action=action, field=what)
            return cls(session, inputs[0].name, outputs[0].name, h or w or _SIDE, hwc=False)
        if len(shape) == 3 and _static(shape[2]) in (3, None):
            return cls(session, inputs[0].name, outputs[0].name, _SIDE, hwc=True)
        raise ValidationError(
            f"the {what} model's input {inputs[0].name} has shape {shape}; expected {wanted}",
            action=action, field=what)

    def feed(self, rgb: np.ndarray) -> np.ndarray:
        """The encoder's input for ``rgb``, already resized to the S frame (uint8 HxWx3)."""
        if self.hwc:
            return rgb.astype(np.float32)
        x = (rgb.astype(np.float32) - _PIXEL_MEAN) / _PIXEL_STD
        padded = np.zeros((1, 3, self.side, self.side), np.float32)
        padded[0, :, : rgb.shape[0], : rgb.shape[1]] = x.transpose(2, 0, 1)
        return padded


@dataclass(frozen=True)
class _Embedding:
    """One image's encoder output and the geometry the decoder's answer is read back with."""

    values: np.ndarray  # (1, C, h, w) float32
    size: tuple[int, int]  # the image's (height, width)
    resized: tuple[int, int]  # its (height, width) in the S frame
    side: int


# --------------------------------------------------------------------------------------------
# the segmenter
# --------------------------------------------------------------------------------------------


class Segmenter:
    """A SAM-family model (an image encoder and a prompt decoder) that selects objects.

    Make one with :func:`load_segmenter` from the two ``.onnx`` files, or from two
    ``onnxruntime.InferenceSession`` objects you made yourself (other execution providers,
    session options). Pass it to ``masks.select_object(..., segmenter=seg)``, or call
    :meth:`select`. The encoder runs once per image (seconds on a CPU for ViT-B); its output is
    kept for the last ``cache_size`` images, keyed by their pixels, so further clicks on the
    same image only run the decoder. Thread-safe.

    Args:
        encoder: The image encoder's session (one float32 image input, embeddings output).
        decoder: The prompt decoder's session (segment-anything's ONNX decoder layout).
        cache_size: How many images' encoder outputs are kept (each a few MB).
    """

    def __init__(self, encoder: OnnxSession, decoder: OnnxSession, *,
                 cache_size: int = 4) -> None:
        from . import _arguments as guards

        self._encoder = _Encoder.check(encoder, "encoder")
        _check_named(decoder, "decoder")
        self._decoder = decoder
        dims = {i.name: list(i.shape) for i in decoder.get_inputs()}
        self._embedding_shape = [_static(d) for d in dims["image_embeddings"]]
        self._mask_input_shape = [_static(d) for d in dims["mask_input"]]
        self._cache_size = guards.count(cache_size, "cache_size")
        self._cache: OrderedDict[bytes, _Embedding] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"Segmenter(side={self._encoder.side}, cached={len(self._cache)} of "
                f"{self._cache_size} images)")

    def prepare(self, image: ImageLike) -> None:
        """Run the encoder on ``image`` now (the one-time, slow step), e.g. in a thread while
        the user looks for where to click; a no-op when it is cached.

        Args:
            image: The photo (path, bytes, PIL image or array).
        """
        from .masks import _rgb_array  # (masks imports this module)

        self._embedding(_rgb_array(image))

    def select(self, image: ImageLike, include: Sequence[Sequence[float]],
               exclude: Sequence[Sequence[float]] = (),
               box: Sequence[float] | None = None, *,
               size: tuple[int, int] | None = None) -> np.ndarray:
        """The object under the ``include`` points, without what is under ``exclude``.

        Same contract as ``masks.select_object``: points are ``(x, y)`` inside the image, at
        least one include point; ``box`` ``(x0, y0, x1, y1)`` is also given to the model as a
        box prompt, and nothing outside it is selected. Returns a uint8 mask of the image's
        size, soft where the model's logits are soft (255 x the sigmoid of the logit).
        ``size`` asks for it at another size (a screen preview costs what its pixels cost).

        Args:
            image: The photo (path, bytes, PIL image or array).
            include: Points ``(x, y)`` on the object; at least one.
            exclude: Points ``(x, y)`` on what must not be selected.
            box: ``(x0, y0, x1, y1)``: nothing outside it is selected.
            size: ``(height, width)`` of the mask; None: the image's.
        """
        from ._selection import check_box, check_points, check_size
        from .masks import _rgb_array  # (masks imports this module)

        rgb = _rgb_array(image)
        shape = (rgb.shape[0], rgb.shape[1])
        inc = check_points(include, shape, "include", required=True)
        exc = check_points(exclude, shape, "exclude", required=False)
        bx = check_box(box, shape)
        out = check_size(size) or shape
        emb = self._embedding(rgb)
        logits = self._decode(emb, inc, exc, bx)
        return _to_mask(logits, emb, bx, out)

    # ---------------------------------------------------------------------------- internals

    def _embedding(self, rgb: np.ndarray) -> _Embedding:
        key = _key(rgb)
        with self._lock:  # one encoder run at a time: two threads on one image run it once
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            emb = self._encode(rgb)
            self._cache[key] = emb
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return emb

    def _encode(self, rgb: np.ndarray) -> _Embedding:
        enc = self._encoder
        h, w = rgb.shape[:2]
        scale = enc.side / max(h, w)
        rh, rw = max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))
        small = np.asarray(Image.fromarray(rgb).resize((rw, rh), Image.Resampling.BILINEAR))
        out = enc.session.run([enc.output_name], {enc.input_name: enc.feed(small)})[0]
        values = np.asarray(out, np.float32)
        expected = self._embedding_shape
        if values.ndim != 4 or values.shape[0] != 1 or any(
                e is not None and e != v for e, v in zip(expected, values.shape, strict=True)):
            raise ValidationError(
                f"the encoder answered embeddings of shape {values.shape}; the decoder takes "
                f"{[e if e is not None else '?' for e in expected]}",
                action="use an encoder and a decoder exported from the same model",
                field="encoder")
        return _Embedding(values, (h, w), (rh, rw), enc.side)

    def _decode(self, emb: _Embedding, inc: list[tuple[float, float]],
                exc: list[tuple[float, float]], box: tuple[float, float, float, float] | None,
                ) -> np.ndarray:
        """The chosen low-resolution logits ``(4h, 4w)`` over the S x S frame."""
        h, w = emb.size
        rh, rw = emb.resized
        points = [*inc, *exc]
        labels = [1.0] * len(inc) + [0.0] * len(exc)
        if box is not None:
            x0, y0, x1, y1 = max(box[0], 0.0), max(box[1], 0.0), min(box[2], w), min(box[3], h)
            points += [(x0, y0), (x1, y1)]
            labels += [2.0, 3.0]
        else:  # SAM's decoder expects a padding point when there is no box
            points.append((0.0, 0.0))
            labels.append(-1.0)
        coords = np.array(points, np.float32).reshape(1, -1, 2)
        coords[..., 0] *= rw / w
        coords[..., 1] *= rh / h
        eh, ew = emb.values.shape[2:]
        m = self._mask_input_shape
        mask_shape = (1, 1, m[2] or 4 * eh, m[3] or 4 * ew)
        iou, low = self._decoder.run(["iou_predictions", "low_res_masks"], {
            "image_embeddings": emb.values,
            "point_coords": coords,
            "point_labels": np.array([labels], np.float32),
            "mask_input": np.zeros(mask_shape, np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array([rh, rw], np.float32),
        })
        low = np.asarray(low, np.float32)
        iou = np.asarray(iou, np.float32).reshape(-1)
        if low.ndim != 4 or low.shape[0] != 1 or low.shape[1] != iou.size or iou.size < 1:
            raise ValidationError(
                f"the decoder answered low_res_masks of shape {low.shape} with "
                f"{iou.size} iou_predictions; expected (1, K, 4h, 4w) and K predictions",
                action=_HOW_TO_EXPORT, field="decoder")
        # SAM's advice: one point is ambiguous (part or whole?), so a multi-mask export's best
        # guess among its alternatives (1..K-1) is taken; more prompts pick the one mask (0).
        k = 0
        if iou.size > 1 and len(inc) + len(exc) == 1 and box is None:
            k = 1 + int(np.argmax(iou[1:]))
        chosen: np.ndarray = low[0, k]
        return chosen


def check_segmenter(value: object) -> Segmenter | None:
    """``value`` when it is a Segmenter or None; anything else (a path, say) is refused."""
    if value is None or isinstance(value, Segmenter):
        return value
    raise ValidationError(
        f"segmenter must be a masks.Segmenter; got {type(value).__name__}",
        action="make one with masks.load_segmenter(encoder_path, decoder_path)",
        field="segmenter")


def _key(rgb: np.ndarray) -> bytes:
    """The cache key: a digest of the pixels and their shape (an edited copy is another
    image; the same pixels from another file are the same one). SHA-256 because CPUs hash it
    in hardware: ~20 ms for 12 Mpx, against ~60 ms for BLAKE2."""
    digest = hashlib.sha256(repr(rgb.shape).encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.digest()


# 255 x sigmoid(logit) as a table: a full-resolution mask is a few array passes, not six.
_LUT_RANGE = 16.0  # beyond +-16 the sigmoid rounds to 0 or 255
_LUT_STEPS = 4096
_LUT_SCALE = (_LUT_STEPS - 1) / (2 * _LUT_RANGE)
_SIGMOID_U8 = np.rint(
    255.0 / (1.0 + np.exp(-np.linspace(-_LUT_RANGE, _LUT_RANGE, _LUT_STEPS)))).astype(np.uint8)
_ROWS = 256  # full-resolution rows made at once (bounds the float work space)


def _taps(n_out: int, extent: float, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear taps from ``n_in`` cells spanning ``extent`` of them onto ``n_out`` pixels:
    each pixel centre's lower cell and its weight towards the next (clamped at the ends)."""
    pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (extent / n_out) - 0.5
    pos = np.clip(pos, 0.0, n_in - 1.0)
    low = np.minimum(pos.astype(np.intp), n_in - 2)
    return low, (pos - low).astype(np.float32)


def _to_mask(logits: np.ndarray, emb: _Embedding, box: tuple[float, float, float, float] | None,
             out: tuple[int, int]) -> np.ndarray:
    """Crop the image's part of the S-frame logits, resize it bilinearly to ``out`` (the
    image's size, or a preview's) and squash it (255 x sigmoid). Separable and by row blocks,
    in numpy: half a decode's time for 12 Mpx, where Pillow's float resize plus a float
    sigmoid took over one."""
    h, w = out
    rh, rw = emb.resized
    lh, lw = logits.shape
    grid = np.ascontiguousarray(logits, np.float32)
    if lh == 1 or lw == 1:  # a degenerate answer: repeat it so the taps have two cells
        grid = np.pad(grid, ((0, int(lh == 1)), (0, int(lw == 1))), mode="edge")
        lh, lw = grid.shape
    cx, fx = _taps(w, rw * lw / emb.side, lw)
    cy, fy = _taps(h, rh * lh / emb.side, lh)
    cols = grid[:, cx] + fx * (grid[:, cx + 1] - grid[:, cx])  # (lh, w): rows still low-res
    step = cols[1:] - cols[:-1]
    cols *= _LUT_SCALE  # fold the table's scale and offset into the small arrays
    cols += _LUT_RANGE * _LUT_SCALE
    step *= _LUT_SCALE
    mask = np.empty((h, w), np.uint8)
    for top in range(0, h, _ROWS):
        rows = slice(top, min(h, top + _ROWS))
        index = step[cy[rows]]
        index *= fy[rows, None]
        index += cols[cy[rows]]
        np.clip(index, 0.0, _LUT_STEPS - 1.0, out=index)
        index += 0.5  # round to the nearest entry
        mask[rows] = _SIGMOID_U8[index.astype(np.uint16)]
    if box is not None:  # a pixel is inside when its centre is
        sx, sy = w / emb.size[1], h / emb.size[0]
        x0, y0, x1, y1 = (max(0, min(n, int(np.ceil(v * f - 0.5))))
                          for v, f, n in zip(box, (sx, sy, sx, sy), (w, h, w, h), strict=True))
        mask[:y0] = 0
        mask[y1:] = 0
        mask[:, :x0] = 0
        mask[:, x1:] = 0
    return mask


def load_segmenter(encoder_path: str | os.PathLike[str], decoder_path: str | os.PathLike[str],
                   *, providers: Sequence[str] = ("CPUExecutionProvider",),
                   cache_size: int = 4) -> Segmenter:
    """A :class:`Segmenter` from a SAM-family image encoder and prompt decoder ``.onnx`` file.

    You supply the files (nothing is downloaded): e.g. segment-anything's ViT-B or MobileSAM
    exported to ONNX, the decoder with segment-anything's ``scripts/export_onnx_model.py``.
    Each must be a regular file (a symbolic link is refused, not followed) of at most 2 GiB,
    holding its weights (no external data files). Their inputs and outputs are checked on
    loading; a model of another layout is refused with a ``ValidationError`` saying what was
    expected. Needs the optional extra: ``pip install 'venice_nb[segment]'`` (onnxruntime).

    Args:
        encoder_path: The image encoder ``.onnx`` file (image in, image embeddings out).
        decoder_path: The prompt decoder ``.onnx`` file (embeddings and points in, masks out).
        providers: onnxruntime execution providers, in order of preference.
        cache_size: How many images' encoder outputs are kept (each a few MB).
    """
    if isinstance(providers, str) or not all(isinstance(p, str) for p in providers):
        raise ValidationError(
            f"providers must be a list of onnxruntime provider names; got {providers!r:.80}",
            action='pass e.g. providers=["CUDAExecutionProvider", "CPUExecutionProvider"]',
            field="providers")
    ort = _onnxruntime()
    sessions = []
    for what, path in (("encoder", encoder_path), ("decoder", decoder_path)):
        data = _read_model(path, what)
        try:
            # A model loaded from bytes could still name "external data" files; onnxruntime
            # would look for them in a folder we choose: an empty one, so nothing else is read.
            with tempfile.TemporaryDirectory(prefix="venice_nb-onnx-") as empty:
                options = ort.SessionOptions()
                options.log_severity_level = 4  # its errors are raised and reworded below
                options.add_session_config_entry(
                    "session.model_external_initializers_file_folder_path", empty)
                sessions.append(ort.InferenceSession(data, options, providers=list(providers)))
        except Exception as exc:  # onnxruntime raises its own types for a file it cannot load
            raise ValidationError(
                f"the {what} {os.fspath(path)!r:.200} is not an ONNX model onnxruntime can "
                f"load ({type(exc).__name__}: {str(exc)[:300]})",
                action=f"pass the {what} .onnx file, saved as one file (no external data)",
                field=what) from None
    return Segmenter(sessions[0], sessions[1], cache_size=cache_size)
