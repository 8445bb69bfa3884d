"""The dream-merge pass: every layer into one image with shaders/merge.frag, one draw."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import moderngl
import numpy as np

from engine.folders import SHADER_DIR
from engine.params import ParamSpec
from engine.visuals.shaders import compile_program, lib

MERGE_PATH = SHADER_DIR / "merge.frag"
EXACT_UNIT = 1  # the texture unit of the nearest-filtered view of the layers
UNROLL_FROM = 8  # layers from which an exact, fused, calm merge unrolls its loop


class Blend(IntEnum):
    """Blend modes understood by merge.frag (the values are the shader's)."""

    ADD = 0
    SCREEN = 1
    MULTIPLY = 2
    DREAM = 3
    LIGHTEN = 4
    DIFFERENCE = 5


BLEND_NAMES = tuple(m.name.lower() for m in Blend)

# The merge's params. Those with a `uniform` reach merge.frag by that name, declared from
# these specs where the shader says `// @params` (the one route from a param to the pass).
MERGE_PARAMS = (
    ParamSpec(
        "/merge/mode",
        BLEND_NAMES.index("dream"),
        kind="enum",
        choices=BLEND_NAMES,
        doc="how the layers blend (a dreamer's own blend overrides it)",
    ),
    ParamSpec("/merge/resonance", 0.3, smooth=0.3, doc="how much the layers fuse"),
    ParamSpec("/merge/follow", 0.0, smooth=0.5, doc="fuse as much as the group is in sync"),
    ParamSpec(
        "/merge/fuse",
        0.3,
        access="r",
        uniform="u_resonance",
        doc="the fusion drawn: /merge/resonance moved toward the group's by /merge/follow",
    ),
    ParamSpec(
        "/merge/chaos", 0.0, smooth=0.05, uniform="u_chaos", doc="the malfunction: layers tear"
    ),
    ParamSpec("/merge/state", 0.5, smooth=0.5, doc="weight dreamers by sleep depth"),
    ParamSpec(
        "/merge/exposure",
        2.0,
        0.0,
        8.0,
        smooth=0.2,
        uniform="u_exposure",
        doc="gain on the dream layers' exposure (1 = as is)",
    ),
)
UNIFORM_PARAMS = tuple(spec for spec in MERGE_PARAMS if spec.uniform)
_MARKER = "// @params\n"


def glsl_uniforms() -> str:
    """The declarations of the merge's param uniforms (merge.frag includes them)."""
    return "".join(f"uniform float {s.uniform};  // {s.path}: {s.doc}\n" for s in UNIFORM_PARAMS)


def slot_table(weights: object, modes: object, homes: object) -> np.ndarray:
    """Pack per-slot merge inputs (slot i is layer i) into the (n, 4) float32 rows
    the shader's Slots block reads: weight, blend mode, home x, home y."""
    w = np.asarray(weights, np.float32)
    table = np.zeros((len(w), 4), np.float32)
    table[:, 0] = w
    table[:, 1] = np.asarray(modes, np.float32)
    table[:, 2:] = np.asarray(homes, np.float32).reshape(len(w), 2)
    return table


class Merge:
    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]) -> None:
        self.ctx = ctx
        self.size = size
        text = MERGE_PATH.read_text()
        line = text[: text.index(_MARKER)].count("\n") + 1  # the marker's line, from 1
        text = text.replace(_MARKER, f"{glsl_uniforms()}#line {line + 1}\n")
        self._source = text.partition("\n")
        # as many slots as one uniform block holds (16 bytes a slot)
        self.max_slots = int(ctx.info["GL_MAX_UNIFORM_BLOCK_SIZE"]) // 16
        self.slots = ctx.buffer(reserve=self.max_slots * 16)
        self._variants: dict[tuple[int, ...], tuple[moderngl.Program, moderngl.VertexArray]]
        self._variants = {}
        self.output = ctx.texture(size, 4)
        self.fbo = ctx.framebuffer(color_attachments=[self.output])
        # exact-size layers are read texel for texel: a nearest sampler on unit 1
        self.nearest = ctx.sampler(
            filter=(moderngl.NEAREST, moderngl.NEAREST), repeat_x=False, repeat_y=False
        )

    def variant(
        self, chaos: bool, masks: bool, mode: int, exact: bool = False, unroll: bool = False
    ) -> tuple[moderngl.Program, moderngl.VertexArray]:
        """The build of merge.frag for this kind of frame (see its header), compiled and
        drawn once on first use: drivers compile at the first draw."""
        key = (int(chaos), int(masks), int(mode), int(exact), int(unroll))
        found = self._variants.get(key)
        if found is None:
            version, _, body = self._source
            defines = "".join(
                f"#define {k} {v}\n"
                for k, v in zip(("CHAOS", "MASKS", "MODE", "EXACT", "UNROLL"), key, strict=True)
            )
            prog = compile_program(
                self.ctx,
                MERGE_PATH,
                vertex=lib("quad.vert"),
                fragment=f"{version}\n{defines}#define MAX_SLOTS {self.max_slots}\n#line 2\n{body}",
            )
            prog["Slots"].binding = 0  # type: ignore[union-attr]
            vao = self.ctx.vertex_array(prog, [])
            if "u_count" in prog:
                prog["u_count"].value = 0  # type: ignore[union-attr]
            self.fbo.use()
            vao.render(moderngl.TRIANGLES, vertices=3)
            found = self._variants[key] = (prog, vao)
        return found

    def render(
        self,
        layers: moderngl.TextureArray,
        slots: np.ndarray,
        values: Mapping[str, float],
        *,
        time: float,
        flip: bool = True,
    ) -> None:
        """Blend `slots` (see :func:`slot_table`; slot i is layer i) into the output, with
        `values` of the merge's uniform params by path (a missing one is its default).

        flip=True writes the image top row first, so a readback is already in
        video order (files, tests); a window wants flip=False.
        """
        n = len(slots)
        if n > min(self.max_slots, layers.layers):
            raise ValueError(f"{n} slots, but {layers.layers} layers and room for {self.max_slots}")
        if n:
            self.slots.write(np.ascontiguousarray(slots, dtype="f4"))
        self.slots.bind_to_uniform_block(0)
        layers.use(0)
        modes = np.unique(slots[:, 1]) if n else np.zeros(1)
        mode = int(modes[0]) if len(modes) == 1 else -1
        exact = (layers.width, layers.height) == self.size
        given = {s.uniform: float(values.get(s.path, s.default)) for s in UNIFORM_PARAMS}  # type: ignore[arg-type]
        chaotic, masks = given["u_chaos"] > 0.0, given["u_resonance"] < 1.0
        unroll = exact and not (chaotic or masks) and n >= UNROLL_FROM
        prog, vao = self.variant(chaotic, masks, mode, exact, unroll)
        if exact:
            layers.use(EXACT_UNIT)
            self.nearest.use(EXACT_UNIT)
        uniforms: dict[str, object] = {
            **given,
            "u_layers": 0,
            "u_exact": EXACT_UNIT,
            "u_count": n,
            "u_time": float(time),
            "u_resolution": self.size,
            "u_flip": flip,
        }
        for name, value in uniforms.items():
            if name in prog:
                prog[name].value = value  # type: ignore[union-attr]
        self.fbo.use()
        vao.render(moderngl.TRIANGLES, vertices=3)
        if exact:
            self.nearest.clear(EXACT_UNIT)  # a sampler object overrides any texture there

    def read(self) -> np.ndarray:
        """The merged image as (h, w, 3) uint8 (top row first when rendered with flip)."""
        w, h = self.size
        return np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(h, w, 3)

    def release(self) -> None:
        for prog, vao in self._variants.values():
            vao.release()
            prog.release()
        for obj in (self.fbo, self.output, self.slots, self.nearest):
            obj.release()
