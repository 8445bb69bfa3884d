"""Effect chains: ISF filters applied to a dreamer's layer, or to the merged frame.

An effect is an ISF file with an `inputImage` input (a filter). A chain runs its
effects in order, each reading the last one's image: the first reads the layer (or
the merge), the last writes back in its place. Each effect's INPUTS are params under
the chain's path (`/dreamer/N/fx/K/<INPUT>`, `/master/fx/K/<INPUT>`), with `mix`
(0..1: how much of the effect replaces what came in) and `bypass`. Other image
inputs take a dreamer's layer, the merge, or an image file (see `fx_spec`).

Every chain has two textures of its own (ping-pong); an effect with mix < 1 first gets
a copy of what came in, then draws over it with alpha = mix. A file edited mid-show
is compiled again (:meth:`EffectChain.reload`); if it fails, the last good one stays.
A show's chains, and the images they read, are `show_effects.ShowEffects`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import moderngl
import numpy as np

from engine.folders import SHADER_DIR
from engine.fx_spec import FxSpec
from engine.params import ParamSpace, ParamSpec
from engine.visuals.dialect_base import (
    VERTEX,
    DrawFrame,
    compile_layered,
    draw,
    set_uniform,
)
from engine.visuals.dialects import load_layer
from engine.visuals.isf_program import IsfProgram
from engine.visuals.shaders import ShaderError

FX_DIR_NAME = "fx"  # effects live in shaders/fx/ (a name not found there: shaders/)
INPUT = "inputImage"
RESERVED = ("mix", "bypass")

COPY = """#version 330 core
uniform sampler2D src;
uniform sampler2DArray layers;
uniform int from_layer;  // >= 0: read that layer of `layers`; < 0: read `src`
uniform bool flip;
in vec2 uv;
out vec4 color;
void main() {
    vec2 p = flip ? vec2(uv.x, 1.0 - uv.y) : uv;
    vec4 c = from_layer >= 0 ? texture(layers, vec3(p, float(from_layer))) : texture(src, p);
    color = vec4(c.rgb, 1.0);
}
"""


class Copier:
    """Copies an image (a texture, or one layer of an array) into a framebuffer or one layer
    of a layered one, optionally upside down."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.prog, self.vao = compile_layered(
            ctx, Path("<effect copy>"), COPY, vertex=VERTEX, varyings=[("vec2", "uv")]
        )
        set_uniform(self.prog, "src", 0)
        set_uniform(self.prog, "layers", 1)

    def copy(
        self,
        target: moderngl.Framebuffer,
        layer: int,
        size: tuple[int, int],
        *,
        src: moderngl.Texture | None = None,
        layers: moderngl.TextureArray | None = None,
        from_layer: int = -1,
        flip: bool = False,
    ) -> None:
        if src is not None:
            src.use(0)
        if layers is not None:
            layers.use(1)
        set_uniform(self.prog, "from_layer", from_layer)
        set_uniform(self.prog, "flip", flip)
        draw(self.vao, target, layer, size)

    def release(self) -> None:
        self.vao.release()
        self.prog.release()


class EffectError(ValueError):
    """An effect a set names that cannot be set up: names the set's field."""

    def __init__(self, where: str, message: str) -> None:
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}")


def find_effect(name: str, shader_dir: Path = SHADER_DIR) -> Path:
    for folder in (shader_dir / FX_DIR_NAME, shader_dir):
        path = folder / f"{name}.fs"
        if path.is_file():
            return path
    known = ", ".join(available_effects(shader_dir)) or "none"
    raise ShaderError(shader_dir / FX_DIR_NAME / name, 0, f"no effect {name!r} (known: {known})")


def available_effects(shader_dir: Path = SHADER_DIR) -> list[str]:
    folder = shader_dir / FX_DIR_NAME
    return sorted(p.stem for p in folder.glob("*.fs")) if folder.is_dir() else []


class Effect:
    """One filter of a chain: its program, its params (under `base`), its image sources."""

    def __init__(
        self, ctx: moderngl.Context, path: Path, spec: FxSpec, base: str, size: tuple[int, int]
    ) -> None:
        prog = load_layer(ctx, path, size=size)
        images = []
        if isinstance(prog, IsfProgram):
            images = [i.name for i in prog.doc.inputs if i.type == "image"]
        problem = ""
        if INPUT not in images:
            problem = f"not an effect: an ISF filter has an image input named {INPUT}"
        clash = [s.path[1:] for s in prog.inputs if s.path[1:] in RESERVED]
        if clash:
            problem = f"input {clash[0]!r} is taken by the effect's own {clash[0]} param"
        unknown = sorted(set(spec.images) - set(images))
        if unknown and not problem:
            problem = f"no image input {unknown[0]!r} (has: {', '.join(images)})"
        if problem:
            prog.release()
            raise ShaderError(path, 0, problem)
        assert isinstance(prog, IsfProgram)
        self.prog, self.path, self.spec, self.base = prog, path, spec, base
        self.images = {k: v for k, v in spec.images.items()}
        self.params = [replace(s, path=f"{base}{s.path}") for s in prog.inputs] + [
            ParamSpec(f"{base}/mix", spec.mix, smooth=0.05, doc="how much of the effect"),
            ParamSpec(f"{base}/bypass", float(spec.bypass), kind="bool", doc="skip it"),
        ]

    def release(self) -> None:
        self.prog.release()


