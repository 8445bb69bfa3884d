"""Chunked renders on a real local Ray instance (2 workers): the frames and samples of
the single-process render, bit for bit, for a set, a set with a feedback effect and a
recorded session; a chunk whose worker is SIGKILLed is retried."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from engine import record, sets
from engine.chunks import Job, render_chunked, split
from engine.clock import RealtimeClock
from engine.folders import SET_DIR
from engine.live import Live
from engine.render import RenderOptions, load_set, render
from engine.replay import replay
from engine.show import Folders, Show
from engine.visuals.sinks import ffmpeg_exe

ray = pytest.importorskip("ray")

SMALL = """
[set]
duration = 2.0
fps = 12
size = [160, 90]
seed = 5
layer_scale = 0.5

[merge]
mode = "screen"

[[dreamers]]
count = 3
stages = [[0, "W"], [1, "N2"]]
shader = ["aurora", "tide", "ember"]
patch = ["drone", "choir", "pulse"]

[[cues]]
time = 1.2
set = { "/merge/chaos" = 0.5 }
fade = 0.3
"""


@pytest.fixture(scope="module")
def workers():
    """One local Ray instance of 2 CPUs for the module (render_chunked leaves it up)."""
    from engine.chunks import connect

    assert connect(2)
    yield 2
    ray.shutdown()


def decoded(path: Path) -> list[str]:
    """Each decoded video frame's md5 and timestamp, as ffmpeg's framemd5 muxer lists them."""
    out = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        ",".join(p.strip() for p in (x[2], x[5]))
        for line in out.splitlines()
        if not line.startswith("#")
        for x in [line.split(",")]
    ]


def test_split_covers_every_frame_once():
    assert split(10, 2) == [(0, 5), (5, 10)]
    assert split(7, 3) == [(0, 2), (2, 5), (5, 7)]
    assert split(2, 5) == [(0, 1), (1, 2)]
    runs = split(720, 7)
    assert runs[0][0] == 0 and runs[-1][1] == 720
    assert all(a < b and b == c for (a, b), (c, _) in itertools.pairwise(runs))


def test_render_workers_on_the_command_line(tmp_path):
    """First in the module, before its own Ray instance starts: the command starts one."""
    path = tmp_path / "small.toml"
    path.write_text(SMALL.replace("duration = 2.0", "duration = 1.0").replace("1.2", "0.6"))
    out = tmp_path / "cli.mp4"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "performance.py"),
            "render",
            str(path),
            "-o",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.is_file()
    assert "chunk 0: frames 0-5" in done.stdout and "chunk 1: frames 6-11" in done.stdout
    assert "GPU" in done.stdout and "tries per chunk" in done.stdout
    bad = subprocess.run(
        [
            sys.executable,
            str(ROOT / "performance.py"),
            "render",
            str(path),
            "--workers",
            "2",
            "--frames",
            str(tmp_path / "png"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 2 and "--frames" in bad.stderr


def test_a_two_worker_render_has_the_single_renders_frames_and_sound(workers, tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    options = RenderOptions(crf=0, progress=False)
    single = render(load_set(path), tmp_path / "one.mp4", options)
    chunked = render_chunked(
        Job(set_path=path, options=options), tmp_path / "two.mp4", workers=workers
    )
    assert chunked.frames == single.frames == 24
    assert chunked.frame_hashes == single.frame_hashes
    assert chunked.audio_hash == single.audio_hash and chunked.audio_samples == 24 * 4000
    assert len({c.pid for c in chunked.chunks}) == 2, "two worker processes"
    assert [c.frames for c in chunked.chunks] == [(0, 12), (12, 24)]
    assert chunked.chunks[1].stages.warm_up > 0
    # the files: joined by stream copy, decoded frame for frame the same (lossless x264)
    assert decoded(tmp_path / "two.mp4") == decoded(tmp_path / "one.mp4")
    assert len(decoded(tmp_path / "two.mp4")) == 24


def test_feedback_effects_warm_up_on_the_gpu_and_match(workers, tmp_path):
    """effects.toml's master feedback carries each frame into the next: the second chunk's
    worker draws its warm-up, and its first frame matches the single render's."""
    spec = load_set(SET_DIR / "effects.toml")
    size, seconds = (160, 90), 1.0
    options = RenderOptions(size=size, duration=seconds, progress=False)
    single = render(spec, None, options)
    job = Job(set_path=SET_DIR / "effects.toml", options=options)
    chunked = render_chunked(job, None, workers=workers)
    assert chunked.frames == 30
    assert chunked.frame_hashes == single.frame_hashes
    assert chunked.audio_hash == single.audio_hash


