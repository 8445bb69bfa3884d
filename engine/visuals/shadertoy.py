"""Shadertoy shaders as layers: a `.glsl` file defining `mainImage(out vec4, in vec2)`.

The rig declares Shadertoy's uniforms (iResolution, iTime, iTimeDelta, iFrameRate,
iFrame, iMouse, iDate, iSampleRate, iChannel0..3, iChannelResolution[4],
iChannelTime[4]) and the dreamer's `oneiric_*` features, and adds a `main` that calls
`mainImage(fragColor, gl_FragCoord.xy)`. Alpha is ignored, as on the site.

Channels are black unless the file says otherwise in a comment of its own line:

    // iChannel0: audio               Shadertoy's sound texture: 512 x 2, row 0 the
                                      spectrum (y = 0.25), row 1 the wave (y = 0.75)
    // iChannel1: images/moon.png     an image file, relative to the shader

(just that on the line: a sentence about iChannel0 in a comment is not a directive).

Single pass only: the site's Buffer A-D and Common tabs have no equivalent here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import moderngl
import numpy as np

from engine.params import ParamError, ParamSpec
from engine.visuals.dialect_base import (
    ONEIRIC_UNIFORMS,
    assemble,
    black_texture,
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
from engine.visuals.shaders import ShaderError

AUDIO_SIZE = (512, 2)
CHANNEL = re.compile(
    r"^[ \t]*//[ \t]*iChannel([0-3])[ \t]*[:=][ \t]*"
    r"(audio|[^\s:;,]+\.(?:png|jpe?g|gif|bmp|tga|tiff?|webp))[ \t]*$",
    re.M | re.I,
)
MAIN_IMAGE = re.compile(r"\bvoid\s+mainImage\s*\(")
MOUSE = ParamSpec(
    "/mouse", (0.0, 0.0), 0.0, 1.0, size=2, doc="iMouse: the pointer, 0..1 across the layer"
)

PROLOGUE = (
    """\
