"""The overlay's text: a 5x7 bitmap font in 6x8 cells, drawn for this project (ASCII
32..126; anything else shows as '?'): eight rows a glyph, one byte a row, 0x10 the
leftmost pixel. And the layout of text into lines: fitting, wrapping, the error list."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

FONT_HEX = (
    "000000000000000004040404040004000a0a0a00000000000a0a1f0a1f0a0a00040f140e051e0400"
    "18190204081303000c12140815120d00040408000000000002040808080402000804020202040800"
    "0004150e150400000004041f0404000000000000000c04080000000e0000000000000000000c0c00"
    "00010204081000000e11131519110e00040c040404040e000e11010204081f001f02040201110e00"
    "02060a121f0202001f101e0101110e000608101e11110e001f010204080808000e11110e11110e00"
    "0e11110f01020c00000c0c000c0c0000000c0c000c040800020408100804020000001f001f000000"
    "08040201020408000e110102040004000e11010d15150e000e11111f111111001e11111e11111e00"
    "0e11101010110e001c12111111121c001f10101e10101f001f10101e101010000e11101711110f00"
    "1111111f111111000e04040404040e000702020202120c0011121418141211001010101010101f00"
    "111b15151111110011111915131111000e11111111110e001e11111e101010000e11111115120d00"
    "1e11111e141211000f10100e01011e001f040404040404001111111111110e0011111111110a0400"
    "1111111515150a0011110a040a1111001111110a040404001f01020408101f000e08080808080e00"
    "00100804020100000e02020202020e00040a110000000000000000000000001f0804020000000000"
    "00000e010f110f001010161911111e0000000e1010110e0001010d1311110f0000000e111f100e00"
    "0609081c0808080000000f11110f010e101016191111110004000c0404040e00020006020202120c"
    "10101214181412000c04040404040e0000001a1515111100000016191111110000000e1111110e00"
    "00001e11111e101000000f11110f0101000016191010100000000e100e011e0008081c0808090600"
    "0000111111130d0000001111110a04000000111115150a000000110a040a110000001111110f010e"
    "00001f0204081f000204040804040200040404040404040008040402040408000000081502000000"
)
FIRST, GLYPHS = 32, 95  # the atlas holds ASCII 32..126
UNKNOWN = ord("?") - FIRST
ADV, GLYPH_H = 6, 8  # glyph advance, cell height (pixels at scale 1)
ERROR_LINES, LINES_PER_ERROR = 6, 3


def font_atlas() -> np.ndarray:
    """The font as a (8, 6 * 95) uint8 image, 255 where a glyph is lit, top row first."""
    rows = np.frombuffer(bytes.fromhex("".join(FONT_HEX)), np.uint8).reshape(GLYPHS, GLYPH_H)
    # (glyph, row, column): five columns from bit 4 down, then the empty sixth
    bits = ((rows[:, :, None] << 1) >> np.arange(ADV - 1, -1, -1)) & 1
    return (bits.transpose(1, 0, 2).reshape(GLYPH_H, GLYPHS * ADV) * 255).astype(np.uint8)


def to_ascii(text: str) -> str:
    """What the font can show: accents dropped (e -> e), anything else '?'."""
    if text.isascii():
        return text
    return "".join(
        c if c.isascii() else (unicodedata.normalize("NFKD", c)[:1] if c.isalpha() else "?")
        for c in text
    )


def glyph_codes(text: str) -> np.ndarray:
    """Atlas indices for a string: '?' for what the font lacks."""
    codes = (
        np.frombuffer(to_ascii(text).encode("ascii", "replace"), np.uint8).astype(np.int32) - FIRST
    )
    codes[(codes < 0) | (codes >= GLYPHS)] = UNKNOWN
    return codes


def fit(text: str, cols: int) -> str:
    """One line of at most `cols` characters, cut with '...' where it is longer."""
    if len(text) <= cols:
        return text
    return text[: cols - 3] + "..." if cols > 3 else text[: max(cols, 0)]


def wrap(text: str, cols: int, max_lines: int) -> list[str]:
    """`text` in lines of at most `cols` characters, broken at a space where one is near,
    continued lines indented; the last line that fits ends in '...' if some is left."""
    rest = " ".join(text.split())
    lines: list[str] = []
    while rest and len(lines) < max_lines:
        indent = "  " if lines else ""
        room = cols - len(indent)
        if len(rest) <= room or len(lines) == max_lines - 1:
            lines.append(indent + fit(rest, room))
            break
        cut = rest.rfind(" ", 0, room + 1)
        if cut < room // 2:  # no space near the end: break the word
            cut = room
        lines.append(indent + rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return lines or [""]


@lru_cache(maxsize=32)
def error_lines(
    errors: tuple[str, ...], earlier: int, cols: int, max_lines: int
) -> tuple[str, ...]:
    """The newest `errors` that fit in `max_lines` lines of `cols` characters, oldest first,
    each wrapped to at most LINES_PER_ERROR lines (cut with '...'); the first line counts
    those left out (`earlier` ones before these, plus any that did not fit)."""
    if cols < 8 or max_lines < 1:
        return ()
    blocks: list[list[str]] = []
    used = 0
    for i, err in enumerate(reversed(errors)):
        more = earlier + len(errors) - i - 1  # errors older than this one
        room = max_lines - used - (1 if more else 0)  # keep a line to count them
        if room < 1:
            break
        wrapped = wrap(err, cols, min(LINES_PER_ERROR, room))
        blocks.append(wrapped)
        used += len(wrapped)
    lines = [line for block in reversed(blocks) for line in block]
    hidden = earlier + len(errors) - len(blocks)
    if hidden:
        lines.insert(0, f"+{hidden} older error{'s' if hidden > 1 else ''}")
    return tuple(lines)
