"""ISF files (Interactive Shader Format, v2; v1 accepted): the JSON header, read and checked.

An ISF shader is a `.fs` file that opens with a `/*{ JSON }*/` comment naming its
INPUTS (which become params), PASSES (render targets, persistent buffers, sizes as
expressions) and IMPORTED images. :func:`parse` turns that into an :class:`IsfDoc`;
`isf_program` draws it. Every error names the file and a line in it: a JSON error
its line, a bad input the line of its NAME.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.params import ParamError, ParamSpec
from engine.visuals.dialect_base import AUDIO_WIDTH
from engine.visuals.isf_expr import Expr
from engine.visuals.isf_lenient import RESERVED as FREE_IN_GLSL_1
from engine.visuals.isf_lenient import rename
from engine.visuals.shaders import ShaderError

log = logging.getLogger("oneiric.isf")

HEADER = re.compile(r"\A\s*/\*\s*(?=\{)")
IDENT = re.compile(r"[A-Za-z_]\w*\Z")
GLSL_TYPES = {
    **{"event": "bool", "bool": "bool", "long": "int", "float": "float"},
    **{"point2D": "vec2", "color": "vec4"},
    **{"image": "sampler2D", "audio": "sampler2D", "audioFFT": "sampler2D"},
}
SAMPLER_TYPES = ("image", "audio", "audioFFT")
RESERVED = {"PASSINDEX", "RENDERSIZE", "TIME", "TIMEDELTA", "DATE", "FRAMEINDEX", "main"}
# GLSL 3.30's keywords and reserved words: not names for inputs, buffers or images
GLSL_WORDS = frozenset(
    re.findall(
        r"\w+",
        """
    attribute const uniform varying layout centroid flat smooth noperspective break
    continue do for while switch case default if else in out inout float int void bool true
    false invariant discard return mat2 mat3 mat4 mat2x2 mat2x3 mat2x4 mat3x2 mat3x3 mat3x4
    mat4x2 mat4x3 mat4x4 vec2 vec3 vec4 ivec2 ivec3 ivec4 bvec2 bvec3 bvec4 uint uvec2
    uvec3 uvec4 lowp mediump highp precision sampler1D sampler2D sampler3D samplerCube
    sampler1DShadow sampler2DShadow sampler2DRect sampler2DRectShadow samplerBuffer
    sampler2DMS struct common partition active asm class union enum typedef template this
    packed goto inline noinline volatile public static extern external interface long short
    double half fixed unsigned superp input output hvec2 hvec3 hvec4 dvec2 dvec3 dvec4
    fvec2 fvec3 fvec4 sampler3DRect filter image1D image2D image3D imageCube iimage1D
    iimage2D uimage1D uimage2D sizeof cast namespace using row_major texture
""",
    )
)


def _name_problem(name: object) -> str:
    """Why a name from the header can't be a GLSL name ("" if it can)."""
    if not isinstance(name, str) or not IDENT.match(name):
        return f"{name!r} is not a GLSL identifier"
    if name in GLSL_WORDS:
        return f"{name!r} is a reserved word in GLSL"
    if name in RESERVED or name.startswith(("gl_", "isf_", "oneiric_", "_vs_")) or "__" in name:
        return f"{name!r} is taken by ISF or the rig"
    return ""


@dataclass(frozen=True, slots=True)
class IsfInput:
    name: str  # as the shader's code reads it: NAME, or NAME_ where GLSL 3.30 reserves NAME
    type: str  # an ISF TYPE: event, bool, long, float, point2D, color, image, audio, audioFFT
    spec: ParamSpec | None  # None for images and audio (textures, not params)
    values: tuple[int, ...] = ()  # long with VALUES: what each choice sends to the shader
    samples: int = 0  # audio / audioFFT: the texture's width (MAX, or AUDIO_WIDTH)

    @property
    def written(self) -> str:
        """The NAME as the file writes it (its param's name; `$NAME` in PASSES sizes)."""
        return self.spec.path[1:] if self.spec is not None else self.name


@dataclass(frozen=True, slots=True)
class IsfPass:
    target: str | None
    persistent: bool = False
    float: bool = False
    width: Expr | None = None
    height: Expr | None = None


