"""What the foreign dialects (ISF, Shadertoy) share: layered drawing, numbering, inputs.

A foreign layer shader is drawn like the rig's own: a fullscreen triangle whose
geometry shader sets `gl_Layer`, so it lands in one layer of the LayerStack's
texture array. The code the rig writes around a user's file is numbered from
RIG_LINES with `#line`, so every error line below it is a line of the user's file.
Also here: the `oneiric_*` uniforms (a dreamer's features) and the audio and image
data that foreign shaders read as textures.
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import moderngl
import numpy as np

from engine.visuals.fields import FIELD_NAMES
from engine.visuals.shaders import RIG_LINES, first_error

EPILOGUE_LINE = RIG_LINES + 5000  # the rig's code after the user's: still >= RIG_LINES
AUDIO_WIDTH = 256  # samples / FFT bins in an audio texture when the shader doesn't say

VERTEX = """#version 330 core
out vec2 _vs_uv;
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    _vs_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

# the dreamer's features as uniforms: `oneiric_alpha`, `oneiric_breath`, ... (layers.FIELD_NAMES)
ONEIRIC_UNIFORMS = "uniform float " + ", ".join(f"oneiric_{n}" for n in FIELD_NAMES) + ";\n"


@dataclass(frozen=True, slots=True)
class DrawFrame:
    """What a frame's shaders are drawn with: layers, effects and their foreign dialects."""

    time: float  # seconds (a layer's: its dreamer's own time)
    dt: float
    frame: int
    audio: np.ndarray | None  # mono samples the shader hears (ISF audio, iChannel sound)
    date: tuple[float, float, float, float]  # year, month, day, seconds into the day


def geometry(varyings: Sequence[tuple[str, str]]) -> str:
    """Route the triangle to layer `u_layer`, passing `_vs_<name>` on as `<name>`.
    A varying may be an array (`offsets[5]`); its type may carry interpolation
    qualifiers (`flat int`), which GLSL 3.30 wants before `in`/`out`."""
    decl, copy = "", ""
    for typed, name in varyings:
        *quals, t = typed.split()
        q = "".join(f"{w} " for w in quals)
        base, _, rest = name.partition("[")
        arr = f"[{rest}" if rest else ""
        decl += f"{q}in {t} _vs_{base}[]{arr};\n{q}out {t} {base}{arr};\n"
        copy += f"        {base} = _vs_{base}[i];\n"
    # an array varying arrives in the geometry shader as an array of arrays (GL 4.3 core)
    ext = (
        "#extension GL_ARB_arrays_of_arrays : require\n"
        if "[" in "".join(n for _, n in varyings)
        else ""
    )
    return (
        f"#version 330 core\n{ext}layout(triangles) in;\n"
        "layout(triangle_strip, max_vertices = 3) out;\n"
        f"uniform int u_layer;\n{decl}void main() {{\n    for (int i = 0; i < 3; ++i) {{\n"
        f"        gl_Layer = u_layer;\n{copy}        gl_Position = gl_in[i].gl_Position;\n"
        "        EmitVertex();\n    }\n    EndPrimitive();\n}\n"
    )


def strip_comments(code: str) -> str:
    """The code with its comments blanked (same length, same lines): for looking, not compiling."""
    return re.sub(
        r"//[^\n]*|/\*.*?(?:\*/|\Z)", lambda m: re.sub(r"[^\n]", " ", m[0]), code, flags=re.S
    )


def assemble(prologue: str, user: str, epilogue: str = "") -> str:
    """#version, the rig's prologue (lines from RIG_LINES), the user's code from line 1, then
    the epilogue. `#version` lines in the user's code are blanked; `#extension` lines are
    hoisted (they must come first), so every user line keeps its number."""
    hoisted: list[str] = []
    lines = user.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#version"):
            lines[i] = ""
        elif re.match(r"#\s*extension\b", stripped):
            hoisted.append(stripped)
            lines[i] = ""
    ext = "".join(f"{e}\n" for e in hoisted)
    body = "\n".join(lines)
    return (
        f"#version 330 core\n{ext}#line {RIG_LINES}\n{prologue}\n#line 1\n{body}\n"
        f"#line {EPILOGUE_LINE}\n{epilogue}"
    )


