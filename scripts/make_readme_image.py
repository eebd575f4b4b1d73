"""Regenerate docs/img/before-after.jpg, the README's picture, on the local backend."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

import venice_nb as vnb

PROMPT = "change the sky to a sunrise"
OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "before-after.jpg"


def main() -> None:
    with vnb.Client() as client:
        result = client.edit(vnb.sample("rocket"), PROMPT, model="qwen-image-2-edit")
    before = Image.open(vnb.sample("rocket")).convert("RGB")
    after = result.image.convert("RGB").resize(before.size)
    w, h = before.size
    sheet = Image.new("RGB", (2 * w + 30, h + 40), "white")
    sheet.paste(before, (10, 30))
    sheet.paste(after, (w + 20, 30))
    draw = ImageDraw.Draw(sheet)
    draw.text((10, 8), "before: rocket.jpg", fill="black")
    draw.text((w + 20, 8), f'after: "{PROMPT}" ({result.backend_label})', fill="black")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT, quality=85, optimize=True)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
