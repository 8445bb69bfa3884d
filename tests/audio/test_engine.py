"""The audio engine in manual mode: lockstep frames, continuity, determinism, levels,
broken patches, and the voices in patches/."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.audio.engine import AudioEngine
from engine.audio.graph import PatchError, available_patches
from engine.audio.server import AudioError, frame_blocks
from engine.folders import PATCH_DIR

SR, FPS, N = 48000, 30, 1600
F0 = 375.0  # 128 samples a period; pyo's sine table (512 points) steps are exact
F1 = 187.5  # (F0 and F1 are multiples of 48000 / 512)

TEST_PATCHES = {
    "sine": """
import pyo
CONTROLS = {"freq": 375.0, "phase": 0.0, "boom": 0.0}
def build(ctl, seed):
    # boom > ~90 overflows exp(): inf and NaN, for the recovery test
    return pyo.Sine(freq=ctl["freq"], phase=ctl["phase"], mul=0.5 * pyo.Exp(ctl["boom"]))
""",
    "thru": """
CONTROLS = {"volume": 1.0}
def build(inputs, ctl):
    return inputs  # a master bus that leaves the voices as they are
""",
    "half": """
import pyo
CONTROLS = {"volume": 1.0}
def build(inputs, ctl):
    return pyo.Sig(inputs, mul=0.5)
""",
    "bad_syntax": """
import pyo
CONTROLS = {}
def build(ctl, seed)
    return pyo.Sine()
""",
    "bad_build": """
import pyo
CONTROLS = {}
def build(ctl, seed):
    osc = pyo.Sine(freq=ctl["pitch"])
    return osc * (1 / 0)
""",
    "not_pyo": """
CONTROLS = {}
def build(ctl, seed):
    return 0.5
