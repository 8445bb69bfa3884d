"""Foreign layer dialects (ISF, Shadertoy) and the shader checker.

Every ISF and Shadertoy shader in shaders/ is loaded, drawn into one layer of a
LayerStack and checked against what its header promises: its INPUTS as params,
each input visibly changing the image, feedback that remembers, events that pulse,
imported images and sound that show up. Small probe shaders written here pin down
the built-ins (TIME, RENDERSIZE, iFrame, ...), the v1 compatibility names, error
lines in the user's file, and one real third-party ISF file.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.folders import SHADER_DIR
from engine.params import ParamSpec
from engine.visuals.check import check, format_results, shader_files
from engine.visuals.dialect_base import DrawFrame, decode_png, ffmpeg_image
from engine.visuals.dialects import detect, load_layer
from engine.visuals.fields import DATA_TEXELS, FIELDS
from engine.visuals.isf import parse, split_header
from engine.visuals.isf_expr import Expr
from engine.visuals.layers import LayerStack
from engine.visuals.shaders import ShaderError, available_layers, find_layer
from engine.visuals.sinks import ffmpeg_exe

SIZE = (160, 90)
SR, FPS = 48000, 30
ISF = sorted(SHADER_DIR.glob("*.fs"))
SHADERTOY = [p for p in sorted(SHADER_DIR.glob("*.glsl")) if detect(p) == "shadertoy"]
FOREIGN = ISF + SHADERTOY
DATE = (2024.0, 6.0, 21.0, 3600.0)
MIN_RESPONSE = 1.0  # mean |difference| in 0..255 that counts as "the image changed"


def sine(freq: float, frame: int = 0, amp: float = 0.5) -> np.ndarray:
    n = SR // FPS
    t = (np.arange(n) + frame * n) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def row(**fields: float) -> np.ndarray:
    r = np.zeros(DATA_TEXELS * 4, np.float32)
    base = {"breath": 0.5, "hue": 0.55, "beat": 0.3, "arousal": 0.4, "depth": 0.5, "t": 2.0}
    for name, value in {**base, **fields}.items():
        r[FIELDS[name]] = value
    return r


def draw(
    gl,
    prog,
    frames: int = 3,
    *,
    values=None,
    per_frame=None,
    audio=None,
    dreamer=None,
    size=SIZE,
    reset=True,
    start=0,
    every=False,
):
    """Draw `frames` frames into layer 1 of a 2-layer stack; the last image (or all) as
    (h, w, 3) floats, bottom row first. `per_frame(i)` gives frame i's values."""
    if reset:
        prog.reset()
    stack = LayerStack(gl, size, 2)
    images = []
    try:
        stack.fbo.clear(0.0, 0.0, 0.0, 0.0)
        for i in range(start, start + frames):
            vals = per_frame(i) if per_frame else (values or {})
            sound = audio(i) if callable(audio) else audio
            at = DrawFrame(2.0 + i / FPS, 1 / FPS, i, sound, DATE)
            dreamer_row = row() if dreamer is None else dreamer
            prog.render(stack.fbo, 1, size, at, values=vals, dreamer_row=dreamer_row)
            if every or i == start + frames - 1:
                images.append(stack.read_layer(1)[..., :3].astype(np.float64))
        assert stack.read_layer(0).max() == 0, "drew outside its layer"
    finally:
        stack.release()
    return images if every else images[0]


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def png_bytes(rgba: np.ndarray) -> bytes:
    """A minimal PNG writer (RGBA, 8 bits, filter 0) for test images."""
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes()))
        + chunk(b"IEND", b"")
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def programs(gl):
    """Every foreign shader in shaders/, loaded (and warmed) once for the module."""
    progs = {p.name: load_layer(gl, p) for p in FOREIGN}
    yield progs
    for prog in progs.values():
        prog.release()


def header(path: Path) -> dict:
    raw, _, _ = split_header(path, path.read_text())
    return json.loads(raw)


# what is in the folder --------------------------------------------------------------------


def test_the_folder_covers_the_dialects_and_isf_features():
    assert len(ISF) >= 6, ISF
    assert SHADERTOY, "no Shadertoy shader in shaders/"
    docs = [header(p) for p in ISF]
    types = {i["TYPE"] for d in docs for i in d.get("INPUTS", [])}
    assert {"float", "bool", "long", "color", "point2D", "event", "audioFFT"} <= types
    passes = [p for d in docs for p in d.get("PASSES", [])]
    assert any(p.get("PERSISTENT") for p in passes) and any(
        len(d.get("PASSES", [])) > 1 for d in docs
    )
    assert any(d.get("IMPORTED") for d in docs)


def test_detect_tells_the_dialects_apart(tmp_path):
    for name in ("aurora", "tide", "ember", "pulse_scope"):
        assert detect(SHADER_DIR / f"{name}.glsl") == "rig"
    assert all(detect(p) == "isf" for p in ISF)
    assert detect(SHADER_DIR / "dream_tunnel.glsl") == "shadertoy"
    nothing = write(tmp_path, "nothing.glsl", "// a comment naming mainImage and layer\nfloat f;\n")
    with pytest.raises(ShaderError, match="not a layer shader") as info:
        detect(nothing)
    assert info.value.path == nothing
    with pytest.raises(ShaderError, match="JSON") as info:
        detect(write(tmp_path, "bare.fs", "void main() { gl_FragColor = vec4(1.0); }\n"))
    assert info.value.line == 1
    with pytest.raises(ShaderError, match=r"\.frag"):
        detect(write(tmp_path, "x.frag", "void main() {}\n"))
    with pytest.raises(ShaderError, match="cannot read"):
        detect(tmp_path / "missing.fs")


