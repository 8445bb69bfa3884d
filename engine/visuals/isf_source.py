"""The GLSL the rig writes around an ISF file: what ISF promises, as declarations and functions.

The user's file follows a prologue that declares the INPUTS as uniforms, TIME,
RENDERSIZE, PASSINDEX, DATE, FRAMEINDEX, TIMEDELTA, and per image (input, imported
or pass buffer) the v1 uniforms `_NAME_imgRect`, `_NAME_imgSize` and `_NAME_flip`;
the IMG_* functions (both spellings of IMG_THIS_NORM_PIXEL, and the fragment shader's
`bias` overloads), and the old names a GLSL 1.x / ISF v1 file uses in a 3.30 core
context: `gl_FragColor`, `texture2D` (and `Lod`, `Proj`), `textureCube`, `varying`,
`attribute`, `vv_FragNormCoord`, `vv_vertShaderInit`; plus the rig's `oneiric_*`
features. Whatever the user's file (or its `.vs`) declares itself is left out of the
prologue, so nothing is declared twice. Its `main` is renamed, and the rig's `main`
calls it, then (drawing into the layer) composites over black.
"""

from __future__ import annotations

import re

from engine.visuals.dialect_base import ONEIRIC_UNIFORMS, assemble, strip_comments
from engine.visuals.isf import GLSL_TYPES, IsfDoc

_OUT = re.compile(r"^\s*(?:layout\s*\([^)]*\)\s*)?out\s+(?:\w+\s+)*vec4\s+(\w+)\s*;", re.M)
_QUALIFIERS = ("flat", "smooth", "noperspective", "centroid", "invariant")
_PRECISIONS = ("lowp", "mediump", "highp")
# a global declaration: [layout(...)] [qualifiers] storage [precision] TYPE names;
_DECL = re.compile(
    r"^[ \t]*(?:layout\s*\([^)]*\)\s*)?((?:(?:flat|smooth|noperspective|centroid|invariant)\s+)*)"
    r"(uniform|varying|attribute|in|out)\s+(?:(?:lowp|mediump|highp)\s+)?(\w+)\s+"
    r"([\w\s,\[\]]+?)\s*;",
    re.M,
)
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_VERSION_TEST = re.compile(r"^\s*__VERSION__\s*(==|!=|<=|>=|<|>)\s*(\d+)\s*$")
VERSION = 330  # what the rig compiles every ISF file as

SAMPLER_FUNCTIONS = """\
vec4 IMG_NORM_PIXEL(sampler2D img, vec2 c) { return texture(img, c); }
vec4 IMG_PIXEL(sampler2D img, vec2 c) { return texture(img, c / vec2(textureSize(img, 0))); }
vec4 IMG_THIS_NORM_PIXEL(sampler2D img) { return texture(img, isf_FragNormCoord); }
vec4 IMG_NORM_THIS_PIXEL(sampler2D img) { return texture(img, isf_FragNormCoord); }
vec4 IMG_THIS_PIXEL(sampler2D img) { return texture(img, isf_FragNormCoord); }
vec2 IMG_SIZE(sampler2D img) { return vec2(textureSize(img, 0)); }
"""
# texture() with a bias exists only in fragment shaders
BIAS_FUNCTIONS = """\
vec4 IMG_NORM_PIXEL(sampler2D img, vec2 c, float b) { return texture(img, c, b); }
vec4 IMG_PIXEL(sampler2D img, vec2 c, float b) {
    return texture(img, c / vec2(textureSize(img, 0)), b);
}
"""
MACROS = (
    "#define vv_FragNormCoord isf_FragNormCoord\n#define texture2D texture\n"
    "#define texture2DLod textureLod\n#define texture2DProj textureProj\n"
    "#define textureCube texture\n"
)
BUILTINS = (
    ("RENDERSIZE", "vec2"),
    ("TIME", "float"),
    ("TIMEDELTA", "float"),
    ("DATE", "vec4"),
    ("FRAMEINDEX", "int"),
)
COPY = """#version 330 core
uniform sampler2D src;
uniform float isf_fade;
in vec2 uv;
out vec4 color;
void main() { vec4 c = texture(src, uv); color = vec4(c.rgb * clamp(c.a, 0.0, 1.0), isf_fade); }
"""


def active_code(code: str) -> str:
    """The code as the compiler will see it, for looking: comments blanked, and the lines of
    `#if __VERSION__ <= 120` / `#ifdef GL_ES` branches not taken at GLSL 3.30 core blanked
    (lines kept). A condition it can't judge counts as taken."""
    out = []
    stack: list[tuple[bool, bool]] = []  # (this branch taken, some branch of this #if taken)
    for line in strip_comments(code).split("\n"):
        m = _DIRECTIVE.match(line)
        live = all(taken for taken, _ in stack)
        if m is None:
            out.append(line if live else "")
            continue
        kind, rest = m[1], m[2].strip()
        if kind in ("if", "ifdef", "ifndef"):
            taken = _judge(kind, rest)
            stack.append((taken, taken))
        elif kind == "elif" and stack:
            done = stack[-1][1]
            taken = not done and _judge("if", rest)
            stack[-1] = (taken, done or taken)
        elif kind == "else" and stack:
            stack[-1] = (not stack[-1][1], True)
        elif kind == "endif" and stack:
            stack.pop()
        out.append("")
    return "\n".join(out)


