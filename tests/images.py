"""Images made in memory with Pillow for the image processor's tests: nothing is downloaded or read from disk."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

RED = (220, 20, 20)
GREEN = (20, 200, 20)


def encode(image: Image.Image, format: str, **options: object) -> bytes:
    """The image saved in that format."""
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def marked_jpeg(width: int, height: int, orientation: int = 1, exif: dict[int, str] | None = None) -> bytes:
    """A green JPEG with a red block in its stored top-left corner, that EXIF orientation and other EXIF tags."""
    image = Image.new("RGB", (width, height), GREEN)
    image.paste(RED, (0, 0, width // 4, height // 4))
    tags = Image.Exif()
    tags[0x0112] = orientation
    for tag, value in (exif or {}).items():
        tags[tag] = value
    return encode(image, "JPEG", quality=92, exif=tags)


def half_transparent_png(width: int = 800, height: int = 400) -> bytes:
    """An RGBA PNG: the left half fully transparent, the right half opaque red."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((*RED, 255), (width // 2, 0, width, height))
    return encode(image, "PNG")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares width x height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A few rows of zeros, compressed: the file stays tiny whatever it claims.
    pixels = zlib.compress(b"\x00" * (1 + 3 * min(width, 1000)) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def two_frame_gif(width: int = 300, height: int = 200) -> bytes:
    """An animated GIF whose first frame is red and second green."""
    frames = [Image.new("RGB", (width, height), colour) for colour in (RED, GREEN)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def near(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    """Whether two colours agree channel by channel within a tolerance (lossy codecs shift them a little)."""
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))