def compile_layered(
    ctx: moderngl.Context,
    path: Path,
    fragment: str,
    *,
    vertex: str = VERTEX,
    varyings: Sequence[tuple[str, str]] = (),
    vertex_path: Path | None = None,
) -> tuple[moderngl.Program, moderngl.VertexArray]:
    """Compile with the layer-routing geometry shader. Errors name `path`, or `vertex_path`
    when the vertex shader (a user's own) is the one that failed."""
    try:
        prog = ctx.program(
            vertex_shader=vertex, fragment_shader=fragment, geometry_shader=geometry(varyings)
        )
    except moderngl.Error as exc:
        log = str(exc)
        stage = re.search(r"(vertex|fragment|geometry)_shader\s*\n=+", log)
        where = vertex_path if vertex_path and stage and stage[1] == "vertex" else path
        raise first_error(log, where) from None
    return prog, ctx.vertex_array(prog, [])


def set_uniform(prog: moderngl.Program, name: str, value: object) -> None:
    """Set a uniform if the program has it (the driver drops unused ones)."""
    member = prog.get(name, None)
    if isinstance(member, moderngl.Uniform):
        member.value = value


def set_dreamer(prog: moderngl.Program, row: np.ndarray) -> None:
    for i, name in enumerate(FIELD_NAMES):
        set_uniform(prog, f"oneiric_{name}", float(row[i]) if i < len(row) else 0.0)


def draw(
    vao: moderngl.VertexArray,
    target: moderngl.Framebuffer,
    layer: int,
    size: tuple[int, int],
    fade: float = 1.0,
) -> None:
    """One fullscreen triangle into `layer` of a layered framebuffer (or into a plain one).
    fade < 1 blends it over what the layer holds (the shader writes `fade` as its alpha):
    a crossfade, as LayerStack does for the rig's own layers."""
    ctx = target.ctx
    target.use()
    ctx.viewport = (0, 0, size[0], size[1])
    set_uniform(vao.program, "u_layer", layer)
    if fade < 1.0:
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
    vao.render(moderngl.TRIANGLES, vertices=3, instances=1)
    if fade < 1.0:
        ctx.disable(moderngl.BLEND)


