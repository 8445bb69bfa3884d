"""Shadertoy shaders as layers: a `.glsl` file defining `mainImage(out vec4, in vec2)`.

The rig declares Shadertoy's uniforms (iResolution, iTime and the old iGlobalTime,
iTimeDelta, iFrameRate, iFrame, iMouse, iDate, iSampleRate, iChannel0..3,
iChannelResolution[4], iChannelTime[4]) and the dreamer's `oneiric_*` features, and
adds a `main` that calls `mainImage(fragColor, gl_FragCoord.xy)`. Alpha is ignored, as
on the site.

Channels are black unless the file says otherwise in a comment of its own line:

    // iChannel0: audio               Shadertoy's sound texture: 512 x 2, row 0 the
                                      spectrum (y = 0.25), row 1 the wave (y = 0.75)
    // iChannel1: images/moon.png     an image file, relative to the shader
    // iChannel2: Buffer A            a buffer tab's output (below)
    // iChannel3: keyboard            Shadertoy's keyboard: 256 x 3, by JavaScript key
                                      code (engine.keyboard; keys come as /key/down)
    // iChannel0: dreamer/2           another dreamer's layer, as last frame drew it
    // iChannel0: merge               the show's output, last frame's (feedback)

(just that on the line: a sentence about iChannel0 in a comment is not a directive).

Multipass: the site's tabs, pasted into one file under header lines of their own,

    // ---- Common ----     code shared by every tab (optional)
    // ---- Buffer A ----   ... up to Buffer D: each its own mainImage, drawn into a
                            float RGBA texture the size of the layer
    // ---- Image ----      the layer itself

with each tab's iChannel lines under its header. As on the site, the buffers draw in
order A, B, C, D, then Image, every frame; a tab reading a buffer drawn earlier in
the frame sees this frame's, reading itself or a later one sees the last frame's
(feedback). Buffers start black and keep their alpha; reset() clears them. A file
without headers is one Image tab. Errors name the line in the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import moderngl
import numpy as np

from engine.params import ParamError, ParamSpec
from engine.visuals.dialect_base import (
    ONEIRIC_UNIFORMS,
    DrawFrame,
    PingPong,
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
    r"(audio|keyboard|merge|dreamer/[1-9]\d*|buffer[ \t]*[a-d]"
    r"|[^\s:;,]+\.(?:png|jpe?g|gif|bmp|tga|tiff?|webp))[ \t]*$",
    re.M | re.I,
)
TAB = re.compile(
    r"^[ \t]*//[ \t]*-{2,}[ \t]*(common|buffer[ \t]*([a-d])|image)[ \t]*-{2,}[ \t]*$",
    re.M | re.I,
)
BUFFERS = ("A", "B", "C", "D")
MAIN_IMAGE = re.compile(r"\bvoid\s+mainImage\s*\(")
MOUSE = ParamSpec(
    "/mouse", (0.0, 0.0), 0.0, 1.0, size=2, doc="iMouse: the pointer, 0..1 across the layer"
)

SHOW_SOURCES = ("keyboard", "merge")  # channels the show fills (and dreamer/N)
PROLOGUE = (
    """\
uniform vec3 iResolution;
uniform float iTime;
uniform float iGlobalTime;
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


BUFFER_EPILOGUE = """\
out vec4 shadertoy_FragColor;
void main() {
    vec4 color = vec4(0.0);
    mainImage(color, gl_FragCoord.xy);
    shadertoy_FragColor = color;
}
"""


def is_shadertoy(code: str) -> bool:
    return bool(MAIN_IMAGE.search(strip_comments(code)))


def line_at(text: str, pos: int, first: int = 1) -> int:
    """The line of `text` that character `pos` is on, counting from `first`."""
    return first + text.count("\n", 0, pos)


@dataclass(slots=True)
class Tab:
    """One of the site's tabs: "Common", "A".."D" (Buffer A-D) or "Image"."""

    name: str
    line: int  # the file line its text starts on
    text: str
    header: int = 0  # the line of its header (0: a file without headers)
    channels: list[tuple[int, str, int]] = field(default_factory=list)  # (index, what, line)

    @property
    def title(self) -> str:
        return f"Buffer {self.name}" if self.name in BUFFERS else self.name


