"""Thumbnails per second per core: 1920x1080 JPEG photos in memory, through the image processor's thumbnailing.

`python -m bench.thumbnails [images]`. Only the work the processor does per upload is timed (decode, orient,
two resizes, two WebP encodes); no file or network I/O. The process is pinned to one CPU, and the rate is taken
over the CPU time it used (the wall-clock rate is printed beside it: on a shared machine it is lower).

The inputs look like photos to the codec: smooth gradients per channel, soft-edged shapes, and Gaussian grain
over everything, saved at JPEG quality 90 (4:2:0). Decoding the entropy-coded data costs the most, so the rate
depends on how much detail a photo holds: "photos" weigh about 0.6 MB each (a 1080p phone photo), "grainy"
ones about 0.8 MB (a high-ISO shot).
"""

from __future__ import annotations

import io
import os
import sys
import time

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from bench.run import machine
from mce.functions.image_processor.keys import THUMBNAIL_WIDTHS
from mce.functions.image_processor.thumbnails import make_thumbnails

WIDTH, HEIGHT = 1920, 1080
DISTINCT_INPUTS = 8
MAX_PIXELS = 50_000_000
TARGET_IMAGES_PER_S = 60
# How much of each pixel is grain: the two input sets.
GRAIN = {"photos": 0.10, "grainy": 0.18}


def photo(seed: int, grain: float, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A photo-like JPEG: gradients, soft shapes and grain, different for each seed."""
    across = Image.linear_gradient("L").rotate(90 + 37 * seed).resize((width, height))
    around = Image.radial_gradient("L").resize((width, height))
    picture = Image.merge("RGB", (across, around, ImageOps.invert(across)))
    draw = ImageDraw.Draw(picture)
    for n in range(40):
        x, y = (n * 397 + seed * 131) % width, (n * 211 + seed * 71) % height
        colour = ((n * 37 + seed * 11) % 256, (n * 91) % 256, (n * 53 + seed * 29) % 256)
        draw.ellipse((x, y, x + 120 + n * 6, y + 80 + n * 4), fill=colour)
    picture = picture.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((width, height), 60)
    picture = Image.blend(picture, Image.merge("RGB", (noise, noise, noise)), grain)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def pin_to_one_core() -> str:
    """Run on one CPU from here on, where the OS allows it; says which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def measure(grain: float, images: int = 400) -> dict:
    """Thumbnail the inputs round-robin `images` times; images/s and thumbnails/s per core, and sizes."""
    inputs = [photo(seed, grain) for seed in range(DISTINCT_INPUTS)]
    for data in inputs:  # warm up: codecs loaded, caches filled
        make_thumbnails(data, THUMBNAIL_WIDTHS, max_pixels=MAX_PIXELS)
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(images):
        thumbnails = make_thumbnails(inputs[n % len(inputs)], THUMBNAIL_WIDTHS, max_pixels=MAX_PIXELS)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "images": images,
        "input_bytes_mean": sum(len(data) for data in inputs) // len(inputs),
        "thumbnails": {t.nominal_width: (f"{t.width}x{t.height}", len(t.data)) for t in thumbnails},
        "cpu_s": cpu,
        "wall_s": wall,
        "images_per_s": images / cpu,
        "thumbnails_per_s": images * len(THUMBNAIL_WIDTHS) / cpu,
        "wall_images_per_s": images / wall,
    }


def main() -> None:
    images = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    lines = [f"machine: {machine()}, Pillow {Image.__version__} ({pin_to_one_core()})"]
    for name, grain in GRAIN.items():
        r = measure(grain, images)
        verdict = "meets" if r["images_per_s"] >= TARGET_IMAGES_PER_S else "MISSES"
        sizes = ", ".join(f"{w} px: {size} {n} B" for w, (size, n) in sorted(r["thumbnails"].items()))
        lines += [
            f"{name}: {images} {WIDTH}x{HEIGHT} JPEGs of {r['input_bytes_mean'] / 1e6:.2f} MB mean, "
            f"{r['cpu_s'] / images * 1000:.1f} ms CPU each",
            f"  per core: {r['images_per_s']:.1f} images/s, {r['thumbnails_per_s']:.1f} thumbnails/s "
            f"({len(THUMBNAIL_WIDTHS)} per image; wall clock {r['wall_images_per_s']:.1f} images/s) - "
            f"{verdict} the target of {TARGET_IMAGES_PER_S} images/s",
            f"  thumbnails: {sizes}",
        ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
