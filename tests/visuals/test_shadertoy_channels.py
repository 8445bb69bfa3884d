"""Shadertoy channels the show fills: the keyboard (Shadertoy's 256 x 3 texture, keys
arriving as /key/down and /key/up commands), another dreamer's layer and the merge,
each as the last frame left it."""

from __future__ import annotations

import numpy as np
import pytest

from engine import commands, sets
from engine.clock import FrameClock
from engine.events import Event
from engine.keyboard import Keyboard, key_code
from engine.show import Show

KEYS = """\
// iChannel0: keyboard
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    float held = texelFetch(iChannel0, ivec2(65, 0), 0).x;     // A, held
    float pressed = texelFetch(iChannel0, ivec2(65, 1), 0).x;  // A, went down this frame
    float toggled = texture(iChannel0, vec2(65.5 / 256.0, 0.75)).x;  // the old way
    fragColor = vec4(held, pressed, toggled, 1.0);
}
"""
MIRROR = """\
// iChannel0: dreamer/1
// iChannel1: merge
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec3 other = texture(iChannel0, uv).rgb;
    fragColor = vec4(other.r, texture(iChannel1, uv).b, iChannelResolution[0].x / 1000.0, 1);
}
"""
SET = """\
[set]
duration = 60.0
fps = 20
size = [32, 18]
layer_scale = 1.0
seed = 3
[merge]
mode = "add"
[[dreamers]]
count = 1
stages = [[0, "W"]]
shader = "keys"
patch = "drone"
[[dreamers]]
count = 1
stages = [[0, "W"]]
shader = "mirror"
patch = "drone"
"""


@pytest.fixture
def show(gl, tmp_path, scratch):
    folders = scratch("patches/drone.py")
    (folders.shaders / "keys.glsl").write_text(KEYS)
    (folders.shaders / "mirror.glsl").write_text(MIRROR)
    path = tmp_path / "keys.toml"
    path.write_text(SET)
    spec = sets.load(path, shaders={"keys", "mirror"}, patches={"drone"}, mappings=set())
    s = Show(spec, gl, folders=folders, audio=False)
    yield s
    s.close()


def frames(show: Show, clock: FrameClock, *keys: tuple[str, object]) -> list[np.ndarray]:
    """Each key command, then a frame: both layers' centre pixels (0..255) after each."""
    out = []
    for address, key in keys:
        if address:
            commands.run(commands.Offline(show), Event(clock.now(), "test", address, (key,)))
        show.step(clock.tick())
        out.append(np.array([show.layers.read_layer(n)[9, 16, :3] for n in (0, 1)], float))
    return out


def test_keys_reach_the_keyboard_channel_held_pressed_toggled(show):
    clock = FrameClock(show.fps)
    steps = [("", None), ("/key/down", "A"), ("", None), ("/key/up", 65), ("/key/down", "a")]
    got = [f[0] for f in frames(show, clock, *steps)]
    expect = [(0, 0, 0), (1, 1, 1), (1, 0, 1), (0, 0, 1), (1, 1, 0)]
    for i, (pixel, want) in enumerate(zip(got, expect, strict=True)):
        assert np.abs(pixel - 255 * np.array(want)).max() <= 1, (i, pixel, want)


def test_another_dreamers_layer_and_the_merge_as_last_frame_left_them(show):
    clock = FrameClock(show.fps)
    first, second = frames(show, clock, ("", None), ("/key/down", "A"))
    merged = show.merge.read()[::-1][9, 16].astype(float)  # the output, bottom row first
    (third,) = frames(show, clock, ("", None))
    assert first[1][0] == 0 and first[1][1] == 0, "nothing drawn before the first frame"
    assert second[1][0] == 0 and second[1][1] == 0, "dreamer 1 drew nothing last frame"
    assert third[1][0] > 250, "dreamer 1's layer as it was drawn last frame (A held)"
    assert merged[2] > 50 and abs(third[1][1] - merged[2]) <= 2, "last frame's merge"
    assert abs(third[1][2] - 255 * 32 / 1000) <= 2, "iChannelResolution: the layer's width"


def test_key_codes_by_number_or_name():
    assert [key_code(k) for k in (65, "65", "a", "A", "space", "left", "F1")] == [
        65, 65, 65, 65, 32, 37, 112,
    ]  # fmt: skip
    for bad in ("nope", 300, -1):
        with pytest.raises(ValueError):
            key_code(bad)
    kb = Keyboard()
    kb.down(32)
    kb.down(32)  # a key repeating while held is one press
    assert kb.held(32) and kb.state[2, 32] == 255
