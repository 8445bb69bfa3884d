"""Shader files: finding, assembling with the rig's header, compiling, reporting errors.

A compile error names the file and the line in *that* file (the header the rig
prepends is accounted for with a `#line` directive), so a VJ can jump straight to
the typo. Drivers compile at the first draw, not at link time, so :func:`warm`
draws a program once before it is used on the show's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import moderngl

from engine.folders import SHADER_DIR
from engine.visuals.fields import glsl_fields

LIB_DIR = SHADER_DIR / "lib"
# .glsl: rig or Shadertoy dialect; .fs: ISF; .json: a Shadertoy export
LAYER_EXTENSIONS = (".glsl", ".fs", ".json")

# Mesa: "1:12(3): error: ..."; NVIDIA: "1(12) : error C0000: ..."; AMD/Intel: "ERROR: 1:12: ..."
_ERROR_LINE = re.compile(
    r"(?:ERROR:\s*)?(?P<src>\d+)[:(](?P<line>\d+)\)?(?:\(\d+\))?\s*:\s*(?P<msg>.*)"
)


class ShaderError(Exception):
    """A shader that would not load or compile: file, line (0 if unknown) and message."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message.strip()
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {self.message}")


def lib(name: str) -> str:
    return (LIB_DIR / name).read_text()


def available_layers(shader_dir: Path = SHADER_DIR) -> list[str]:
    """Names of the layer shaders in a folder (file stem; merge and post are not layers), in
    every dialect: `engine.visuals.dialects.detect` tells which."""
    return sorted(
        {
            p.stem
            for p in shader_dir.iterdir()
            if p.suffix in LAYER_EXTENSIONS and p.is_file() and not p.name.startswith("_")
        }
    )


def find_layer(name: str, shader_dir: Path = SHADER_DIR) -> Path:
    for ext in LAYER_EXTENSIONS:
        path = shader_dir / f"{name}{ext}"
        if path.is_file():
            return path
    known = ", ".join(available_layers(shader_dir)) or "none"
    raise ShaderError(shader_dir / name, 0, f"no layer shader named {name!r} (known: {known})")


# The rig's own code around a user's shader is numbered from here (`#line`), so any
# reported line below it is the user's. Source-string numbers can't be trusted:
# Mesa reports syntax errors in string 1 but semantic ones (undeclared names, type
# mismatches) in string 0.
RIG_LINES = 10000


def first_error(log: str, path: Path) -> ShaderError:
    """The first error in a driver log, mapped to the user's file and line."""
    for raw in log.splitlines():
        m = _ERROR_LINE.search(raw)
        if m and "error" in raw.lower():
            line = int(m["line"])
            if line >= RIG_LINES:
                return ShaderError(path, 0, f"in the rig's header: {m['msg'].strip()}")
            return ShaderError(path, line, m["msg"].removeprefix("error:").strip())
    return ShaderError(path, 0, log.strip().splitlines()[0] if log.strip() else "compile failed")


def compile_program(
    ctx: moderngl.Context,
    path: Path,
    *,
    vertex: str,
    fragment: str,
    geometry: str | None = None,
) -> moderngl.Program:
    try:
        return ctx.program(vertex_shader=vertex, fragment_shader=fragment, geometry_shader=geometry)
    except moderngl.Error as exc:
        raise first_error(str(exc), path) from None


@dataclass(frozen=True, slots=True)
class LayerSource:
    """A layer shader in the rig's own dialect: `vec4 layer(vec2 uv)` plus the header's names."""

    path: Path
    code: str

    @classmethod
    def load(cls, path: Path) -> LayerSource:
        try:
            code = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ShaderError(path, 0, f"cannot read: {exc.strerror}") from None
        if not re.search(r"\bvec4\s+layer\s*\(", code):
            raise ShaderError(path, 0, "a layer shader defines `vec4 layer(vec2 uv)`")
        return cls(path, code)

    def fragment(self) -> str:
        # "#line 1 1": the user's code is source string 1, so errors there report its own lines
        return (
            lib("layer_header.glsl").replace("// @fields", glsl_fields() + "//", 1)
            + "\n#line 1 1\n"
            + self.code
            + "\n#line 1 2\n"
            + lib("layer_footer.glsl")
        )

    def compile(self, ctx: moderngl.Context) -> moderngl.Program:
        return compile_program(
            ctx,
            self.path,
            vertex=lib("fullscreen.vert"),
            geometry=lib("layer.geom"),
            fragment=self.fragment(),
        )