def test_available_layers_include_isf_files():
    names = available_layers()
    for path in FOREIGN:
        assert path.stem in names
        assert find_layer(path.stem) == path


def test_load_layer_leaves_rig_shaders_to_the_layer_stack(gl):
    with pytest.raises(ShaderError, match="rig"):
        load_layer(gl, SHADER_DIR / "aurora.glsl")


# ISF inputs as params ---------------------------------------------------------------------


def expected_spec(item: dict, file: str) -> ParamSpec | None:
    """What an INPUTS entry should become, spelled out independently of the parser."""
    name, kind, path = item["NAME"], item["TYPE"], "/" + item["NAME"]
    label = item.get("LABEL") or f"{kind} input {name} of {file}"  # unlabelled: whose it is
    if kind in ("image", "audio", "audioFFT"):
        return None
    if kind == "event":
        return ParamSpec(path, 0.0, kind="bool", doc=label)
    if kind == "bool":
        return ParamSpec(path, float(bool(item["DEFAULT"])), kind="bool", doc=label)
    if kind == "long":
        choices = tuple(item["LABELS"])
        index = item["VALUES"].index(item["DEFAULT"])
        return ParamSpec(path, float(index), kind="enum", choices=choices, doc=label)
    if kind == "float":
        return ParamSpec(path, item["DEFAULT"], item["MIN"], item["MAX"], doc=label)
    if kind == "point2D":
        lo, hi = min(item["MIN"]), max(item["MAX"])
        return ParamSpec(path, tuple(item["DEFAULT"]), lo, hi, size=2, doc=label)
    assert kind == "color", f"{name}: unexpected type {kind}"
    return ParamSpec(path, tuple(item["DEFAULT"]), 0.0, 1.0, size=4, doc=label)


@pytest.mark.parametrize("path", ISF, ids=lambda p: p.name)
def test_isf_inputs_are_params(programs, path):
    items = header(path).get("INPUTS", [])
    wanted = [s for s in (expected_spec(i, path.name) for i in items) if s is not None]
    got = list(programs[path.name].inputs)
    assert got == wanted
    for spec in got:
        assert spec.path.count("/") == 1, "layer params are relative: /<NAME>"


def test_long_inputs_send_their_values_not_the_index(gl, tmp_path):
    path = write(
        tmp_path,
        "long.fs",
        """/*{"ISFVSN": "2", "INPUTS": [{"NAME": "n", "TYPE": "long", "VALUES": [10, 60, 200],
        "LABELS": ["a", "b", "c"], "DEFAULT": 60}]}*/
void main() { gl_FragColor = vec4(float(n) / 255.0, 0.0, 0.0, 1.0); }
""",
    )
    prog = load_layer(gl, path)
    try:
        assert prog.inputs[0].choices == ("a", "b", "c") and prog.inputs[0].default == 1.0
        assert draw(gl, prog, 1)[0, 0, 0] == 60
        assert draw(gl, prog, 1, values={"/n": 2.0})[0, 0, 0] == 200
        assert draw(gl, prog, 1, values={"/n": "a"})[0, 0, 0] == 10
    finally:
        prog.release()


# the shaders in the folder ----------------------------------------------------------------


@pytest.mark.parametrize("path", FOREIGN, ids=lambda p: p.name)
def test_foreign_shader_draws_an_image(gl, programs, path):
    img = draw(gl, programs[path.name], 4, audio=lambda i: sine(330.0, i))
    assert img.max() > 40, f"{path.name}: (nearly) black"
    assert img.mean() > 2, f"{path.name}: (nearly) black"
    assert img.std() > 4, f"{path.name}: (nearly) constant"
    assert (img >= 254.5).mean() < 0.05, f"{path.name}: clips"


def other_value(spec: ParamSpec):
    if spec.kind == "enum":
        return float(len(spec.choices) - 1 if spec.default != len(spec.choices) - 1 else 0)
    if spec.kind == "bool":
        return 1.0 - float(spec.default)  # type: ignore[arg-type]
    if spec.size == 4:
        return (
            (0.1, 0.9, 0.3, 1.0) if spec.default != (0.1, 0.9, 0.3, 1.0) else (1.0, 0.2, 0.6, 1.0)
        )
    if spec.size == 2:
        return (spec.min + 0.2 * (spec.max - spec.min), spec.min + 0.8 * (spec.max - spec.min))
    return spec.max if spec.default != spec.max else spec.min


INPUT_CASES = [
    (path, item["NAME"])
    for path in ISF
    for item in header(path).get("INPUTS", [])
    if item["TYPE"] not in ("image", "audio", "audioFFT")
] + [(p, "mouse") for p in SHADERTOY]


@pytest.mark.parametrize(("path", "name"), INPUT_CASES, ids=lambda c: getattr(c, "name", c))
def test_each_input_changes_the_image(gl, programs, path, name):
    prog = programs[path.name]
    spec = next(s for s in prog.inputs if s.path == f"/{name}")
    changed = {spec.path: other_value(spec)}
    doc = header(path) if path.suffix == ".fs" else {}
    kind = {i["NAME"]: i["TYPE"] for i in doc.get("INPUTS", [])}.get(name)
    # feedback shaders need a few frames for a change to build up
    feedback = any(p.get("TARGET") for p in doc.get("PASSES", [])) or getattr(prog, "buffers", ())
    n = 30 if feedback else 3
    if kind == "event":  # fired on the last frame only
        before = draw(gl, prog, n)
        after = draw(gl, prog, n, per_frame=lambda i: changed if i == n - 1 else {})
    else:
        before = draw(gl, prog, n, audio=lambda i: sine(330.0, i))
        after = draw(gl, prog, n, values=changed, audio=lambda i: sine(330.0, i))
    assert diff(before, after) > MIN_RESPONSE, (
        f"{path.name}: {name} changes only {diff(before, after):.2f}"
    )