""",
}


@pytest.fixture
def patch_dir(tmp_path: Path) -> Path:
    for name, text in TEST_PATCHES.items():
        (tmp_path / f"{name}.py").write_text(text.lstrip())
    return tmp_path


def render(engine: AudioEngine, frames: int) -> np.ndarray:
    return np.concatenate([engine.process_frame() for _ in range(frames)])


def sine_ref(n: int, start: int = 0, freq: float = F0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * (start + np.arange(n)) / SR)


def centroid(x: np.ndarray) -> float:
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float((freqs * mag).sum() / mag.sum())


def test_frame_blocks() -> None:
    assert frame_blocks(48000, 30) == (1600, 1600)
    assert frame_blocks(44100, 30) == (1470, 1470)
    assert frame_blocks(48000, 10) == (4800, 1600)  # a buffer that divides the frame
    assert frame_blocks(48000, 24) == (2000, 2000)
    with pytest.raises(ValueError, match="whole number"):
        frame_blocks(48000, 29.97)


def test_frame_is_sr_over_fps_samples() -> None:
    with AudioEngine(sr=SR, fps=FPS) as engine:
        engine.add_voice("/dreamer/1", "drone")
        frame = engine.process_frame()
        assert frame.shape == (N, 2)
        assert frame.dtype == np.float32
        assert frame.flags.c_contiguous
        assert engine.frames == 1


@pytest.mark.parametrize("fps", [30.0, 10.0])  # one process() a frame, then three
def test_sine_continues_across_frames(patch_dir: Path, fps: float) -> None:
    with AudioEngine(sr=SR, fps=fps, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine")
        x = render(engine, 8)
    ref = sine_ref(len(x))
    assert np.abs(x[:, 0] - ref).max() < 1e-5
    assert np.abs(x[:, 1] - ref).max() < 1e-5
    # no jump at any frame boundary larger than the sine's own steps
    assert np.abs(np.diff(x[:, 0])).max() < 0.5 * 2 * np.pi * F0 / SR * 1.001


def test_voice_added_while_playing_has_no_lag(patch_dir: Path) -> None:
    """A voice added after the master reads its signal in the same buffer."""
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        render(engine, 3)
        engine.add_voice("late", "sine")
        x = render(engine, 4)
    # it fades in over XFADE (2400 samples), then it is a sine from its own first sample;
    # one buffer of lag would put it half a period out (1600 samples = 12.5 periods)
    ref = sine_ref(len(x))
    assert np.abs(x[3000:, 0] - ref[3000:]).max() < 1e-5


def _show(seed: int, frames: int = 20) -> np.ndarray:
    with AudioEngine(sr=SR, fps=FPS, seed=seed) as engine:
        for i, patch in enumerate(["drone", "pulse", "choir", "pulse"]):
            engine.add_voice(f"/dreamer/{i + 1}", patch, {"pitch": 110.0 * (i + 1)})
        out = []
        for f in range(frames):
            for i in range(4):
                key = f"/dreamer/{i + 1}"
                engine.set(key, "amp", 0.5 + 0.5 * np.sin(f / 5 + i), 1 / FPS)
                engine.set(key, "alpha", (f % 10) / 10, 1 / FPS)
                engine.set(key, "heart_bpm", 60 + 10 * i, 1 / FPS)
            out.append(engine.process_frame())
        return np.concatenate(out)


def test_same_seed_same_samples() -> None:
    a = _show(seed=7)
    # a server left open, with random objects of its own, must not shift the next one
    leak = AudioEngine(sr=SR, fps=FPS, seed=99)
    leak.add_voice("x", "pulse")
    leak.process_frame()
    b = _show(seed=7)
    leak.close()
    c = _show(seed=8)
    assert np.abs(a).max() > 0.01
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("patch", available_patches())
def test_each_patch_sounds(patch: str) -> None:
    with AudioEngine(sr=SR, fps=FPS) as engine:
        engine.add_voice("v", patch, {"amp": 1.0})
        frames, levels = [], []
        for _ in range(45):  # 1.5 s: at least one heartbeat
            frames.append(engine.process_frame())
            levels.append(engine.levels()["v"])
    x = np.concatenate(frames)
    assert np.isfinite(x).all()
    assert np.sqrt(np.mean(x**2)) > 0.005
    assert max(levels) > 0.01
    assert np.abs(x).max() <= 1.0


def test_available_patches() -> None:
    names = available_patches()
    assert {"drone", "pulse", "choir"} <= set(names)
    assert "master" not in names


def test_64_voices_at_full_amp_never_clip() -> None:
    patches = available_patches()
    with AudioEngine(sr=SR, fps=FPS, seed=1) as engine:
        for i in range(64):
            pitch = 55.0 * 2 ** ((i % 24) / 12)
            engine.add_voice(f"/dreamer/{i + 1}", patches[i % len(patches)], {"pitch": pitch})
            engine.set(f"/dreamer/{i + 1}", "amp", 1.0, 0.0)
        engine.set_master("volume", 1.0, 0.0)
        x = render(engine, 30)
    assert np.isfinite(x).all()
    assert np.sqrt(np.mean(x**2)) > 0.05  # still loud
    # the master's limiter (ceiling 0.9) does the work, not the engine's clip at 1
    assert np.abs(x).max() < 0.95


def test_gain_ramps_one_voice_to_silence(patch_dir: Path) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine", {"freq": F1})  # at its peak after one frame
        engine.add_voice("b", "sine")
        first = engine.process_frame()
        before = engine.levels()
        engine.set_gain("a", 0.0, ramp=0.05)
        x = np.concatenate([first, render(engine, 3)])
        after = engine.levels()
    assert before["a"] == pytest.approx(0.5 / np.sqrt(2), rel=0.03)
    assert after["a"] < 1e-6
    assert after["b"] == pytest.approx(before["b"], rel=1e-4)
    # each sine moves at most 0.5 * 2 pi f / sr a sample: a jump would show
    step = 0.5 * 2 * np.pi * (F0 + F1) / SR
    assert np.abs(np.diff(x[:, 0])).max() < step * 1.05


def test_output_never_leaves_plus_minus_one(patch_dir: Path) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine", {"boom": 3.0})  # amplitude 10
        x = render(engine, 2)
    assert np.abs(x).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("patch", "line", "what"),
    [("bad_syntax", 3, "SyntaxError"), ("bad_build", 5, "ZeroDivisionError")],
)
def test_broken_patch_names_file_and_line(
    patch_dir: Path, patch: str, line: int, what: str
) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("ok", "sine")
        render(engine, 1)
        streams = engine.streams
        with pytest.raises(PatchError) as info:
            engine.add_voice("new", patch)
        err = info.value
        assert err.path is not None and err.path.name == f"{patch}.py"
        assert err.line == line
        assert f"{patch}.py:{line}" in str(err) and what in str(err)
        # a replacement that fails keeps the old voice
        with pytest.raises(PatchError):
            engine.add_voice("ok", patch)
        assert engine.voices == {"ok": "sine"}
        assert engine.streams == streams  # nothing half-built is left running
        x = render(engine, 2)
    assert np.abs(x[:, 0] - sine_ref(len(x), start=N)).max() < 1e-5


def test_build_must_return_a_pyo_object(patch_dir: Path) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        with pytest.raises(PatchError, match="not a PyoObject"):
            engine.add_voice("x", "not_pyo")
        with pytest.raises(PatchError, match="no patch file"):
            engine.add_voice("x", "missing")


def test_alpha_opens_the_drone() -> None:
    def brightness(alpha: float) -> float:
        with AudioEngine(sr=SR, fps=FPS, seed=3) as engine:
            engine.add_voice("d", "drone", {"alpha": alpha, "amp": 1.0, "pitch": 110.0})
            engine.set_master("reverb", 0.0, 0.0)
            x = render(engine, 20)
        return centroid(x[N * 4 :].mean(axis=1))

    dark, bright = brightness(0.0), brightness(1.0)
    assert bright > 2 * dark


def test_unknown_controls_are_ignored_and_counted(patch_dir: Path) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine")
        engine.set("a", "nope", 1.0)
        engine.set("a", "freq", float("nan"))
        engine.set("ghost", "amp", 1.0)
        engine.set_master("nope", 1.0)
        assert engine.ignored == {"a/nope": 1, "a/freq": 1, "ghost/amp": 1, "master/nope": 1}
        x = render(engine, 1)
    assert np.abs(x[:, 0] - sine_ref(N)).max() < 1e-5  # the NaN never reached the sine


def test_replacing_a_voice_crossfades(patch_dir: Path) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine", {"freq": F1})
        first = engine.process_frame()  # the F1 sine is at its peak here
        streams = engine.streams
        engine.add_voice("a", "sine", {"freq": F0, "phase": 0.25})  # a hot reload
        x = render(engine, 4)
        assert engine.voices == {"a": "sine"}
        assert engine.controls("a")["freq"] == F0
        assert engine.streams == streams  # the old voice is gone after its fade
    # both start at a peak: without the crossfade one would jump by 0.5
    steps = np.diff(np.concatenate([first, x])[:, 0])
    assert np.abs(steps).max() < 0.5 * 2 * np.pi * (F0 + F1) / SR * 1.05
    ref = 0.5 * np.cos(2 * np.pi * F0 * np.arange(len(x)) / SR)
    assert np.abs(x[3000:, 0] - ref[3000:]).max() < 1e-5


def test_master_swap_crossfades_and_keeps_the_old_on_error(patch_dir: Path) -> None:
    with AudioEngine(sr=SR, fps=FPS, master="thru", patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine")
        render(engine, 1)
        streams = engine.streams
        with pytest.raises(PatchError, match=r"bad_syntax\.py:3"):
            engine.set_master_patch("bad_syntax")
        assert engine.master_patch == "thru"
        kept = render(engine, 3)
        engine.set_master_patch("half")
        x = render(engine, 4)
        assert engine.master_patch == "half"
        assert engine.streams == streams + 2  # "half" has a (stereo) Sig; "thru" is gone
    assert np.abs(kept[:, 0] - sine_ref(len(kept), start=N)).max() < 1e-5
    ref = sine_ref(len(x), start=4 * N)
    assert np.abs(x[:, 0] - ref * np.where(np.arange(len(x)) < 2400, 1, 0.5)).max() < 0.26
    assert np.abs(x[3000:, 0] - 0.5 * ref[3000:]).max() < 1e-5


def test_nan_is_zeroed_and_the_show_recovers(patch_dir: Path) -> None:
    shutil.copy(PATCH_DIR / "master.py", patch_dir)  # the master with reverb
    with AudioEngine(sr=SR, fps=FPS, patch_dir=patch_dir) as engine:
        engine.add_voice("a", "sine")
        engine.add_voice("b", "sine", {"freq": F1})
        render(engine, 2)
        engine.set("a", "boom", 1000.0, 0.0)  # exp(1000): inf
        bad = engine.process_frame()
        engine.set("a", "boom", 0.0, 0.0)
        x = render(engine, 6)
        assert engine.nonfinite == 1
    assert np.isfinite(bad).all()
    assert np.isfinite(x).all()
    assert np.sqrt(np.mean(x[-N:] ** 2)) > 0.05  # sounding again


def test_close_is_final() -> None:
    engine = AudioEngine(sr=SR, fps=FPS)
    engine.close()
    engine.close()
    with pytest.raises(RuntimeError):
        engine.process_frame()


def test_realtime_without_a_device_is_an_error_not_a_crash() -> None:
    import pyo

    if pyo.pa_get_default_output() >= 0:
        pytest.skip("this machine has a sound device")
    with pytest.raises(AudioError, match="no audio output device"):
        AudioEngine(mode="realtime")


def test_the_engine_leaves_pyo_as_it_found_it() -> None:
    """Tracking what a patch builds must not hook pyo for the whole process (it once
    replaced pyo.PyoObjectBase.__init__ for every pyo user in it)."""
    import subprocess
    import sys

    code = (
        "import os; os.environ['PYO_GUI_WX'] = '0'\n"
        "import pyo; init = pyo.PyoObjectBase.__init__\n"
        "from engine.audio.engine import AudioEngine\n"
        "e = AudioEngine(sr=48000, fps=30); e.add_voice('a', 'pulse'); e.process_frame()\n"
        "assert pyo.PyoObjectBase.__init__ is init, 'pyo was patched'\n"
        "import gc, sys; assert gc.isenabled() and sys.getprofile() is None\n"
        "e.close(); print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1500:]
    assert "clean" in out.stdout
