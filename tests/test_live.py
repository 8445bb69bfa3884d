"""Live coding mid-show: shaders, patches and mapping scripts reload without stopping it."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from engine import sets
from engine.clock import FrameClock
from engine.folders import SET_DIR
from engine.live import Live
from engine.show import Show

SET = """
[set]
duration = 60.0
fps = 15
size = [64, 36]
seed = 4
layer_scale = 1.0
{mapping}

[merge]
mode = "add"
resonance = 1.0
state = 0.0

[[dreamers]]
count = 2
stages = [[0, "W"]]
shader = "probe"
patch = "{patch}"
"""

SOLID = "vec4 layer(vec2 uv) {{ return vec4({r}, {g}, {b}, 1.0); }}\n"
BROKEN = (
    "vec4 layer(vec2 uv) {\n    vec3 c = vec3(0.0, 0.0, 1.0);\n    return vec4(c * , 1.0);\n}\n"
)

TONE = """
import pyo
CONTROLS = {{"amp": 0.5}}
def build(ctl, seed):
    return pyo.Sine(freq={freq}, mul=0.2 + 0.0 * ctl["amp"])
"""


@pytest.fixture
def rig(tmp_path, gl, scratch):
    """A live show over files in tmp_path: shaders/probe.glsl, patches/tone.py, a mapping."""
    folders = scratch("patches/master.py")
    (folders.shaders / "probe.glsl").write_text(SOLID.format(r=0.5, g=0, b=0))
    (folders.patches / "tone.py").write_text(TONE.format(freq=440))
    (folders.mappings / "live.py").write_text("def update(rig):\n    pass\n")
    path = tmp_path / "live.toml"
    path.write_text(SET.format(mapping='mapping = "live"', patch="tone"))
    spec = sets.load(path, shaders={"probe"}, patches={"tone"}, mappings={"live"})
    show = Show(spec, gl, folders=folders)
    live = Live(show, clock=FrameClock(15))
    live.show.params.set("/live/crossfade", 0.2)
    yield live, folders
    live.close()
    show.close()


def colour(live: Live) -> np.ndarray:
    assert live.last_frame is not None
    return live.last_frame.image.reshape(-1, 3).mean(axis=0)


def step_until(live: Live, done, timeout: float = 20.0) -> int:
    """Step frames until done() holds; the number of frames it took."""
    start, frames = time.monotonic(), 0
    while not done():
        live.step()
        frames += 1
        assert time.monotonic() - start < timeout, (
            f"timed out waiting for the change {live.errors} {live.show.params.get('/merge/chaos')}"
        )
        time.sleep(0.01)
    return frames


def test_edited_shader_crossfades_in_and_a_broken_one_keeps_the_last_good(rig):
    live, folders = rig
    for _ in range(3):
        live.step()
    assert colour(live)[0] > 200 and colour(live)[1] < 5  # red

    (folders.shaders / "probe.glsl").write_text(SOLID.format(r=0, g=0.5, b=0))
    step_until(live, lambda: bool(live.swaps))
    swap_frame = live.swaps[-1][0]
    step_until(live, lambda: colour(live)[1] > 200)  # green, once the 0.2 s fade is over
    assert live.frame_index - swap_frame <= 4, "the crossfade should take about 3 frames"

    (folders.shaders / "probe.glsl").write_text(BROKEN)
    step_until(live, lambda: bool(live.errors))
    err = live.errors[-1]
    assert err.kind == "shader" and err.line == 3 and err.path.name == "probe.glsl"
    for _ in range(5):
        live.step()
    assert colour(live)[1] > 200, "frames keep coming from the last good shader"

    (folders.shaders / "probe.glsl").write_text(SOLID.format(r=0, g=0, b=0.5))
    step_until(live, lambda: colour(live)[2] > 200)


def test_a_patch_that_raises_keeps_the_old_voice(rig):
    live, folders = rig
    for _ in range(3):
        live.step()
    assert live.last_frame is not None and live.last_frame.audio is not None
    (folders.patches / "tone.py").write_text("CONTROLS = {}\ndef build(ctl, seed):\n    1 / 0\n")
    step_until(live, lambda: bool(live.errors))
    assert live.errors[-1].kind == "patch" and live.errors[-1].line == 3
    for _ in range(10):
        live.step()
    assert live.last_frame.audio is not None
    rms = float(np.sqrt(np.mean(live.last_frame.audio**2)))
    assert rms > 0.01, f"audio went silent (rms {rms})"
    (folders.patches / "tone.py").write_text(TONE.format(freq=660))
    errors = len(live.errors)
    for _ in range(10):
        live.step()
        time.sleep(0.02)
    assert len(live.errors) == errors


def test_a_mapping_that_raises_keeps_params_and_the_fix_takes_over(rig):
    live, folders = rig
    script = folders.mappings / "live.py"
    script.write_text("def update(rig):\n    rig.set('/merge/chaos', 0.25)\n")
    step_until(live, lambda: live.show.params.get("/merge/chaos") == 0.25)
    script.write_text(
        "def update(rig):\n    rig.set('/merge/chaos', 0.9)\n    raise RuntimeError('typo')\n"
    )
    step_until(live, lambda: bool(live.errors))
    err = live.errors[-1]
    assert err.kind == "mapping" and err.line == 3 and "typo" in err.message
    for _ in range(5):
        live.step()
    assert live.show.params.get("/merge/chaos") == 0.25, "a failed call changes nothing"
    script.write_text("def update(rig):\n    rig.set('/merge/chaos', 0.5)\n")
    step_until(live, lambda: live.show.params.get("/merge/chaos") == 0.5)


def test_commands_set_params_and_fire_cues(rig):
    live, _ = rig
    live.command("/merge/chaos", 0.6)
    live.command("/merge/nope", 1.0)  # ignored, logged
    live.command("/dreamer/2/mute", 1, 0.5)  # with a fade
    for _ in range(15):
        live.step()
    assert live.show.params.get("/merge/chaos") == pytest.approx(0.6)
    assert live.show.params.get("/dreamer/2/mute") == 1.0


@pytest.fixture(scope="module")
def display():
    """A virtual X display (Xvfb) so the windowed path runs for real."""
    import shutil
    import subprocess

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (make test installs it)")
    number = 90 + os.getpid() % 500
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=5)


def test_live_in_a_window_and_headless_with_a_recording(tmp_path, display):
    import subprocess

    from conftest import LIVE, ROOT

    base = [*LIVE, "--size", "160x90", "--duration", "1.5", "--no-watch"]
    env = {**os.environ, "DISPLAY": display}
    shown = subprocess.run(base, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "running headless" not in shown.stderr  # it opened a window
    assert "played" in shown.stdout
    out = tmp_path / "live.mp4"
    env.pop("DISPLAY")
    rec = subprocess.run(
        [*base, "--record", str(out)], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert rec.returncode == 0, rec.stderr
    assert "no display: running headless" in rec.stderr
    frames = int(rec.stdout.split("played ")[1].split()[0])
    assert frames >= 30 and out.stat().st_size > 1000


def test_overlay_shows_a_broken_shader_error_on_the_frame(rig):
    small, folders = rig
    show = Show(small.show.spec, small.show.ctx, size=(320, 180), folders=folders, audio=False)
    live = Live(show, clock=FrameClock(15))
    try:
        (folders.shaders / "probe.glsl").write_text(SOLID.format(r=0, g=0, b=0.5))
        live.file_changed(folders.shaders / "probe.glsl")
        live.step()
        step_until(live, lambda: colour(live)[2] > 200 and colour(live)[0] < 5)  # all blue
        live.overlay_visible = True
        (folders.shaders / "probe.glsl").write_text(BROKEN)
        live.file_changed(folders.shaders / "probe.glsl")
        step_until(live, lambda: bool(live.errors))
        live.step()
        assert live.show.overlay_state is not None
        assert any("probe.glsl:3" in e for e in live.show.overlay_state.errors)
        image = live.last_frame.image.astype(int)
        red = (image[..., 0] > 150) & (image[..., 1] < 100) & (image[..., 2] < 100)
        assert red.any(), "the error should be drawn in red over the frame"
        live.overlay_visible = False
        live.step()
        assert live.show.overlay_state is None
        assert colour(live)[0] < 5, "no overlay, no red"
    finally:
        live.close()
        show.close()


ISF = """/*{{
  "ISFVSN": "2",
  "INPUTS": [{{ "NAME": "level", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0 }}]
}}*/
void main() {{
    gl_FragColor = vec4(vec3({r}, {g}, {b}) * level, 1.0);
}}
"""


def test_an_isf_layer_exposes_its_inputs_and_reloads_mid_show(tmp_path, gl, scratch):
    folders = scratch()
    (folders.shaders / "iso.fs").write_text(ISF.format(r=0.5, g=0.0, b=0.0))
    path = tmp_path / "isf.toml"
    path.write_text(SET.format(mapping="", patch="drone").replace('"probe"', '"iso"'))
    spec = sets.load(path, shaders={"iso"}, patches={"drone"})
    show = Show(spec, gl, folders=folders, audio=False)
    live = Live(show, clock=FrameClock(15))
    try:
        live.command("/live/crossfade", 0.2)
        live.step()
        assert colour(live)[0] > 200
        live.command("/dreamer/1/layer/level", 0.0)
        live.command("/dreamer/2/layer/level", 0.0)
        step_until(live, lambda: colour(live)[0] < 5)  # an ISF input, as a param
        live.command("/dreamer/*/layer/level", 1.0)
        (folders.shaders / "iso.fs").write_text(ISF.format(r=0.0, g=0.5, b=0.0))
        live.file_changed(folders.shaders / "iso.fs")
        step_until(live, lambda: colour(live)[1] > 200 and colour(live)[0] < 5)
        # an edit that renames the input: the old one's param goes, the new one's comes
        renamed = ISF.format(r=0.0, g=0.5, b=0.0).replace("level", "gain")
        (folders.shaders / "iso.fs").write_text(renamed)
        live.file_changed(folders.shaders / "iso.fs")
        step_until(live, lambda: "/dreamer/1/layer/gain" in show.params)
        assert "/dreamer/1/layer/level" not in show.params
        assert "/dreamer/2/layer/level" not in show.params
        (folders.shaders / "iso.fs").write_text("/*{ broken json }*/\nvoid main() {}\n")
        live.file_changed(folders.shaders / "iso.fs")
        step_until(live, lambda: bool(live.errors))
        assert live.errors[-1].path.name == "iso.fs" and live.errors[-1].line == 1
        live.step()
        assert colour(live)[1] > 200, "the last good ISF shader keeps running"
    finally:
        live.close()
        show.close()


def test_the_warm_up_process_comes_back_after_dying(tmp_path):
    from engine.reload import Warmer

    good = tmp_path / "good.glsl"
    good.write_text(SOLID.format(r=0.1, g=0.2, b=0.3))
    warmer = Warmer()
    try:
        warmer._process.kill()  # as if a shader had crashed the driver
        warmer._process.wait()
        warmer.request(good)
        first = warmer.wait(30)
        assert first and first[0].error is not None  # that request is reported, not lost
        warmer.request(good)
        again = warmer.wait(60)
        assert again and again[0].error is None and again[0].source is not None
    finally:
        warmer.close()


def test_a_live_show_warms_every_merge_build_in_the_background(gl):
    """So a cue that first needs chaos, a resonance below 1 or another blend mode
    compiles from the driver's cache instead of stalling the show."""
    from engine.reload import merge_variants
    from engine.render import load_set

    show = Show(load_set(SET_DIR / "ritual.toml"), gl, size=(64, 36), audio=False)
    live = Live(show, clock=FrameClock(30), watch=False)
    try:
        deadline = time.monotonic() + 120
        while live.warmer.merge_warmed is None and time.monotonic() < deadline:
            live.step()  # the show runs meanwhile
            time.sleep(0.05)
        assert live.warmer.merge_warmed is not None, "the warm-up never answered"
        builds, _ = live.warmer.merge_warmed
        assert builds == len(merge_variants()) == 2 * 2 * 7  # layers at half size: not exact
        show.params.set("/merge/chaos", 0.8, jump=True)  # a build the show had not used
        show.params.set("/merge/resonance", 0.3, jump=True)
        live.step()
        assert live.last_frame is not None and live.last_frame.image.std() > 1
    finally:
        live.close()
        show.close()
