"""A patch's own controls are params: OSC, MIDI, cues and scenes reach them."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
from conftest import ROOT

from engine.clock import FrameClock
from engine.folders import Folders
from engine.render import load_set
from engine.show import Show

SET = """
[set]
duration = 10.0
fps = 30
size = [32, 18]
seed = 5
[[dreamers]]
count = 2
stages = [[0, "W"]]
shader = "tide"
patch = "drone"
"""


def sound(show: Show, frames: int) -> np.ndarray:
    clock = FrameClock(show.fps)
    return np.concatenate([show.step(clock.tick()).audio for _ in range(frames)])


def make(tmp_path, gl) -> Show:
    patches = tmp_path / "patches"
    patches.mkdir(exist_ok=True)
    for name in ("drone", "master"):
        shutil.copy(ROOT / "patches" / f"{name}.py", patches / f"{name}.py")
    folders = Folders(ROOT / "shaders", patches, ROOT / "patches" / "mappings")
    set_path = tmp_path / "s.toml"
    set_path.write_text(SET)
    return Show(load_set(set_path, folders), gl, folders=folders)


def test_a_patch_control_is_a_param_that_changes_the_sound(tmp_path, gl):
    plain, moved = make(tmp_path, gl), make(tmp_path, gl)
    try:
        spec = plain.params.spec("/dreamer/1/voice/detune")
        assert (spec.min, spec.max, spec.default) == (0.0, 1.0, 0.45)
        assert plain.params.spec("/master/room").max == 1.0
        moved.params.set("/dreamer/*/voice/detune", 0.0, jump=True)
        moved.params.set("/master/drive", 8.0, jump=True)
        a, b = sound(plain, 30), sound(moved, 30)
        assert a.shape == b.shape and np.abs(a - b).max() > 1e-3
    finally:
        plain.close()
        moved.close()


def test_the_default_changes_nothing(tmp_path, gl):
    one, two = make(tmp_path, gl), make(tmp_path, gl)
    try:
        two.params.set("/dreamer/2/voice/detune", 0.45, jump=True)  # its own default
        h = [hashlib.blake2b(sound(s, 20).tobytes()).hexdigest() for s in (one, two)]
        assert h[0] == h[1]
    finally:
        one.close()
        two.close()


def test_a_control_a_reloaded_patch_adds_becomes_a_param(tmp_path, gl):
    show = make(tmp_path, gl)
    try:
        path = show.folders.patches / "drone.py"
        text = path.read_text().replace('"detune": 0.45,', '"detune": 0.45,\n    "shimmer": 0.2,')
        path.write_text(text)
        assert show.audio is not None
        show.audio.reload_patch("drone")
        show.patch_reloaded("drone")
        assert show.params.spec("/dreamer/2/voice/shimmer").default == 0.2
        assert len(sound(show, 5)) > 0  # sent every frame, ignored by nobody
    finally:
        show.close()
