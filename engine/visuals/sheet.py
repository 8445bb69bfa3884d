"""A contact sheet for `shaders check --sheet out.png`: one tile per shader checked.

Each tile is the shader's last frame (or, where it failed, its error) over a label:
a bar in the colour of its status (green ok, grey black, red error), its name and
status. Text is drawn with the tiny bitmap font below (5x7, upper case), so the
sheet needs nothing beyond numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.visuals.check import CheckResult

TILE = (160, 90)  # the thumbnail, pixels
LABEL = 24  # the label under it: a status bar and two lines of text
GAP = 4
STATUS_COLOURS = {"ok": (60, 200, 90), "black": (128, 128, 128), "error": (220, 50, 50)}
BACKGROUND = (24, 24, 28)

# 5x7 glyphs, one 5-bit row each (most significant bit on the left)
_GLYPHS: dict[str, tuple[int, ...]] = {
    "A": (14, 17, 17, 31, 17, 17, 17), "B": (30, 17, 17, 30, 17, 17, 30),
    "C": (14, 17, 16, 16, 16, 17, 14), "D": (30, 17, 17, 17, 17, 17, 30),
    "E": (31, 16, 16, 30, 16, 16, 31), "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15), "H": (17, 17, 17, 31, 17, 17, 17),
    "I": (14, 4, 4, 4, 4, 4, 14), "J": (7, 2, 2, 2, 2, 18, 12),
    "K": (17, 18, 20, 24, 20, 18, 17), "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17), "N": (17, 17, 25, 21, 19, 17, 17),
    "O": (14, 17, 17, 17, 17, 17, 14), "P": (30, 17, 17, 30, 16, 16, 16),
    "Q": (14, 17, 17, 17, 21, 18, 13), "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30), "T": (31, 4, 4, 4, 4, 4, 4),
    "U": (17, 17, 17, 17, 17, 17, 14), "V": (17, 17, 17, 17, 17, 10, 4),
    "W": (17, 17, 17, 21, 21, 21, 10), "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 17, 10, 4, 4, 4), "Z": (31, 1, 2, 4, 8, 16, 31),
    "0": (14, 17, 19, 21, 25, 17, 14), "1": (4, 12, 4, 4, 4, 4, 14),
    "2": (14, 17, 1, 2, 4, 8, 31), "3": (31, 2, 4, 2, 1, 17, 14),
    "4": (2, 6, 10, 18, 31, 2, 2), "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14), "7": (31, 1, 2, 4, 8, 8, 8),
    "8": (14, 17, 17, 14, 17, 17, 14), "9": (14, 17, 17, 15, 1, 2, 12),
    " ": (0,) * 7, ".": (0, 0, 0, 0, 0, 12, 12), "_": (0, 0, 0, 0, 0, 0, 31),
    "-": (0, 0, 0, 31, 0, 0, 0), ":": (0, 12, 12, 0, 12, 12, 0),
    "/": (0, 1, 2, 4, 8, 16, 0), "(": (2, 4, 8, 8, 8, 4, 2), ")": (8, 4, 2, 2, 2, 4, 8),
    ",": (0, 0, 0, 0, 12, 4, 8), "'": (12, 4, 8, 0, 0, 0, 0), "`": (8, 4, 2, 0, 0, 0, 0),
    "=": (0, 0, 31, 0, 31, 0, 0), "?": (14, 17, 1, 2, 4, 0, 4), "!": (4, 4, 4, 4, 4, 0, 4),
    "+": (0, 4, 4, 31, 4, 4, 0), "*": (0, 4, 21, 14, 21, 4, 0), ";": (0, 12, 12, 0, 12, 4, 8),
    "[": (14, 8, 8, 8, 8, 8, 14), "]": (14, 2, 2, 2, 2, 2, 14), '"': (10, 10, 0, 0, 0, 0, 0),
    "<": (2, 4, 8, 16, 8, 4, 2), ">": (8, 4, 2, 1, 2, 4, 8), "#": (10, 10, 31, 10, 31, 10, 10),
    "%": (24, 25, 2, 4, 8, 19, 3), "$": (4, 15, 20, 14, 5, 30, 4),
}  # fmt: skip
_BITS = 1 << np.arange(4, -1, -1)


def glyph(char: str) -> np.ndarray:
    """(7, 5) bool: a character in the bitmap font (lower case drawn as upper, unknown as ?)."""
    rows = _GLYPHS.get(char.upper(), _GLYPHS["?"])
    return (np.array(rows)[:, None] & _BITS) > 0


def draw_text(
    img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int], width: int
) -> None:
    """Write `text` into `img` (h, w, 3) from (x, y) top left, cut at `width` pixels."""
    for i, char in enumerate(text[: max(0, width // 6)]):
        gx = x + i * 6
        region = img[y : y + 7, gx : gx + 5]
        mask = glyph(char)[: region.shape[0], : region.shape[1]]
        region[mask] = colour


def _thumbnail(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (h, w, 3) top-row-first image resized to `size`, each pixel the mean of what it
    covers: a dither or a fine pattern keeps its brightness (picking every other pixel
    can turn a dithered picture black)."""
    from PIL import Image

    rgb = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def tile_origin(index: int, columns: int) -> tuple[int, int]:
    """Top-left pixel of tile `index` on a sheet of `columns` columns."""
    row, col = divmod(index, columns)
    return GAP + col * (TILE[0] + GAP), GAP + row * (TILE[1] + LABEL + GAP)


def contact_sheet(results: Sequence[CheckResult], columns: int = 6) -> np.ndarray:
    """(h, w, 3) uint8: a tile per result, in order, `columns` to a row."""
    columns = max(1, min(columns, len(results) or 1))
    rows = max(1, math.ceil(len(results) / columns))
    w = GAP + columns * (TILE[0] + GAP)
    h = GAP + rows * (TILE[1] + LABEL + GAP)
    sheet = np.empty((h, w, 3), np.uint8)
    sheet[:] = BACKGROUND
    for index, r in enumerate(results):
        x, y = tile_origin(index, columns)
        status, image = r.status, r.image
        cell = sheet[y : y + TILE[1], x : x + TILE[0]]
        if image is not None:
            cell[:] = _thumbnail(np.asarray(image), TILE)
        else:
            cell[:] = (60, 16, 16)
            message = f"line {r.line}: {r.message}" if r.line else r.message
            per = TILE[0] // 6 - 1
            for k in range(min(9, math.ceil(len(message) / per))):
                chunk = message[k * per : (k + 1) * per]
                draw_text(sheet, chunk, x + 3, y + 3 + k * 9, (255, 200, 200), TILE[0] - 6)
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["error"])
        sheet[y + TILE[1] : y + TILE[1] + 3, x : x + TILE[0]] = colour
        name = r.path.name
        draw_text(sheet, name, x + 1, y + TILE[1] + 5, (235, 235, 235), TILE[0] - 2)
        draw_text(sheet, status, x + 1, y + TILE[1] + 15, colour, TILE[0] - 2)
    return sheet