def split_tabs(path: Path, code: str) -> dict[str, Tab]:
    """The file's tabs by name; a file without tab headers is one Image tab. What comes
    before the first header (a description, a licence) belongs to no tab."""
    heads = list(TAB.finditer(code))
    if not heads:
        tabs = {"Image": Tab("Image", 1, code)}
    else:
        tabs = {}
        for i, m in enumerate(heads):
            name = m[2].upper() if m[2] else m[1].capitalize()
            at = line_at(code, m.start())
            if name in tabs:
                raise ShaderError(path, at, f"a second {tabs[name].title} tab")
            end = heads[i + 1].start() if i + 1 < len(heads) else len(code)
            tabs[name] = Tab(name, at + 1, code[m.end() + 1 : end], header=at)
        stray = CHANNEL.search(code, 0, heads[0].start())
        if stray:
            line = line_at(code, stray.start())
            raise ShaderError(path, line, "an iChannel line before the first tab: put it under one")
        if "Image" not in tabs:
            first = line_at(code, heads[0].start())
            raise ShaderError(path, first, "no Image tab (a line // ---- Image ----)")
    for tab in tabs.values():
        for m in CHANNEL.finditer(tab.text):
            line = line_at(tab.text, m.start(), tab.line)
            what = re.sub(r"(?i)^buffer[ \t]*([a-d])$", lambda b: "buffer " + b[1].upper(), m[2])
            if what.startswith("buffer ") and what[-1] not in tabs:
                raise ShaderError(path, line, f"iChannel{m[1]}: there is no Buffer {what[-1]} tab")
            if tab.name == "Common":
                raise ShaderError(path, line, "Common has no channels: put this under a tab")
            tab.channels.append((int(m[1]), what, line))
    return tabs


class _Pass:
    """One tab's GL program and what its four channels read."""

    def __init__(self, tab: Tab, program: moderngl.Program, vao: moderngl.VertexArray) -> None:
        self.tab, self.program, self.vao = tab, program, vao
        self.channels: list[moderngl.Texture | str] = []  # str: a buffer's name


