"""The learned-segmenter plug-in (``masks.load_segmenter``), run on tiny models the tests build.

No SAM weights are downloaded or shipped: the tests build, with ``onnx.helper``, an image
encoder and a prompt decoder of SAM's ONNX layout (the same input and output names, dtypes and
ranks) whose answers can be checked by hand, and run them in the real onnxruntime:

* the encoder averages 16x16 blocks of its (normalised, padded, 1024 x 1024) input, so its
  "embeddings" are a 64 x 64 picture of the image's red channel;
* the decoder's logit at each low-resolution cell is the smallest of: inside a disc of radius
  ``R`` around some include point; outside every such disc around the exclude points; inside
  the box given by the corner points (labels 2 and 3); and bright in the embeddings. The
  logit is ``steep`` per pixel of the 1024 frame, so the mask's edge is as soft as asked.

So a white image gives a disc around the click, and a big disc on a white rectangle gives the
rectangle: any slip in the resizing, padding, coordinate scaling or cropping moves the answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from PIL import Image

import venice_nb as vnb
from venice_nb import ValidationError, masks
from venice_nb._segmenter import OnnxSession, TensorInfo
from venice_nb.widgets import EditStudio, MaskPainter

SIDE = 1024  # the encoder's input side
LOW = 256  # the decoder's low-resolution mask side
BIG = 1.0e6
FLOAT = TensorProto.FLOAT


def _const(name: str, values: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name + "_value", FLOAT if values.dtype == np.float32 else TensorProto.INT64,
        values.shape, values.flatten().tolist()))


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
           outputs: list[onnx.ValueInfoProto], name: str) -> bytes:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def build_encoder(*, hwc: bool = False) -> bytes:
    """SAM's encoder layout: image (1, 3, 1024, 1024) -> image_embeddings (1, 3, 64, 64); with
    ``hwc`` the (H, W, 3) 0..255 variant that normalises and pads inside the graph."""
    pool = helper.make_node("AveragePool", ["x"], ["image_embeddings"],
                            kernel_shape=[16, 16], strides=[16, 16])
    out = helper.make_tensor_value_info("image_embeddings", FLOAT, [1, 3, 64, 64])
    if not hwc:
        image = helper.make_tensor_value_info("image", FLOAT, [1, 3, SIDE, SIDE])
        return _model([helper.make_node("Identity", ["image"], ["x"]), pool], [image], [out],
                      "tiny_encoder")
    image = helper.make_tensor_value_info("input_image", FLOAT, ["h", "w", 3])
    mean = np.array([123.675, 116.28, 103.53], np.float32)
    std = np.array([58.395, 57.12, 57.375], np.float32)
    nodes = [
        _const("mean", mean), _const("std", std),
        helper.make_node("Sub", ["input_image", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["normal"]),
        helper.make_node("Transpose", ["normal"], ["chw"], perm=[2, 0, 1]),
        _const("axis0", np.array([0], np.int64)),
        helper.make_node("Unsqueeze", ["chw", "axis0"], ["nchw"]),
        helper.make_node("Shape", ["input_image"], ["hw3"]),
        _const("start", np.array([0], np.int64)), _const("stop", np.array([2], np.int64)),
        helper.make_node("Slice", ["hw3", "start", "stop"], ["hw"]),
        _const("side", np.array([SIDE, SIDE], np.int64)),
        helper.make_node("Sub", ["side", "hw"], ["gap"]),
        _const("zeros6", np.zeros(6, np.int64)),
        helper.make_node("Concat", ["zeros6", "gap"], ["pads"], axis=0),
        helper.make_node("Pad", ["nchw", "pads"], ["x"]),
        pool,
    ]
    return _model(nodes, [image], [out], "tiny_encoder_hwc")


def build_decoder(*, radius: float = 100.0, steep: float = 1.0, drop: str = "",
                  labels_type: int = FLOAT, embedding_channels: int = 3,
                  factors: Sequence[float] = (1.0,),
                  ious: Sequence[float] | None = None) -> bytes:
    """SAM's decoder layout (see the module docstring). ``factors`` makes one mask per
    radius factor (a multi-mask export, K > 1) with ``ious`` as its iou_predictions (default:
    each mask's mean probability). ``drop`` leaves that output out and ``labels_type`` changes
    point_labels' type, to make a model of the wrong layout."""
    centres = (np.arange(LOW, dtype=np.float32) * (SIDE / LOW) + SIDE / LOW / 2)
    f = helper.make_node
    nodes = [
        _const("gx", centres.reshape(1, 1, 1, LOW)), _const("gy", centres.reshape(1, 1, LOW, 1)),
        _const("steep", np.array([steep], np.float32)),
        _const("big", np.array([BIG], np.float32)), _const("nbig", np.array([-BIG], np.float32)),
        _const("i0", np.array(0, np.int64)), _const("i1", np.array(1, np.int64)),
        _const("axes23", np.array([2, 3], np.int64)), _const("axis1", np.array([1], np.int64)),
        f("Gather", ["point_coords", "i0"], ["px0"], axis=2),
        f("Gather", ["point_coords", "i1"], ["py0"], axis=2),
        f("Unsqueeze", ["px0", "axes23"], ["px"]), f("Unsqueeze", ["py0", "axes23"], ["py"]),
        f("Cast", ["point_labels"], ["labf"], to=FLOAT),
        f("Unsqueeze", ["labf", "axes23"], ["lab"]),
        f("Sub", ["gx", "px"], ["dx"]), f("Sub", ["gy", "py"], ["dy"]),
        f("Mul", ["dx", "dx"], ["dx2"]), f("Mul", ["dy", "dy"], ["dy2"]),
        f("Add", ["dx2", "dy2"], ["d2"]),
    ]
    for label, coord, op, fill, name in ((2.0, "px", "ReduceMax", "nbig", "x0"),
                                         (2.0, "py", "ReduceMax", "nbig", "y0"),
                                         (3.0, "px", "ReduceMin", "big", "x1"),
                                         (3.0, "py", "ReduceMin", "big", "y1")):
        nodes += [_const(f"l_{name}", np.array([label], np.float32)),
                  f("Equal", ["lab", f"l_{name}"], [f"is_{name}"]),
                  f("Where", [f"is_{name}", coord, fill], [f"{name}_all"]),
                  f(op, [f"{name}_all"], [name], axes=[1], keepdims=1)]
    nodes += [
        f("Sub", ["gx", "x0"], ["bl"]), f("Sub", ["x1", "gx"], ["br"]),
        f("Sub", ["gy", "y0"], ["bt"]), f("Sub", ["y1", "gy"], ["bb"]),
        f("Min", ["bl", "br", "bt", "bb"], ["boxd"]), f("Mul", ["boxd", "steep"], ["in_box"]),
        # bright: the red channel's normalised value above 0.5 (padding is 0, black is -2.1)
        _const("c0", np.array([0], np.int64)), _const("c1", np.array([1], np.int64)),
        f("Slice", ["image_embeddings", "c0", "c1", "axis1"], ["red"]),
        _const("up", np.array([1, 1, 4, 4], np.float32)),
        f("Resize", ["red", "", "up"], ["red_up"], mode="linear"),
        _const("half", np.array([0.5], np.float32)), _const("eight", np.array([8.0], np.float32)),
        f("Sub", ["red_up", "half"], ["red_off"]), f("Mul", ["red_off", "eight"], ["bright"]),
        _const("l_inc", np.array([1.0], np.float32)), _const("l_exc", np.array([0.0], np.float32)),
        f("Equal", ["lab", "l_inc"], ["is_inc"]), f("Equal", ["lab", "l_exc"], ["is_exc"]),
    ]
    for k, factor in enumerate(factors):
        r = radius * factor
        nodes += [
            _const(f"r2_{k}", np.array([r * r], np.float32)),
            _const(f"scale_{k}", np.array([steep / (2 * r)], np.float32)),
            f("Sub", [f"r2_{k}", "d2"], [f"inside_{k}"]),
            f("Mul", [f"inside_{k}", f"scale_{k}"], [f"disc_{k}"]),
            f("Where", ["is_inc", f"disc_{k}", "nbig"], [f"inc_all_{k}"]),
            f("ReduceMax", [f"inc_all_{k}"], [f"inc_{k}"], axes=[1], keepdims=1),
            f("Where", ["is_exc", f"disc_{k}", "nbig"], [f"exc_all_{k}"]),
            f("ReduceMax", [f"exc_all_{k}"], [f"exc_{k}"], axes=[1], keepdims=1),
            f("Neg", [f"exc_{k}"], [f"not_exc_{k}"]),
            f("Min", [f"inc_{k}", f"not_exc_{k}", "in_box", "bright"], [f"logit_{k}"]),
        ]
    nodes += [
        f("Concat", [f"logit_{k}" for k in range(len(factors))], ["logits"], axis=1),
        # mask_input and has_mask_input are taken, as in SAM, and add nothing here
        f("ReduceSum", ["mask_input"], ["mask_sum"], keepdims=0),
        f("Mul", ["mask_sum", "has_mask_input"], ["mask_used"]),
        _const("zero", np.array([0.0], np.float32)),
        f("Mul", ["mask_used", "zero"], ["nothing"]),
        f("Add", ["logits", "nothing"], ["low_res_masks"]),
        _const("batch_k", np.array([1, len(factors)], np.int64)),
        f("Cast", ["orig_im_size"], ["orig_i"], to=TensorProto.INT64),
        f("Concat", ["batch_k", "orig_i"], ["sizes"], axis=0),
        f("Resize", ["low_res_masks", "", "", "sizes"], ["masks"], mode="linear"),
    ]
    if ious is None:
        nodes += [f("Sigmoid", ["low_res_masks"], ["prob"]),
                  f("ReduceMean", ["prob"], ["iou_predictions"], axes=[2, 3], keepdims=0)]
    else:
        nodes.append(_const("iou_predictions", np.array([ious], np.float32)))
    c = embedding_channels
    inputs = [
        helper.make_tensor_value_info("image_embeddings", FLOAT, [1, c, 64, 64]),
        helper.make_tensor_value_info("point_coords", FLOAT, [1, "n", 2]),
        helper.make_tensor_value_info("point_labels", labels_type, [1, "n"]),
        helper.make_tensor_value_info("mask_input", FLOAT, [1, 1, LOW, LOW]),
        helper.make_tensor_value_info("has_mask_input", FLOAT, [1]),
        helper.make_tensor_value_info("orig_im_size", FLOAT, [2]),
    ]
    k = len(factors)
    outputs = [
        helper.make_tensor_value_info("masks", FLOAT, [1, k, "h", "w"]),
        helper.make_tensor_value_info("iou_predictions", FLOAT, [1, k]),
        helper.make_tensor_value_info("low_res_masks", FLOAT, [1, k, LOW, LOW]),
    ]
    outputs = [o for o in outputs if o.name != drop]
    return _model(nodes, inputs, outputs, "tiny_decoder")


class Counting:
    """A real onnxruntime session that counts its runs (how the cache is seen from outside)."""

    def __init__(self, model: bytes) -> None:
        self.session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        self.runs = 0

    def get_inputs(self) -> Sequence[TensorInfo]:
        inputs: Sequence[TensorInfo] = self.session.get_inputs()
        return inputs

    def get_outputs(self) -> Sequence[TensorInfo]:
        outputs: Sequence[TensorInfo] = self.session.get_outputs()
        return outputs

    def run(self, output_names: Sequence[str] | None,
            input_feed: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]:
        self.runs += 1
        answer: Sequence[np.ndarray] = self.session.run(output_names, dict(input_feed))
        return answer


def _session(model: bytes) -> OnnxSession:
    return Counting(model)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("models")
    enc, dec = folder / "encoder.onnx", folder / "decoder.onnx"
    enc.write_bytes(build_encoder())
    dec.write_bytes(build_decoder())
    return enc, dec


def white(w: int = 600, h: int = 400) -> np.ndarray:
    return np.full((h, w, 3), 255, np.uint8)


def disc_radius(image_w: int, image_h: int, radius: float = 100.0) -> float:
    """The tiny decoder's disc radius in image pixels."""
    return radius * max(image_w, image_h) / SIDE


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


# -------------------------------------------------------------------------------- behaviour


def test_a_click_selects_the_models_answer_at_the_images_size(
        model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    image = white(600, 400)
    m = masks.select_object(image, include=[(300, 200)], segmenter=seg)
    assert m.shape == (400, 600) and m.dtype == np.uint8
    r = disc_radius(600, 400)  # 58.6 px
    yy, xx = np.mgrid[0:400, 0:600]
    expected = (xx + 0.5 - 300) ** 2 + (yy + 0.5 - 200) ** 2 < r * r
    assert iou(m > 127, expected) > 0.97
    assert m[200, 300] == 255 and m[200, 300 + int(r) + 5] == 0


def test_a_portrait_image_and_a_gray_one_keep_their_geometry() -> None:
    """The rectangle found through the model's "brightness" (a disc bigger than the image)
    must land where it is in the image whatever the aspect ratio (any slip in resize, pad or
    crop moves it)."""
    seg = masks.Segmenter(_session(build_encoder()), _session(build_decoder(radius=3000)))
    for h, w in ((400, 600), (700, 300)):
        image = np.zeros((h, w), np.uint8)  # gray: repeated into RGB
        image[80:260, 60:230] = 255
        m = masks.select_object(image, include=[(150, 150)], segmenter=seg)
        truth = np.zeros((h, w), bool)
        truth[80:260, 60:230] = True
        assert m.shape == (h, w)
        # the box edges sit between embedding cells (9.4 px at this scale): a few pixels
        # of blur; a missing crop of the padding would move them by a third of the image
        assert iou(m > 127, truth) > 0.9


def test_both_encoder_layouts_give_the_same_mask() -> None:
    """The (1, 3, S, S) export (normalised and padded here) and the (H, W, 3) export (that
    does it itself) see the same picture."""
    image = np.zeros((300, 500, 3), np.uint8)
    image[40:200, 100:380] = (250, 30, 30)
    nchw = masks.Segmenter(_session(build_encoder()), _session(build_decoder(radius=3000)))
    hwc = masks.Segmenter(_session(build_encoder(hwc=True)), _session(build_decoder(radius=3000)))
    a = nchw.select(image, [(200, 100)])
    b = hwc.select(image, [(200, 100)])
    assert masks.area(a) > 20_000
    assert int(np.abs(a.astype(int) - b).max()) <= 1


def test_exclude_points_take_away_and_include_points_add(
        model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    image = white()
    one = masks.select_object(image, [(300, 200)], segmenter=seg)
    two = masks.select_object(image, [(300, 200), (420, 200)], segmenter=seg)
    cut = masks.select_object(image, [(300, 200)], exclude=[(380, 200)], segmenter=seg)
    assert one[200, 420] == 0 and two[200, 420] == 255 and two[200, 300] == 255
    assert one[200, 330] == 255 and cut[200, 330] == 0  # 50 px from the exclude point
    assert cut[200, 300] == 255 and cut[200, 260] == 255
    assert masks.area(cut) < masks.area(one) < masks.area(two)


def test_a_box_limits_the_selection(model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    m = masks.select_object(white(), [(300, 200)], box=(250, 150, 320, 260), segmenter=seg)
    assert m[200, 260] == 255 and m[200, 330] == 0 and m[160, 300] == 255
    box = masks.bbox(m)
    assert box is not None
    x0, y0, x1, y1 = box
    assert x0 >= 250 and y0 >= 150 and x1 <= 320 and y1 <= 260


def test_edges_are_as_soft_as_the_models_logits() -> None:
    image = white()
    soft = masks.Segmenter(_session(build_encoder()), _session(build_decoder(steep=0.1)))
    hard = masks.Segmenter(_session(build_encoder()), _session(build_decoder(steep=50.0)))
    s = soft.select(image, [(300, 200)])
    h = hard.select(image, [(300, 200)])
    def between(m: np.ndarray) -> int:
        return int(np.count_nonzero((m > 5) & (m < 250)))

    assert between(s) > 5_000  # a ramp tens of pixels wide all round
    assert between(h) < 2 * 2 * np.pi * disc_radius(600, 400)  # at most the edge pixels
    assert iou(s > 127, h > 127) > 0.95  # the same disc either way


def test_the_encoder_runs_once_per_image_and_clicks_only_run_the_decoder(
        tmp_path: Path) -> None:
    enc, dec = Counting(build_encoder()), Counting(build_decoder())
    seg = masks.Segmenter(enc, dec, cache_size=2)
    a, b = white(), white()
    b[:, :100] = 0
    seg.prepare(a)
    assert (enc.runs, dec.runs) == (1, 0)
    for x in (200, 300, 400):
        masks.select_object(a, [(x, 200)], segmenter=seg)
    assert (enc.runs, dec.runs) == (1, 3)
    path = tmp_path / "a.png"
    Image.fromarray(a).save(path)
    masks.select_object(path, [(300, 200)], segmenter=seg)  # the same pixels from a file
    assert enc.runs == 1
    seg.select(b, [(300, 200)])
    seg.select(a, [(300, 200)])
    assert enc.runs == 2  # two images fit in the cache
    c = white()
    c[0, 0] = 0  # one pixel differs: another image
    seg.select(c, [(300, 200)])
    seg.select(b, [(300, 200)])  # b was the least recently used: evicted, encoded again
    assert (enc.runs, dec.runs) == (4, 8)


def test_a_multi_mask_export_answers_one_click_with_its_best_alternative() -> None:
    """SAM's rule: for one click (ambiguous) the best-scored of masks 1..K-1; with more
    prompts the first mask. The masks here differ in radius, so the choice is visible."""
    seg = masks.Segmenter(_session(build_encoder()), _session(build_decoder(
        factors=(1.5, 0.5, 1.0, 2.0), ious=(0.95, 0.6, 0.9, 0.7))))
    r = disc_radius(600, 400)
    one = seg.select(white(), [(300, 200)])
    assert one[200, int(300 + 0.9 * r)] == 255 and one[200, int(300 + 1.1 * r)] == 0  # 1.0
    two = seg.select(white(), [(300, 200), (301, 200)])
    assert two[200, int(300 + 1.4 * r)] == 255 and two[200, int(300 + 1.6 * r)] == 0  # 1.5


def test_select_and_select_object_agree(model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    image = white()
    assert np.array_equal(seg.select(image, [(300, 200)], [(350, 250)]),
                          masks.select_object(image, [(300, 200)], [(350, 250)], segmenter=seg))


# ------------------------------------------------------------------------------- bad input


def test_a_model_of_another_layout_is_refused_naming_what_was_expected(
        model_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enc, dec = model_files
    with pytest.raises(ValidationError, match=r"SAM image encoder.*one float32 input"):
        masks.load_segmenter(dec, enc)  # swapped
    with pytest.raises(ValidationError, match="SAM decoder's inputs: expected image_embeddings"):
        masks.Segmenter(_session(build_encoder()), _session(build_encoder()))
    no_low = tmp_path / "no_low.onnx"
    no_low.write_bytes(build_decoder(drop="low_res_masks"))
    with pytest.raises(ValidationError, match=r"decoder's outputs: expected .*low_res_masks"):
        masks.load_segmenter(enc, no_low)
    with pytest.raises(ValidationError, match=r"point_labels \(float32, 2-D\)"):
        masks.Segmenter(_session(build_encoder()),
                        _session(build_decoder(labels_type=TensorProto.INT64)))
    # weights in an "external data" file are not read, even from the working folder
    model = onnx.load_from_string(build_encoder())
    model.graph.initializer.append(onnx.numpy_helper.from_array(
        np.ones((1, 3, 1, 1), np.float32), "w"))
    model.graph.node[0].op_type = "Mul"  # x = image * w
    model.graph.node[0].input.append("w")
    onnx.save_model(model, str(tmp_path / "split.onnx"), save_as_external_data=True,
                    location="split.data", size_threshold=0)
    assert (tmp_path / "split.data").is_file()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match=r"split\.onnx.*no external data"):
        masks.load_segmenter(tmp_path / "split.onnx", dec)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(ValidationError, match="not an ONNX model onnxruntime can load"):
        masks.load_segmenter(enc, junk)


def test_an_encoder_and_decoder_of_different_models_are_refused_at_first_use() -> None:
    seg = masks.Segmenter(_session(build_encoder()),
                          _session(build_decoder(embedding_channels=256)))
    with pytest.raises(ValidationError, match=r"embeddings of shape \(1, 3, 64, 64\).*256"):
        seg.select(white(), [(300, 200)])


def test_bad_paths_are_refused_before_anything_is_read(
        model_files: tuple[Path, Path], tmp_path: Path) -> None:
    enc, dec = model_files
    link = tmp_path / "link.onnx"
    link.symlink_to(enc)
    with pytest.raises(ValidationError, match="symbolic link"):
        masks.load_segmenter(link, dec)
    with pytest.raises(ValidationError, match="is a folder"):
        masks.load_segmenter(enc, tmp_path)
    with pytest.raises(ValidationError, match="no such file"):
        masks.load_segmenter(tmp_path / "missing.onnx", dec)
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="FIFO"):
        masks.load_segmenter(enc, fifo)
    with pytest.raises(ValidationError, match="must be a path"):
        masks.load_segmenter(enc, 42)
    with pytest.raises(ValidationError, match="providers must be a list"):
        masks.load_segmenter(enc, dec, providers="CPUExecutionProvider")


def test_bad_clicks_and_a_wrong_segmenter_are_refused(model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    with pytest.raises(ValidationError, match="include is empty"):
        masks.select_object(white(), [], segmenter=seg)
    with pytest.raises(ValidationError, match="outside the 600x400 image"):
        masks.select_object(white(), [(700, 10)], segmenter=seg)
    with pytest.raises(ValidationError, match="box"):
        masks.select_object(white(), [(10, 10)], box=(5, 5, 1, 1), segmenter=seg)
    with pytest.raises(ValidationError, match=r"segmenter must be a masks\.Segmenter"):
        masks.select_object(white(), [(10, 10)], segmenter="sam.onnx")
    with pytest.raises(ValidationError, match="cache_size"):
        masks.Segmenter(_session(build_encoder()), _session(build_decoder()), cache_size=0)


# -------------------------------------------------------------------------------- the extra


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)


def test_without_onnxruntime_loading_says_which_extra_to_install(
        model_files: tuple[Path, Path], tmp_path: Path) -> None:
    enc, dec = model_files
    out = _python(f"""
        import sys
        sys.modules["onnxruntime"] = None  # as if not installed: importing it fails
        from venice_nb import masks
        try:
            masks.load_segmenter({str(enc)!r}, {str(dec)!r})
        except ImportError as err:
            print(err)
        """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "pip install 'venice_nb[segment]'" in out.stdout
    assert "onnxruntime" in out.stdout


def test_the_core_and_the_built_in_selection_never_import_onnxruntime(tmp_path: Path) -> None:
    out = _python("""
        import sys
        import numpy as np
        import venice_nb
        from venice_nb import masks
        img = np.zeros((200, 300, 3), np.uint8)
        img[50:150, 100:200] = 200
        masks.select_object(img, [(150, 100)])
        print(sorted(m for m in sys.modules if m.startswith(("onnx", "onnxruntime"))))
        """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_preview_size_gives_the_same_selection_smaller(model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    full = seg.select(white(), [(300, 200)], box=(250, 150, 320, 260))
    small = seg.select(white(), [(300, 200)], box=(250, 150, 320, 260), size=(100, 150))
    assert small.shape == (100, 150)
    assert iou(small > 127, masks.resize_to(full, (100, 150)) > 127) > 0.9
    with pytest.raises(ValidationError, match="size"):
        seg.select(white(), [(300, 200)], size=(0, 10))


# -------------------------------------------------------------------------------- painter


def _click(painter: MaskPainter, x: float, y: float, exclude: bool = False) -> None:
    """An Object-tool click at image point (x, y), as the browser sends it (100 % zoom)."""
    painter._surface._handle_custom_msg({"t": "select", "tool": "object", "x": x, "y": y,
                                         "exclude": exclude}, [])


def test_the_painters_object_tool_uses_the_segmenter() -> None:
    enc, dec = Counting(build_encoder()), Counting(build_decoder())
    seg = masks.Segmenter(enc, dec)
    painter = MaskPainter(white(), segmenter=seg)
    assert painter.zoom == 1.0
    painter.tool = "object"  # starts the one-time preparation in the background
    _click(painter, 300, 200)
    r = disc_radius(600, 400)
    yy, xx = np.mgrid[0:400, 0:600]
    disc = (xx + 0.5 - 300) ** 2 + (yy + 0.5 - 200) ** 2 < r * r
    assert iou(painter.mask > 127, disc) > 0.97  # the model's disc, not the built-in's answer
    _click(painter, 330, 200, exclude=True)
    assert painter.mask[200, 300] == 0 and painter.mask[200, 250] == 255
    painter.undo()  # one undo step per click
    assert iou(painter.mask > 127, disc) > 0.97
    assert enc.runs == 1 and dec.runs >= 2  # the encoder once (preparation or first click)


def test_the_studios_painter_uses_the_segmenter_and_a_wrong_one_is_refused(
        client: vnb.Client, model_files: tuple[Path, Path]) -> None:
    seg = masks.load_segmenter(*model_files)
    studio = EditStudio(white(500, 360), client=client, segmenter=seg)
    painter = studio.painter
    assert painter.zoom == 1.0
    painter.tool = "object"
    _click(painter, 250, 180)
    r = disc_radius(500, 360)
    assert painter.mask[180, 250] == 255 and painter.mask[180, int(250 + r + 5)] == 0
    assert masks.area(painter.mask > 127) == pytest.approx(np.pi * r * r, rel=0.05)
    with pytest.raises(ValidationError, match="segmenter must be a masks"):
        MaskPainter(white(), segmenter="encoder.onnx")
