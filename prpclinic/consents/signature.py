"""Checking a drawn signature sent from the tablet: a real, non-empty PNG of bounded size.

The canvas posts a ``data:image/png;base64,…`` URL. We decode it with Pillow (so a file that only
claims to be a PNG fails), bound its bytes and pixels (a decompression bomb must not reach the
decoder's full size), and require ink: a blank canvas is a transparent or single-colour image,
and a consent without a signature is no consent. Pure: no Django models.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image, ImageChops

PREFIX = "data:image/png;base64,"
MAX_BYTES = 300_000  # a finger-drawn signature on a tablet canvas is a few tens of kilobytes
MAX_SIDE = 3000
MIN_SIDE = 20
# At least this many pixels with ink: a tap or a stray dot is not a signature.
MIN_INK_PIXELS = 30

BLANK = "Sign in the box above: the signature is missing."


class SignatureError(ValueError):
    """Why a signature image is refused, in words for the person holding the tablet."""


def _ink_pixels(image: Image.Image) -> int:
    """Pixels that differ from the background (transparent, or the colour of the top-left corner)."""
    rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] < 255:  # transparent background: ink is what is opaque enough
        return sum(alpha.point(lambda a: 255 if a > 64 else 0).histogram()[255:])
    background = Image.new("RGB", rgba.size, rgba.getpixel((0, 0))[:3])  # type: ignore[index]
    difference = ImageChops.difference(rgba.convert("RGB"), background).convert("L")
    return sum(difference.point(lambda v: 255 if v > 48 else 0).histogram()[255:])


def decode_signature(data_url: str) -> bytes:
    """The PNG bytes of a drawn signature; raises ``SignatureError`` with a sentence when refused."""
    text = (data_url or "").strip()
    if not text:
        raise SignatureError(BLANK)
    if not text.startswith(PREFIX):
        raise SignatureError("The signature must come from the signing box (a PNG image).")
    encoded = text[len(PREFIX) :]
    if len(encoded) > MAX_BYTES * 4 // 3 + 4:
        raise SignatureError("The signature image is too large; clear the box and sign again.")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("The signature image is damaged; clear the box and sign again.") from None
    if len(raw) > MAX_BYTES:
        raise SignatureError("The signature image is too large; clear the box and sign again.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=["PNG"])
            width, height = image.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise SignatureError("The signature image has an unexpected size; clear the box and sign again.")
            image.load()  # decodes every chunk: a truncated or corrupt file fails here
    except SignatureError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SignatureError("The signature is not a readable PNG image; clear the box and sign again.") from None
    if _ink_pixels(image) < MIN_INK_PIXELS:
        raise SignatureError(BLANK)
    return raw


def data_url(png: bytes) -> str:
    """The PNG as a data URL, to embed in the PDF and the record page."""
    return PREFIX + base64.b64encode(bytes(png)).decode("ascii")
