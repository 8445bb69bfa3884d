"""The VJ's overlay: fps and frame time, late and dropped frames, each dreamer's signal
quality and merge weight, active errors in red and a status line, drawn over a frame.

One instanced draw of quads, one per box, bar and glyph, touches only the pixels it
covers (glyph quads discard their empty pixels), so it is cheap even on llvmpipe.
Text is engine.visuals.text's bitmap font, uploaded once as an atlas. Scale 2 from
1080 lines up keeps it legible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import moderngl
import numpy as np
from numpy.typing import ArrayLike

from engine.visuals.text import (
    ADV,
    ERROR_LINES,
    GLYPH_H,
    GLYPHS,
    error_lines,
    fit,
    font_atlas,
    glyph_codes,
)

# layout, in pixels at scale 1
LINE = 10  # line pitch
PAD, MARGIN = 4, 8  # inside a box; between boxes and the frame's edge
BAR, BAR_H = 30, 3  # a dreamer's bar: length, thickness (quality above, weight below)
GRID_ROWS = 16  # dreamers per column, unless the frame is too narrow for that

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