@dataclass(frozen=True, slots=True)
class IsfDoc:
    path: Path
    version: str  # ISFVSN; "1.0" when missing
    description: str
    credit: str
    categories: tuple[str, ...]
    inputs: tuple[IsfInput, ...]
    passes: tuple[IsfPass, ...]  # never empty: no PASSES is one pass to the output
    imported: dict[str, Path]
    code: str  # the whole file with the JSON header blanked out (lines kept)
    vertex: str | None = None  # a custom vertex shader (`<name>.vs` beside the file)
    buffers: dict[str, IsfPass] = field(default_factory=dict)  # target name -> its first pass


def split_header(path: Path, text: str) -> tuple[str, int, str]:
    """(the JSON text, its first line, the file with the header blanked) or ShaderError."""
    m = HEADER.match(text)
    end = text.find("*/", m.end()) if m else -1
    if m is None or end < 0:
        raise ShaderError(path, 1, "an ISF shader opens with a /*{ JSON }*/ header comment")
    first = text.count("\n", 0, m.end()) + 1
    blank = re.sub(r"[^\n]", " ", text[: end + 2])
    return text[m.end() : end], first, blank + text[end + 2 :]


def parse(path: Path, text: str | None = None) -> IsfDoc:
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            raise ShaderError(path, 0, f"cannot read: {exc.strerror}") from None
    raw, first, code = split_header(path, text)
    top = _load_json(path, raw, first)

    def line_of(key: str, value: object = None) -> int:
        """The line of `"key"` in the header (of `"key": "value"` when a value is given)."""
        pattern = f'"{re.escape(key)}"'
        if isinstance(value, str):
            pattern += rf'\s*:\s*"{re.escape(value)}"'
        m = re.search(pattern, raw)
        return first + raw.count("\n", 0, m.start()) if m else first

    inputs = tuple(_input(path, item, line_of) for item in _list(top.get("INPUTS")))
    names = [i.name for i in inputs]
    for name in names:
        if names.count(name) > 1:
            raise ShaderError(path, line_of("NAME", name), f"two inputs are named {name!r}")
    scalars = {i.written for i in inputs if i.type in ("event", "bool", "long", "float")}
    passes, buffers = _passes(path, top, line_of, scalars)
    for name in buffers:
        if name in names:
            raise ShaderError(path, line_of("TARGET", name), f"{name!r} is an input and a buffer")
    imported = _imported(path, top.get("IMPORTED"), line_of)
    vs = path.with_suffix(".vs")
    vertex = vs.read_text(encoding="utf-8-sig", errors="replace") if vs.is_file() else None
    for i in inputs:
        if i.name != i.written:  # the code says `smooth`; its uniform is `smooth_`
            code = rename(code, i.written)
            vertex = rename(vertex, i.written) if vertex is not None else None
    return IsfDoc(
        path=path,
        version=str(top.get("ISFVSN") or "1.0"),
        description=str(top.get("DESCRIPTION") or ""),
        credit=str(top.get("CREDIT") or ""),
        categories=tuple(str(c) for c in _list(top.get("CATEGORIES"))),
        inputs=inputs,
        passes=passes,
        imported=imported,
        code=code,
        vertex=vertex,
        buffers=buffers,
    )


# what a library's headers get wrong that hosts forgive: a key with a quote missing
# (`ISFVSN" : "2"`, in Vidvox's own Random Shape.fs) or both, a trailing comma
_JSON_REPAIRS = (
    (re.compile(r'([{,]\s*)"?([A-Za-z_]\w*)"?(\s*:)'), r'\1"\2"\3'),
    (re.compile(r",(\s*[}\]])"), r"\1"),
)


_MENDED: set[tuple[Path, str]] = set()  # headers already said to be mended: once each


