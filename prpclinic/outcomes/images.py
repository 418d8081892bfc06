"""Checking and cleaning an uploaded photo: pure Pillow, no Django.

A photo is accepted by its content, never by its name: Pillow must recognise it as one of the
allowed formats, ``verify()`` it, then decode every pixel (``load()``), which finds truncated
files. The stored file is re-encoded from the pixels alone, after the EXIF orientation is
applied, so no EXIF, GPS, device, XMP or ICC metadata survives.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
THUMB_SIDE = 320
OUTLINE_SIDE = 960
OUTLINE_RELATIVE = 0.2
# Below this Sobel strength (about 5 grey levels across 3 pixels) an edge is noise, not the subject.
OUTLINE_FLOOR = 20.0
# The outline's colour: bright green reads over skin, hair and a dark room alike.
OUTLINE_RGB = (60, 255, 140)
JPEG_QUALITY = 92


class ImageRefused(ValueError):
    """The upload is not a usable photo; the message is for the user, next to the file field."""


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    thumb: bytes
    extension: str  # "jpg" or "png"
    content_type: str
    width: int
    height: int
    source_format: str


def clean_photo(raw: bytes, *, max_bytes: int, max_pixels: int) -> CleanPhoto:
    """Check ``raw`` and return the cleaned photo and its thumbnail; ImageRefused otherwise."""
    if len(raw) > max_bytes:
        raise ImageRefused(f"The file is too large: at most {max_bytes / (1024 * 1024):.3g} MB.")
    if not raw:
        raise ImageRefused("The file is empty.")
    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; our own limit is checked on
    # the header's size before any pixel is decoded, and both of Pillow's signals become a refusal.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as probe:
                source_format = probe.format or ""
                if source_format not in ALLOWED_FORMATS:
                    raise ImageRefused("Upload a JPEG, PNG or WebP photo.")
                width, height = probe.size
                if width * height > max_pixels:
                    raise ImageRefused(
                        f"The image is {width}×{height} pixels; at most {max_pixels / 1_000_000:g} megapixels "
                        "are accepted."
                    )
                probe.verify()
            with Image.open(io.BytesIO(raw)) as image:
                _load_strictly(image)
                upright = ImageOps.exif_transpose(image)
        except ImageRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRefused("The image is too large to open safely (a decompression bomb?).") from None
        except UnidentifiedImageError:
            raise ImageRefused("The file is not a photo (JPEG, PNG or WebP).") from None
        except (OSError, SyntaxError, ValueError, EOFError):
            # Pillow's signals for a truncated or corrupt file.
            raise ImageRefused("The image is damaged or incomplete; take or upload it again.") from None
    keep_png = source_format == "PNG"
    pixels = _pixels_only(upright, keep_alpha=keep_png)
    data = _encode(pixels, png=keep_png)
    thumb_image = pixels.copy()
    thumb_image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    thumb = _encode(thumb_image.convert("RGB"), png=False)
    return CleanPhoto(
        data=data,
        thumb=thumb,
        extension="png" if keep_png else "jpg",
        content_type="image/png" if keep_png else "image/jpeg",
        width=pixels.width,
        height=pixels.height,
        source_format=ALLOWED_FORMATS[source_format],
    )


def _load_strictly(image: Image.Image) -> None:
    """Decode every pixel, refusing a truncated file.

    WeasyPrint sets Pillow's global ``LOAD_TRUNCATED_IMAGES`` on import, which would let a cut-off
    photo load with a grey band; for the length of this load it is turned off again.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _pixels_only(image: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """A new image made of the pixels alone: no info dict, EXIF, ICC profile or text chunks."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if keep_alpha and has_alpha else "RGB"
    converted = image.convert(mode)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _encode(image: Image.Image, *, png: bool) -> bytes:
    out = io.BytesIO()
    if png:
        image.save(out, format="PNG", optimize=False)
    else:
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def outline(stored: bytes, *, side: int = OUTLINE_SIDE) -> bytes:
    """The outline of a stored photo as a transparent PNG: the framing guide drawn over the live camera.

    Edges only (head, hairline, part, ears, features) so that the live image stays fully visible
    under it. ``stored`` is one of our own cleaned files, already upright and without metadata.
    A simple edge finder: blur (so skin texture, single hairs and sensor noise give none), the
    Sobel gradient, thin lines along the gradient, keep the edges at least a fifth as strong as the
    strongest ones, thicken them to about 3 pixels to read on a tablet.
    """
    with Image.open(io.BytesIO(stored)) as image:
        image.draft("L", (side, side))  # JPEG: decode at a reduced scale, fast on a 12 MP photo
        gray = image.convert("L")
    gray.thumbnail((side, side))
    a = np.asarray(gray.filter(ImageFilter.GaussianBlur(2.5)), dtype=np.float32)
    gx = np.zeros_like(a)
    gy = np.zeros_like(a)
    # Sobel on the inner pixels; the picture's own border is no edge of the subject.
    gx[1:-1, 1:-1] = (a[:-2, 2:] + 2 * a[1:-1, 2:] + a[2:, 2:]) - (a[:-2, :-2] + 2 * a[1:-1, :-2] + a[2:, :-2])
    gy[1:-1, 1:-1] = (a[2:, :-2] + 2 * a[2:, 1:-1] + a[2:, 2:]) - (a[:-2, :-2] + 2 * a[:-2, 1:-1] + a[:-2, 2:])
    magnitude = np.hypot(gx, gy)
    # Thin: keep a pixel only where it is the strongest across the edge (horizontal or vertical).
    across_x = np.abs(gx) >= np.abs(gy)
    left, right = np.roll(magnitude, 1, axis=1), np.roll(magnitude, -1, axis=1)
    up, down = np.roll(magnitude, 1, axis=0), np.roll(magnitude, -1, axis=0)
    ridge = np.where(across_x, (magnitude >= left) & (magnitude >= right), (magnitude >= up) & (magnitude >= down))
    cut = max(OUTLINE_FLOOR, float(np.percentile(magnitude, 99.5)) * OUTLINE_RELATIVE)
    mask = Image.fromarray(((magnitude >= cut) & ridge).astype(np.uint8) * 255, mode="L")
    mask = mask.filter(ImageFilter.MaxFilter(3))
    guide = Image.new("RGBA", gray.size, (*OUTLINE_RGB, 0))
    guide.putalpha(mask)
    out = io.BytesIO()
    guide.save(out, format="PNG", optimize=True)
    return out.getvalue()
