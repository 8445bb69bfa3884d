"""Drawing an ISF shader into one layer of the stack: passes, buffers, images, audio.

The GLSL around the user's file is `isf_source`'s business. Passes with
a TARGET draw into their own textures (two each, swapped after every pass, so a
pass may read its own buffer: feedback); the last pass lands in the layer, its
colour composited over black. A `<name>.vs` beside the file is used as the vertex
shader (it calls `isf_vertShaderInit()`); its varyings reach the fragment shader.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import moderngl
import numpy as np

from engine.params import ParamError
from engine.visuals.dialect_base import (
    VERTEX,
    DrawFrame,
    PingPong,
    compile_layered,
    draw,
    fold,
    image_texture,
    load_image,
    magnitudes,
    set_dreamer,
    set_uniform,
    strip_comments,
    waveform,
)
from engine.visuals.isf import SAMPLER_TYPES, IsfDoc, IsfInput, IsfPass
from engine.visuals.isf_lenient import fix, rename, reserved_name
from engine.visuals.isf_source import COPY, fragment_source, vertex_source
from engine.visuals.shaders import ShaderError
from engine.visuals.testcard import load_test_card

log = logging.getLogger(__name__)
MAX_SIZE = 8192  # a pass's WIDTH / HEIGHT expression is clamped to 1..this
MAX_FIXES = 16  # rewrites tried for one file before its error stands
_TOLD: set[tuple[Path, tuple[str, ...]]] = set()  # fix-ups already logged: once per file
_MAIN = re.compile(r"\bvoid\s+main\s*\(")


class IsfProgram:
    """One dreamer's ISF layer (a LayerProgram): its GL program, buffers and textures."""

    dialect = "isf"

    def __init__(self, ctx: moderngl.Context, doc: IsfDoc) -> None:
        self.ctx, self.doc, self.path = ctx, doc, doc.path
        self.inputs = tuple(i.spec for i in doc.inputs if i.spec is not None)
        # event inputs fire on the frame their value rises to 1; whoever sets them (OSC, a
        # cue) may set them back to 0 after the frame, so the next 1 fires again
        self.events = tuple(f"/{i.written}" for i in doc.inputs if i.type == "event")
        if not _MAIN.search(strip_comments(doc.code)):
            raise ShaderError(doc.path, 0, "an ISF shader defines void main()")
        samplers = [i.name for i in doc.inputs if i.type in SAMPLER_TYPES]
        samplers += [*doc.imported, *doc.buffers]
        units = int(ctx.info.get("GL_MAX_TEXTURE_IMAGE_UNITS", 16))
        if len(samplers) > units:
            raise ShaderError(doc.path, 0, f"{len(samplers)} images; this GPU binds {units}")
        pictures = {}
        for name, file in doc.imported.items():
            try:
                pictures[name] = load_image(file)
            except (OSError, ValueError) as exc:
                raise ShaderError(doc.path, 0, f"IMPORTED {name}: {file}: {exc}") from None
        self._programs: list[tuple[moderngl.Program, moderngl.VertexArray]] = []
        self._copy: tuple[moderngl.Program, moderngl.VertexArray] | None = None
        self.notices: list[str] = []  # fix-ups made for a lenient compiler's code (isf_lenient)
        self.notices += [
            f"{doc.path.name}: input `{i.written}` is reserved in GLSL 3.30: renamed {i.name}"
            for i in doc.inputs
            if i.name != i.written
        ]
        while True:
            try:
                self._build(doc)
                break
            except ShaderError as exc:
                self._release_programs()
                doc = self._mend(doc, exc)  # raises exc when no rewrite mends it
        self.doc = doc
        if self.notices and (doc.path, tuple(self.notices)) not in _TOLD:
            _TOLD.add((doc.path, tuple(self.notices)))
            log.warning(
                "%s: compiled after fixing what lenient compilers allow: %s",
                doc.path,
                "; ".join(self.notices),
            )
        self.program, self.vao = self._programs[0]
        self._units = {name: unit for unit, name in enumerate(samplers)}
        for prog, _ in self._programs:
            for name, unit in self._units.items():
                set_uniform(prog, name, unit)
        # an unplugged image input shows the test card: a filter over black would draw black
        self._card = image_texture(ctx, load_test_card())
        self._images: dict[str, moderngl.Texture] = {
            i.name: self._card for i in doc.inputs if i.type == "image"
        }
        self._imported = {name: image_texture(ctx, rgba) for name, rgba in pictures.items()}
        self._audio = {
            i.name: ctx.texture((i.samples, 1), 4, dtype="f4")
            for i in doc.inputs
            if i.type in ("audio", "audioFFT")
        }
        self._buffers: dict[str, PingPong] = {}
        self._events: dict[str, bool] = {}

    def _build(self, doc: IsfDoc) -> None:
        # one build per pass where the code asks which pass it is in (see _declarations)
        asks = "PASSINDEX" in strip_comments(doc.code + (doc.vertex or ""))
        for index in range(len(doc.passes)) if asks else [None]:
            vertex, varyings = vertex_source(doc, index)
            self._programs.append(
                compile_layered(
                    self.ctx,
                    doc.path,
                    fragment_source(doc, index),
                    vertex=vertex,
                    varyings=varyings,
                    vertex_path=doc.path.with_suffix(".vs") if doc.vertex else None,
                )
            )
        if doc.passes[-1].target:
            self._copy = compile_layered(
                self.ctx, doc.path, COPY, vertex=VERTEX, varyings=[("vec2", "uv")]
            )

    def _mend(self, doc: IsfDoc, error: ShaderError) -> IsfDoc:
        """The doc with the construct `error` names rewritten, or `error` raised."""
        in_vs = error.path.suffix == ".vs" and doc.vertex is not None
        code = doc.vertex if in_vs and doc.vertex is not None else doc.code
        word = reserved_name(code, error.line, error.message) if error.line else None
        if word is not None:  # inputs so named were renamed by the parser already
            # a name shared by the .fs and its .vs (a varying) is renamed in both
            where = f"{error.path.name}:{error.line}"
            self.notices.append(f"{where}: `{word}` is reserved in GLSL 3.30: renamed {word}_")
            vertex = rename(doc.vertex, word) if doc.vertex is not None else None
            return replace(doc, code=rename(doc.code, word), vertex=vertex)
        fixed = None
        if error.line and len(self.notices) < MAX_FIXES:
            fixed = fix(code, error.line, error.message)
        if fixed is None:
            raise error
        new, what = fixed
        self.notices.append(f"{error.path.name}:{error.line}: {what}")
        return replace(doc, vertex=new) if in_vs else replace(doc, code=new)

    # the show's side -------------------------------------------------------------------------
    def set_image(self, name: str, texture: moderngl.Texture | None) -> None:
        """Plug a texture into an image input (None: the test card again)."""
        if name not in self._images:
            raise KeyError(f"{self.path.name} has no image input {name!r}")
        self._images[name] = texture or self._card

    def reset(self) -> None:
        """Forget the past: persistent buffers (feedback) and event edges."""
        for buf in self._buffers.values():
            buf.release()
        self._buffers.clear()
        self._events.clear()

    def render(
        self,
        target: moderngl.Framebuffer,
        layer: int,
        size: tuple[int, int],
        at: DrawFrame,
        *,
        values: Mapping[str, float | tuple[float, ...]],
        dreamer_row: np.ndarray,
        fade: float = 1.0,
    ) -> None:
        time, dt, frame, audio, date = at.time, at.dt, at.frame, at.audio, at.date
        w, h = max(1, int(size[0])), max(1, int(size[1]))
        fade = min(1.0, max(0.0, float(fade)))
        env: dict[str, float] = {"WIDTH": float(w), "HEIGHT": float(h)}
        uniforms: dict[str, object] = {"TIME": time, "TIMEDELTA": dt, "FRAMEINDEX": frame}
        uniforms["DATE"] = tuple(float(d) for d in date)
        for inp in self.doc.inputs:
            value = self._value(inp, values)
            if value is not None:
                uniforms[inp.name] = value
                if not isinstance(value, tuple):
                    env[inp.written] = float(value)
        for prog, _ in self._programs:
            for name, u in uniforms.items():
                set_uniform(prog, name, u)
            set_dreamer(prog, dreamer_row)
        self._upload_audio(audio)
        sizes = [self._size(p, env) if p.target else (w, h) for p in self.doc.passes]
        self._prepare_buffers(
            dict(zip([p.target for p in self.doc.passes], sizes, strict=True)), (w, h)
        )
        for index, (p, (pw, ph)) in enumerate(zip(self.doc.passes, sizes, strict=True)):
            prog, vao = self._programs[index if len(self._programs) > 1 else 0]
            set_uniform(prog, "PASSINDEX", index)
            set_uniform(prog, "RENDERSIZE", (float(pw), float(ph)))
            set_uniform(prog, "isf_over_black", p.target is None)
            set_uniform(prog, "isf_fade", fade)
            self._bind(prog)
            if p.target is None:
                draw(vao, target, layer, (w, h), fade)
            else:
                buf = self._buffers[p.target]
                draw(vao, buf.back(), 0, buf.size)
                buf.swap()
        last = self.doc.passes[-1].target
        if last and self._copy is not None:
            copy, vao = self._copy
            self._buffers[last].texture.use(0)
            set_uniform(copy, "src", 0)
            set_uniform(copy, "isf_fade", fade)
            draw(vao, target, layer, (w, h), fade)

    def release(self) -> None:
        self.reset()
        for tex in (*self._imported.values(), *self._audio.values(), self._card):
            tex.release()
        self._release_programs()

    def _release_programs(self) -> None:
        for prog, vao in (*self._programs, *([self._copy] if self._copy else [])):
            vao.release()
            prog.release()
        self._programs, self._copy = [], None

    # inside --------------------------------------------------------------------------------
    def _value(
        self, inp: IsfInput, values: Mapping[str, float | tuple[float, ...]]
    ) -> float | int | bool | tuple[float, ...] | None:
        spec = inp.spec
        if spec is None:
            return None
        try:
            v = spec.coerce(values.get(spec.path, spec.default))
        except ParamError:
            v = spec.coerce(spec.default)
        if inp.type == "event":  # a pulse: true for the one frame the value goes up
            on = v[0] >= 0.5
            fire, self._events[inp.name] = on and not self._events.get(inp.name, False), on
            return fire
        if inp.type == "bool":
            return v[0] >= 0.5
        if inp.type == "long":
            i = int(v[0])
            return inp.values[min(max(i, 0), len(inp.values) - 1)] if inp.values else i
        return v if spec.size > 1 else v[0]

    def _size(self, p: IsfPass, env: dict[str, float]) -> tuple[int, int]:
        out = []
        for expr, full in ((p.width, env["WIDTH"]), (p.height, env["HEIGHT"])):
            try:
                v = expr(env) if expr is not None else full
            except (ArithmeticError, ValueError):
                v = full
            out.append(int(min(MAX_SIZE, max(1.0, v))) if v == v else int(full))
        return out[0], out[1]

    def _prepare_buffers(
        self, sizes: dict[str | None, tuple[int, int]], full: tuple[int, int]
    ) -> None:
        for name, first in self.doc.buffers.items():
            size = sizes.get(name, full)
            buf = self._buffers.get(name)
            if buf is not None and buf.size != size:
                buf.release()
                buf = None
            if buf is None:
                buf = self._buffers[name] = PingPong(self.ctx, size, first.float)
            elif not first.persistent:  # a new frame: what a plain TARGET held is gone
                buf.fbos[buf.front].clear(0.0, 0.0, 0.0, 0.0)

    def _bind(self, prog: moderngl.Program) -> None:
        for name, unit in self._units.items():
            tex = (
                self._images.get(name)
                or self._imported.get(name)
                or self._audio.get(name)
                or self._buffers[name].texture
            )
            tex.use(unit)
            # ISF v1's per-image uniforms: the whole texture, upright, in normalised coords
            set_uniform(prog, f"_{name}_imgRect", (0.0, 0.0, 1.0, 1.0))
            set_uniform(prog, f"_{name}_imgSize", (float(tex.width), float(tex.height)))
            set_uniform(prog, f"_{name}_flip", False)

    def _upload_audio(self, audio: np.ndarray | None) -> None:
        if not self._audio:
            return
        mags = None
        for inp in self.doc.inputs:
            tex = self._audio.get(inp.name)
            if tex is None:
                continue
            if inp.type == "audio":
                row = waveform(audio, inp.samples)
            else:
                mags = magnitudes(audio) if mags is None else mags
                row = fold(mags, inp.samples)
            rgba = np.ones((inp.samples, 4), np.float32)
            rgba[:, :3] = row[:, None]
            tex.write(rgba.tobytes())
