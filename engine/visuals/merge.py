"""The dream-merge pass: every layer into one image with shaders/merge.frag, one draw."""

from __future__ import annotations

from enum import IntEnum

import moderngl
import numpy as np

from engine.visuals.shaders import SHADER_DIR, compile_program, lib

MERGE_PATH = SHADER_DIR / "merge.frag"


class Blend(IntEnum):
    """Blend modes understood by merge.frag (the values are the shader's)."""

    ADD = 0
    SCREEN = 1
    MULTIPLY = 2
    DREAM = 3
    LIGHTEN = 4
    DIFFERENCE = 5


BLEND_NAMES = tuple(m.name.lower() for m in Blend)


def slot_table(
    layers: np.ndarray, weights: np.ndarray, modes: np.ndarray, homes: np.ndarray
) -> np.ndarray:
    """Pack per-slot merge inputs into the (n, 2, 4) float32 rows the shader reads."""
    n = len(layers)
    table = np.zeros((n, 2, 4), np.float32)
    table[:, 0, 0] = layers
    table[:, 0, 1] = weights
    table[:, 0, 2] = modes
    table[:, 1, :2] = homes
    return table


class Merge:
    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]) -> None:
        self.ctx = ctx
        self.size = size
        version, _, body = MERGE_PATH.read_text().partition("\n")
        # two builds: calm frames must not pay for the chaos code (see merge.frag)
        self.programs = [
            compile_program(
                ctx,
                MERGE_PATH,
                vertex=lib("quad.vert"),
                fragment=f"{version}\n#define CHAOS {chaos}\n#line 2\n{body}",
            )
            for chaos in (0, 1)
        ]
        self.output = ctx.texture(size, 4)
        self.fbo = ctx.framebuffer(color_attachments=[self.output])
        self.vaos = [ctx.vertex_array(p, []) for p in self.programs]
        self._info: moderngl.Texture | None = None
        # drivers compile at the first draw: pay for both builds now, not mid-show
        self.fbo.use()
        for prog, vao in zip(self.programs, self.vaos, strict=True):
            if "u_count" in prog:
                prog["u_count"].value = 0  # type: ignore[union-attr]
            vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.finish()

    def _info_texture(self, n: int) -> moderngl.Texture:
        if self._info is None or self._info.height != n:
            if self._info is not None:
                self._info.release()
            self._info = self.ctx.texture((2, n), 4, dtype="f4")
            self._info.filter = (moderngl.NEAREST, moderngl.NEAREST)
        return self._info

    def render(
        self,
        layers: moderngl.TextureArray,
        slots: np.ndarray,
        *,
        resonance: float,
        chaos: float,
        time: float,
        exposure: float = 1.0,
        flip: bool = True,
    ) -> None:
        """Blend `slots` (see :func:`slot_table`) into the output.

        flip=True writes the image top row first, so a readback is already in
        video order (files, tests); a window wants flip=False.
        """
        n = len(slots)
        info = self._info_texture(max(n, 1))
        if n:
            info.write(np.ascontiguousarray(slots, dtype="f4"))
        layers.use(0)
        info.use(1)
        torn = int(chaos > 0.0)
        prog = self.programs[torn]
        values: dict[str, object] = {
            "u_layers": 0,
            "u_info": 1,
            "u_count": n,
            "u_resonance": float(resonance),
            "u_chaos": float(chaos),
            "u_exposure": float(exposure),
            "u_time": float(time),
            "u_resolution": self.size,
            "u_flip": flip,
        }
        for name, value in values.items():
            if name in prog:
                prog[name].value = value  # type: ignore[union-attr]
        self.fbo.use()
        self.vaos[torn].render(moderngl.TRIANGLES, vertices=3)

    def read(self) -> np.ndarray:
        """The merged image as (h, w, 3) uint8 (top row first when rendered with flip)."""
        w, h = self.size
        return np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(h, w, 3)

    def release(self) -> None:
        for obj in (*self.vaos, *self.programs, self.fbo, self.output, self._info):
            if obj is not None:
                obj.release()