def test_feedback_remembers_and_repeats(gl, programs):
    prog = programs["comet_trails.fs"]
    many = draw(gl, prog, 20)
    one = draw(gl, prog, 1, start=19)  # the same last frame, without the frames before it
    assert diff(many, one) > 2.0, "the trails should remember earlier frames"
    assert many.mean() > one.mean() * 1.3
    again = draw(gl, prog, 20)
    assert np.array_equal(many, again), "the same frames must give the same image"
    fresh = load_layer(gl, SHADER_DIR / "comet_trails.fs")
    try:
        assert np.array_equal(draw(gl, fresh, 20), many), "a new instance must draw the same"
    finally:
        fresh.release()


def test_event_is_a_one_frame_pulse(gl, programs):
    prog = programs["comet_trails.fs"]
    assert prog.events == ("/clear",)
    plain = draw(gl, prog, 14, every=True)
    held = draw(gl, prog, 14, every=True, per_frame=lambda i: {"/clear": float(i >= 11)})
    pulsed = draw(gl, prog, 14, every=True, per_frame=lambda i: {"/clear": float(i == 11)})
    assert np.array_equal(held[10], plain[10])

    def light(img: np.ndarray) -> float:  # what shines above the dark sky
        return float(img.mean() - np.median(img))

    assert light(held[11]) < light(plain[11]) * 0.75, "clear should wipe the trails"
    assert diff(held[11], plain[11]) > MIN_RESPONSE
    # held down, it does not wipe again: the same as a single pulse ...
    assert np.array_equal(held[13], pulsed[13])
    # ... but released and pressed again, it does
    twice = draw(gl, prog, 14, every=True, per_frame=lambda i: {"/clear": float(i in (11, 13))})
    assert diff(twice[13], pulsed[13]) > 0.25  # (a short trail to wipe, but not nothing)


def test_event_fires_on_each_rise(gl, tmp_path):
    path = write(
        tmp_path,
        "flash.fs",
        """/*{"ISFVSN": "2", "INPUTS": [{"NAME": "flash", "TYPE": "event"}]}*/
void main() { gl_FragColor = vec4(flash ? 1.0 : 0.2, 0.0, 0.0, 1.0); }
""",
    )
    prog = load_layer(gl, path)
    try:
        pattern = [0, 1, 1, 0, 1, 1]
        images = draw(gl, prog, 6, every=True, per_frame=lambda i: {"/flash": pattern[i]})
        assert [int(img[0, 0, 0]) for img in images] == [51, 255, 51, 51, 255, 51]
    finally:
        prog.release()


