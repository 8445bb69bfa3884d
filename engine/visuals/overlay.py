"""The VJ's overlay: fps and frame time, late and dropped frames, each dreamer's signal
quality and merge weight, active errors in red and a status line, drawn over a frame.

One instanced draw of quads, one per box, bar and glyph, touches only the pixels it
covers (glyph quads discard their empty pixels), so it is cheap even on llvmpipe.
Text uses a 5x7 bitmap font in 6x8 cells, drawn for this module (ASCII 32..126;
anything else shows as '?'): eight rows a glyph, one byte a row, 0x10 the leftmost
pixel, uploaded once as an atlas. Scale 2 from 1080 lines up keeps it legible.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import moderngl
import numpy as np
from numpy.typing import ArrayLike

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

# layout, in pixels at scale 1
ADV, GLYPH_H, LINE = 6, 8, 10  # glyph advance, cell height, line pitch
PAD, MARGIN = 4, 8  # inside a box; between boxes and the frame's edge
BAR, BAR_H = 30, 3  # a dreamer's bar: length, thickness (quality above, weight below)
GRID_ROWS = 16  # dreamers per column, unless the frame is too narrow for that
ERROR_LINES, LINES_PER_ERROR = 6, 3

Color = tuple[int, int, int, int]
TEXT: Color = (235, 235, 235, 255)
DIM: Color = (150, 150, 150, 255)
WARN: Color = (255, 190, 60, 255)
ERROR: Color = (255, 80, 64, 255)
STATUS: Color = (140, 215, 255, 255)
BOX: Color = (0, 0, 0, 160)  # translucent: the show stays visible behind the text
TRACK: Color = (255, 255, 255, 40)
WEIGHT: Color = (90, 170, 255, 255)
Q_GOOD: Color = (90, 215, 100, 255)
QUALITY = np.array([(235, 70, 60), (240, 200, 60), Q_GOOD[:3]], np.float32)  # at 0, 0.5, 1

INSTANCE = np.dtype([("pos", "<f4", 2), ("size", "<f4", 2), ("glyph", "<i4"), ("color", "u1", 4)])

VERTEX = """#version 330 core
in vec2 i_pos;    // the quad's top-left corner, pixels from the frame's top-left
in vec2 i_size;   // pixels
in int i_glyph;   // atlas index; -1: a solid box
in vec4 i_color;
uniform vec2 u_size;
uniform float u_ysign;  // +1: the target stores its top row first (flip); -1: GL order
uniform float u_scale;
out vec2 v_cell;  // font pixels from the glyph's top-left
flat out int v_glyph;
flat out vec4 v_color;
void main() {
    vec2 corner = vec2(gl_VertexID & 1, gl_VertexID >> 1);
    vec2 p = (i_pos + corner * i_size) / u_size * 2.0 - 1.0;
    v_cell = corner * i_size / u_scale;
    v_glyph = i_glyph;
    v_color = i_color;
    gl_Position = vec4(p.x, p.y * u_ysign, 0.0, 1.0);
}
"""

FRAGMENT = """#version 330 core
uniform sampler2D u_font;  // (6 * glyphs) x 8, top row first
in vec2 v_cell;
flat in int v_glyph;
flat in vec4 v_color;
out vec4 f_color;
void main() {
    if (v_glyph >= 0) {
        ivec2 t = clamp(ivec2(v_cell), ivec2(0), ivec2(5, 7));
        if (texelFetch(u_font, ivec2(v_glyph * 6 + t.x, t.y), 0).r < 0.5) discard;
    }
    f_color = v_color;
}
"""


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


def quality_colors(quality: np.ndarray) -> np.ndarray:
    """Red at 0, amber at 0.5, green at 1, as (n, 4) uint8."""
    x = np.clip(np.asarray(quality, np.float32), 0.0, 1.0)[:, None] * 2.0
    rgb = QUALITY[0] + (QUALITY[1] - QUALITY[0]) * np.minimum(x, 1.0)
    rgb += (QUALITY[2] - QUALITY[1]) * np.maximum(x - 1.0, 0.0)
    return np.concatenate([np.rint(rgb), np.full((len(x), 1), 255.0)], axis=1).astype(np.uint8)


@dataclass(frozen=True)
class OverlayState:
    """What the overlay shows for one frame."""

    fps: float
    frame_ms: float
    late: int
    dropped: int
    dreamers: Sequence[tuple[int, float, float]]  # (id, quality 0..1, weight 0..1)
    errors: Sequence[str]  # newest last; the last few are shown
    status: str = ""
    inputs: Sequence[str] = ()  # OSC counters and which sender took which dreamer


class _Quads:
    """Instances for one draw, in pixels from the frame's top-left, gathered cheaply and
    packed once: boxes first (everything else goes on top), then bars, then glyphs."""

    def __init__(self, scale: int) -> None:
        self.s = scale
        self.boxes: list[tuple[np.ndarray, np.ndarray]] = []  # (x, y, w, h) rows, RGBA rows
        self.bars: list[tuple[np.ndarray, np.ndarray]] = []
        self.spans: list[tuple[float, float, str, Color]] = []

    def rects(self, xy: ArrayLike, wh: ArrayLike, colors: ArrayLike, *, box: bool = False) -> None:
        xy = np.atleast_2d(np.asarray(xy, np.float32))
        rect = np.empty((len(xy), 4), np.float32)
        rect[:, :2], rect[:, 2:] = xy, wh
        color = np.empty((len(xy), 4), np.uint8)
        color[:] = colors
        (self.boxes if box else self.bars).append((rect, color))

    def text(self, x: float, y: float, text: str, color: Color) -> float:
        """Draw one line; return the x where the next span would start."""
        self.spans.append((x, y, text, color))
        return x + len(text) * ADV * self.s

    def array(self) -> np.ndarray:
        parts = self.boxes + self.bars
        n_rects = sum(len(r) for r, _ in parts)
        lengths = np.array([len(t) for _, _, t, _ in self.spans], np.int64)
        codes = glyph_codes("".join(t for _, _, t, _ in self.spans))
        keep = codes != 0  # spaces draw nothing
        out = np.zeros(n_rects + int(keep.sum()), INSTANCE)
        if parts:
            out["pos"][:n_rects] = np.concatenate([r[:, :2] for r, _ in parts])
            out["size"][:n_rects] = np.concatenate([r[:, 2:] for r, _ in parts])
            out["color"][:n_rects] = np.concatenate([c for _, c in parts])
            out["glyph"][:n_rects] = -1
        if len(codes):
            span = np.repeat(np.arange(len(self.spans)), lengths)
            starts = np.cumsum(lengths) - lengths
            column = np.arange(len(codes)) - starts[span]
            origin = np.array([(x, y) for x, y, _, _ in self.spans], np.float32)
            colors = np.array([c for _, _, _, c in self.spans], np.uint8)
            glyphs = out[n_rects:]
            glyphs["pos"][:, 0] = (origin[span, 0] + column * (ADV * self.s))[keep]
            glyphs["pos"][:, 1] = origin[span, 1][keep]
            glyphs["size"] = (ADV * self.s, GLYPH_H * self.s)
            glyphs["glyph"] = codes[keep]
            glyphs["color"] = colors[span][keep]
        return out


class Overlay:
    """Draws an :class:`OverlayState` over a framebuffer of `size` (e.g. the merge output).

    scale: the size of a font pixel in frame pixels; None: 1 below 1080 lines, then one
    more per 540 lines (2 at 1080p, 4 at 2160p).
    """

    def __init__(
        self, ctx: moderngl.Context, size: tuple[int, int], *, scale: int | None = None
    ) -> None:
        self.ctx = ctx
        self.size = (int(size[0]), int(size[1]))
        self.scale = int(scale) if scale is not None else max(1, self.size[1] // 540)
        if self.scale < 1:
            raise ValueError(f"overlay scale must be at least 1, not {scale}")
        self.program = ctx.program(vertex_shader=VERTEX, fragment_shader=FRAGMENT)
        self.font = ctx.texture((GLYPHS * ADV, GLYPH_H), 1, font_atlas().tobytes())
        self.font.filter = (moderngl.NEAREST, moderngl.NEAREST)
        for name, value in (("u_font", 0), ("u_size", self.size), ("u_scale", self.scale)):
            self.program[name].value = value  # type: ignore[union-attr]
        self._capacity = 0
        self._buffer: moderngl.Buffer | None = None
        self._vao: moderngl.VertexArray | None = None
        self._reserve(1024)
        # drivers compile at the first draw: do it now, not when the VJ first toggles it on
        scratch = ctx.texture((8, 8), 4)
        fbo = ctx.framebuffer(color_attachments=[scratch])
        warm = _Quads(1)
        warm.rects((0, 0), (8, 8), BOX, box=True)
        self._render(fbo, warm.array(), flip=True)
        ctx.finish()
        fbo.release()
        scratch.release()

    def _reserve(self, count: int) -> tuple[moderngl.Buffer, moderngl.VertexArray]:
        if self._buffer is None or self._vao is None or count > self._capacity:
            if self._vao is not None and self._buffer is not None:
                self._vao.release()
                self._buffer.release()
            self._capacity = max(count, 2 * self._capacity)
            self._buffer = self.ctx.buffer(reserve=self._capacity * INSTANCE.itemsize)
            self._vao = self.ctx.vertex_array(
                self.program,
                [(self._buffer, "2f 2f 1i 4f1/i", "i_pos", "i_size", "i_glyph", "i_color")],
            )
        return self._buffer, self._vao

    def instances(self, state: OverlayState) -> np.ndarray:
        """The quads :meth:`draw` draws for `state`, in drawing order: pos and size in
        pixels from the frame's top-left, glyph (atlas index, -1 for a box or bar), color."""
        s, (w, h) = self.scale, self.size
        line, pad, margin = LINE * s, PAD * s, MARGIN * s
        cols = max(0, (w - 2 * margin - 2 * pad) // (ADV * s))  # characters across a box
        rows = max(0, (h - 2 * margin - 2 * pad - GLYPH_H * s) // line + 1)  # lines down one
        q = _Quads(s)
        used = self._errors(q, state.errors, cols, min(ERROR_LINES, rows // 2))
        if used:  # the info box keeps clear of the error box
            rows -= used + -(-(2 * pad + margin) // line)
        self._info(q, state, cols, rows)
        return q.array()

    def _errors(self, q: _Quads, errors: Sequence[str], cols: int, max_lines: int) -> int:
        """The error box at the bottom left, newest at the bottom; returns its lines."""
        s, (_, h) = self.scale, self.size
        line, pad, margin = LINE * s, PAD * s, MARGIN * s
        errors = [e for e in errors if e.strip()]
        tail = tuple(errors[-ERROR_LINES:])
        lines = error_lines(tail, len(errors) - len(tail), cols, max_lines)
        if not lines:
            return 0
        top = h - margin - 2 * pad - (len(lines) - 1) * line - GLYPH_H * s
        width = max(len(text) for text in lines) * ADV * s + 2 * pad
        q.rects((margin, top), (width, h - margin - top), BOX, box=True)
        for i, text in enumerate(lines):
            counted = i == 0 and text.startswith("+") and "older error" in text
            q.text(margin + pad, top + pad + i * line, text, DIM if counted else ERROR)
        return len(lines)

    def _info(self, q: _Quads, state: OverlayState, cols: int, rows: int) -> None:
        """The box at the top left: timing, frames, status, then the dreamers."""
        s = self.scale
        line, pad, margin = LINE * s, PAD * s, MARGIN * s
        spans: list[list[tuple[str, Color]]] = [
            [
                ("fps ", DIM),
                (f"{state.fps:5.1f}", TEXT),
                ("  frame ", DIM),
                (f"{state.frame_ms:6.2f}", TEXT),
                (" ms", DIM),
            ],
            [
                ("late ", DIM),
                (str(state.late), WARN if state.late else TEXT),
                ("  dropped ", DIM),
                (str(state.dropped), ERROR if state.dropped else TEXT),
            ],
        ]
        if state.status:
            spans.append([(state.status.replace("\n", " ").replace("\t", " "), STATUS)])
        spans += [[(text.replace("\n", " "), DIM)] for text in state.inputs]
        if state.dreamers:
            legend = [("dreamers ", DIM), ("quality", Q_GOOD), (" / ", DIM), ("weight", WEIGHT)]
            spans.append(legend)
        grid_rows = rows - len(spans)  # the dreamers need their legend and a row
        spans = spans[:rows]
        x0 = y0 = margin + pad
        width = 0
        for i, row in enumerate(spans):
            x: float = x0
            room = cols
            for text, color in row:
                text = fit(text, room)
                x = q.text(x, y0 + i * line, text, color)
                room -= len(text)
            width = max(width, (cols - room) * ADV * s)
        height = len(spans)
        if state.dreamers and grid_rows > 0:
            grid_w, used = self._grid(
                q, state.dreamers, x0, y0 + len(spans) * line, cols * ADV * s, grid_rows
            )
            width, height = max(width, grid_w), height + used
        if height:
            inner_h = (height - 1) * line + GLYPH_H * s
            q.rects((margin, margin), (width + 2 * pad, inner_h + 2 * pad), BOX, box=True)

    def _grid(
        self,
        q: _Quads,
        dreamers: Sequence[tuple[int, float, float]],
        x0: int,
        y0: int,
        max_w: int,
        max_rows: int,
    ) -> tuple[int, int]:
        """Dreamer cells in columns: the id, then its quality bar above its weight bar.
        Returns the width and the rows used; dreamers that do not fit are counted, '+n'."""
        s, n = self.scale, len(dreamers)
        table = np.array([(d[1], d[2]) for d in dreamers], np.float64).reshape(n, 2)
        table = np.nan_to_num(table, nan=0.0, posinf=1.0, neginf=0.0)  # a dropped sensor
        ids = [str(int(d[0])) for d in dreamers]
        digits = max(len(i) for i in ids)
        cell, gap = (digits * ADV + 3 + BAR) * s, 9 * s
        across = max(1, (max_w + gap) // (cell + gap))
        # columns of GRID_ROWS; longer ones for many dreamers, so the box stays compact
        ncols = min(math.ceil(n / max(GRID_ROWS, math.ceil(2 * math.sqrt(n)))), across)
        nrows = min(math.ceil(n / ncols), max_rows)
        shown = n if n <= nrows * ncols else nrows * ncols - 1
        k = np.arange(shown)
        cx = (x0 + (k // nrows) * (cell + gap)).astype(np.float32)
        cy = (y0 + (k % nrows) * LINE * s).astype(np.float32)
        for label, x, y in zip(ids[:shown], cx.tolist(), cy.tolist(), strict=True):
            q.text(x + (digits - len(label)) * ADV * s, y, label, TEXT)
        bx = cx + (digits * ADV + 3) * s
        below = cy + (BAR_H + 1) * s
        tracks = np.concatenate([np.stack([bx, cy], 1), np.stack([bx, below], 1)])
        q.rects(tracks, (BAR * s, BAR_H * s), TRACK)
        weight = np.broadcast_to(np.array(WEIGHT, np.uint8), (shown, 4))
        for top, values, colors in (
            (cy, table[:shown, 0], quality_colors(table[:shown, 0])),
            (below, table[:shown, 1], weight),
        ):
            length = np.rint(np.clip(values, 0.0, 1.0) * BAR * s).astype(np.float32)
            lit = length > 0
            size = np.stack([length, np.full(shown, BAR_H * s, np.float32)], 1)[lit]
            q.rects(np.stack([bx, top], 1)[lit], size, colors[lit])
        if shown < n:
            x = x0 + (shown // nrows) * (cell + gap)
            q.text(x, y0 + (shown % nrows) * LINE * s, f"+{n - shown}", DIM)
        used_cols = min(ncols, -(-n // nrows))
        return used_cols * (cell + gap) - gap, nrows

    def draw(self, target: moderngl.Framebuffer, state: OverlayState, *, flip: bool = True) -> None:
        """Draw `state` over `target`, which must be `size`. flip=True: the target stores its
        top row first (as the merge output does); False: GL order (a window)."""
        if tuple(target.size) != self.size:
            raise ValueError(f"overlay is {self.size}, the target {tuple(target.size)}")
        self._render(target, self.instances(state), flip=flip)

    def _render(self, target: moderngl.Framebuffer, quads: np.ndarray, *, flip: bool) -> None:
        if not len(quads):
            return
        buffer, vao = self._reserve(len(quads))
        buffer.write(np.ascontiguousarray(quads).tobytes())
        self.program["u_ysign"].value = 1.0 if flip else -1.0  # type: ignore[union-attr]
        target.use()
        self.font.use(0)
        self.ctx.enable(moderngl.BLEND)
        # over the target's colour; its alpha stays as it was (the stub knows only pairs)
        self.ctx.blend_func = (  # type: ignore[assignment]
            moderngl.SRC_ALPHA,
            moderngl.ONE_MINUS_SRC_ALPHA,
            moderngl.ZERO,
            moderngl.ONE,
        )
        try:
            vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=len(quads))
        finally:
            self.ctx.disable(moderngl.BLEND)
            self.ctx.blend_func = moderngl.DEFAULT_BLENDING  # type: ignore[assignment]

    def release(self) -> None:
        if self._vao is not None and self._buffer is not None:
            self._vao.release()
            self._buffer.release()
        self._vao = self._buffer = None
        self.font.release()
        self.program.release()