def _load_json(path: Path, raw: str, first: int) -> dict[str, Any]:
    try:
        top = json.loads(raw)
    except json.JSONDecodeError as exc:
        mended = raw
        for pattern, replacement in _JSON_REPAIRS:
            mended = pattern.sub(replacement, mended)
        try:
            top = json.loads(mended)
        except json.JSONDecodeError:
            raise ShaderError(path, first + exc.lineno - 1, f"ISF JSON: {exc.msg}") from None
        if (path, raw) not in _MENDED:
            _MENDED.add((path, raw))
            line = first + exc.lineno - 1
            log.warning(
                "%s:%d: ISF JSON mended (a key's missing quotes, a trailing comma): %s",
                path,
                line,
                exc.msg,
            )
    if not isinstance(top, dict):
        raise ShaderError(path, first, "the ISF header must be a JSON object {...}")
    return top


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _number(value: object, what: str) -> float:
    try:
        f = float(value)  # type: ignore[arg-type]  # JSON: numbers, bools and numeric strings
    except (TypeError, ValueError):
        raise ValueError(f"{what} should be a number, not {value!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{what} is not finite")
    return f


def _numbers(value: object, n: int, what: str, pad: float) -> tuple[float, ...]:
    items = value if isinstance(value, list) else [value] * n
    out = [_number(v, what) for v in items[:n]]
    return tuple(out + [pad] * (n - len(out)))


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _input(path: Path, item: object, line_of: Any) -> IsfInput:
    if not isinstance(item, dict):
        raise ShaderError(path, line_of("INPUTS"), "each INPUTS entry is a {...} object")
    name, kind = item.get("NAME"), item.get("TYPE")
    line = line_of("NAME", name) if isinstance(name, str) else line_of("INPUTS")
    problem = _name_problem(name)
    # a name GLSL 1.20 leaves free (`smooth`, `filter`, `texture`, a function only since
    # 1.30): its uniform is NAME_, its param keeps NAME
    renamed = name in FREE_IN_GLSL_1 | {"texture"} and kind not in SAMPLER_TYPES
    if problem and not renamed:
        raise ShaderError(path, line, f"input NAME {problem}")
    assert isinstance(name, str)
    if kind not in GLSL_TYPES:
        known = ", ".join(GLSL_TYPES)
        raise ShaderError(path, line, f"input {name}: TYPE {kind!r} is not one of {known}")
    # no LABEL: say whose input it is, so a listing or a client still tells it apart
    doc = str(item.get("LABEL") or f"{kind} input {name} of {path.name}")
    try:
        typed = _typed_input(name, str(kind), item, doc)
        return replace(typed, name=f"{name}_") if renamed else typed
    except (ValueError, ParamError) as exc:
        raise ShaderError(path, line, f"input {name}: {exc}") from None


def _typed_input(name: str, kind: str, item: dict[str, Any], doc: str) -> IsfInput:
    path, default, lo, hi = f"/{name}", item.get("DEFAULT"), item.get("MIN"), item.get("MAX")
    if kind in SAMPLER_TYPES:
        samples = int(_number(hi, "MAX")) if kind != "image" and hi is not None else 0
        return IsfInput(name, kind, None, samples=max(1, samples or AUDIO_WIDTH))
    if kind in ("event", "bool"):
        value = 0.0 if kind == "event" or default is None else float(_flag(default))
        return IsfInput(name, kind, ParamSpec(path, value, kind="bool", doc=doc))
    if kind == "long":
        values, labels = _list(item.get("VALUES")), _list(item.get("LABELS"))
        if values or labels:
            ints = tuple(int(_number(v, "VALUES")) for v in values) or tuple(range(len(labels)))
            names = [str(s) for s in labels] if len(labels) == len(ints) else map(str, ints)
            want = int(_number(default, "DEFAULT")) if default is not None else ints[0]
            index = ints.index(want) if want in ints else 0
            spec = ParamSpec(path, float(index), kind="enum", choices=tuple(names), doc=doc)
            return IsfInput(name, kind, spec, values=ints)
        low = _number(lo, "MIN") if lo is not None else 0.0
        high = _number(hi, "MAX") if hi is not None else max(low, 10.0)
        value = _number(default, "DEFAULT") if default is not None else low
        low, high = min(low, high, value), max(low, high, value)
        return IsfInput(name, kind, ParamSpec(path, float(round(value)), low, high, "int", doc=doc))
    if kind == "float":
        low = _number(lo, "MIN") if lo is not None else 0.0
        high = _number(hi, "MAX") if hi is not None else max(low, 1.0)
        low, high = min(low, high), max(low, high)
        value = _number(default, "DEFAULT") if default is not None else (low + high) / 2
        spec = ParamSpec(path, value, min(low, value), max(high, value), doc=doc)
        return IsfInput(name, kind, spec)
    if kind == "point2D":
        point = _numbers(default if default is not None else [0.0, 0.0], 2, "DEFAULT", 0.0)
        mins = _numbers(lo, 2, "MIN", 0.0) if lo is not None else (min(0.0, *point),)
        # no MAX: a point may be normalised or in pixels; leave room for either
        maxs = _numbers(hi, 2, "MAX", 1.0) if hi is not None else (max(1.0, 2 * max(point)),)
        low, high = min(*mins, *point), max(*maxs, *point)
        return IsfInput(name, kind, ParamSpec(path, point, low, high, size=2, doc=doc))
    rgba = _numbers(default if default is not None else [0.0, 0.0, 0.0, 1.0], 4, "DEFAULT", 1.0)
    rgba = tuple(min(1.0, max(0.0, v)) for v in rgba)
    return IsfInput(name, kind, ParamSpec(path, rgba, 0.0, 1.0, size=4, doc=doc))


