"""The layer stack: every dreamer's layer in one texture array, filled by instanced draws.

A layered framebuffer takes the whole array; the geometry shader in shaders/lib
routes instance i of a draw to the layer listed at `first + i` in the order table,
so all dreamers that share a shader are drawn with one call wherever they sit.
Per-layer inputs (features, params) travel in a float texture, one row per layer,
and raw signals in another: no uniform arrays, no layer limit but the driver's
(GL_MAX_ARRAY_TEXTURE_LAYERS, 2048 on llvmpipe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import moderngl
import numpy as np

from engine.visuals.fields import DATA_TEXELS

SIGNAL_WIDTH = 512  # samples of each raw signal a layer can read
SIGNAL_CHANNELS = 3  # eeg, ecg, resp


@dataclass(frozen=True, slots=True)
class Draw:
    """One instanced draw with `program`: the `count` layers listed from `first` on in
    the stack's order table (see :meth:`LayerStack.set_order`)."""

    program: moderngl.Program
    first: int
    count: int
    fade: float = 1.0  # below 1: blended over what the layers hold (a shader crossfade)


class LayerStack:
    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], count: int) -> None:
        if count < 1:
            raise ValueError("a layer stack needs at least one layer")
        self.ctx = ctx
        self.size = size
        self.count = count
        self.texture = ctx.texture_array((size[0], size[1], count), 4)
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = True
        self.fbo = ctx.framebuffer(color_attachments=[self.texture])
        self.data = ctx.texture((DATA_TEXELS, count), 4, dtype="f4")
        self.data.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.signals = ctx.texture((SIGNAL_WIDTH, count * SIGNAL_CHANNELS), 1, dtype="f4")
        self.signals.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.signals.repeat_x = self.signals.repeat_y = False
        self.order = ctx.texture((count, 1), 1, dtype="f4")
        self.order.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.set_order(np.arange(count))
        self._vaos: dict[int, moderngl.VertexArray] = {}

    def set_order(self, layers: np.ndarray) -> None:
        """The layer each draw slot fills, draws' runs back to back."""
        table = np.zeros(self.count, np.float32)
        table[: len(layers)] = layers
        self.order.write(table)

    def upload(self, data: np.ndarray, signals: np.ndarray | None = None) -> None:
        """data: (count, DATA_TEXELS * 4) float32; signals: (count * 3, SIGNAL_WIDTH)."""
        self.data.write(np.ascontiguousarray(data, dtype="f4"))
        if signals is not None:
            self.signals.write(np.ascontiguousarray(signals, dtype="f4"))

    def render(self, draws: Sequence[Draw], *, time: float, dt: float, frame: int) -> None:
        self.fbo.use()
        self.fbo.clear(0.0, 0.0, 0.0, 1.0)
        self.data.use(0)
        self.signals.use(1)
        self.order.use(2)
        for draw in draws:
            prog = draw.program
            for name, value in (
                ("u_time", time),
                ("u_dt", dt),
                ("u_frame", frame),
                ("u_resolution", self.size),
                ("u_first", draw.first),
                ("u_dreamer_data", 0),
                ("u_signals", 1),
                ("u_order", 2),
                ("u_fade", draw.fade),
            ):
                if name in prog:
                    prog[name].value = value  # type: ignore[union-attr]
            vao = self._vaos.get(prog.glo)
            if vao is None:
                vao = self._vaos[prog.glo] = self.ctx.vertex_array(prog, [])
            if draw.fade < 1.0:
                self.ctx.enable(moderngl.BLEND)
                self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
            vao.render(moderngl.TRIANGLES, vertices=3, instances=draw.count)
            if draw.fade < 1.0:
                self.ctx.disable(moderngl.BLEND)

    def warm(self, program: moderngl.Program) -> None:
        """Draw `program` as a frame would (this stack's textures bound, instanced), then
        blended as in a crossfade, and wait: drivers compile at the first draw, and
        llvmpipe compiles a variant for each sampler and blend state it meets, so a warm-up
        drawn in any other state leaves the show's first real draw to compile again."""
        self.render([Draw(program, 0, 1)], time=0.0, dt=0.0, frame=0)
        self.render([Draw(program, 0, 1, fade=0.5)], time=0.0, dt=0.0, frame=0)
        self.ctx.finish()

    def read_layer(self, index: int) -> np.ndarray:
        """One layer as (h, w, 4) uint8, bottom row first (GL order); for tests and snapshots."""
        raw = self.texture.read()
        w, h = self.size
        return np.frombuffer(raw, np.uint8).reshape(self.count, h, w, 4)[index].copy()

    def forget(self, program: moderngl.Program) -> None:
        vao = self._vaos.pop(program.glo, None)
        if vao is not None:
            vao.release()

    def release(self) -> None:
        for vao in self._vaos.values():
            vao.release()
        for obj in (self.fbo, self.texture, self.data, self.signals, self.order):
            obj.release()
