"""A recorded live session re-renders to the same frames; a killed one still loads."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time

import numpy as np
from conftest import LIVE, ROOT

from engine import record, sessions, sets
from engine.clock import RealtimeClock
from engine.live import Live
from engine.render import RenderOptions
from engine.replay import replay
from engine.show import Show

SET = """
[set]
duration = 60.0
fps = 20
size = [96, 54]
seed = 9
mapping = "wave"

[[dreamers]]
count = 3
stages = [[0, "W"], [2, "N2"]]
shader = ["glow", "aurora"]
patch = "drone"
"""
GLOW = (
    "vec4 layer(vec2 uv) {{\n"
    "    return vec4(hsv2rgb(vec3(hue + {shift}, 0.7, 0.4 + 0.6 * alpha)), 1.0);\n}}\n"
)
WAVE = "def update(rig):\n    rig.set('/merge/resonance', 0.5 + 0.4 * rig.clamp(rig.resonance))\n"


def test_replay_shows_the_frames_that_were_shown_live(tmp_path, gl, scratch):
    folders = scratch("shaders/aurora.glsl", "patches/drone.py", "patches/master.py")
    (folders.shaders / "glow.glsl").write_text(GLOW.format(shift=0.0))
    (folders.mappings / "wave.py").write_text(WAVE)
    set_path = tmp_path / "night.toml"
    set_path.write_text(SET)
    spec = sets.load(set_path, shaders={"glow", "aurora"}, patches={"drone"}, mappings={"wave"})
    log_path = tmp_path / "night.oneiric"
    show = Show(spec, gl, folders=folders)
    writer = record.SessionWriter(
        log_path, set_path=set_path, set_text=SET, seed=9, fps=20, size=(96, 54)
    )
    live = Live(show, clock=RealtimeClock(20), session=writer)
    live.command("/live/crossfade", 0.3)  # recorded like any live input
    hashes: list[str] = []
    swapped_at: int | None = None
    try:
        # 60 frames, and on until the edited shader (warmed in a worker process: slower on
        # a loaded machine) has been shown for 10 frames
        i = 0
        while i < 60 or ((swapped_at is None or i < swapped_at + 10) and i < 600):
            if i == 10:
                live.command("/merge/chaos", 0.6, 0.5)
            if i == 20:
                live.command("/dreamer/2/mute", 1)
                (folders.shaders / "glow.glsl").write_text(GLOW.format(shift=0.5))
                live.file_changed(folders.shaders / "glow.glsl")
            if i == 35:
                live.command("/cue/go")  # no cue left: ignored, as in the replay
                live.command("/merge/chaos", 0.0, 0.2)
            frame = live.step()
            hashes.append(hashlib.blake2b(frame.image.data, digest_size=16).hexdigest())
            time.sleep(0.005 * (i % 3))  # an irregular wall clock, as on stage
            if live.swaps and swapped_at is None:
                swapped_at = i
            i += 1
    finally:
        live.close()
        writer.close()
        show.close()
    assert live.swaps, "the shader edit should have gone in during the run"
    # the files change after the show: the replay must not care
    (folders.shaders / "glow.glsl").write_text(GLOW.format(shift=0.9))

    result = replay(log_path, None, RenderOptions(progress=False))
    assert result.frames == len(hashes)
    assert result.frame_hashes == hashes
    bigger = replay(log_path, None, RenderOptions(size=(192, 108), progress=False))
    assert bigger.size == (192, 108) and len(set(bigger.frame_hashes)) > 30


def test_a_live_session_killed_mid_show_still_loads_and_replays(tmp_path):
    log_path = tmp_path / "killed.oneiric"
    cmd = [*LIVE, "--headless", "--size", "96x54", "--no-watch", "--record-session", str(log_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (log_path.exists() and log_path.stat().st_size > 3000):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    session = sessions.load(log_path)
    assert not session.complete
    assert len(session.ticks) >= 10
    times = np.array([t.time for t in session.ticks])
    assert np.all(np.diff(times) > 0)
    result = replay(log_path, tmp_path / "killed.mp4", RenderOptions(progress=False))
    assert result.frames == len(session.ticks)
    assert (tmp_path / "killed.mp4").stat().st_size > 1000
