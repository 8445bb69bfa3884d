"""The test card: what an image input shows when nothing is plugged into it.

A filter (an ISF file with an `inputImage`) drawn over black draws black, so a
black frame would say nothing. Every unplugged image input shows this card instead:
a photo-like scene (a dusk sky, a sun, two hills, a lake with a ripple) over a grey
ramp and colour bars, with a checkerboard corner. It has smooth gradients and hard
edges in every direction, every hue, and no symmetry (flips show). It is shipped as
`shaders/images/test_card.png`; :func:`make_test_card` draws it again
(`python -m engine.visuals.testcard` rewrites the file).
"""

from __future__ import annotations

import struct
import zlib
from functools import cache
from pathlib import Path

import numpy as np

from engine.visuals.shaders import SHADER_DIR

TEST_CARD = SHADER_DIR / "images" / "test_card.png"
SIZE = (320, 180)


def make_test_card(size: tuple[int, int] = SIZE) -> np.ndarray:
    """(h, w, 4) uint8, top row first."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / (w - 1), 1.0 - y / (h - 1)  # v: 0 at the bottom
    sky = np.stack([0.15 + 0.8 * (1 - v), 0.2 + 0.35 * (1 - v), 0.55 + 0.35 * v], -1)
    img = sky.copy()
    sun = np.hypot((u - 0.7) * w / h, v - 0.72) < 0.11
    img[sun] = (1.0, 0.85, 0.35)
    far = v < 0.42 + 0.06 * np.sin(u * 9.0 + 1.0)
    img[far] = np.stack([0.25 + 0.1 * u, 0.35 + 0.1 * u, 0.45 + 0 * u], -1)[far]
    near = v < 0.3 + 0.1 * np.sin(u * 4.0 + 2.5) + 0.02 * np.sin(u * 37.0)
    img[near] = np.stack([0.12 + 0.2 * v, 0.4 + 0.3 * v, 0.15 + 0 * v], -1)[near]
    lake = (v < 0.3) & (np.abs(u - 0.3) < 0.18 - (0.3 - v) * 0.4)
    ripple = 0.5 + 0.5 * np.sin(v * 160.0 + u * 20.0)
    img[lake] = np.stack([0.2 + 0.3 * ripple, 0.35 + 0.3 * ripple, 0.6 + 0.3 * ripple], -1)[lake]
    bars = v < 0.12  # the bottom: colour bars over a grey ramp
    hue = np.floor(u * 8.0) / 8.0
    rgb = np.clip(np.abs(((hue[..., None] * 6.0 + (0.0, 4.0, 2.0)) % 6.0) - 3.0) - 1.0, 0, 1)
    img[bars] = rgb[bars]
    ramp = v < 0.05
    img[ramp] = np.repeat(u[..., None], 3, -1)[ramp]
    check = (u < 0.16) & (v > 0.8)  # top left: a checkerboard, 8-pixel squares
    squares = ((x // 8 + y // 8) % 2)[..., None] * 0.8 + 0.1
    img[check] = np.repeat(squares, 3, -1)[check]
    out = np.full((h, w, 4), 255, np.uint8)
    out[..., :3] = np.round(np.clip(img, 0.0, 1.0) * 255.0)
    return out


def encode_png(rgba: np.ndarray) -> bytes:
    """(h, w, 4) uint8, top row first, as a PNG (RGBA, 8 bits, no filter)."""
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    idat = zlib.compress(np.ascontiguousarray(raw).tobytes(), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@cache
def load_test_card() -> np.ndarray:
    """The shipped card (read once), or a freshly drawn one if the file is missing."""
    from engine.visuals.dialect_base import load_image

    try:
        return load_image(TEST_CARD)
    except (OSError, ValueError):
        return make_test_card()


if __name__ == "__main__":
    Path(TEST_CARD).write_bytes(encode_png(make_test_card()))
    print(TEST_CARD)
