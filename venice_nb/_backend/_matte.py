"""Background removal (``/image/background-remove``): the image with the subject matte of
``_subject`` as its alpha, so removal and the "background"/"subject" words of a prompt agree on
what the subject is (on a plain backdrop the matte is exact, see ``_subject.alpha_matte``)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ._pixels import eight_bit
from ._subject import subject_region


def remove_background(img: Image.Image) -> Image.Image:
    """The image as RGBA with the background made transparent (existing alpha respected)."""
    img = eight_bit(img)
    alpha = np.asarray(subject_region(img))
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        alpha = np.minimum(alpha, np.asarray(img.convert("RGBA").getchannel("A")))
    out = img.convert("RGB")
    out.putalpha(Image.fromarray(alpha))
    return out