SESSION_SET = """
[set]
duration = 60.0
fps = 20
size = [96, 54]
seed = 9

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


def test_a_recorded_session_replays_in_chunks_as_it_was_shown(workers, tmp_path, gl):
    folders = Folders(tmp_path / "shaders", tmp_path / "patches", tmp_path / "mappings")
    for folder in (folders.shaders, folders.patches, folders.mappings):
        folder.mkdir()
    (folders.shaders / "glow.glsl").write_text(GLOW.format(shift=0.0))
    (folders.shaders / "aurora.glsl").write_text((ROOT / "shaders" / "aurora.glsl").read_text())
    for name in ("drone", "master"):
        (folders.patches / f"{name}.py").write_text((ROOT / "patches" / f"{name}.py").read_text())
    set_path = tmp_path / "night.toml"
    set_path.write_text(SESSION_SET)
    spec = sets.load(set_path, shaders={"glow", "aurora"}, patches={"drone"})
    log = tmp_path / "night.oneiric"
    show = Show(spec, gl, folders=folders)
    writer = record.SessionWriter(
        log, set_path=set_path, set_text=SESSION_SET, seed=9, fps=20, size=(96, 54)
    )
    live = Live(show, clock=RealtimeClock(20), session=writer)
    live.command("/live/crossfade", 0.4)
    shown = []
    try:
        swapped_at = None
        for i in range(400):  # until the edit is in (a warm-up process compiles it) and on
            if i == 8:
                live.command("/merge/chaos", 0.6, 0.5)
            if i == 12:
                (folders.shaders / "glow.glsl").write_text(GLOW.format(shift=0.5))
                live.file_changed(folders.shaders / "glow.glsl")
            if swapped_at is None and live.swaps:
                swapped_at = i
                live.command("/dreamer/2/mute", 1)
            if i >= 40 and swapped_at is not None and i >= swapped_at + 16:
                break
            frame = live.step()
            shown.append(hashlib.blake2b(frame.image.data, digest_size=16).hexdigest())
            time.sleep(0.004 * (i % 3))
    finally:
        live.close()
        writer.close()
        show.close()
    assert live.swaps, "the shader edit went in live"
    options = RenderOptions(progress=False)
    single = replay(log, None, options)
    chunked = render_chunked(Job(session=log, options=options), None, workers=workers)
    assert single.frame_hashes == shown
    assert chunked.frame_hashes == shown
    assert chunked.audio_hash == single.audio_hash


def test_a_chunk_whose_worker_is_killed_is_retried(workers, tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    size, seconds = (320, 180), 6.0  # 36 frames a chunk: time to kill one in the middle
    options = RenderOptions(size=size, duration=seconds, progress=False)
    single = render(load_set(path), None, options)
    killed: list[tuple[int, int]] = []

    def watch(done, pids, attempts):
        if not killed and 4 <= done.get(1, 0) < 30:
            killed.append((pids[1], done[1]))
            os.kill(pids[1], signal.SIGKILL)

    job = Job(set_path=path, options=options)
    chunked = render_chunked(job, None, workers=workers, watch=watch)
    assert killed, "the worker was killed mid-chunk"
    assert chunked.attempts[1] == 2 and chunked.attempts[0] == 1
    assert chunked.chunks[1].pid != killed[0][0]
    assert chunked.frame_hashes == single.frame_hashes
    assert chunked.audio_hash == single.audio_hash
