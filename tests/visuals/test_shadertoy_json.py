"""Shadertoy shaders as the site's API exports them (JSON with a renderpass list), the
format TouchDesigner's and KodeLife's importers fetch: passes, channels by output id,
textures found beside the file, what the rig does not draw left black with a notice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.visuals.check import check
from engine.visuals.dialect_base import DrawFrame
from engine.visuals.dialects import detect, load_layer
from engine.visuals.layers import LayerStack
from engine.visuals.shaders import ShaderError
from engine.visuals.testcard import TEST_CARD

BUFFER_A = """\
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec4 last = texelFetch(iChannel0, ivec2(fragCoord), 0);
    fragColor = vec4(min(last.r + 0.25, 1.0), 0.0, 0.0, 1.0);  // brighter each frame
}"""
IMAGE = """\
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    float red = texture(iChannel0, uv).r;
    float picture = texture(iChannel1, uv).g;
    fragColor = vec4(red, picture, texture(iChannel2, vec2(0.1, 0.25)).x * 0.0, 1.0);
}"""


def export(image_code: str = IMAGE) -> dict:
    """An export as the API gives one (v1 field names: ctype, src; numeric ids)."""
    sampler = {"filter": "linear", "wrap": "clamp", "vflip": "true", "srgb": "false"}
    return {
        "Shader": {
            "ver": "0.1",
            "info": {"id": "tst001", "name": "feedback test", "username": "oneiric"},
            "renderpass": [
                {
                    "inputs": [
                        {"id": 257, "src": "/media/previz/buffer00.png", "ctype": "buffer",
                         "channel": 0, "sampler": sampler, "published": 1},
                        {"id": 33, "src": "/presets/tex00.jpg", "ctype": "keyboard",
                         "channel": 1, "sampler": sampler, "published": 1},
                    ],
                    "outputs": [{"id": 257, "channel": 0}],
                    "code": BUFFER_A, "name": "Buf A", "description": "", "type": "buffer",
                },
                {
                    "inputs": [
                        {"id": 257, "src": "/media/previz/buffer00.png", "ctype": "buffer",
                         "channel": 0, "sampler": sampler, "published": 1},
                        {"id": 8, "src": "/media/a/card.png", "ctype": "texture",
                         "channel": 1, "sampler": sampler, "published": 1},
                        {"id": 21, "src": "/media/a/some.mp3", "ctype": "music",
                         "channel": 2, "sampler": sampler, "published": 1},
                        {"id": 22, "src": "/media/a/sky.png", "ctype": "cubemap",
                         "channel": 3, "sampler": sampler, "published": 1},
                    ],
                    "outputs": [{"id": 37, "channel": 0}],
                    "code": image_code, "name": "Image", "description": "", "type": "image",
                },
                {"inputs": [], "outputs": [{"id": 38, "channel": 0}], "name": "Sound",
                 "code": "vec2 mainSound(int s, float t) { return vec2(0.0); }",
                 "description": "", "type": "sound"},
            ],
        }
    }  # fmt: skip


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "media" / "a").mkdir(parents=True)
    (tmp_path / "media" / "a" / "card.png").write_bytes(TEST_CARD.read_bytes())
    return tmp_path


def test_an_export_loads_its_passes_channels_and_texture(gl, folder):
    path = folder / "feedback.json"
    path.write_text(json.dumps(export(), indent=2))
    assert detect(path) == "shadertoy"
    prog = load_layer(gl, path)
    stack = LayerStack(gl, (64, 36), 1)
    try:
        reds = []
        for f in range(3):
            at = DrawFrame(f / 30, 1 / 30, f, np.zeros(1600, np.float32), (2026, 1, 1, 0))
            prog.render(stack.fbo, 0, (64, 36), at, values={}, dreamer_row=np.zeros(32))
            img = stack.read_layer(0)
            reds.append(int(img[..., 0].mean()))
        assert prog.buffers == ("A",)
        assert sorted(prog.sources) == ["keyboard"], "Buffer A's keyboard channel"
        notices = " ".join(prog.notices)
        assert "cubemap" in notices and "sound pass" in notices, prog.notices
    finally:
        stack.release()
        prog.release()
    assert reds[0] < reds[1] < reds[2], "Buffer A reads its own last frame: feedback"
    assert img[..., 1].std() > 20, "the texture found beside the file, not black"


def test_an_error_names_the_pass_and_its_line(gl, folder):
    path = folder / "broken.json"
    path.write_text(json.dumps(export(IMAGE.replace("float red", "flot red"))))
    with pytest.raises(ShaderError) as err:
        load_layer(gl, path)
    assert "Image, line 3" in err.value.message, err.value.message


def test_the_checker_takes_exports_and_leaves_other_json_alone(gl, folder):
    (folder / "feedback.json").write_text(json.dumps(export()))
    (folder / "package.json").write_text('{"name": "not a shader"}')
    results = check([folder], ctx=gl)
    assert [r.path.name for r in results] == ["feedback.json"]
    assert results[0].ok and results[0].dialect == "shadertoy" and results[0].notices


def test_a_show_draws_an_export_as_a_dreamers_layer(gl, tmp_path, scratch):
    from engine import sets
    from engine.clock import FrameClock
    from engine.show import Show

    folders = scratch("patches/drone.py")
    (folders.shaders / "feedback.json").write_text(json.dumps(export()))
    path = tmp_path / "export.toml"
    path.write_text(
        "[set]\nduration = 10.0\nfps = 20\nsize = [32, 18]\nlayer_scale = 1.0\n"
        '[[dreamers]]\ncount = 1\nstages = [[0, "W"]]\nshader = "feedback"\npatch = "drone"\n'
    )
    spec = sets.load(path, shaders={"feedback"}, patches={"drone"}, mappings=set())
    show = Show(spec, gl, folders=folders, audio=False)
    try:
        clock = FrameClock(show.fps)
        reds = []
        for _ in range(4):
            show.step(clock.tick())
            reds.append(int(show.layers.read_layer(0)[..., 0].mean()))
    finally:
        show.close()
    assert show.shaders == ["feedback"] and reds[-1] > reds[0] > 0, reds