def _passes(
    path: Path, top: dict[str, Any], line_of: Any, scalars: set[str]
) -> tuple[tuple[IsfPass, ...], dict[str, IsfPass]]:
    # ISF v1: PERSISTENT_BUFFERS, a list of names or {name: {WIDTH, HEIGHT, FLOAT}}
    legacy = top.get("PERSISTENT_BUFFERS") or {}
    if isinstance(legacy, list):
        legacy = {str(n): {} for n in legacy}
    if not isinstance(legacy, dict):
        raise ShaderError(path, line_of("PERSISTENT_BUFFERS"), "PERSISTENT_BUFFERS: bad value")
    raw_passes = _list(top.get("PASSES")) or [{}]
    passes, buffers = [], {}
    for item in raw_passes:
        if not isinstance(item, dict):
            raise ShaderError(path, line_of("PASSES"), "each PASSES entry is a {...} object")
        target = item.get("TARGET") or None
        old = legacy.get(target, {}) if target else {}
        old = old if isinstance(old, dict) else {}
        line = line_of("TARGET", target) if target else line_of("PASSES")
        if target is not None and _name_problem(target):
            raise ShaderError(path, line, f"pass TARGET {_name_problem(target)}")
        sizes = []
        for key in ("WIDTH", "HEIGHT"):
            text = item.get(key, old.get(key))
            try:
                sizes.append(None if text in (None, "") else Expr(str(text), scalars))
            except ValueError as exc:
                raise ShaderError(path, line, f"pass {key} {text!r}: {exc}") from None
        p = IsfPass(
            target,
            _flag(item.get("PERSISTENT")) or target in legacy,
            _flag(item.get("FLOAT", old.get("FLOAT"))),
            sizes[0],
            sizes[1],
        )
        passes.append(p)
        if target and target not in buffers:
            buffers[target] = p
    for name in legacy:  # declared persistent but never drawn: still a (black) buffer
        if name not in buffers and IDENT.match(name):
            buffers[name] = IsfPass(name, True)
    return tuple(passes), buffers


def _imported(path: Path, value: object, line_of: Any) -> dict[str, Path]:
    if isinstance(value, list):  # seen in v1 files: [{"NAME": ..., "PATH": ...}]
        value = {str(v.get("NAME")): v for v in value if isinstance(v, dict)}
    if not isinstance(value, dict):
        return {}
    out = {}
    for name, item in value.items():
        line = line_of(name)
        rel = item.get("PATH") if isinstance(item, dict) else item
        if _name_problem(name) or not isinstance(rel, str):
            why = _name_problem(name) or "no PATH"
            raise ShaderError(path, line, f"IMPORTED {name!r}: {why}")
        file = (path.parent / rel).resolve()
        if not file.is_file():
            raise ShaderError(path, line, f"IMPORTED {name}: no image at {file}")
        out[name] = file
    return out
