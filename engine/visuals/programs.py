"""A show's layer programs: every layer shader it draws, in every dialect, and their
crossfades when one is edited.

Rig-dialect shaders are drawn instanced, one draw for all the dreamers that share one
(their layers listed in the stack's order table); ISF and Shadertoy layers get a program
of their own per dreamer (each may hold feedback buffers), with their INPUTS registered
as the dreamer's params (`/dreamer/N/layer/<INPUT>`). An edited shader compiles, then
fades in over the old one; a broken one raises ShaderError and leaves the old running.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import moderngl
import numpy as np

from engine.keyboard import KEYS, Keyboard
from engine.params import ParamSpace
from engine.visuals.dialect_base import DrawFrame
from engine.visuals.dialects import LayerProgram, detect, load_layer
from engine.visuals.layers import Draw, LayerStack
from engine.visuals.shaders import LayerSource, find_layer


class LayerOwner(Protocol):
    """What a program needs of a dreamer (engine.dreamers.Dreamer)."""

    index: int
    layer: int
    path: str
    shader: str

    @property
    def time(self) -> float: ...  # the dreamer's own time, what a layer's TIME reads


Fade = tuple[moderngl.Program, float, float]  # the old program, start, length (s)


class Programs:
    def __init__(
        self,
        ctx: moderngl.Context,
        layers: LayerStack,
        dreamers: Sequence[LayerOwner],
        params: ParamSpace,
        shader_dir: Path,
        layer_size: tuple[int, int],
    ) -> None:
        self.ctx, self.layers, self.dreamers, self.params = ctx, layers, dreamers, params
        self.shader_dir, self.layer_size = shader_dir, layer_size
        self._programs: dict[str, moderngl.Program] = {}
        self._fading: dict[str, Fade] = {}
        self._foreign: dict[int, LayerProgram] = {}
        self._foreign_fading: dict[int, tuple[LayerProgram, float, float]] = {}
        self._dialects: dict[str, str] = {}
        self._uses_signals: set[str] = set()
        self.keyboard = Keyboard()  # what a Shadertoy channel bound to the keyboard reads
        self._keyboard_texture: moderngl.Texture | None = None
        # the show's textures a layer's channel may read (merge, dreamer/N): the show sets it
        self.images: Callable[[str], moderngl.Texture | None] = lambda source: None
        self._groups = self._build_groups()
        self.sources = self._sources()

    def _sources(self) -> set[str]:
        """What the layers' channels read of the show: keyboard, merge, dreamer/N (a fading
        old program's too). Taken once a frame, before the layers are drawn."""
        progs = (*self._foreign.values(), *(f[0] for f in self._foreign_fading.values()))
        return {s for p in progs for s in getattr(p, "sources", ())}

    @property
    def shaders(self) -> list[str]:
        """The layer shaders in use, in every dialect."""
        return sorted(self._dialects)

    @property
    def foreign(self) -> bool:
        """Are there ISF or Shadertoy layers (whose passes may carry state frame to frame)?"""
        return bool(self._foreign)

    def _plug(self, prog: LayerProgram) -> None:
        for source in getattr(prog, "sources", ()):
            tex = self._keyboard() if source == "keyboard" else self.images(source)
            prog.plug(source, tex)  # type: ignore[attr-defined]

    def _keyboard(self) -> moderngl.Texture:
        if self._keyboard_texture is None:
            self._keyboard_texture = self.ctx.texture((KEYS, 3), 1)
            self._keyboard_texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        return self._keyboard_texture

    def uses_signals(self, shader: str) -> bool:
        """Does a rig-dialect shader read raw signals (`signal(...)`)?"""
        return shader in self._uses_signals

    def _build_groups(self) -> list[tuple[str, int, int]]:
        """One instanced draw per rig-dialect shader: (name, first, count) into the order
        table, in which dreamer i's layer is i (its merge slot)."""
        order: list[int] = []
        groups = []
        for name in sorted({d.shader for d in self.dreamers}):
            path = find_layer(name, self.shader_dir)
            self._dialects[name] = detect(path)
            users = [d for d in self.dreamers if d.shader == name]
            if self._dialects[name] != "rig":
                for d in users:
                    self._foreign[d.index] = self._load_foreign(d, path)
                continue
            self.program(name)
            groups.append((name, len(order), len(users)))
            order += [d.layer for d in users]
        self.layers.set_order(np.array(order))
        return groups

    def _load_foreign(self, d: LayerOwner, path: Path) -> LayerProgram:
        prog = load_layer(self.ctx, path, size=self.layer_size)
        for spec in prog.inputs:  # ISF INPUTS become the dreamer's params
            self.params.register(replace(spec, path=f"{d.path}/layer{spec.path}"))
        return prog

    def program(self, name: str) -> moderngl.Program:
        prog = self._programs.get(name)
        if prog is None:
            prog = self._programs[name] = self._compile(
                LayerSource.load(find_layer(name, self.shader_dir))
            )
        return prog

    def _compile(self, source: LayerSource) -> moderngl.Program:
        prog = source.compile(self.ctx)
        self.layers.warm(prog)
        name = source.path.stem
        if "signal(" in source.code:
            self._uses_signals.add(name)
        else:
            self._uses_signals.discard(name)
        return prog

    # edits
    def reload(self, path: Path, fade: float, now: float, source: LayerSource | None) -> None:
        if detect(path) == "rig":
            self.swap_shader(source or LayerSource.load(path), fade, now)
        else:
            self.swap_foreign(path, fade, now)

    def swap_foreign(self, path: Path, fade: float, now: float) -> None:
        users = [d for d in self.dreamers if d.shader == path.stem]
        new = {d.index: self._load_foreign(d, path) for d in users}  # all or nothing
        for i, prog in new.items():
            old = self._foreign[i]
            kept = {spec.path for spec in prog.inputs}
            for spec in old.inputs:  # an INPUT the edit took out goes from the param space
                if spec.path not in kept:
                    self.params.unregister(f"{self.dreamers[i].path}/layer{spec.path}")
            previous = self._foreign_fading.pop(i, None)
            if previous is not None:
                previous[0].release()
            self._foreign[i] = prog
            if fade > 0:
                self._foreign_fading[i] = (old, now, fade)
            else:
                old.release()

    def swap_shader(self, source: LayerSource, fade: float, now: float) -> None:
        name = source.path.stem
        new = self._compile(source)
        old = self._programs.get(name)
        self._programs[name] = new
        if old is None:
            return
        previous = self._fading.pop(name, None)
        if previous is not None:
            self._release_program(previous[0])
        if fade > 0:
            self._fading[name] = (old, now, fade)
        else:
            self._release_program(old)

    def _release_program(self, prog: moderngl.Program) -> None:
        self.layers.forget(prog)
        prog.release()

    # drawing
    def _draws(self, t: float) -> list[Draw]:
        draws = []
        for name, first, count in self._groups:
            fading = self._fading.get(name)
            if fading is not None:
                old, start, length = fading
                x = (t - start) / length
                if x >= 1.0:
                    del self._fading[name]
                    self._release_program(old)
                else:
                    draws.append(Draw(old, first, count))
                    draws.append(Draw(self._programs[name], first, count, fade=max(x, 0.0)))
                    continue
            draws.append(Draw(self._programs[name], first, count))
        return draws

    def render(self, data: np.ndarray, shown: DrawFrame) -> None:
        """Every layer: the rig's instanced draws, then each ISF or Shadertoy layer
        (`shown` is the show's frame; each of those layers runs on its dreamer's time)."""
        t = shown.time
        self.layers.render(self._draws(t), time=t, dt=shown.dt, frame=shown.frame)
        get = self.params.get_vec
        self.sources = self._sources()
        if "keyboard" in self.sources:
            self._keyboard().write(self.keyboard.state.tobytes())
        for i, prog in self._foreign.items():
            d = self.dreamers[i]
            values = {
                spec.path: (v[0] if spec.size == 1 else v)
                for spec in prog.inputs
                for v in [get(f"{d.path}/layer{spec.path}")]
            }
            at = replace(shown, time=d.time)
            fbo, size, row = self.layers.fbo, self.layer_size, data[d.layer]
            fading = self._foreign_fading.get(i)
            fade = 1.0
            if fading is not None:
                old, start, length = fading
                x = (t - start) / length
                if x < 1.0:
                    self._plug(old)
                    old.render(fbo, d.layer, size, at, values=values, dreamer_row=row)
                    fade = max(x, 0.0)
                else:
                    del self._foreign_fading[i]
                    old.release()
            self._plug(prog)
            prog.render(fbo, d.layer, size, at, values=values, dreamer_row=row, fade=fade)
            for rel in prog.events:  # an event is a pulse: down again after its frame
                self.params.set(f"{d.path}/layer{rel}", 0, jump=True)
        self.keyboard.frame_done()  # a key's press shows for one frame

    def release(self) -> None:
        if self._keyboard_texture is not None:
            self._keyboard_texture.release()
        for prog in self._programs.values():
            prog.release()
        for old, _, _ in self._fading.values():
            old.release()
        for foreign in (*self._foreign.values(), *(f[0] for f in self._foreign_fading.values())):
            foreign.release()
