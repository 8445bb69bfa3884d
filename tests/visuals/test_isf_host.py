"""ISF as its reference hosts define it: companion vertex shaders, v1 image uniforms,
fix-ups for lenient compilers, the test card behind unplugged image inputs, and the
checker's statuses and contact sheet. Fixtures are in tests/visuals/isf/."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.visuals.check import CheckResult, check, format_results, write_sheet
from engine.visuals.dialect_base import DrawFrame, decode_png
from engine.visuals.dialects import load_layer
from engine.visuals.isf import split_header
from engine.visuals.isf_lenient import fix
from engine.visuals.isf_source import active_code, vertex_varyings
from engine.visuals.layers import LayerStack
from engine.visuals.shaders import ShaderError
from engine.visuals.sheet import (
    BACKGROUND,
    GAP,
    LABEL,
    STATUS_COLOURS,
    TILE,
    contact_sheet,
    tile_origin,
)
from engine.visuals.testcard import TEST_CARD, load_test_card, make_test_card

FIXTURES = Path(__file__).parent / "isf"
ROOT = Path(__file__).resolve().parents[2]
SIZE = (160, 90)


def render(gl, prog, values=None, size=SIZE, audio=None) -> np.ndarray:
    """One frame into layer 0 of a one-layer stack: (h, w, 3) floats, bottom row first."""
    prog.reset()
    stack = LayerStack(gl, size, 1)
    try:
        sound = np.zeros(1600, np.float32) if audio is None else audio
        at = DrawFrame(1.0, 1 / 30, 3, sound, (2026.0, 1.0, 1.0, 0.0))
        prog.render(
            stack.fbo, 0, size, at, values=values or {}, dreamer_row=np.zeros(32, np.float32)
        )
        return stack.read_layer(0)[..., :3].astype(np.float64)
    finally:
        stack.release()


def draw_file(gl, path: Path) -> tuple[np.ndarray, list[str]]:
    """A file's frame at the card's size, top row first, and the notices of its loading."""
    prog = load_layer(gl, path)
    try:
        return render(gl, prog, size=(320, 180))[::-1], list(prog.notices)
    finally:
        prog.release()


# the test card ---------------------------------------------------------------------------


def test_the_shipped_test_card_is_the_one_drawn_and_has_structure():
    card = load_test_card()
    assert TEST_CARD.is_file() and card.shape == (180, 320, 4)
    assert np.array_equal(card, make_test_card()), "run python -m engine.visuals.testcard"
    rgb = card[..., :3].astype(float)
    assert rgb.std() > 40 and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 500
    assert np.abs(rgb - rgb[::-1]).mean() > 20 and np.abs(rgb - rgb[:, ::-1]).mean() > 20


def test_an_unplugged_image_input_shows_the_test_card(gl, tmp_path):
    path = tmp_path / "through.fs"
    path.write_text(
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n'
        "void main() { gl_FragColor = IMG_THIS_NORM_PIXEL(inputImage); }\n"
    )
    prog = load_layer(gl, path)
    try:
        img = render(gl, prog, size=(320, 180))[::-1]  # top row first, as the card
    finally:
        prog.release()
    assert np.abs(img - load_test_card()[..., :3]).max() <= 1


# companion vertex shaders ----------------------------------------------------------------


def test_version_branches_are_read_as_a_330_compiler_takes_them():
    code = "#if __VERSION__ <= 120\nvarying vec2 a;\n#else\nout vec2 a;\n#endif\nflat out int k;\n"
    assert active_code(code).split("\n")[1] == "" and "out vec2 a" in active_code(code)
    assert vertex_varyings(code) == [("vec2", "a"), ("flat int", "k")]
    gles = "#ifdef GL_ES\nvarying lowp vec2 b;\n#else\nvarying vec2 c[3];\n#endif\n"
    assert vertex_varyings(gles) == [("vec2", "c[3]")]


def test_a_vdmx_style_companion_vertex_shader_loads_and_filters(gl):
    prog = load_layer(gl, FIXTURES / "outline.fs")
    try:
        assert [s.path for s in prog.inputs] == ["/amount", "/width"]
        edges = render(gl, prog)
        plain = render(gl, prog, {"/amount": 0.0})
        ink = render(gl, prog, {"/amount": 1.0})
    finally:
        prog.release()
    card = load_test_card()[::-1, :, :3].astype(float)  # bottom row first, as GL reads
    small = card[:: 320 // SIZE[0], :: 180 // SIZE[1]][: SIZE[1], : SIZE[0]]
    assert np.abs(plain - small).mean() < 8, "amount 0: the picture itself"
    assert np.abs(edges - plain).mean() > 5, "the edges are drawn"
    # every check in the shader (v1 image uniforms, the flat varying) passed: white ink
    assert ink.max() > 100 and np.abs(ink[..., 0] - ink[..., 1]).max() <= 1


def test_glsl_1_texture_functions_still_work(gl, tmp_path):
    path = tmp_path / "old.fs"
    path.write_text(
        '/*{"INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n'
        "void main() {\n"
        "    vec4 a = texture2DLod(inputImage, vv_FragNormCoord, 0.0);\n"
        "    vec4 b = texture2DProj(inputImage, vec3(vv_FragNormCoord, 1.0));\n"
        "    gl_FragColor = 0.5 * (a + b);\n}\n"
    )
    img, _ = draw_file(gl, path)
    assert np.abs(img - load_test_card()[..., :3]).max() <= 1


def test_inputs_named_what_glsl_3_30_reserves_keep_their_params(gl, tmp_path):
    """Inputs named `smooth` and `texture` (free names in GLSL 1.20): their uniforms are
    renamed in the .fs and the .vs, their params and `$NAME` in PASSES sizes keep the name."""
    (tmp_path / "soft.vs").write_text(
        "varying float gain;\nvoid main() { isf_vertShaderInit(); gain = smooth; }\n"
    )
    (tmp_path / "soft.fs").write_text(
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"},'
        '{"NAME": "smooth", "TYPE": "float", "DEFAULT": 1.0},'
        '{"NAME": "texture", "TYPE": "float", "MIN": 1.0, "MAX": 4.0, "DEFAULT": 2.0}],'
        '"PASSES": [{"TARGET": "small", "WIDTH": "$WIDTH / $texture"}, {}]}*/\n'
        "varying float gain;\n"
        "void main() {\n"
        "    if (PASSINDEX == 0) gl_FragColor = IMG_THIS_PIXEL(inputImage);\n"
        "    else gl_FragColor = vec4(texture2D(small, isf_FragNormCoord).rgb * gain,"
        " texture / 2.0);\n}\n"
    )
    prog = load_layer(gl, tmp_path / "soft.fs")
    try:
        assert [s.path for s in prog.inputs] == ["/smooth", "/texture"]
        half = render(gl, prog, {"/smooth": 0.5}, size=(320, 180))[::-1]
        sizes = {name: buf.size for name, buf in prog._buffers.items()}
        notices = list(prog.notices)
    finally:
        prog.release()
    assert sizes == {"small": (160, 180)}, "$texture in the pass size: 320 / 2"
    assert np.abs(half - 0.5 * load_test_card()[..., :3]).mean() < 4
    assert sorted(n.split("`")[1] for n in notices) == ["smooth", "texture"], notices


def test_a_file_saved_on_windows_loads_bom_crlf_and_a_latin_1_credit(gl, tmp_path):
    path = tmp_path / "windows.fs"
    text = (
        '/*{"CREDIT": "\xa9 2016 Jos\xe9", "ISFVSN": "2",\r\n'
        ' "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\r\n'
        "void main() {\r\n    gl_FragColor = IMG_THIS_PIXEL(inputImage);\r\n}\r\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("latin-1"))  # a BOM, then not UTF-8
    img, _ = draw_file(gl, path)
    assert np.abs(img - load_test_card()[..., :3]).max() <= 1


def test_a_header_with_a_key_missing_its_quotes_is_mended_as_hosts_forgive(gl, tmp_path):
    """Vidvox's own Random Shape.fs ships `ISFVSN" : "2"`; unquoted keys and a trailing
    comma are mended too. JSON past mending is still an error on its line."""
    path = tmp_path / "sloppy.fs"
    path.write_text(
        '/*{\n  ISFVSN" : "2",\n  INPUTS: [{"NAME": "inputImage", "TYPE": "image"},\n'
        '    {"NAME": "gain", "TYPE": "float", "DEFAULT": 0.5, },\n  ],\n}*/\n'
        "void main() { gl_FragColor = IMG_THIS_PIXEL(inputImage) * gain * 2.0; }\n"
    )
    prog = load_layer(gl, path)
    try:
        assert [s.path for s in prog.inputs] == ["/gain"] and prog.doc.version == "2"
        img = render(gl, prog, size=(320, 180))[::-1]
    finally:
        prog.release()
    assert np.abs(img - load_test_card()[..., :3]).max() <= 1
    path.write_text('/*{\n  "INPUTS": [\n    {"NAME" "x"}\n  ]\n}*/\nvoid main() {}\n')
    with pytest.raises(ShaderError) as err:
        load_layer(gl, path)
    assert err.value.line == 3 and "ISF JSON" in err.value.message


# leniency ----------------------------------------------------------------------------------


def test_lenient_code_compiles_after_fix_ups_logged_once(gl, caplog):
    with caplog.at_level(logging.WARNING, logger="engine.visuals.isf_program"):
        first = load_layer(gl, FIXTURES / "lenient.fs")
        second = load_layer(gl, FIXTURES / "lenient.fs")
    try:
        assert first.notices == second.notices
        lines = [n.split(":")[1] for n in first.notices]
        assert lines == ["11", "15", "20", "21", "25", "26"], first.notices
        assert "float(" in first.notices[0] and "`u` suffix" in first.notices[2]
        img = render(gl, first)
    finally:
        first.release()
        second.release()
    told = [r for r in caplog.records if "lenient.fs" in r.getMessage()]
    assert len(told) <= 1, "said once per file"
    assert img.max() > 100 and img.std() > 10
    assert (FIXTURES / "lenient.fs").read_text().count("return 4;") == 1, "file untouched"


@pytest.mark.parametrize(
    ("code", "line", "message", "expect"),
    [
        ("float f() {\n  return 1;\n}", 2, "`return' with wrong type int, in function `f' "
         "returning float", "return float(1);"),
        ("vec2 f() {\n  return\n   x; }", 2, "`return' with wrong type float, in function `f' "
         "returning vec2", "return\n   vec2(x); }"),
        ("uint u = 3;", 1, "initializer of type int cannot be assigned to variable of type uint",
         "uint u = 3u;"),
        ("int i = x * 2.0;", 1, "initializer of type float cannot be assigned to variable of "
         "type int", "int i = int(x * 2.0);"),
        ("if (b == 1) {}", 1, "operands of `==' must have the same type", "if (b == 1.0) {}"),
        ("const float k = x * 2.0;", 1, "initializer of const variable `k' must be a constant "
         "expression", "float k = x * 2.0;"),
        ("float m = p.x % 2.0;", 1, "LHS of operator % must be an integer",
         "float m = mod(p.x, 2.0);"),
    ],
)  # fmt: skip
def test_fix_rewrites_the_construct_the_error_names(code, line, message, expect):
    fixed = fix(code, line, message)
    assert fixed is not None and expect in fixed[0]
    assert fixed[0].count("\n") == code.count("\n"), "lines keep their numbers"


def test_fix_leaves_other_errors_alone():
    assert fix("void main() { oops; }", 1, "`oops' undeclared") is None
    assert fix("float f() { return 1.0; }", 1, "syntax error, unexpected ')'") is None


def test_names_glsl_1_leaves_free_are_renamed_in_the_fs_and_its_vs(gl, tmp_path):
    """`smooth`, `filter`, `common` are names in GLSL 1.20 (what ISF files are written in)
    and keywords in 3.30: renamed in both files (a varying is shared), the files untouched."""
    (tmp_path / "soft.vs").write_text(
        "varying vec2 common;\n"
        "void main() {\n"
        "    isf_vertShaderInit();\n"
        "    common = isf_FragNormCoord;\n}\n"
    )
    fs = (
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n'
        "varying vec2 common;\n"
        "vec4 filter(vec4 c) { return c; }\n"
        "void main() {\n"
        "    vec4 smooth = IMG_NORM_PIXEL(inputImage, common);\n"
        "    gl_FragColor = filter(smooth);\n}\n"
    )
    (tmp_path / "soft.fs").write_text(fs)
    img, notices = draw_file(gl, tmp_path / "soft.fs")
    assert sorted(n.split("`")[1] for n in notices) == ["common", "filter", "smooth"], notices
    assert np.abs(img - load_test_card()[..., :3]).max() <= 1, "the picture, unchanged"
    assert (tmp_path / "soft.fs").read_text() == fs


# the checker -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A small library: a filter, a .vs pair, lenient code, a black one, two broken ones."""
    lib = tmp_path_factory.mktemp("library")
    for name in ("outline.fs", "outline.vs", "lenient.fs"):
        (lib / name).write_text((FIXTURES / name).read_text())
    (lib / "night.fs").write_text('/*{"ISFVSN": "2"}*/\nvoid main() { gl_FragColor = vec4(0); }\n')
    (lib / "broken.fs").write_text('/*{"ISFVSN": "2"}*/\nvoid main() {\n  x = 1.0;\n}\n')
    (lib / "nojson.fs").write_text("/*{ nope }*/\nvoid main() {}\n")
    return lib


