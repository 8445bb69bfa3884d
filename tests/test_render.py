"""Offline renders: deterministic, the right shape on disk, and cues that really act."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import probe

from engine.clock import FrameClock
from engine.folders import SET_DIR
from engine.render import RenderOptions, load_set, render
from engine.show import Show

SMALL = """
[set]
duration = {duration}
fps = {fps}
size = [{w}, {h}]
seed = {seed}
layer_scale = 0.5

[merge]
mode = "screen"
resonance = 0.6

[[dreamers]]
count = 3
stages = [[0, "W"], [1, "N2"]]
shader = ["aurora", "tide", "ember"]
patch = ["drone", "choir", "pulse"]
{extra}
"""


def write_set(tmp_path: Path, name="s", *, duration=1.0, fps=15, w=96, h=54, seed=1, extra=""):
    path = tmp_path / f"{name}.toml"
    path.write_text(SMALL.format(duration=duration, fps=fps, w=w, h=h, seed=seed, extra=extra))
    return load_set(path)


def test_same_set_and_seed_give_the_same_frames_and_samples(tmp_path):
    spec = write_set(tmp_path)
    a = render(spec, None, RenderOptions(progress=False))
    b = render(spec, None, RenderOptions(progress=False))
    assert a.frames == 15 and len(a.frame_hashes) == 15
    assert a.frame_hashes == b.frame_hashes
    assert a.audio_hash == b.audio_hash and a.audio_samples == 15 * 3200
    assert len(set(a.frame_hashes)) > 10, "the picture should move"
    other = render(write_set(tmp_path, "t", seed=2), None, RenderOptions(progress=False))
    assert not set(other.frame_hashes) & set(a.frame_hashes)
    assert other.audio_hash != a.audio_hash


def test_rendered_file_has_the_frames_size_fps_and_sound_asked_for(tmp_path):
    spec = write_set(tmp_path, duration=1.0, fps=30, w=320, h=180)
    out = tmp_path / "out" / "show.mp4"
    options = RenderOptions(size=(160, 90), fps=24, frames_dir=tmp_path / "png", progress=False)
    result = render(spec, out, options)
    assert out.is_file() and result.output == out
    assert not [p for p in out.parent.iterdir() if p != out], "no temporary files left"
    frames, size, fps, audio = probe(out)
    assert (frames, size, fps) == (24, (160, 90), 24.0)
    assert abs(len(audio) / 48000 - 1.0) <= 1 / 24, f"audio lasts {len(audio) / 48000:.3f} s"
    rms = float(np.sqrt(np.mean(audio[4800:] ** 2)))
    assert rms > 0.005, f"audio is near silent (rms {rms:.5f})"
    assert len(list((tmp_path / "png").glob("frame_*.png"))) == 24


def run_show(spec, frames: int):
    """Step a show by hand: its images and every voice's level per frame."""
    from engine.visuals.context import headless_context

    ctx = headless_context()
    show = Show(spec, ctx)
    clock = FrameClock(spec.fps)
    images, levels = [], []
    try:
        for _ in range(frames):
            frame = show.step(clock.tick())
            images.append(frame.image.astype(np.int16))
            assert show.audio is not None
            levels.append(show.audio.levels())
    finally:
        show.close()
        ctx.release()
    return images, levels


MUTE_AT_1S = """
[[cues]]
time = 1.0
fade = 0.3
set = { "/dreamer/2/mute" = 1 }
"""


def test_a_mute_cue_removes_that_dreamer_from_image_and_sound(tmp_path):
    n = 30  # 2 s at 15 fps; the cue fires at frame 15 and has faded out by frame 20
    plain, plain_levels = run_show(write_set(tmp_path, "plain", duration=2.0), n)
    cued, cued_levels = run_show(write_set(tmp_path, "cued", duration=2.0, extra=MUTE_AT_1S), n)
    # before the cue the two shows are the same show
    for i in range(14):
        assert np.array_equal(plain[i], cued[i]), f"frame {i} differs before the cue"
    # after it, dreamer 2's share of the image is gone: the frames differ a lot
    after = np.mean([np.abs(plain[i] - cued[i]).mean() for i in range(22, n)])
    assert after > 3.0, f"muting a dreamer changed the image by only {after:.2f}/255"

    def share(levels, i):
        lv = levels[i]
        return lv["/dreamer/2"] / max(sum(lv.values()), 1e-12)

    before = np.mean([share(cued_levels, i) for i in range(5, 14)])
    later = np.mean([share(cued_levels, i) for i in range(23, n)])
    assert before > 0.1, f"dreamer 2 was barely audible before the cue ({before:.3f})"
    assert later < 0.01, f"dreamer 2 still has {later:.3f} of the sound after its mute cue"
    assert np.mean([share(plain_levels, i) for i in range(23, n)]) > 0.1


def test_muted_dreamer_matches_a_show_without_its_layer(tmp_path):
    """After the fade, the cued show is exactly the show where it was muted all along."""
    cued, _ = run_show(write_set(tmp_path, "cued", duration=2.0, extra=MUTE_AT_1S), 30)
    always = write_set(
        tmp_path,
        "always",
        duration=2.0,
        extra='[[cues]]\ntime = 0.0\nset = { "/dreamer/2/mute" = 1 }\n',
    )
    muted, _ = run_show(always, 30)
    for i in range(22, 30):
        assert np.abs(cued[i] - muted[i]).max() <= 1, f"frame {i}"


@pytest.mark.parametrize("name", sorted(p.stem for p in SET_DIR.glob("*.toml")))
def test_shipped_sets_render(tmp_path, name):
    """Every set in the repo renders (briefly, small): none can rot."""
    result = render(
        load_set(SET_DIR / f"{name}.toml"),
        tmp_path / f"{name}.mp4",
        RenderOptions(size=(128, 72), duration=0.5, progress=False),
    )
    assert (tmp_path / f"{name}.mp4").stat().st_size > 1000
    assert len(set(result.frame_hashes)) > 1
