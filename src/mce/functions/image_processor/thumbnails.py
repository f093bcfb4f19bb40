"""Decode an uploaded image safely and make its WebP thumbnails (pure: bytes in, bytes out).

Safety: only JPEG, PNG, WebP and GIF decoders are tried; the pixel count is checked from the header before any
pixel is decoded, and Pillow's own decompression-bomb warning is an error; a truncated or malformed file is
refused. Speed: a JPEG is decoded straight at the smallest DCT scale that still covers the largest thumbnail
(Image.draft), and a resize first reduces by whole factors (reducing_gap) before the Hamming filter.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# EXIF orientations 5-8 turn the picture a quarter, so its width on screen is its stored height.
_QUARTER_TURNS = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112
# Pillow filters with the kernel widened by the scale factor, so even a short kernel antialiases a reduction.
# Hamming takes 3.1 ms from 960x540 to 512x288 on one core here, bicubic 5.0 and Lanczos 7.2: with the decode
# (4-8 ms) and the encode, only the shortest kernel keeps a 1080p photo inside the 60 images/s/core budget.
RESAMPLE = Image.Resampling.HAMMING
REDUCING_GAP = 3.0
WEBP_QUALITY = 80
# libwebp's method 2 encodes 512x288 in 3.4 ms against 8.8 ms for the default 4, for files about 5% larger.
WEBP_METHOD = 2


class Rejected(Exception):
    """The bytes are not an image we make thumbnails of; `reason` is a short stable code for logs and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Thumbnail:
    """One WebP thumbnail: its nominal width, its real size, and its bytes."""

    nominal_width: int
    width: int
    height: int
    data: bytes


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image's header parsed, or Rejected; no pixel is decoded yet."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected("decompression_bomb", str(exc)) from None
    except UnidentifiedImageError:
        raise Rejected("not_an_image", f"not a {'/'.join(ALLOWED_FORMATS)} image") from None
    except Exception as exc:  # a malformed header can raise almost anything from a decoder plugin
        raise Rejected("corrupt", f"{type(exc).__name__}: {exc}") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise Rejected("corrupt", f"declares {width}x{height} pixels")
    if width * height > max_pixels:
        raise Rejected("decompression_bomb", f"declares {width}x{height} pixels, more than {max_pixels}")
    return image


def _displayed_size(image: Image.Image) -> tuple[int, int]:
    """Width and height once its EXIF orientation is applied."""
    orientation = image.getexif().get(_ORIENTATION_TAG)
    width, height = image.size
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def _fit(width: int, height: int, target: int) -> tuple[int, int]:
    """The size `target` pixels wide with the aspect ratio kept, never wider than the source (no upscaling)."""
    if width <= target:
        return width, height
    return target, max(1, round(height * target / width))


def _decode(image: Image.Image, largest: int) -> Image.Image:
    """The pixels, upright, as RGB or (when it has transparency) RGBA; a JPEG at the smallest scale that will do."""
    if image.format == "JPEG":
        shown_w, shown_h = _displayed_size(image)
        want_w, want_h = _fit(shown_w, shown_h, largest)
        if (shown_w, shown_h) != image.size:
            want_w, want_h = want_h, want_w
        # draft picks the smallest 1/2, 1/4 or 1/8 scale at least this big in both directions.
        image.draft("RGB", (want_w, want_h))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("I", "I;16", "I;16B", "I;16L"):
        # 16-bit grey (PNG): converting straight to RGB clips every value above 255 to white; scale it instead.
        upright = upright.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    mode = "RGBA" if upright.has_transparency_data else "RGB"
    return upright if upright.mode == mode else upright.convert(mode)


def _rgb_icc_profile(image: Image.Image) -> bytes | None:
    """The source's ICC profile when it describes RGB (a CMYK or grey one would miscolour RGB output)."""
    profile = image.info.get("icc_profile")
    # Bytes 16-19 of an ICC header name the colour space of the data it describes.
    return profile if isinstance(profile, bytes) and profile[16:20] == b"RGB " else None


def _webp(image: Image.Image, icc_profile: bytes | None) -> bytes:
    """The image as WebP; the same pixels always give the same bytes (no timestamps, no EXIF)."""
    out = io.BytesIO()
    options = {"quality": WEBP_QUALITY, "method": WEBP_METHOD}
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(out, "WEBP", **options)
    return out.getvalue()


def make_thumbnails(data: bytes, widths: Sequence[int], *, max_pixels: int) -> list[Thumbnail]:
    """WebP thumbnails of the image at each nominal width (widest first), upright; Rejected when it is no image.

    EXIF (the camera, the place it was taken) is dropped; an RGB colour profile is kept.
    """
    image = _open(data, max_pixels)
    icc_profile = _rgb_icc_profile(image)
    try:
        pixels = _decode(image, max(widths))
    except Image.DecompressionBombWarning as exc:
        raise Rejected("decompression_bomb", str(exc)) from None
    except Exception as exc:  # truncated data, a bad chunk, a decoder that gives up
        raise Rejected("corrupt", f"{type(exc).__name__}: {exc}") from None
    thumbnails = []
    # Each smaller thumbnail is made from the previous one: less to filter, and the result is as good.
    source = pixels
    for nominal in sorted(widths, reverse=True):
        size = _fit(source.width, source.height, nominal)
        if size != source.size:
            source = source.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)
        thumbnails.append(Thumbnail(nominal, source.width, source.height, _webp(source, icc_profile)))
    return thumbnails