class PingPong:
    """A pass's own buffer (an ISF TARGET, a Shadertoy Buffer A-D): two textures, one
    read while the other is drawn, swapped after, so a pass can read its last frame."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], floating: bool) -> None:
        self.size = size
        self.textures = [ctx.texture(size, 4, dtype="f4" if floating else "f1") for _ in "ab"]
        for tex in self.textures:
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
        self.fbos = [ctx.framebuffer(color_attachments=[t]) for t in self.textures]
        for fbo in self.fbos:
            fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.front = 0

    @property
    def texture(self) -> moderngl.Texture:
        return self.textures[self.front]

    def back(self) -> moderngl.Framebuffer:
        return self.fbos[1 - self.front]

    def swap(self) -> None:
        self.front = 1 - self.front

    def release(self) -> None:
        for fbo in self.fbos:
            fbo.release()
        for tex in self.textures:
            tex.release()


def black_texture(ctx: moderngl.Context) -> moderngl.Texture:
    """What an image input shows until something is plugged in: 1x1 opaque black."""
    return ctx.texture((1, 1), 4, bytes([0, 0, 0, 255]))


def image_texture(ctx: moderngl.Context, rgba: np.ndarray) -> moderngl.Texture:
    """An (h, w, 4) uint8 image, top row first, as a texture sampled upright (GL: bottom first)."""
    h, w = rgba.shape[:2]
    tex = ctx.texture((w, h), 4, np.ascontiguousarray(rgba[::-1]).tobytes())
    tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
    return tex


# audio ------------------------------------------------------------------------------------


def waveform(audio: np.ndarray | None, width: int) -> np.ndarray:
    """The frame's samples resampled to `width`, centred on 0.5 (ISF's convention)."""
    if audio is None or np.size(audio) == 0:
        return np.full(width, 0.5, np.float32)
    a = np.nan_to_num(np.asarray(audio, np.float32).ravel())
    x = np.linspace(0.0, len(a) - 1.0, width)
    wave = np.interp(x, np.arange(len(a)), a)
    return (0.5 + 0.5 * np.clip(wave, -1.0, 1.0)).astype(np.float32)


def magnitudes(audio: np.ndarray | None) -> np.ndarray:
    """Amplitude spectrum of the frame, DC left out (Hann window; a full-scale sine peaks at ~1)."""
    if audio is None or np.size(audio) < 4:
        return np.zeros(1, np.float32)
    a = np.nan_to_num(np.asarray(audio, np.float64).ravel())
    window = np.hanning(len(a))
    mag = np.abs(np.fft.rfft(a * window)) * 2.0 / window.sum()
    return mag[1:].astype(np.float32)


def fold(bins: np.ndarray, width: int) -> np.ndarray:
    """`width` columns, each the loudest of the (linearly spaced) bins it covers."""
    starts = np.minimum((np.arange(width) * len(bins)) // width, len(bins) - 1)
    return np.maximum.reduceat(bins, starts).astype(np.float32)


def spectrum(audio: np.ndarray | None, width: int) -> np.ndarray:
    return fold(magnitudes(audio), width)


# images -----------------------------------------------------------------------------------


def load_image(path: Path) -> np.ndarray:
    """An image file as (h, w, 4) uint8, top row first: PNG decoded here, anything else
    (or a PNG this decoder doesn't know: interlaced) through ffmpeg."""
    data = path.read_bytes()
    if data.startswith(PNG_SIGNATURE):
        try:
            return decode_png(data)
        except NotImplementedError:
            pass
    return ffmpeg_image(path)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def decode_png(data: bytes) -> np.ndarray:
    """A small PNG decoder (all colour types, 1-16 bits, not interlaced): (h, w, 4) uint8."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    pos, idat, palette, trns = 8, [], None, b""
    w = h = depth = color = 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            if interlace:
                raise NotImplementedError("interlaced PNG")
        elif kind == b"PLTE":
            palette = np.frombuffer(chunk, np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            trns = chunk
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if color not in _CHANNELS or not w or not h:
        raise ValueError("PNG without a valid header")
    channels = _CHANNELS[color]
    bpp = max(1, channels * depth // 8)
    stride = (w * channels * depth + 7) // 8
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    rows = raw[: h * (stride + 1)].reshape(h, stride + 1)
    pixels = np.empty((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        pixels[y] = prev = _unfilter(int(rows[y, 0]), rows[y, 1:], prev, bpp)
    if depth == 16:
        values = pixels.reshape(h, w * channels, 2)[..., 0]
    elif depth < 8:
        bits = np.unpackbits(pixels, axis=1).reshape(h, -1, depth)
        values = (bits * (1 << np.arange(depth - 1, -1, -1))).sum(axis=2)[:, : w * channels]
        if color == 0:
            values = values * (255 // ((1 << depth) - 1))
    else:
        values = pixels
    v = values.reshape(h, w, channels).astype(np.uint8)
    out = np.full((h, w, 4), 255, np.uint8)
    if color == 3:
        if palette is None:
            raise ValueError("palette PNG without a palette")
        alpha = np.full(len(palette), 255, np.uint8)
        alpha[: len(trns)] = np.frombuffer(trns, np.uint8)[: len(palette)]
        out[..., :3], out[..., 3] = palette[v[..., 0]], alpha[v[..., 0]]
    elif color in (0, 4):
        out[..., :3] = v[..., :1]
        if color == 4:
            out[..., 3] = v[..., 1]
    else:
        out[..., :channels] = v
    return out


def _unfilter(kind: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return line.copy()
    if kind == 2:
        return (line + prev).astype(np.uint8)
    if kind == 1 and len(line) % bpp == 0:
        return (
            (np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint32) & 255)
            .astype(np.uint8)
            .ravel()
        )
    if kind not in (1, 3, 4):
        raise ValueError(f"bad PNG filter type {kind}")
    cur, up = bytearray(line.tobytes()), prev.tobytes()
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 1:
            cur[i] = (cur[i] + a) & 255
        elif kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 255
        else:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (cur[i] + pred) & 255
    return np.frombuffer(bytes(cur), np.uint8)


def ffmpeg_image(path: Path) -> np.ndarray:
    from engine.visuals.sinks import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1"]
    cmd += ["-f", "image2pipe", "-c:v", "pam", "-pix_fmt", "rgba", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    head, sep, body = proc.stdout.partition(b"ENDHDR\n")
    fields = dict(line.split(b" ", 1) for line in head.splitlines() if b" " in line)
    if proc.returncode or not sep or b"WIDTH" not in fields:
        raise ValueError(proc.stderr.decode(errors="replace").strip() or "ffmpeg could not read it")
    w, h = int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])
    return np.frombuffer(body[: w * h * 4], np.uint8).reshape(h, w, 4).copy()
