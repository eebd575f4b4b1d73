"""What the learned-segmenter plug-in adds around the model, on a 12 Mpx photo-like image.

Run: ``python benchmarks/bench_segmenter.py [--quick]`` (needs the test extra: onnx and
onnxruntime). The model is the tests' tiny SAM-layout pair (tests/test_segmenter.py), whose own
cost is near zero, so the rows are venice_nb's part of a click: hashing the image for the
encoder cache, building the decoder's feed, and turning its 256 x 256 logits into the
full-resolution (or on-screen) mask; and of the one-time preparation: resizing, normalising
and padding the image for the encoder. A real SAM adds its own time on top (the ViT-B encoder
seconds once per image, the decoder tens of ms per click). Each row is the best-of-N wall time
and its ratio to one JPEG decode of the same image in the same run.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from _shared import photo_like, timings
from test_segmenter import build_decoder, build_encoder

from venice_nb import masks

PREVIEW = (720, 960)  # the painter's on-screen size for previews (height, width)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    repeat = 3 if ap.parse_args().quick else 7
    import onnxruntime as ort

    w, h = 4000, 3000
    img = photo_like(w, h)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    decode = min(timings(lambda: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")),
                         repeat))

    def session(model: bytes) -> ort.InferenceSession:
        return ort.InferenceSession(model, providers=["CPUExecutionProvider"])

    seg = masks.Segmenter(session(build_encoder()), session(build_decoder(radius=400)))
    seg.prepare(img)
    cold = masks.Segmenter(session(build_encoder()), session(build_decoder(radius=400)))

    def prepare() -> None:
        cold._cache.clear()  # forget the image, so the encoder step runs every time
        cold.prepare(img)

    point = [(w / 2, h / 2)]
    cases = {
        "prepare (resize, normalise, pad; tiny encoder)": prepare,
        "click -> full-resolution mask": lambda: seg.select(img, point),
        "click -> on-screen preview": lambda: seg.select(img, point, size=PREVIEW),
        "click with 2 includes, 1 exclude and a box": lambda: seg.select(
            img, [*point, (w / 2 + 80, h / 2)], [(100, 100)], box=(500, 500, 3500, 2500)),
    }
    print(f"12 Mpx ({w}x{h}); baseline: JPEG decode {decode * 1000:.1f} ms")
    print(f"{'case':50s} {'ms':>8s} {'x decode':>9s}")
    for label, fn in cases.items():
        best = min(timings(fn, repeat))
        print(f"{label:50s} {best * 1000:8.1f} {best / decode:9.2f}")


if __name__ == "__main__":
    main()
