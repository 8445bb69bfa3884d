"""Layer shaders in three dialects, and the front door that tells them apart and loads them.

- **rig**: a `.glsl` file defining `vec4 layer(vec2 uv)` (shaders/README.md); drawn
  instanced by :class:`~engine.visuals.layers.LayerStack` from a
  :class:`~engine.visuals.shaders.LayerSource`.
- **isf**: a `.fs` file opening with a `/*{ JSON }*/` header (Interactive Shader
  Format v2, v1 accepted): :mod:`engine.visuals.isf`, :mod:`engine.visuals.isf_program`.
- **shadertoy**: a `.glsl` file defining `void mainImage(out vec4, in vec2)`:
  :mod:`engine.visuals.shadertoy`; or the site's JSON export (`.json`, its API's
  renderpass list): :mod:`engine.visuals.shadertoy_json`.

A foreign-dialect layer is a :class:`LayerProgram`: one per dreamer (it may hold
feedback buffers), drawn into that dreamer's layer of the stack's layered framebuffer
after the stack's own draws. Its INPUTS are params with paths relative to the layer
("/<NAME>"); the show mounts them under the dreamer.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

import moderngl
import numpy as np

from engine.params import ParamSpec
from engine.visuals.dialect_base import DrawFrame, strip_comments
from engine.visuals.fields import DATA_TEXELS
from engine.visuals.isf import HEADER
from engine.visuals.isf import parse as parse_isf
from engine.visuals.isf_program import IsfProgram
from engine.visuals.shaders import ShaderError
from engine.visuals.shadertoy import ShadertoyProgram, is_shadertoy
from engine.visuals.shadertoy_json import is_export, to_tabs

Dialect = Literal["rig", "isf", "shadertoy"]
SHADER_EXTENSIONS = (".glsl", ".fs", ".json")
_RIG = re.compile(r"\bvec4\s+layer\s*\(")
WARM_SIZE = (96, 54)  # 16:9, and so are its halves and quarters: no side a power of two


class LayerProgram(Protocol):
    """A layer shader in a foreign dialect, ready to draw one dreamer's layer."""

    path: Path
    dialect: str
    inputs: tuple[ParamSpec, ...]  # relative paths: "/<NAME>"
    events: tuple[str, ...]  # the inputs that are events (pulses on a rise to 1): reset them

    def render(
        self,
        target: moderngl.Framebuffer,
        layer: int,
        size: tuple[int, int],
        at: DrawFrame,
        *,
        values: Mapping[str, float | tuple[float, ...]],
        dreamer_row: np.ndarray,
        fade: float = 1.0,  # < 1: blended over the layer (a crossfade from the old shader)
    ) -> None: ...

    def reset(self) -> None: ...

    def release(self) -> None: ...


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise ShaderError(path, 0, f"cannot read: {exc.strerror}") from None


def detect(path: Path) -> Dialect:
    """Which dialect a layer shader file is written in, by its extension and content."""
    path = Path(path)
    if path.suffix not in SHADER_EXTENSIONS:
        raise ShaderError(
            path,
            0,
            f"{path.suffix or 'no extension'}: layer shaders are .glsl (rig, Shadertoy)"
            ", .fs (ISF) or .json (a Shadertoy export)",
        )
    text = _read(path)
    if path.suffix == ".json":
        if is_export(text):
            return "shadertoy"
        raise ShaderError(path, 1, "a .json layer is a Shadertoy export (its renderpass list)")
    if HEADER.match(text):
        return "isf"
    if path.suffix == ".fs":
        raise ShaderError(path, 1, "an ISF shader (.fs) opens with a /*{ JSON }*/ header comment")
    if is_shadertoy(text):
        return "shadertoy"
    if _RIG.search(strip_comments(text)):
        return "rig"
    raise ShaderError(
        path,
        0,
        "not a layer shader: define `vec4 layer(vec2 uv)` (the rig's dialect) or "
        "`void mainImage(out vec4 fragColor, in vec2 fragCoord)` (Shadertoy), "
        "or open with an ISF /*{ JSON }*/ header",
    )


def load_layer(
    ctx: moderngl.Context,
    path: Path,
    *,
    warm: bool = True,
    size: tuple[int, int] = WARM_SIZE,
) -> LayerProgram:
    """Compile an ISF or Shadertoy layer and (unless warm=False) draw it once, so the
    driver's deferred compile happens now and not on the show's path. Warm at the size
    the layer will be drawn at: llvmpipe builds different code for textures whose sides
    are powers of two, and pass buffers take their size from the layer's."""
    path = Path(path)
    dialect = detect(path)
    prog: IsfProgram | ShadertoyProgram
    if dialect == "isf":
        prog = IsfProgram(ctx, parse_isf(path, _read(path)))
    elif dialect == "shadertoy":
        prog = _shadertoy(ctx, path, _read(path))
    else:
        raise ShaderError(path, 0, "in the rig's own dialect: LayerSource compiles it")
    if warm:
        try:
            warm_layer(ctx, prog, size)
        except BaseException:
            prog.release()
            raise
    return prog


def _shadertoy(ctx: moderngl.Context, path: Path, text: str) -> ShadertoyProgram:
    if path.suffix != ".json":
        return ShadertoyProgram(ctx, path, text)
    tabs = to_tabs(path, text)
    try:
        prog = ShadertoyProgram(ctx, path, tabs.text)
    except ShaderError as exc:
        at = tabs.where(exc.line) if exc.line else None
        if at is None:
            raise
        raise ShaderError(path, 0, f"{at[0]}, line {at[1]}: {exc.message}") from None
    prog.notices.extend(tabs.notices)
    return prog


def warm_layer(
    ctx: moderngl.Context, prog: LayerProgram, size: tuple[int, int] = WARM_SIZE
) -> None:
    """Draw a whole frame into a scratch layer (same formats as the stack), then forget it."""
    tex = ctx.texture_array((size[0], size[1], 1), 4)
    fbo = ctx.framebuffer(color_attachments=[tex])
    try:
        for fade in (1.0, 0.5):  # llvmpipe builds the blended draw (a crossfade) apart
            at = DrawFrame(0.0, 0.0, 0, np.zeros(64, np.float32), date_of(_dt.datetime(2000, 1, 1)))
            row = np.zeros(DATA_TEXELS * 4, np.float32)
            prog.render(fbo, 0, size, at, values={}, dreamer_row=row, fade=fade)
        ctx.finish()
    finally:
        fbo.release()
        tex.release()
        prog.reset()


def date_of(when: _dt.datetime | None = None) -> tuple[float, float, float, float]:
    """ISF's DATE: year, month (1-12), day, seconds since midnight (now, if not given)."""
    t = when or _dt.datetime.now()
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return float(t.year), float(t.month), float(t.day), (t - midnight).total_seconds()