uniform vec3 iResolution;
uniform float iTime;
uniform float iTimeDelta;
uniform float iFrameRate;
uniform int iFrame;
uniform vec4 iMouse;
uniform vec4 iDate;
uniform float iSampleRate;
uniform float iChannelTime[4];
uniform vec3 iChannelResolution[4];
uniform sampler2D iChannel0;
uniform sampler2D iChannel1;
uniform sampler2D iChannel2;
uniform sampler2D iChannel3;
"""
    + ONEIRIC_UNIFORMS
)
EPILOGUE = """\
out vec4 shadertoy_FragColor;
uniform float shadertoy_fade;
void main() {
    vec4 color = vec4(0.0, 0.0, 0.0, 1.0);
    mainImage(color, gl_FragCoord.xy);
    shadertoy_FragColor = vec4(color.rgb, shadertoy_fade);
}
"""


def is_shadertoy(code: str) -> bool:
    return bool(MAIN_IMAGE.search(strip_comments(code)))


class ShadertoyProgram:
    """One dreamer's Shadertoy layer (a LayerProgram)."""

    dialect = "shadertoy"

    def __init__(self, ctx: moderngl.Context, path: Path, code: str) -> None:
        self.ctx, self.path = ctx, path
        self.inputs: tuple[ParamSpec, ...] = (MOUSE,)
        self.events: tuple[str, ...] = ()
        self.sample_rate = 48000.0  # iSampleRate; the show may set its own
        if not is_shadertoy(code):
            raise ShaderError(
                path, 0, "a Shadertoy shader defines void mainImage(out vec4, in vec2)"
            )
        main = re.search(r"\bvoid\s+main\s*\(", strip_comments(code))
        if main:
            line = code.count("\n", 0, main.start()) + 1
            raise ShaderError(path, line, "a Shadertoy shader has no main(): the rig writes it")
        try:
            self.program, self.vao = compile_layered(ctx, path, assemble(PROLOGUE, code, EPILOGUE))
        except ShaderError as exc:
            if exc.line:
                raise
            # the rig's main() could not call it: point at mainImage
            at = MAIN_IMAGE.search(strip_comments(code))
            line = code.count("\n", 0, at.start()) + 1 if at else 0
            raise ShaderError(
                path, line, f"mainImage(out vec4 fragColor, in vec2 fragCoord): {exc.message}"
            ) from None
        self._black = black_texture(ctx)
        self._own: list[moderngl.Texture] = []
        self.channels: list[moderngl.Texture] = [self._black] * 4
        self._audio: moderngl.Texture | None = None
        for m in CHANNEL.finditer(code):
            index, what = int(m[1]), m[2]
            line = code.count("\n", 0, m.start()) + 1
            if what.lower() == "audio":
                tex = self._audio = self._audio or ctx.texture(AUDIO_SIZE, 1, dtype="f4")
            else:
                try:
                    tex = image_texture(ctx, load_image((path.parent / what).resolve()))
                except (OSError, ValueError) as exc:
                    raise ShaderError(path, line, f"iChannel{index}: {what}: {exc}") from None
                tex.repeat_x = tex.repeat_y = True
            self._own.append(tex)
            self.channels[index] = tex
        for i in range(4):
            set_uniform(self.program, f"iChannel{i}", i)

    def set_channel(self, index: int, texture: moderngl.Texture | None) -> None:
        """Plug a texture into iChannel0..3 (None: black again)."""
        self.channels[index] = texture or self._black

    def reset(self) -> None:
        """Nothing persists between frames in a single-pass shader."""

    def render(
        self,
        target: moderngl.Framebuffer,
        layer: int,
        size: tuple[int, int],
        *,
        time: float,
        dt: float,
        frame: int,
        values: Mapping[str, float | tuple[float, ...]],
        dreamer_row: np.ndarray,
        audio: np.ndarray | None,
        date: tuple[float, float, float, float],
        fade: float = 1.0,
    ) -> None:
        prog = self.program
        w, h = max(1, int(size[0])), max(1, int(size[1]))
        try:
            mx, my = MOUSE.coerce(values.get(MOUSE.path, MOUSE.default))
        except ParamError:
            mx, my = MOUSE.default  # type: ignore[misc]
        year, month, day, seconds = (float(d) for d in date)
        for name, value in (
            ("iResolution", (float(w), float(h), 1.0)),
            ("iTime", time),
            ("iTimeDelta", dt),
            ("iFrameRate", 1.0 / dt if dt > 0 else 0.0),
            ("iFrame", frame),
            ("iMouse", (mx * w, my * h, mx * w, my * h)),
            ("iDate", (year, month - 1.0, day, seconds)),  # Shadertoy's month counts from 0
            ("iSampleRate", self.sample_rate),
        ):
            set_uniform(prog, name, value)
        res = np.array([(t.width, t.height, 1.0) for t in self.channels], np.float32)
        for name, data in (("iChannelResolution", res), ("iChannelTime", np.full(4, time))):
            member = prog.get(name, None)
            if isinstance(member, moderngl.Uniform):
                member.write(data.astype(np.float32)[: member.array_length].tobytes())
        set_dreamer(prog, dreamer_row)
        if self._audio is not None:
            mags = magnitudes(audio)
            db = 20.0 * np.log10(fold(mags[: max(1, len(mags) // 2)], AUDIO_SIZE[0]) + 1e-9)
            fft = np.clip((db + 100.0) / 70.0, 0.0, 1.0)  # WebAudio's -100..-30 dB as 0..1
            rows = np.stack([fft, waveform(audio, AUDIO_SIZE[0])]).astype(np.float32)
            self._audio.write(rows.tobytes())
        for i, tex in enumerate(self.channels):
            tex.use(i)
        fade = min(1.0, max(0.0, float(fade)))
        set_uniform(prog, "shadertoy_fade", fade)
        draw(self.vao, target, layer, (w, h), fade)

    def release(self) -> None:
        for tex in {id(t): t for t in (*self._own, self._black)}.values():
            tex.release()
        self.vao.release()
        self.program.release()