@pytest.fixture(scope="module")
def checked(gl, library):
    return check([library], frames=1, size=(96, 54), ctx=gl)


def test_the_checker_tells_ok_black_and_error_apart(checked):
    by = {r.path.name: r for r in checked}
    assert sorted(by) == ["broken.fs", "lenient.fs", "night.fs", "nojson.fs", "outline.fs"]
    assert {n: r.status for n, r in by.items()} == {
        "broken.fs": "error",
        "lenient.fs": "ok",
        "night.fs": "black",
        "nojson.fs": "error",
        "outline.fs": "ok",
    }
    assert by["broken.fs"].line == 3 and by["lenient.fs"].notices
    assert by["outline.fs"].filter and not by["lenient.fs"].filter
    assert by["outline.fs"].categories == ("Stylize",)
    data = json.loads(format_results(checked, as_json=True))
    assert data["summary"] == {"ok": 2, "black": 1, "error": 2} and data["failed"] == 2
    assert {r["status"] for r in data["results"]} == {"ok", "black", "error"}
    text = format_results(checked)
    assert "5 shader(s): 2 ok, 1 black, 2 failed" in text and "fixed: lenient.fs:11" in text


def test_the_contact_sheet_has_a_tile_per_shader(checked, tmp_path):
    out = tmp_path / "sheet.png"
    write_sheet(checked, out, columns=3)
    sheet = decode_png(out.read_bytes())[..., :3]
    rows = 2
    assert sheet.shape == (GAP + rows * (TILE[1] + LABEL + GAP), GAP + 3 * (TILE[0] + GAP), 3)
    for i, r in enumerate(checked):
        x, y = tile_origin(i, 3)
        bar = sheet[y + TILE[1] + 1, x + TILE[0] // 2]
        assert tuple(bar) == STATUS_COLOURS[r.status], r.path.name
        text = sheet[y + TILE[1] + 5 : y + TILE[1] + 12, x : x + TILE[0]]
        assert (text > 200).any(), "the tile is labelled"
        thumb = sheet[y : y + TILE[1], x : x + TILE[0]].astype(float)
        assert thumb.std() > 0 or r.status == "black", "the tile shows the frame or the error"
    x, y = tile_origin(len(checked), 3)  # the sixth place is empty
    assert (sheet[y : y + TILE[1] + LABEL, x : x + TILE[0]] == BACKGROUND).all()


def test_a_dithered_frame_keeps_its_brightness_on_the_sheet():
    """A 1-pixel dither (a Bayer filter's output) is averaged into the tile, not sampled:
    taking every other pixel would show it black, or white."""
    image = np.zeros((180, 320, 3), np.uint8)
    image[::2, ::2] = image[1::2, 1::2] = 255  # a checkerboard of single pixels
    result = CheckResult(Path("dither.fs"), "isf", True, image=image)
    sheet = contact_sheet([result], columns=1)
    x, y = tile_origin(0, 1)
    thumb = sheet[y : y + TILE[1], x : x + TILE[0]].astype(float)
    assert abs(thumb.mean() - 127.5) < 3 and thumb.std() < 3


def test_the_checker_draws_a_transition_partway_between_two_pictures(gl, tmp_path):
    """startImage, endImage and progress (ISF's transition): the checker gives the second
    image input a second picture (the card mirrored, its channels turned) and draws at
    progress 0.4, so a tile shows the transition and not the card twice."""
    path = tmp_path / "dissolve.fs"
    path.write_text(
        '/*{"ISFVSN": "2", "CATEGORIES": ["Dissolve"], "INPUTS": ['
        '{"NAME": "startImage", "TYPE": "image"}, {"NAME": "endImage", "TYPE": "image"},'
        '{"NAME": "progress", "TYPE": "float", "DEFAULT": 0.0}]}*/\n'
        "void main() { gl_FragColor = mix(IMG_THIS_PIXEL(startImage),"
        " IMG_THIS_PIXEL(endImage), progress); }\n"
    )
    (result,) = check([path], frames=1, ctx=gl)
    card = load_test_card()[..., :3].astype(float)
    second = card[:, ::-1][..., [2, 0, 1]]
    expect = 0.6 * card + 0.4 * second
    assert result.ok and result.image is not None
    assert np.abs(result.image.astype(float) - expect).max() <= 2


def test_the_command_line_writes_the_sheet(library, tmp_path):
    out = tmp_path / "sheet.png"
    cmd = [sys.executable, str(ROOT / "performance.py"), "shaders", "check", str(library)]
    done = subprocess.run(
        [*cmd, "--json", "--sheet", str(out), "--frames", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["summary"] == {"ok": 2, "black": 1, "error": 2}
    assert decode_png(out.read_bytes()).shape[1] == GAP + 5 * (TILE[0] + GAP)


# the fixtures: every construct, each loads, draws and exposes its inputs ----------------


@pytest.mark.parametrize("name", ["everything.fs", "outline.fs", "lenient.fs"])
def test_each_fixture_draws_and_exposes_its_inputs(gl, name):
    raw, _, _ = split_header(FIXTURES / name, (FIXTURES / name).read_text())
    header = json.loads(raw)
    want = [
        f"/{i['NAME']}"
        for i in header.get("INPUTS", [])
        if i["TYPE"] not in ("image", "audio", "audioFFT")
    ]
    prog = load_layer(gl, FIXTURES / name)
    try:
        assert [s.path for s in prog.inputs] == want
        img = render(gl, prog)
    finally:
        prog.release()
    assert img.max() > 50 and img.std() > 5, "not black, not flat"


def test_every_construct_reaches_the_image(gl):
    prog = load_layer(gl, FIXTURES / "everything.fs")
    try:
        base = render(gl, prog)
        changes = {
            "/cells": 2.0,  # the index of VALUES' 8: the grid's pass gets smaller
            "/glow": 0.0,
            "/tint": (0.1, 0.9, 0.2, 1.0),
            "/mirror": 1.0,
            "/flash": 1.0,
        }
        for path, value in changes.items():
            assert np.abs(render(gl, prog, {path: value}) - base).mean() > 0.5, path
        t = np.arange(1600) / 48000
        sound = (0.8 * np.sin(2 * np.pi * 1500 * t)).astype(np.float32)
        heard = render(gl, prog, audio=sound)
        assert np.abs(heard - base).mean() > 0.5, "the waveform and spectrum show the sound"
    finally:
        prog.release()
    spec = next(s for s in prog.inputs if s.path == "/cells")
    assert spec.choices == ("coarse", "medium", "fine") and spec.default == 1.0
