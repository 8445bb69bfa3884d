"""The GLSL the rig writes around an ISF file: what ISF promises, as declarations and macros.

The user's file follows a prologue that declares the INPUTS as uniforms, TIME,
RENDERSIZE, PASSINDEX, DATE, FRAMEINDEX, TIMEDELTA, the IMG_* functions (both
spellings of IMG_THIS_NORM_PIXEL), and the old names a GLSL 1.x / ISF v1 file uses in
a 3.30 core context: `gl_FragColor`, `texture2D`, `varying`, `vv_FragNormCoord`,
`vv_vertShaderInit`; plus the rig's `oneiric_*` features. Its `main` is renamed, and
the rig's `main` calls it, then (drawing into the layer) composites over black.
"""

from __future__ import annotations

import re

from engine.visuals.dialect_base import ONEIRIC_UNIFORMS, assemble, strip_comments
from engine.visuals.isf import GLSL_TYPES, IsfDoc

_OUT = re.compile(r"^\s*(?:layout\s*\([^)]*\)\s*)?out\s+(?:\w+\s+)*vec4\s+(\w+)\s*;", re.M)
_VARYING = re.compile(
    r"^\s*(?:varying|out)\s+(?:(?:flat|smooth|noperspective|\w+p)\s+)*(\w+)\s+"
    r"([\w\s,\[\]]+);",
    re.M,
)
MACROS = """\
#define vv_FragNormCoord isf_FragNormCoord
#define texture2D texture
#define IMG_NORM_PIXEL(img, c) texture(img, c)
#define IMG_PIXEL(img, c) texture(img, (c) / vec2(textureSize(img, 0)))
#define IMG_THIS_NORM_PIXEL(img) texture(img, isf_FragNormCoord)
#define IMG_NORM_THIS_PIXEL(img) texture(img, isf_FragNormCoord)
#define IMG_THIS_PIXEL(img) texture(img, isf_FragNormCoord)
#define IMG_SIZE(img) vec2(textureSize(img, 0))
"""
BUILTINS = """\
uniform vec2 RENDERSIZE;
uniform float TIME;
uniform float TIMEDELTA;
uniform vec4 DATE;
uniform int FRAMEINDEX;
"""
COPY = """#version 330 core
uniform sampler2D src;
uniform float isf_fade;
in vec2 uv;
out vec4 color;
void main() { vec4 c = texture(src, uv); color = vec4(c.rgb * clamp(c.a, 0.0, 1.0), isf_fade); }
"""


def _declarations(doc: IsfDoc, pass_index: int | None) -> str:
    # PASSINDEX is a constant where it can be: llvmpipe runs both sides of a branch on a
    # uniform, so `if (PASSINDEX == 0) {...} else {...}` would pay for every pass's code
    index = (
        "uniform int PASSINDEX;\n" if pass_index is None else f"#define PASSINDEX {pass_index}\n"
    )
    inputs = "".join(f"uniform {GLSL_TYPES[i.type]} {i.name};\n" for i in doc.inputs)
    images = "".join(f"uniform sampler2D {n};\n" for n in [*doc.imported, *doc.buffers])
    return index + BUILTINS + ONEIRIC_UNIFORMS + inputs + images


def fragment_source(doc: IsfDoc, pass_index: int | None = None) -> str:
    """The fragment shader: prologue, the user's file (header blanked), a main that calls
    theirs and, drawing into the layer, composites the colour over black."""
    own = _OUT.search(strip_comments(doc.code))
    out = own[1] if own else "isf_FragColor"
    prologue = (
        _declarations(doc, pass_index)
        + "in vec2 isf_FragNormCoord;\n"
        + ("" if own else "out vec4 isf_FragColor;\n#define gl_FragColor isf_FragColor\n")
        + "#define varying in\n"
        + MACROS
        + "#define main isf_main\n"
    )
    epilogue = (
        "#undef main\nuniform bool isf_over_black;\nuniform float isf_fade;\n"
        "void main() {\n    isf_main();\n    if (isf_over_black)\n"
        f"        {out} = vec4({out}.rgb * clamp({out}.a, 0.0, 1.0), isf_fade);\n}}\n"
    )
    return assemble(prologue, doc.code, epilogue)


def vertex_source(doc: IsfDoc, pass_index: int | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The vertex shader (the file's own `.vs`, or one that just calls isf_vertShaderInit)
    and the varyings the geometry shader must pass on. The vertex shader's outputs are
    renamed `_vs_<name>` (the geometry shader reads those and writes `<name>`)."""
    varyings = [("vec2", "isf_FragNormCoord")]
    user = doc.vertex or "void main() { isf_vertShaderInit(); }\n"
    for m in _VARYING.finditer(strip_comments(user)):
        names = [re.sub(r"\s+", "", n) for n in m[2].split(",")]
        varyings += [(m[1], n) for n in names if n and n != "isf_FragNormCoord"]
    prologue = (
        _declarations(doc, pass_index)
        + "".join(f"#define {n.partition('[')[0]} _vs_{n.partition('[')[0]}\n" for _, n in varyings)
        + "out vec2 isf_FragNormCoord;\n#define varying out\n#define attribute in\n"
        + MACROS
        + "void isf_vertShaderInit() {\n"
        "    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);\n"
        "    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);\n    isf_FragNormCoord = p;\n}\n"
        "#define vv_vertShaderInit isf_vertShaderInit\n"
    )
    return assemble(prologue, user), varyings