def test_imported_image_appears(gl, tmp_path):
    # the folder's own: the sigil drawn vs a transparent stand-in of the same size
    source = (SHADER_DIR / "moon_sigil.fs").read_text()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "moon_sigil.png").write_bytes(png_bytes(np.zeros((8, 8, 4), np.uint8)))
    blank = load_layer(gl, write(tmp_path, "moon_sigil.fs", source))
    real = load_layer(gl, SHADER_DIR / "moon_sigil.fs")
    try:
        assert diff(draw(gl, real, 1), draw(gl, blank, 1)) > 8.0
    finally:
        blank.release()
        real.release()
    # a probe: four quadrants, upright (top-left red), IMG_SIZE in pixels
    quads = np.zeros((4, 6, 4), np.uint8)
    quads[:2, :3], quads[:2, 3:] = (255, 0, 0, 255), (0, 255, 0, 255)
    quads[2:, :3], quads[2:, 3:] = (0, 0, 255, 255), (255, 255, 255, 255)
    (tmp_path / "quads.png").write_bytes(png_bytes(quads))
    path = write(
        tmp_path,
        "probe.fs",
        """/*{"ISFVSN": "2", "IMPORTED": {"pic": {"PATH": "quads.png"}}}*/
void main() {
    vec4 c = IMG_THIS_NORM_PIXEL(pic);
    if (isf_FragNormCoord.x < 0.05) c = vec4(IMG_SIZE(pic) / 255.0, 0.0, 1.0);
    gl_FragColor = c;
}
""",
    )
    prog = load_layer(gl, path)
    try:
        img = draw(gl, prog, 1)[::-1]  # top row first
    finally:
        prog.release()
    h, w = img.shape[:2]
    assert tuple(img[h // 4, w // 4 + 10]) == (255, 0, 0)
    assert tuple(img[h // 4, 3 * w // 4]) == (0, 255, 0)
    assert tuple(img[3 * h // 4, w // 4 + 10]) == (0, 0, 255)
    assert tuple(img[3 * h // 4, 3 * w // 4]) == (255, 255, 255)
    assert tuple(img[h // 2, 0]) == (6, 4, 0)


def test_missing_imported_image_is_a_shader_error(tmp_path):
    path = write(
        tmp_path,
        "lost.fs",
        '/*{\n "ISFVSN": "2",\n "IMPORTED": {\n  "pic": {"PATH": "nope.png"}\n }\n}*/\n'
        "void main() {}\n",
    )
    with pytest.raises(ShaderError, match=r"nope\.png") as info:
        parse(path)
    assert info.value.line == 4


# sound --------------------------------------------------------------------------------------


def test_audio_fft_input_follows_the_sound(gl, programs, tmp_path):
    bloom = programs["spectrum_bloom.fs"]
    quiet = draw(gl, bloom, 2, audio=None)
    tone = draw(gl, bloom, 2, audio=lambda i: sine(880.0, i))
    assert diff(quiet, tone) > 2.0
    path = write(
        tmp_path,
        "fft.fs",
        """/*{"ISFVSN": "2", "INPUTS": [{"NAME": "fft", "TYPE": "audioFFT", "MAX": 32},
        {"NAME": "wave", "TYPE": "audio", "MAX": 64}]}*/
void main() {
    float x = isf_FragNormCoord.x;
    gl_FragColor = vec4(IMG_NORM_PIXEL(fft, vec2(x, 0.5)).r, IMG_NORM_PIXEL(wave, vec2(x, 0.5)).r,
                        0.0, 1.0);
}
""",
    )
    prog = load_layer(gl, path)
    try:
        size = (32, 4)  # a pixel per FFT column
        silent = draw(gl, prog, 1, audio=np.zeros(1600, np.float32), size=size)
        assert silent[..., 0].max() == 0 and np.all(silent[..., 1] == 128)
        freq = 7.5 * SR / 2 / 32  # the middle of column 7 of 32 (linear, 0 .. SR/2)
        loud = draw(gl, prog, 1, audio=sine(freq, amp=0.9), size=size)
        assert int(np.argmax(loud[0, :, 0])) == 7
        assert loud[0, 7, 0] > 150  # a full-scale-ish sine reads near its amplitude
        assert loud[..., 1].max() > 200 and loud[..., 1].min() < 50  # the wave swings
    finally:
        prog.release()


# ISF v1 and the built-ins ----------------------------------------------------------------


V1 = """/*{
    "DESCRIPTION": "ISF v1: no ISFVSN, PERSISTENT_BUFFERS, vv_FragNormCoord, texture2D, varying",
    "INPUTS": [{"NAME": "step", "TYPE": "float", "DEFAULT": 0.1}],
    "PERSISTENT_BUFFERS": ["acc"],
    "PASSES": [{"TARGET": "acc"}, {}]
}*/
varying vec2 unused_by_a_v1_file;
void main() {
    if (PASSINDEX == 0)
        gl_FragColor = texture2D(acc, vv_FragNormCoord) + vec4(step, step, step, 1.0);
    else
        gl_FragColor = vec4(texture2D(acc, vv_FragNormCoord).rgb, 1.0);
}
"""


def test_isf_v1_file_works(gl, tmp_path):
    doc = parse(write(tmp_path, "v1.fs", V1))
    assert doc.version == "1.0" and doc.passes[0].persistent
    prog = load_layer(gl, doc.path)
    try:
        three = draw(gl, prog, 3)
        assert abs(three.mean() - 0.3 * 255) < 3, three.mean()  # persistent: 0.1 a frame
    finally:
        prog.release()


BUILTINS = """/*{"ISFVSN": "2",
  "INPUTS": [{"NAME": "p", "TYPE": "point2D", "DEFAULT": [0.25, 0.5]}],
  "PASSES": [{"TARGET": "small", "WIDTH": "max(floor($WIDTH / 4.0), 1)", "HEIGHT": "3"}, {}]}*/
void main() {
    if (PASSINDEX == 0) {
        gl_FragColor = vec4(RENDERSIZE / 255.0, 0.0, 1.0);
    } else if (isf_FragNormCoord.y < 0.5) {
        gl_FragColor = vec4(IMG_NORM_THIS_PIXEL(small).rg, IMG_SIZE(small).x / 255.0, 1.0);
    } else {
        gl_FragColor = vec4(TIME / 10.0, float(FRAMEINDEX) / 255.0, TIMEDELTA * 10.0, 1.0);
        if (isf_FragNormCoord.x > 0.5) gl_FragColor = vec4(DATE.y / 255.0, DATE.z / 255.0,
            p.x, 1.0);
    }
}
"""


def test_isf_builtins(gl, tmp_path):
    prog = load_layer(gl, write(tmp_path, "builtins.fs", BUILTINS))
    try:
        img = draw(gl, prog, 6)  # frames 0..5; the last at time 2 + 5/30
    finally:
        prog.release()
    low, high = img[10, 10], img[-10, 10]
    assert tuple(low) == (40, 3, 40), "pass 0: RENDERSIZE of the small target (160/4 x 3)"
    assert abs(high[0] - (2 + 5 / 30) / 10 * 255) <= 1 and high[1] == 5
    assert abs(high[2] - 255 / 3) <= 1  # TIMEDELTA 1/30 * 10
    assert tuple(img[-10, -10]) == (6, 21, 64)  # DATE month and day; p.x = 0.25


def test_dreamer_features_reach_foreign_shaders(gl, tmp_path):
    isf = write(
        tmp_path,
        "feel.fs",
        '/*{"ISFVSN": "2"}*/\nvoid main() { gl_FragColor = vec4(oneiric_hue, oneiric_breath,'
        " oneiric_stage / 4.0, 1.0); }\n",
    )
    toy = write(
        tmp_path,
        "feel.glsl",
        "void mainImage(out vec4 c, in vec2 p) { c = vec4(oneiric_hue, oneiric_breath,"
        " oneiric_stage / 4.0, 1.0); }\n",
    )
    for path in (isf, toy):
        prog = load_layer(gl, path)
        try:
            img = draw(gl, prog, 1, dreamer=row(hue=0.2, breath=0.6, stage=3.0))
        finally:
            prog.release()
        assert tuple(img[5, 5]) == (51, 153, 191), path.name


def test_custom_vertex_shader_and_its_varyings(gl, tmp_path):
    write(
        tmp_path,
        "shift.vs",
        "varying vec2 shifted;\nvarying float more[2];\nvoid main() {\n    isf_vertShaderInit();\n"
        "    shifted = isf_FragNormCoord * 0.5 + 0.25;\n"
        "    more[0] = 0.1;\n    more[1] = 0.6;\n}\n",
    )
    path = write(
        tmp_path,
        "shift.fs",
        '/*{"ISFVSN": "2"}*/\nvarying vec2 shifted;\nvarying float more[2];\n'
        "void main() { gl_FragColor = vec4(shifted, more[1], 1.0); }\n",
    )
    prog = load_layer(gl, path)
    try:
        img = draw(gl, prog, 1)
    finally:
        prog.release()
    assert abs(img[0, 0, 0] - 0.25 * 255) < 2 and abs(img[-1, -1, 1] - 0.75 * 255) < 2
    assert img[40, 80, 2] == 153, "an array varying reaches the fragment shader"
    write(tmp_path, "shift.vs", "void main() {\n    isf_vertShaderInit()\n}\n")  # no ;
    with pytest.raises(ShaderError) as info:
        load_layer(gl, path)
    assert info.value.path == tmp_path / "shift.vs" and info.value.line == 3


def test_last_pass_with_a_target_still_reaches_the_layer(gl, tmp_path):
    path = write(
        tmp_path,
        "freeze.fs",
        """/*{"ISFVSN": "2", "PASSES": [{"TARGET": "a"}, {"TARGET": "final", "FLOAT": true}]}*/
void main() {
    if (PASSINDEX == 0) gl_FragColor = vec4(0.2, 0.4, 0.6, 1.0);
    else gl_FragColor = IMG_THIS_PIXEL(a) * vec4(1.0, 1.0, 1.0, 0.5);  // half transparent
}
""",
    )
    prog = load_layer(gl, path)
    try:
        img = draw(gl, prog, 1)
    finally:
        prog.release()
    want = (0.1 * 255, 0.2 * 255, 0.3 * 255)
    assert np.abs(img[40, 80] - want).max() <= 1, "over black: colour times alpha"


def test_fade_blends_over_what_the_layer_holds(gl, tmp_path):
    """A crossfade: the new shader drawn with fade < 1 over the old one's image; an ISF
    shader's own passes are not blended, only its last draw into the layer."""
    red = write(
        tmp_path,
        "red.fs",
        '/*{"ISFVSN": "2"}*/\nvoid main() { gl_FragColor = vec4(1, 0, 0, 1); }\n',
    )
    blue = write(
        tmp_path,
        "blue.fs",
        '/*{"ISFVSN": "2", "PASSES": [{"TARGET": "a", "PERSISTENT": true}, {}]}*/\n'
        "void main() { gl_FragColor = PASSINDEX == 0 ? vec4(0, 0, 1, 1) : IMG_THIS_PIXEL(a); }\n",
    )
    green = write(
        tmp_path, "green.glsl", "void mainImage(out vec4 c, in vec2 p) { c = vec4(0, 1, 0, 1); }\n"
    )
    progs = [load_layer(gl, p) for p in (red, blue, green)]
    stack = LayerStack(gl, SIZE, 1)
    try:
        for prog, fade in zip(progs, (1.0, 0.25, 0.5), strict=True):
            at = DrawFrame(1.0, 0.1, 3, None, DATE)
            prog.render(stack.fbo, 0, SIZE, at, values={}, dreamer_row=row(), fade=fade)
        pixel = stack.read_layer(0)[40, 80, :3].astype(float)
    finally:
        stack.release()
        for prog in progs:
            prog.release()
    want = np.array([255 * 0.75 * 0.5, 255 * 0.5, 255 * 0.25 * 0.5])
    assert np.abs(pixel - want).max() <= 1.5, pixel


def test_shadertoy_image_channel_and_no_main(gl, tmp_path):
    quads = np.zeros((2, 8, 4), np.uint8)
    quads[:, :4], quads[:, 4:] = (255, 0, 0, 255), (0, 0, 255, 255)
    (tmp_path / "lr.png").write_bytes(png_bytes(quads))
    path = write(
        tmp_path,
        "chan.glsl",
        """// iChannel2: lr.png
// (a sentence about iChannel0: it stays black, and this line is not a directive)
void mainImage(out vec4 c, in vec2 p) {
    c = texture(iChannel2, p / iResolution.xy) + texture(iChannel0, vec2(0.5));
    if (p.y < 2.0) c = vec4(iChannelResolution[2].xy / 255.0, iChannelResolution[0].x, 1.0);
}
""",
    )
    prog = load_layer(gl, path)
    try:
        img = draw(gl, prog, 1)
    finally:
        prog.release()
    assert tuple(img[40, 30]) == (255, 0, 0) and tuple(img[40, 130]) == (0, 0, 255)
    assert tuple(img[0, 80]) == (8, 2, 255)
    bad = write(tmp_path, "main.glsl", "void mainImage(out vec4 c, in vec2 p) {}\nvoid main() {}\n")
    with pytest.raises(ShaderError, match="main") as info:
        load_layer(gl, bad)
    assert info.value.line == 2
    odd = write(tmp_path, "odd.glsl", "// wrong signature\nvoid mainImage(out vec4 c) {}\n")
    with pytest.raises(ShaderError, match="fragCoord") as info:
        load_layer(gl, odd)
    assert info.value.line == 2


# errors name the user's line -------------------------------------------------------------


BAD_JSON = """
/*{
    "ISFVSN": "2",
    "INPUTS": [
        {"NAME": "a", "TYPE": "float"}
        {"NAME": "b", "TYPE": "float"}
    ]
}*/
void main() { gl_FragColor = vec4(a, b, 0.0, 1.0); }
"""

BAD_TYPE = """/*{
    "ISFVSN": "2",
    "INPUTS": [
        {"NAME": "a", "TYPE": "float"},
        {
            "NAME": "b",
            "TYPE": "vector"
        }
    ]
}*/
void main() {}
"""

KEYWORD = """/*{
    "ISFVSN": "2",
    "PASSES": [{"TARGET": "out"}, {}]
}*/
void main() {}
"""

BAD_GLSL = """/*{
    "ISFVSN": "2",
    "INPUTS": [{"NAME": "level", "TYPE": "float"}]
}*/

void main() {
    vec4 c = vec4(level);
    c.rgb *= ;
    gl_FragColor = c;
}
"""

UNDECLARED = """/*{"ISFVSN": "2"}*/
void main() {
    gl_FragColor = vec4(levle);
}
"""

TOY_ERROR = """// a Shadertoy shader with a typo
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy
    fragColor = vec4(uv, 0.0, 1.0);
}
"""


@pytest.mark.parametrize(
    ("name", "source", "line", "words"),
    [
        ("json.fs", BAD_JSON, 6, "JSON"),
        ("type.fs", BAD_TYPE, 6, "vector"),
        ("keyword.fs", KEYWORD, 3, "reserved"),
        ("glsl.fs", BAD_GLSL, 8, "syntax"),
        ("undeclared.fs", UNDECLARED, 3, "levle"),
        ("toy.glsl", TOY_ERROR, 4, "syntax"),
    ],
)
def test_errors_name_the_line_in_the_users_file(gl, tmp_path, name, source, line, words):
    path = write(tmp_path, name, source)
    with pytest.raises(ShaderError) as info:
        load_layer(gl, path)
    err = info.value
    assert err.path == path
    assert err.line == line, str(err)
    assert words in err.message
    assert str(err).startswith(f"{path}:{line}: ")


def test_pass_size_expressions_are_safe():
    env = {"WIDTH": 640.0, "HEIGHT": 360.0, "blur": 4.0}
    assert Expr("$WIDTH/16.0")(env) == 40.0
    assert Expr("max(floor($HEIGHT / $blur), 1) + 2 * (3 - 1)", {"blur"})(env) == 94.0
    assert Expr("pow(2, 3) - ceil(0.5) + min(1, 2, -3) + -2^2")(env) == 8 - 1 - 3 - 4
    assert Expr("$WIDTH / 0")(env) == 0.0
    for bad in ("__import__('os')", "$WIDTH +", "max(1)", "$HEIGHT * $nope", "1 ; 2", "a.b"):
        with pytest.raises(ValueError):
            Expr(bad)


# Shadertoy ----------------------------------------------------------------------------------


def test_shadertoy_uniforms(gl, tmp_path):
    path = write(
        tmp_path,
        "probe.glsl",
        """void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    if (fragCoord.y < 0.5 * iResolution.y)
        fragColor = vec4(iTime / 10.0, float(iFrame) / 255.0, iResolution.x / 1000.0, 0.0);
    else
        fragColor = vec4(fragCoord / iResolution.xy, iMouse.x / iResolution.x, 0.0);
}
""",
    )
    prog = load_layer(gl, path)
    try:
        assert [s.path for s in prog.inputs] == ["/mouse"]
        img = draw(gl, prog, 8, values={"/mouse": (0.5, 0.25)})
    finally:
        prog.release()
    low = img[5, 5]
    assert abs(low[0] - (2 + 7 / 30) / 10 * 255) <= 1 and low[1] == 7 and abs(low[2] - 40.8) <= 1
    top = img[-1]
    assert abs(top[0, 0] - 0.5 / 160 * 255) <= 1 and abs(top[-1, 0] - 159.5 / 160 * 255) <= 1
    assert abs(top[0, 2] - 127.5) <= 1, "iMouse.x: half the width"


def test_shadertoy_audio_channel(gl, programs):
    tunnel = programs["dream_tunnel.glsl"]
    assert diff(draw(gl, tunnel, 2), draw(gl, tunnel, 2, audio=lambda i: sine(110.0, i))) > 1.0


MULTIPASS = """// a probe: counters in buffers
// ---- Common ----
const float STEP = 1.0 / 255.0;
// ---- Buffer A ----
// iChannel0: Buffer A
// iChannel1: Buffer B
void mainImage(out vec4 o, in vec2 p) {
    vec2 uv = p / iResolution.xy;
    o = vec4(texture(iChannel0, uv).r + STEP, texture(iChannel1, uv).g, 0.0, 0.5);
}
// ---- Buffer B ----
// iChannel0: Buffer A
void mainImage(out vec4 o, in vec2 p) {
    o = vec4(0.0, texture(iChannel0, p / iResolution.xy).r, 0.0, 1.0);
}
// ---- Image ----
// iChannel0: Buffer A
// iChannel3: Buffer B
void mainImage(out vec4 o, in vec2 p) {
    vec4 a = texture(iChannel0, p / iResolution.xy);
    vec4 b = texture(iChannel3, p / iResolution.xy);
    o = vec4(a.r, a.g, b.g + a.a * STEP * 255.0 * 10.0 / 255.0, 1.0);
}
"""


def test_shadertoy_tabs_run_in_the_sites_order(gl, tmp_path):
    """A counts up reading its own last frame; B copies this frame's A; A reads B's last
    frame (B draws after A); the Image reads both; Common is shared; alpha is kept."""
    prog = load_layer(gl, write(tmp_path, "tabs.glsl", MULTIPASS))
    try:
        assert prog.buffers == ("A", "B")
        frames = draw(gl, prog, 5, every=True)
        for n, img in enumerate(frames, 1):
            px = img[45, 80]
            assert px[0] == n, (n, px)  # A after n frames: n steps
            assert px[1] == n - 1, (n, px)  # B as it was a frame ago, read by A
            assert px[2] == n + 5, (n, px)  # B now (= A now), plus A's alpha 0.5 * 10
        assert np.array_equal(draw(gl, prog, 5), frames[-1]), "reset() starts the buffers over"
        assert draw(gl, prog, 2, reset=False)[45, 80, 0] == 7, "without reset they go on"
        bigger = draw(gl, prog, 1, size=(80, 40), reset=False)
        assert bigger[20, 40, 0] == 1, "a new layer size starts the buffers over"
    finally:
        prog.release()


TAB_ERRORS = {  # id: (text in MULTIPASS, what replaces it, the line named, the message)
    "type-in-B": ("o = vec4(0.0, tex", "o = vec3(0.0, tex", 14, "vec3"),
    "common": ("const float STEP", "const float X = 1.0 +;\nconst float STEP", 3, "syntax"),
    "no-such-buffer": ("// iChannel3: Buffer B", "// iChannel3: Buffer C", 18, "no Buffer C"),
    "twice": ("// ---- Buffer B ----", "// ---- Buffer A ----", 11, "second Buffer A"),
    "no-image": ("// ---- Image ----", "// ---- Buffer C ----", 2, "no Image tab"),
    "no-mainImage": ("}\n// ---- Buffer B ----\n// iChannel0: Buffer A\nvoid mainImage",
                     "}\n// ---- Buffer B ----\n// iChannel0: Buffer A\nvoid f", 11,
                     "Buffer B defines no mainImage"),
    "stray": ("// a probe", "// iChannel0: Buffer A\n// a probe", 1, "before the first tab"),
    "common-channel": ("const float", "// iChannel2: audio\nconst float", 3, "Common has no"),
    "main": ("// ---- Image ----", "void main() {}\n// ---- Image ----", 16, "has no main"),
}  # fmt: skip


@pytest.mark.parametrize("case", TAB_ERRORS)
def test_shadertoy_tab_errors_name_the_files_line(gl, tmp_path, case):
    old, new, line, match = TAB_ERRORS[case]
    assert old in MULTIPASS
    with pytest.raises(ShaderError, match=match) as info:
        load_layer(gl, write(tmp_path, "tabs.glsl", MULTIPASS.replace(old, new, 1)))
    assert info.value.line == line, info.value


def test_ink_dream_remembers_its_strokes(gl, programs):
    prog = programs["ink_dream.glsl"]
    many = draw(gl, prog, 40)
    one = draw(gl, prog, 1, start=39)
    assert many.mean() > one.mean() * 1.3, "the strokes of earlier frames stay in the water"
    assert np.array_equal(draw(gl, prog, 40), many), "the same frames give the same image"


# a real third-party ISF file --------------------------------------------------------------

# "Angular" from Vidvox's ISF-Files repository (ISF/Angular.fs), converted by Vidvox from
# gl-transitions; the transition's code is by Fernando Kuteken under the MIT License, as
# its own comment says. Kept verbatim (tabs included).
ANGULAR = (
    '/*{\n    "CATEGORIES": [\n        "Wipe"\n    ],\n    "CREDIT": "Automatically converted '
    'from https://www.github.com/gl-transitions/gl-transitions/tree/master/angular.glsl",\n'
    '    "DESCRIPTION": "",\n    "INPUTS": [\n        {\n            "NAME": "startImage",\n'
    '            "TYPE": "image"\n        },\n        {\n            "NAME": "endImage",\n'
    '            "TYPE": "image"\n        },\n        {\n            "DEFAULT": 0,\n'
    '            "MAX": 1,\n            "MIN": 0,\n            "NAME": "progress",\n'
    '            "TYPE": "float"\n        },\n        {\n            "DEFAULT": 90,\n'
    '            "MAX": 360,\n            "MIN": 0,\n            "NAME": "startingAngle",\n'
    '            "TYPE": "float"\n        }\n    ],\n    "ISFVSN": "2",\n    "VSN": null\n}\n'
    "*/\n\n\n\nvec4 getFromColor(vec2 inUV)\t{\n\treturn IMG_NORM_PIXEL(startImage, inUV);\n}\n"
    "vec4 getToColor(vec2 inUV)\t{\n\treturn IMG_NORM_PIXEL(endImage, inUV);\n}\n\n\n\n"
    "// Author: Fernando Kuteken\n// License: MIT\n\n#define PI 3.141592653589\n\n\n"
    "vec4 transition (vec2 uv) {\n  \n  float offset = startingAngle * PI / 180.0;\n"
    "  float angle = atan(uv.y - 0.5, uv.x - 0.5) + offset;\n"
    "  float normalizedAngle = (angle + PI) / (2.0 * PI);\n  \n"
    "  normalizedAngle = normalizedAngle - floor(normalizedAngle);\n\n  return mix(\n"
    "    getFromColor(uv),\n    getToColor(uv),\n    step(normalizedAngle, progress)\n    );\n"
    "}\n\n\n\nvoid main()\t{\n\tgl_FragColor = transition(isf_FragNormCoord.xy);\n}"
)


def test_third_party_isf_transition(gl, tmp_path):
    prog = load_layer(gl, write(tmp_path, "Angular.fs", ANGULAR))
    red = gl.texture((2, 2), 4, bytes([255, 0, 0, 255] * 4))
    blue = gl.texture((2, 2), 4, bytes([0, 0, 255, 255] * 4))
    try:
        assert [(s.path, s.default, s.min, s.max) for s in prog.inputs] == [
            ("/progress", 0.0, 0.0, 1.0),
            ("/startingAngle", 90.0, 0.0, 360.0),
        ]
        card = draw(gl, prog, 1)  # nothing plugged in: both images are the test card
        assert card.std() > 20, "an unplugged image shows the test card, not a flat colour"
        prog.set_image("startImage", red)
        prog.set_image("endImage", blue)
        start = draw(gl, prog, 1)
        half = draw(gl, prog, 1, values={"/progress": 0.5})
        end = draw(gl, prog, 1, values={"/progress": 1.0})
    finally:
        prog.release()
        red.release()
        blue.release()

    def share(img: np.ndarray) -> float:
        return float((img[..., 2] > 250).mean())

    assert share(start) < 0.01 and share(end) > 0.99
    assert 0.4 < share(half) < 0.6
    # startingAngle 90: the sweep starts pointing down, so at 0.5 the left half has turned blue
    h, w = half.shape[:2]
    assert half[h // 2, w // 8, 2] > 250 and half[h // 2, 7 * w // 8, 0] > 250


# the checker --------------------------------------------------------------------------------


def test_checker_passes_every_shader_in_the_folder(gl):
    results = check([SHADER_DIR], frames=2, size=(96, 54), ctx=gl)
    names = {r.path.name for r in results}
    assert {p.name for p in FOREIGN} <= names and "aurora.glsl" in names
    assert not any("lib" in r.path.parts or r.path.name == "merge.frag" for r in results)
    failed = [f"{r.path}:{r.line}: {r.message}" for r in results if not r.ok]
    assert not failed, failed
    assert {r.dialect for r in results} == {"rig", "isf", "shadertoy"}
    assert all(r.ms is not None and r.ms > 0 and not r.message for r in results)


def test_checker_reports_errors_with_their_lines(gl, tmp_path):
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib", "helper.glsl", "float helper() { return 1.0; }\n")
    write(tmp_path, "_draft.fs", "not even ISF\n")
    write(tmp_path, "good.fs", V1)
    write(tmp_path, "bad.fs", BAD_GLSL)
    write(tmp_path, "json.fs", BAD_JSON)
    write(tmp_path, "toy.glsl", TOY_ERROR)
    write(tmp_path, "what.glsl", "float nothing;\n")
    files = shader_files([tmp_path])
    assert [p.name for p in files] == ["bad.fs", "good.fs", "json.fs", "toy.glsl", "what.glsl"]
    results = {r.path.name: r for r in check([tmp_path], frames=1, size=(64, 36), ctx=gl)}
    assert results["good.fs"].ok and results["good.fs"].dialect == "isf"
    assert (results["bad.fs"].ok, results["bad.fs"].line) == (False, 8)
    assert (results["json.fs"].ok, results["json.fs"].line) == (False, 6)
    assert (results["toy.glsl"].dialect, results["toy.glsl"].line) == ("shadertoy", 4)
    assert results["what.glsl"].dialect == "?" and not results["what.glsl"].ok
    data = json.loads(format_results(list(results.values()), as_json=True))
    assert data["ok"] is False and data["failed"] == 4 and data["count"] == 5
    bad = next(r for r in data["results"] if r["path"].endswith("bad.fs"))
    assert bad["line"] == 8 and bad["ms"] is None and "syntax" in bad["message"]
    text = format_results(list(results.values()))
    assert f"{tmp_path / 'bad.fs'}:8: " in text and "5 shader(s): 1 ok, 0 black, 4 failed" in text
    assert re.search(r"^ok\s+isf\s+\S*good\.fs\s+[\d.]+ ms/frame$", text, re.M)


# the PNG decoder against ffmpeg -----------------------------------------------------------


@pytest.mark.parametrize("pix_fmt", ["rgb24", "rgba", "gray", "ya8", "pal8", "rgb48be", "monob"])
def test_png_decoder_agrees_with_ffmpeg(tmp_path, pix_fmt):
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:37, 0:53]
    img = np.dstack([x * 4, y * 6, (x * y) % 256, 255 - x]).astype(np.uint8)
    img[::5, ::7] = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    path = tmp_path / f"{pix_fmt}.png"
    subprocess.run(
        [
            *(ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", "53x37"),
            *("-i", "-", "-pred", "mixed", "-pix_fmt", pix_fmt, str(path)),
        ],
        input=img.tobytes(),
        check=True,
    )
    ours = decode_png(path.read_bytes()).astype(int)
    theirs = ffmpeg_image(path).astype(int)
    assert ours.shape == theirs.shape == (37, 53, 4)
    assert np.abs(ours - theirs).max() <= 1
