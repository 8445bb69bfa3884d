"""The pipelined render: the same frames and samples as the serial loop, read back
asynchronously through a ring of pixel buffers, with its stages timed."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import probe

from engine.clock import FrameClock
from engine.folders import SET_DIR
from engine.pipeline import Encoder, Output, Readbacks
from engine.progress import Progress
from engine.render import RenderOptions, load_set, render
from engine.show import Show

SMALL = """
[set]
duration = 1.5
fps = 12
size = [160, 90]
seed = 3
layer_scale = 0.5

[[dreamers]]
count = 3
stages = [[0, "W"], [1, "N2"]]
shader = ["aurora", "tide", "ember"]
patch = ["drone", "choir", "pulse"]
"""


@pytest.fixture
def small(tmp_path: Path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return load_set(path)


@pytest.fixture(scope="module")
def effects():
    """The effects set: a master feedback effect, whose picture carries from frame to frame."""
    return load_set(SET_DIR / "effects.toml")


def test_pipelined_render_gives_the_serial_renders_frames_and_samples(small, tmp_path):
    a = render(small, tmp_path / "a.mp4", RenderOptions(progress=False))
    b = render(small, tmp_path / "b.mp4", RenderOptions(progress=False, pipeline=False))
    assert a.frames == b.frames == 18
    assert a.frame_hashes == b.frame_hashes
    assert a.audio_hash == b.audio_hash and a.audio_samples == 18 * 4000
    assert len(set(a.frame_hashes)) > 12, "the picture should move"
    frames, size, fps, sound = probe(tmp_path / "a.mp4")
    assert (frames, size, fps) == (18, (160, 90), 12.0)
    assert abs(len(sound) / 48000 - 1.5) < 0.05 and np.abs(sound).max() > 1e-3


def test_pipelined_readback_matches_a_synchronous_read_with_feedback(effects):
    """Frame by frame against Show.step (glReadPixels straight into memory), with a feedback
    effect, for ring depths 1 to 3."""
    ctx_spec = dict(size=(160, 90), audio=False)
    from engine.visuals.context import headless_context

    ctx = headless_context()
    try:
        show = Show(effects, ctx, **ctx_spec)
        clock = FrameClock(show.fps)
        reference = [show.step(clock.tick()).image.copy() for _ in range(8)]
        show.close()
        assert show.carries_gpu_state is True
        for depth in (1, 2, 3):
            show = Show(effects, ctx, **ctx_spec)
            clock = FrameClock(show.fps)
            ring = Readbacks(ctx, show.size, depth)
            got: list[Output] = []
            for _ in range(8):
                tick = clock.tick()
                with ring.query():
                    show.advance(tick)
                ring.push(show.merge.fbo, tick, None)
                if ring.full():
                    got.append(ring.pop()[0])
            while len(ring):
                got.append(ring.pop()[0])
            ring.release()
            show.close()
            assert [o.index for o in got] == list(range(8))
            for out, want in zip(got, reference, strict=True):
                assert np.array_equal(out.image, want), f"depth {depth}, frame {out.index}"
    finally:
        ctx.release()


@pytest.mark.parametrize("which", ["small", "effects"])
def test_a_warmed_up_slice_gives_the_same_frames_as_the_whole_render(which, small, effects):
    """frames=(a, b) runs 0..a-1 without output (skipping the GPU where no picture
    carries state, drawing where a feedback effect does), then outputs exactly the
    whole render's frames a..b-1, with its samples."""
    spec = small if which == "small" else effects
    size, n = (160, 90), 18
    whole = render(spec, None, RenderOptions(size=size, duration=n / spec.fps, progress=False))
    part = render(spec, None, RenderOptions(size=size, progress=False), frames=(11, n))
    assert part.frames == n - 11
    assert part.frame_hashes == whole.frame_hashes[11:]
    assert part.stages.warm_up > 0 and part.stages.frames == n - 11
    assert (which == "effects") == bool(spec.master_fx), "one of each: drawn and skipped"


def test_every_render_reports_its_stages_and_gpu_time(small, tmp_path):
    result = render(small, tmp_path / "s.mp4", RenderOptions(progress=False))
    st = result.stages
    assert st.frames == 18 and st.gpu_frames >= 17
    assert st.gpu > 0 and st.show > 0 and st.encode > 0 and st.loop > 0 and st.finish > 0
    assert 0 < st.gpu_per_frame < st.wall_per_frame * 4
    text = st.summary()
    assert "GPU" in text and "encode" in text and "warm-up" in text


def test_a_failing_sink_stops_the_render_with_its_error_and_never_hangs():
    seen: list[int] = []

    def consume(out: Output) -> None:
        if out.index == 3:
            raise OSError("disk full")
        seen.append(out.index)

    encoder = Encoder(consume, depth=2)
    image = np.zeros((2, 2, 3), np.uint8)
    done = threading.Event()

    def feed() -> None:
        with pytest.raises(OSError, match="disk full"):
            for i in range(50):
                encoder.put(Output(i, i / 10, image, None))
            encoder.close()
        done.set()

    thread = threading.Thread(target=feed)
    thread.start()
    thread.join(10)
    assert done.is_set(), "the show's thread blocked on a dead sink"
    assert seen == [0, 1, 2]


def test_progress_off_a_terminal_prints_lines_not_a_bar():
    stream = io.StringIO()
    bar = Progress(10, "demo", stream=stream, every=0.0)
    for _ in range(10):
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("demo: 10/10 frames")
    assert "\r" not in stream.getvalue()
    quiet = io.StringIO()
    off = Progress(10, "demo", stream=quiet, enabled=False, every=0.0)
    off.update(10)
    off.close()
    assert quiet.getvalue() == ""
