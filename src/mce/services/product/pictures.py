"""Demo pictures drawn with Pillow: a category's colour and motif and the product's initial; no downloads.

A picture depends only on the category and the initial, so a catalog of any size draws and encodes at most a few
hundred (ten categories, some 26 initials each) and reuses their bytes: the product's name is under its picture
on every page anyway. Drawing each product's name on its own picture cost 1.2 ms more per product.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from functools import cache

from PIL import Image, ImageDraw, ImageFont

# 512 wide: the image processor's larger thumbnail is made without enlarging anything; 4:3 like the shop's cards.
WIDTH, HEIGHT = 512, 384
JPEG_QUALITY = 78

Motif = Callable[[ImageDraw.ImageDraw, tuple[int, int, int]], None]


def _screen(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    draw.rounded_rectangle((156, 40, 356, 170), 12, outline=ink, width=10)
    draw.rectangle((236, 170, 276, 196), fill=ink)
    draw.rounded_rectangle((196, 196, 316, 208), 6, fill=ink)


def _cup(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    draw.rounded_rectangle((196, 70, 296, 190), 14, outline=ink, width=10)
    draw.arc((276, 100, 336, 160), -90, 90, fill=ink, width=10)
    for x in (216, 246, 276):
        draw.arc((x - 12, 30, x + 12, 66), 90, 270, fill=ink, width=5)


def _books(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    for i, (left, height) in enumerate(((176, 130), (212, 150), (248, 120), (284, 145))):
        top = 200 - height
        draw.rectangle((left, top, left + 30, 200), outline=ink, width=6)
        draw.line((left + 6, top + 20 + 8 * i, left + 24, top + 20 + 8 * i), fill=ink, width=4)
    draw.line((160, 204, 352, 204), fill=ink, width=8)


def _ball(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    draw.ellipse((191, 45, 321, 175), outline=ink, width=10)
    draw.arc((151, 45, 281, 175), -60, 60, fill=ink, width=7)
    draw.arc((231, 45, 361, 175), 120, 240, fill=ink, width=7)


def _blocks(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    for box in ((176, 130, 246, 200), (266, 130, 336, 200), (221, 55, 291, 125)):
        draw.rounded_rectangle(box, 8, outline=ink, width=9)


def _bottle(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    draw.rounded_rectangle((216, 80, 296, 200), 18, outline=ink, width=10)
    draw.rectangle((238, 40, 274, 80), outline=ink, width=8)
    draw.line((236, 130, 276, 130), fill=ink, width=6)


def _shirt(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    outline = [(206, 45), (236, 60), (276, 60), (306, 45), (356, 85), (326, 115), (306, 100), (306, 200),
               (206, 200), (206, 100), (186, 115), (156, 85)]  # fmt: skip
    draw.polygon(outline, outline=ink, width=9)


def _leaf(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    # A pointed leaf tilted up to the right: half-width follows sin() along its length, then a midrib and a stem.
    along, across = (0.8, -0.6), (0.6, 0.8)
    half = [(t / 20, 42 * math.sin(math.pi * t / 20)) for t in range(21)]
    outline = [(-85 + 170 * u, w) for u, w in half] + [(-85 + 170 * u, -w) for u, w in reversed(half)]
    points = [(256 + x * along[0] + y * across[0], 120 + x * along[1] + y * across[1]) for x, y in outline]
    draw.polygon(points, outline=ink, width=9)
    draw.line((256 - 85 * along[0], 120 - 85 * along[1], 256 + 70 * along[0], 120 + 70 * along[1]), fill=ink, width=6)
    draw.line((256 - 85 * along[0], 120 - 85 * along[1], 256 - 115 * along[0], 120 - 115 * along[1]), fill=ink, width=8)


def _basket(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    draw.arc((196, 30, 316, 150), 180, 360, fill=ink, width=9)
    draw.polygon([(166, 100), (346, 100), (321, 200), (191, 200)], outline=ink, width=9)
    for x in (221, 256, 291):
        draw.line((x, 115, x, 185), fill=ink, width=6)


def _clip(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    draw.rounded_rectangle((196, 50, 316, 200), 10, outline=ink, width=9)
    draw.rounded_rectangle((231, 36, 281, 64), 6, fill=ink)
    for y in (100, 130, 160):
        draw.line((221, y, 291, y), fill=ink, width=6)


def _rings(draw: ImageDraw.ImageDraw, ink: tuple[int, int, int]) -> None:
    for r in (30, 55, 80):
        draw.ellipse((256 - r, 120 - r, 256 + r, 120 + r), outline=ink, width=8)


# Category -> (background, ink, motif); a category an admin added later gets a colour from its name and rings.
STYLES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], Motif]] = {
    "Electronics": ((38, 70, 120), (214, 228, 255), _screen),
    "Home & Kitchen": ((196, 112, 60), (255, 238, 220), _cup),
    "Books": ((110, 52, 70), (250, 226, 214), _books),
    "Sports & Outdoors": ((36, 120, 84), (220, 248, 230), _ball),
    "Toys & Games": ((232, 170, 40), (90, 50, 10), _blocks),
    "Beauty": ((214, 120, 160), (255, 240, 246), _bottle),
    "Clothing": ((70, 80, 96), (236, 240, 246), _shirt),
    "Garden": ((96, 140, 52), (238, 250, 220), _leaf),
    "Grocery": ((170, 60, 40), (255, 236, 214), _basket),
    "Office": ((90, 96, 160), (232, 234, 255), _clip),
}


def _style(category: str) -> tuple[tuple[int, int, int], tuple[int, int, int], Motif]:
    if category in STYLES:
        return STYLES[category]
    digest = hashlib.sha256(category.encode()).digest()
    background = (60 + digest[0] % 120, 60 + digest[1] % 120, 60 + digest[2] % 120)
    return background, (245, 245, 245), _rings


@cache
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's own built-in font, at the size of the initial."""
    return ImageFont.load_default(size=120)


def draw_picture(category: str, name: str) -> bytes:
    """A JPEG for the product: its category's colour and motif, and its initial in a disc."""
    initial = name.strip()[:1].upper() or "?"
    return _picture(category, initial if initial.isalnum() else "?")


@cache
def _picture(category: str, initial: str) -> bytes:
    background, ink, motif = _style(category)
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    motif(draw, ink)
    draw.ellipse((191, 232, 321, 362), fill=ink)
    draw.text((256, 297), initial, font=_font(), fill=background, anchor="mm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