class EffectChain:
    """Effects in order over one image of `size`, with their params under `base`/fx/K."""

    def __init__(
        self,
        ctx: moderngl.Context,
        size: tuple[int, int],
        base: str,
        specs: Sequence[FxSpec],
        params: ParamSpace,
        shader_dir: Path = SHADER_DIR,
    ) -> None:
        self.ctx, self.size, self.base, self.params = ctx, size, base, params
        self.shader_dir = shader_dir
        self.effects: list[Effect] = []
        try:
            for k, spec in enumerate(specs):
                self.effects.append(self._make(k, spec))
        except BaseException:
            self.release()
            raise
        self._textures = [ctx.texture(size, 4) for _ in "ab"]
        for tex in self._textures:
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
        self._fbos = [ctx.framebuffer(color_attachments=[t]) for t in self._textures]
        self.copier = Copier(ctx)

    def _make(self, k: int, spec: FxSpec) -> Effect:
        path = find_effect(spec.shader, self.shader_dir)
        effect = Effect(self.ctx, path, spec, f"{self.base}/fx/{k}", self.size)
        for p in effect.params:
            self.params.register(p)
        return effect

    @property
    def paths(self) -> set[Path]:
        return {e.path.resolve() for e in self.effects}

    def reload(self, path: Path) -> list[ShaderError]:
        """Compile the effects that use `path` again; a failure keeps the old one running."""
        errors = []
        for k, old in enumerate(self.effects):
            if old.path.resolve() != path.resolve():
                continue
            try:
                self.effects[k] = self._make(k, old.spec)
            except ShaderError as exc:
                errors.append(exc)
                continue
            old.release()
        return errors

    def active(self) -> list[tuple[Effect, float]]:
        get = self.params.get
        out = []
        for e in self.effects:
            amount = min(1.0, max(0.0, get(f"{e.base}/mix")))
            if amount > 0.0 and get(f"{e.base}/bypass") < 0.5:
                out.append((e, amount))
        return out

    def render(
        self,
        frame: DrawFrame,
        target: moderngl.Framebuffer,
        layer: int,
        *,
        src: moderngl.Texture | None = None,
        layers: moderngl.TextureArray | None = None,
        from_layer: int = -1,
        flip: bool = False,
        dreamer_row: np.ndarray | None = None,
        image: Callable[[str], moderngl.Texture | None] = lambda name: None,
    ) -> bool:
        """Run the chain over the image in `src` (or layer `from_layer` of `layers`), and
        write the result to `layer` of `target`; `flip` turns it upside down on the way in
        and out (the merge stores its top row first). False (and nothing drawn) when every
        effect is bypassed or at mix 0."""
        chain = self.active()
        if not chain:
            return False
        row = dreamer_row if dreamer_row is not None else np.zeros(32, np.float32)
        copy, size = self.copier.copy, self.size
        copy(self._fbos[0], 0, size, src=src, layers=layers, from_layer=from_layer, flip=flip)
        cur = 0
        for effect, amount in chain:
            nxt = 1 - cur
            if amount < 1.0:  # the effect is blended over a copy of what came in
                copy(self._fbos[nxt], 0, size, src=self._textures[cur])
            prog = effect.prog
            prog.set_image(INPUT, self._textures[cur])
            for name, source in effect.images.items():
                prog.set_image(name, image(source))
            values = {
                spec.path: (v[0] if spec.size == 1 else v)
                for spec in prog.inputs
                for v in [self.params.get_vec(f"{effect.base}{spec.path}")]
            }
            prog.render(
                self._fbos[nxt], 0, self.size, frame, values=values, dreamer_row=row, fade=amount
            )
            for rel in prog.events:
                self.params.set(f"{effect.base}{rel}", 0, jump=True)
            cur = nxt
        copy(target, layer, size, src=self._textures[cur], flip=flip)
        return True

    def release(self) -> None:
        for e in self.effects:
            e.release()
        self.effects = []
        for obj in (*getattr(self, "_fbos", ()), *getattr(self, "_textures", ())):
            obj.release()
        if hasattr(self, "copier"):
            self.copier.release()