class ShadertoyProgram:
    """One dreamer's Shadertoy layer (a LayerProgram): its tabs, buffers and channels."""

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
        tabs = split_tabs(path, code)
        self._black = black_texture(ctx)
        self.sources: set[str] = set()  # what the show plugs in: keyboard, merge, dreamer/N
        self.notices: list[str] = []  # what an export asked for that is not drawn (black)
        self._plugged: dict[str, moderngl.Texture] = {}
        self._own: list[moderngl.Texture] = []
        self._audio: moderngl.Texture | None = None
        self._buffers: dict[str, PingPong] = {}
        self._passes: list[_Pass] = []
        try:
            common = tabs.get("Common")
            for name in (*BUFFERS, "Image"):
                if name in tabs:
                    self._passes.append(self._compile(tabs[name], common))
        except ShaderError:
            self.release()
            raise
        self.image = self._passes[-1]

    @property
    def program(self) -> moderngl.Program:
        """The Image tab's program."""
        return self.image.program

    @property
    def buffers(self) -> tuple[str, ...]:
        """The buffer tabs ("A".."D") this shader draws."""
        return tuple(p.tab.name for p in self._passes[:-1])

    @property
    def channels(self) -> list[moderngl.Texture]:
        """What the Image tab's iChannel0..3 read now."""
        return [self._texture(c) for c in self.image.channels]

    def _compile(self, tab: Tab, common: Tab | None) -> _Pass:
        path, text = self.path, strip_comments(tab.text)
        where = tab.header or 1
        at = MAIN_IMAGE.search(text)
        if not at:
            raise ShaderError(path, where, f"{tab.title} defines no mainImage(out vec4, in vec2)")
        main = re.search(r"\bvoid\s+main\s*\(", text)
        if main:
            line = line_at(text, main.start(), tab.line)
            raise ShaderError(path, line, "a Shadertoy shader has no main(): the rig writes it")
        shared = f"#line {common.line}\n{common.text}\n" if common else ""
        body = f"{shared}#line {tab.line}\n{tab.text}"
        epilogue = EPILOGUE if tab.name == "Image" else BUFFER_EPILOGUE
        try:
            program, vao = compile_layered(self.ctx, path, assemble(PROLOGUE, body, epilogue))
        except ShaderError as exc:
            if exc.line:
                raise
            # the rig's main() could not call it: point at mainImage
            line = line_at(text, at.start(), tab.line)
            raise ShaderError(
                path, line, f"mainImage(out vec4 fragColor, in vec2 fragCoord): {exc.message}"
            ) from None
        step = _Pass(tab, program, vao)
        step.channels = [self._black] * 4
        for index, what, line in tab.channels:
            step.channels[index] = self._channel(index, what, line)
        for i in range(4):
            set_uniform(program, f"iChannel{i}", i)
        return step

    def _channel(self, index: int, what: str, line: int) -> moderngl.Texture | str:
        if what.startswith("buffer "):
            return what[-1]
        if what.lower() in SHOW_SOURCES or re.fullmatch(r"(?i)dreamer/[1-9]\d*", what):
            self.sources.add(what.lower())
            return "@" + what.lower()
        if what.lower() == "audio":
            if self._audio is None:
                self._audio = self.ctx.texture(AUDIO_SIZE, 1, dtype="f4")
                self._own.append(self._audio)
            return self._audio
        try:
            tex = image_texture(self.ctx, load_image((self.path.parent / what).resolve()))
        except (OSError, ValueError) as exc:
            raise ShaderError(self.path, line, f"iChannel{index}: {what}: {exc}") from None
        tex.repeat_x = tex.repeat_y = True
        self._own.append(tex)
        return tex

    def _texture(self, channel: moderngl.Texture | str) -> moderngl.Texture:
        if isinstance(channel, str) and channel.startswith("@"):
            return self._plugged.get(channel[1:]) or self._black
        if isinstance(channel, str):
            buf = self._buffers.get(channel)
            return buf.texture if buf is not None else self._black
        return channel

    def plug(self, source: str, texture: moderngl.Texture | None) -> None:
        """What a channel bound to `source` (one of `sources`) reads (None: black)."""
        if texture is None:
            self._plugged.pop(source, None)
        else:
            self._plugged[source] = texture

    def set_channel(self, index: int, texture: moderngl.Texture | None) -> None:
        """Plug a texture into the Image tab's iChannel0..3 (None: black again)."""
        self.image.channels[index] = texture or self._black

    def reset(self) -> None:
        """Forget the past: the buffers start black again."""
        for buf in self._buffers.values():
            buf.release()
        self._buffers.clear()

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
        try:
            mx, my = MOUSE.coerce(values.get(MOUSE.path, MOUSE.default))
        except ParamError:
            mx, my = MOUSE.default  # type: ignore[misc]
        year, month, day, seconds = (float(d) for d in date)
        uniforms = (
            ("iResolution", (float(w), float(h), 1.0)),
            ("iTime", time),
            ("iGlobalTime", time),
            ("iTimeDelta", dt),
            ("iFrameRate", 1.0 / dt if dt > 0 else 0.0),
            ("iFrame", frame),
            ("iMouse", (mx * w, my * h, mx * w, my * h)),
            ("iDate", (year, month - 1.0, day, seconds)),  # Shadertoy's month counts from 0
            ("iSampleRate", self.sample_rate),
        )
        if self._audio is not None:
            mags = magnitudes(audio)
            db = 20.0 * np.log10(fold(mags[: max(1, len(mags) // 2)], AUDIO_SIZE[0]) + 1e-9)
            fft = np.clip((db + 100.0) / 70.0, 0.0, 1.0)  # WebAudio's -100..-30 dB as 0..1
            rows = np.stack([fft, waveform(audio, AUDIO_SIZE[0])]).astype(np.float32)
            self._audio.write(rows.tobytes())
        for name in self.buffers:
            buf = self._buffers.get(name)
            if buf is not None and buf.size != (w, h):  # the layer was resized: start over
                buf.release()
                buf = None
            if buf is None:
                self._buffers[name] = PingPong(self.ctx, (w, h), floating=True)
        fade = min(1.0, max(0.0, float(fade)))
        for step in self._passes:
            prog = step.program
            for name, value in uniforms:
                set_uniform(prog, name, value)
            textures = [self._texture(c) for c in step.channels]
            res = np.array([(t.width, t.height, 1.0) for t in textures], np.float32)
            for name, data in (("iChannelResolution", res), ("iChannelTime", np.full(4, time))):
                member = prog.get(name, None)
                if isinstance(member, moderngl.Uniform):
                    member.write(data.astype(np.float32)[: member.array_length].tobytes())
            set_dreamer(prog, dreamer_row)
            for i, tex in enumerate(textures):
                tex.use(i)
            if step is self.image:
                set_uniform(prog, "shadertoy_fade", fade)
                draw(step.vao, target, layer, (w, h), fade)
            else:
                buf = self._buffers[step.tab.name]
                draw(step.vao, buf.back(), 0, buf.size)
                buf.swap()

    def release(self) -> None:
        self.reset()
        for tex in {id(t): t for t in (*self._own, self._black)}.values():
            tex.release()
        self._own.clear()
        for step in self._passes:
            step.vao.release()
            step.program.release()
        self._passes.clear()
