"""venice_nb.layers.LayerStack: layer preparation, validation, and multi-edits end to end
against the local backend over loopback HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb import masks
from venice_nb._backend import LocalBackend
from venice_nb.layers import LayerStack

from .conftest import REALISMS, sample_path


def model_info(limit: int, *, combine: bool = True) -> vnb.ModelInfo:
    return vnb.ModelInfo(
        id="demo-edit", name="Demo Edit", type="inpaint", max_input_images=limit,
        combine_images=combine,
    )


@pytest.fixture
def stack() -> LayerStack:
    # At the 1K tier's size (long side 1024), so an edit keeps its geometry and pixels compare
    # one to one with the base.
    with Image.open(sample_path("cat")) as cat:
        return LayerStack(cat.convert("RGB").resize((1024, 681)))


def test_images_are_the_base_then_each_prepared_layer(stack: LayerStack) -> None:
    h, w = stack.shape
    stack.add_mask(masks.rect(stack.shape, (10, 10, 100, 80)))
    stack.add_overlay(Image.new("RGB", (40, 30), "blue"), (5, 6), 0.5)
    stack.add_reference(sample_path("coffee"))
    images = stack.images()
    assert len(images) == len(stack) == 4
    assert images[0] is stack.base and images[0].mode == "RGB" and images[0].size == (w, h)
    assert [(im.mode, im.size) for im in images[1:3]] == [("L", (w, h)), ("RGBA", (w, h))]
    with Image.open(sample_path("coffee")) as reference:
        assert images[3].mode == "RGB" and images[3].size == reference.size
    assert [layer.kind for layer in stack] == ["mask", "overlay", "reference"]


def test_mask_layer_is_resized_nearest_to_the_base(stack: LayerStack) -> None:
    h, w = stack.shape
    small = masks.ellipse((h // 2, w // 2), (20, 10, 150, 120))
    layer = np.asarray(stack.add_mask(small > 0).images()[1])
    assert layer.shape == (h, w)
    assert set(np.unique(layer)) == {0, 255}  # nearest: no soft edges appear
    assert (layer == masks.resize_to(small, (h, w))).all()
    assert layer[2 * 65, 2 * 85] == 255 and layer[0, 0] == 0


def test_masks_that_would_distort_or_do_nothing_are_refused(stack: LayerStack) -> None:
    h, w = stack.shape
    with pytest.raises(ValueError, match="aspect ratios differ"):
        stack.add_mask(np.ones((h, h), bool))
    with pytest.raises(ValueError, match="selects nothing"):
        stack.add_mask(np.zeros((h, w), np.uint8))
    with pytest.raises(ValueError, match="2-D"):
        stack.add_mask(np.ones((h, w, 3), np.uint8))
    assert len(stack) == 1


def test_overlay_is_placed_on_a_transparent_canvas_with_its_opacity(stack: LayerStack) -> None:
    h, w = stack.shape
    src = np.zeros((30, 40, 4), np.uint8)
    src[..., :3] = (10, 200, 30)
    src[..., 3] = 200
    canvas = np.asarray(stack.add_overlay(Image.fromarray(src), (50, 20), 0.5).images()[1])
    assert canvas.shape == (h, w, 4)
    inside = canvas[20:50, 50:90]
    assert (inside[..., 3] == 100).all() and (inside[..., :3] == (10, 200, 30)).all()
    outside = np.ones((h, w), bool)
    outside[20:50, 50:90] = False
    assert not canvas[..., 3][outside].any()
    assert stack.layers[0].position == (50, 20) and stack.layers[0].opacity == 0.5


def test_overlay_is_clipped_at_the_edges_and_refused_when_invisible(stack: LayerStack) -> None:
    h, w = stack.shape
    square = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    canvas = np.asarray(stack.add_overlay(square, (-15, h - 5)).images()[1])
    assert (canvas[h - 5:, :5, 3] == 255).all() and canvas[..., 3].sum() == 25 * 255
    twice = np.asarray(stack.add_overlay(square, (0, 0), scale=2).images()[2])
    assert (twice[:40, :40, 3] == 255).all() and not twice[40:, :, 3].any()
    with pytest.raises(ValueError, match="not visible"):
        stack.add_overlay(square, (w + 1, 0))
    with pytest.raises(ValueError, match="opacity"):
        stack.add_overlay(square, (0, 0), opacity=1.5)
    with pytest.raises(ValueError, match="no transparency"):
        stack.add_overlay(square, (0, 0), scale=(w + 20) / 20)  # covers all, opaque
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        stack.add_overlay(square, 5)  # type: ignore[arg-type]
    assert len(stack) == 3


def test_validate_explains_the_model_limit(stack: LayerStack) -> None:
    mask = masks.rect(stack.shape, (0, 0, 50, 50))
    stack.add_mask(mask).add_reference(sample_path("coffee"))
    assert stack.validate(model_info(3)) is stack
    with pytest.raises(vnb.ValidationError) as info:
        stack.validate(model_info(2))
    text = str(info.value)
    for words in ("'demo-edit'", "Demo Edit", "at most 2 images", "this stack has 3",
                  "remove 1 layer", "stack.pop()", "max_input_images >= 3"):
        assert words in text, words
    assert info.value.field == "images" and isinstance(info.value, ValueError)
    with pytest.raises(vnb.ValidationError, match="cannot combine images") as single:
        stack.validate(model_info(1, combine=False))
    assert "client.edit" in single.value.action
    stack.pop()
    stack.validate(model_info(2))


def test_len_repr_and_pop(stack: LayerStack) -> None:
    h, w = stack.shape
    assert len(stack) == 1 and repr(stack) == f"LayerStack(base {w}x{h} RGB, layers=[])"
    stack.add_mask(masks.rect(stack.shape, (0, 0, w // 2, h)))
    stack.add_overlay(Image.new("RGB", (8, 6)), (3, 4), 0.25)
    share = (w // 2) / w
    assert repr(stack) == (
        f"LayerStack(base {w}x{h} RGB, layers=[mask {share:.1%} selected, "
        "overlay 8x6 at (3, 4) opacity 0.25])"
    )
    assert stack.pop().kind == "overlay" and stack.pop().kind == "mask"
    with pytest.raises(IndexError, match="no layers"):
        stack.pop()


def test_preview_shows_each_layer_next_to_the_base(stack: LayerStack) -> None:
    h, w = stack.shape
    stack.add_mask(masks.rect(stack.shape, (0, 0, w, h)))  # everything: the tile turns red
    sheet = stack.preview(height=100)
    assert isinstance(sheet, Image.Image) and sheet.mode == "RGB"
    thumb_w = round(w * 100 / h)
    assert sheet.width >= 2 * thumb_w and sheet.height > 100
    base_tile = np.asarray(sheet)[8:108, 8:8 + thumb_w].astype(int)
    mask_tile = np.asarray(sheet)[8:108, -8 - thumb_w:-8].astype(int)
    redness = lambda tile: (tile[..., 0] - tile[..., 1:].mean(axis=-1)).mean()  # noqa: E731
    assert redness(mask_tile) > redness(base_tile) + 60


# ---------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("backend", REALISMS, indirect=True)
@pytest.mark.parametrize("upload", ["json", "multipart"])
def test_multi_edit_changes_only_masked_pixels(client: vnb.Client, stack: LayerStack,
                                               upload: str, backend: LocalBackend) -> None:
    """Exact: nothing outside the mask moves. Venice-like: the mask is a hint, so the answer
    moves pixels outside it too (what edit_region exists for)."""
    mask = masks.ellipse(stack.shape, (120, 60, 330, 240))
    stack.add_mask(mask)
    result = client.multi_edit(stack, "turn it blue", output_format="png", upload=upload)
    assert result.is_local and result.format == "png"
    out = np.asarray(result.image.convert("RGB")).astype(int)
    base = np.asarray(stack.base).astype(int)
    assert out.shape == base.shape
    visibly = (np.abs(out - base) > 8).any(axis=-1)
    assert visibly[mask == 255].mean() > 0.5
    if backend.config.realism == "exact":
        assert (out[mask == 0] == base[mask == 0]).all()
    else:
        assert (out != base).any(axis=-1)[mask == 0].mean() > 0.9  # a regenerated frame
        ring = (masks.grow(mask, 20) > 0) & (mask == 0)
        assert visibly[ring].mean() > 0.2  # the effect spills past the painted edge


@pytest.mark.parametrize("backend", REALISMS, indirect=True)
def test_feathered_mask_changes_nothing_beyond_the_feather(client: vnb.Client,
                                                           stack: LayerStack,
                                                           backend: LocalBackend) -> None:
    """Exact: nothing beyond the feather moves. Venice-like: the mask is a hint, so the edit
    spills past the feather; where edit_region matters."""
    hard = masks.rect(stack.shape, (150, 100, 300, 200))
    soft = masks.feather(hard, 12)
    result = client.multi_edit(stack.add_mask(soft), "make it black and white",
                               output_format="png")
    out = np.asarray(result.image.convert("RGB")).astype(int)
    base = np.asarray(stack.base).astype(int)
    reach = masks.grow(hard, 13) > 0  # the feather spreads <= 12 px in x and y
    core = masks.shrink(hard, 13) > 0
    change = np.abs(out - base).sum(axis=-1)
    if backend.config.realism == "exact":
        assert (out[~reach] == base[~reach]).all()
        ramp = (soft > 0) & (soft < 255)
        assert change[core].mean() > change[ramp].mean() > 0
    else:
        beyond = (masks.grow(hard, 30) > 0) & ~reach
        assert change[core].mean() > change[beyond].mean() > 3 * 8  # spilled, visibly


def test_overlay_shows_where_it_was_placed(client: vnb.Client, stack: LayerStack) -> None:
    h, w = stack.shape
    patch = Image.new("RGB", (60, 40), (20, 240, 20))
    mask = masks.rect(stack.shape, (w - 100, h - 80, w, h))  # edit a corner far away
    stack.add_overlay(patch, (30, 25)).add_mask(mask)
    result = client.multi_edit(stack, "add warm light", output_format="png")
    out = np.asarray(result.image.convert("RGB"))
    composited = np.asarray(
        Image.alpha_composite(stack.base.convert("RGBA"), stack.images()[1]).convert("RGB")
    )
    keep = mask == 0
    assert (out[keep] == composited[keep]).all()
    assert (out[25:65, 30:90] == (20, 240, 20)).all()
    assert not (out[100:140, 200:260] == (20, 240, 20)).all(axis=-1).any()


def test_a_stack_over_a_real_models_limit_is_refused_before_sending(
    client: vnb.Client, stack: LayerStack
) -> None:
    single = next(m for m in client.models() if m.max_input_images == 1)
    stack.add_mask(masks.rect(stack.shape, (0, 0, 40, 40)))
    with pytest.raises(vnb.ValidationError, match=single.id):
        stack.validate(single)