def _judge(kind: str, rest: str) -> bool:
    if kind in ("ifdef", "ifndef"):
        defined = rest.split()[0] not in ("GL_ES",) if rest else True
        return defined if kind == "ifdef" else not defined
    m = _VERSION_TEST.match(rest)
    if m:
        n = int(m[2])
        return {
            "==": n == VERSION,
            "!=": n != VERSION,
            "<=": n >= VERSION,
            ">=": n <= VERSION,
            "<": n > VERSION,
            ">": n < VERSION,
        }[m[1]]
    if re.fullmatch(r"defined\s*\(?\s*GL_ES\s*\)?", rest):
        return False
    if re.fullmatch(r"!\s*defined\s*\(?\s*GL_ES\s*\)?", rest):
        return True
    return True


def declared(code: str) -> dict[str, tuple[str, str, str]]:
    """Globals the code declares: name -> (storage, qualifiers, type). First one wins."""
    found: dict[str, tuple[str, str, str]] = {}
    for m in _DECL.finditer(active_code(code)):
        quals, storage, kind = " ".join(m[1].split()), m[2], m[3]
        for raw in m[4].split(","):
            name = re.sub(r"\s+", "", raw)
            base = name.partition("[")[0]
            if base and re.fullmatch(r"[A-Za-z_]\w*", base) and base not in found:
                found[base] = (storage, quals, f"{kind}{name[len(base) :]}")
    return found


def _samplers(doc: IsfDoc) -> list[str]:
    images = [i.name for i in doc.inputs if i.type in ("image", "audio", "audioFFT")]
    return [*images, *doc.imported, *doc.buffers]


def _declarations(doc: IsfDoc, pass_index: int | None, skip: set[str]) -> str:
    # PASSINDEX is a constant where it can be: llvmpipe runs both sides of a branch on a
    # uniform, so `if (PASSINDEX == 0) {...} else {...}` would pay for every pass's code
    out = []
    if "PASSINDEX" not in skip:
        out.append(
            "uniform int PASSINDEX;" if pass_index is None else f"#define PASSINDEX {pass_index}"
        )
    uniforms = [*BUILTINS, *((i.name, GLSL_TYPES[i.type]) for i in doc.inputs)]
    for name in _samplers(doc):
        if not any(n == name for n, _ in uniforms):
            uniforms.append((name, "sampler2D"))
        uniforms += [(f"_{name}_imgRect", "vec4"), (f"_{name}_imgSize", "vec2")]
        uniforms.append((f"_{name}_flip", "bool"))
    out += [f"uniform {t} {n};" for n, t in uniforms if n not in skip]
    return "\n".join(out) + "\n" + ONEIRIC_UNIFORMS


def fragment_source(doc: IsfDoc, pass_index: int | None = None) -> str:
    """The fragment shader: prologue, the user's file (header blanked), a main that calls
    theirs and, drawing into the layer, composites the colour over black."""
    own = _OUT.search(active_code(doc.code))
    out = own[1] if own else "isf_FragColor"
    mine = declared(doc.code)
    prologue = (
        _declarations(doc, pass_index, set(mine))
        + ("" if "isf_FragNormCoord" in mine else "in vec2 isf_FragNormCoord;\n")
        + ("" if own else "out vec4 isf_FragColor;\n#define gl_FragColor isf_FragColor\n")
        + "#define varying in\n"
        + MACROS
        + SAMPLER_FUNCTIONS
        + BIAS_FUNCTIONS
        + "#define main isf_main\n"
    )
    epilogue = (
        "#undef main\nuniform bool isf_over_black;\nuniform float isf_fade;\n"
        "void main() {\n    isf_main();\n    if (isf_over_black)\n"
        f"        {out} = vec4({out}.rgb * clamp({out}.a, 0.0, 1.0), isf_fade);\n}}\n"
    )
    return assemble(prologue, doc.code, epilogue)


def vertex_varyings(code: str) -> list[tuple[str, str]]:
    """What a `.vs` hands on to the fragment shader: (qualifiers and type, name), each once,
    from its `varying` and `out` declarations in the branches a 3.30 compiler takes."""
    out = []
    for name, (storage, quals, typed) in declared(code).items():
        if storage in ("varying", "out") and name != "isf_FragNormCoord":
            kind, _, arr = typed.partition("[")
            out.append((f"{quals} {kind}".strip(), name + (f"[{arr}" if arr else "")))
    return out


def vertex_source(doc: IsfDoc, pass_index: int | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The vertex shader (the file's own `.vs`, or one that just calls isf_vertShaderInit)
    and the varyings the geometry shader must pass on. The vertex shader's outputs are
    renamed `_vs_<name>` (the geometry shader reads those and writes `<name>`)."""
    user = doc.vertex or "void main() { isf_vertShaderInit(); }\n"
    varyings = [("vec2", "isf_FragNormCoord"), *vertex_varyings(user)]
    mine = declared(user)
    renames = "".join(
        f"#define {n.partition('[')[0]} _vs_{n.partition('[')[0]}\n" for _, n in varyings
    )
    prologue = (
        _declarations(doc, pass_index, set(mine))
        + renames
        + ("" if "isf_FragNormCoord" in mine else "out vec2 isf_FragNormCoord;\n")
        + "#define varying out\n#define attribute in\n"
        + MACROS
        + SAMPLER_FUNCTIONS
        + "void isf_vertShaderInit() {\n"
        "    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);\n"
        "    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);\n    isf_FragNormCoord = p;\n}\n"
        "#define vv_vertShaderInit isf_vertShaderInit\n"
    )
    return assemble(prologue, user), varyings
