"""Video outputs: the frame stream read back by other processes (a named pipe, a command's
stdin, shared memory) byte for byte; NDI received by the same library's receiver; the
v4l2loopback camera where the kernel module is loaded; and every output that cannot
open, or fails mid-show, dropped with one notice while the show goes on."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from conftest import LIVE, ROOT, headless_env

from engine.clock import FrameClock
from engine.output_spec import OutputSpec, parse_output, parse_outputs
from engine.render import RenderOptions, load_set, render
from engine.sets import SetError
from engine.show import Show
from engine.visuals.framestream import FrameHeader, ShmReader, StreamError, read_frames
from engine.visuals.outputs import Outputs, fit

# NDI finds sources by mDNS on every network by default; the tests keep it on loopback
NDI_CONFIG = Path(tempfile.mkdtemp(prefix="oneiric-ndi-"))
atexit.register(shutil.rmtree, NDI_CONFIG, ignore_errors=True)
(NDI_CONFIG / "ndi-config.v1.json").write_text(
    json.dumps(
        {
            "ndi": {
                "networks": {"ips": "127.0.0.1", "discovery": ""},
                "adapters": {"allowed": ["127.0.0.1"]},
                "multicast": {"send": {"enable": False}},
            }
        }
    )
)
os.environ["NDI_CONFIG_DIR"] = str(NDI_CONFIG)
READER = [sys.executable, "-m", "engine.visuals.framestream"]
SMALL_SET = """
[set]
duration = 1.0
fps = 20
size = [64, 36]
seed = 3

[[dreamers]]
count = 2
stages = [[0, "N2"]]
shader = "aurora"
patch = "drone"
"""


def digest(pixels: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(pixels).data, digest_size=16).hexdigest()


def reader(kind: str, target: str) -> subprocess.Popen[str]:
    """Another process reading the stream, one line a frame: number, size, format, hash."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [*READER, kind, target], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )


def lines(proc: subprocess.Popen[str]) -> list[list[str]]:
    out, _ = proc.communicate(timeout=60)
    return [line.split() for line in out.splitlines() if line and not line.startswith("attached")]


def test_output_specs_parse_and_bad_ones_say_what_is_wrong():
    assert parse_output("ndi:") == OutputSpec("ndi", "Oneiric")
    assert parse_output("shm:oneiric@640x360") == OutputSpec("shm", "oneiric", (640, 360))
    assert parse_output("pipe:|ffplay -i -").target == "|ffplay -i -"
    assert str(parse_output("v4l2:/dev/video10@1280x720")) == "v4l2:/dev/video10@1280x720"
    for bad, message in [
        ("syphon:x", "KIND one of ndi, v4l2, pipe, shm"),
        ("shm:", "shm needs a name"),
        ("shm:a/b", "no '/'"),
        ("pipe:/tmp/x@641x360", "must be even"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_output(bad)
    table = [{"to": "shm:a", "size": [320, 180], "format": "rgba"}]
    assert parse_outputs(table) == (OutputSpec("shm", "a", (320, 180), "rgba"),)
    with pytest.raises(ValueError, match=r"outputs\[0\]\.where: unknown field"):
        parse_outputs([{"to": "ndi:x", "where": 1}])


def test_a_set_names_its_outputs_and_a_bad_one_is_one_clear_error(tmp_path):
    path = tmp_path / "out.toml"
    path.write_text(SMALL_SET + '\n[[outputs]]\nto = "ndi:Stage"\nsize = [32, 18]\n')
    assert load_set(path).outputs == (OutputSpec("ndi", "Stage", (32, 18)),)
    path.write_text(SMALL_SET + '\n[[outputs]]\nto = "hdmi:1"\n')
    with pytest.raises(SetError, match=r"out.toml: outputs\[0\]: output 'hdmi:1'"):
        load_set(path)


def test_the_frame_stream_format_is_what_the_docs_say():
    header = FrameHeader(64, 36, 1, 7, 0.35)
    data = header.pack()
    assert len(data) == 32 and data[:4] == b"ONRF" and data[4:6] == b"\x01\x01"
    assert int.from_bytes(data[8:12], "little") == 64 and data[16] == 7
    assert FrameHeader.unpack(data) == header
    with pytest.raises(StreamError, match="not a frame stream"):
        FrameHeader.unpack(b"RIFF" + data[4:])


def test_a_render_into_a_named_pipe_is_read_byte_exact_by_another_process(tmp_path):
    """Offline, the pipe waits for its reader: every frame arrives, each the rendered one."""
    (tmp_path / "s.toml").write_text(SMALL_SET)
    fifo = tmp_path / "frames.pipe"
    child = reader("pipe", str(fifo))
    result = render(
        load_set(tmp_path / "s.toml"), None,
        RenderOptions(audio=False, progress=False, outputs=(parse_output(f"pipe:{fifo}"),)),
    )  # fmt: skip
    got = lines(child)
    assert child.returncode == 0
    assert [int(g[0]) for g in got] == list(range(result.frames))  # all, in order
    assert all(g[1] == "64x36" and g[2] == "rgb" for g in got)
    assert [g[3] for g in got] == result.frame_hashes  # byte-exact: the rendered frames
    assert not fifo.exists(), "the pipe the render made is removed"


def test_shared_memory_at_its_own_size_is_read_by_another_process(gl, tmp_path):
    (tmp_path / "s.toml").write_text(SMALL_SET)
    show = Show(load_set(tmp_path / "s.toml"), gl, audio=False)
    name = f"oneiric-test-{os.getpid()}"
    outs = Outputs([parse_output(f"shm:{name}@32x18", fmt="rgba")], show.size, show.fps)
    child = reader("shm", name)
    sent = []
    try:
        clock = FrameClock(show.fps)
        for _ in range(30):  # paced like a live show, so the reader keeps up
            frame = show.step(clock.tick())
            outs.write(frame.image)
            sent.append(digest(fit(frame.image, (32, 18), 4)))
            time.sleep(0.02)
    finally:
        outs.close()
        show.close()
    got = lines(child)
    assert child.returncode == 0 and len(got) >= 20, got  # a ring may skip a frame, no more
    for number, size, fmt, hashed in got:
        assert (size, fmt) == ("32x18", "rgba")
        assert hashed == sent[int(number)], f"frame {number} is not the frame sent"
    assert len({g[3] for g in got}) > 1, "the frames move"


def test_shm_reader_in_process_sees_the_ring_and_the_writer_close():
    outs = Outputs([parse_output(f"shm:oneiric-ring-{os.getpid()}")], (16, 8), 30)
    ring = ShmReader(f"oneiric-ring-{os.getpid()}")
    frames = [np.full((8, 16, 3), i * 10, np.uint8) for i in range(5)]
    for f in frames:
        outs.write(f)
    got = ring.poll()
    assert [h.frame for h, _ in got] == [2, 3, 4], "a 3-slot ring holds the latest three"
    assert all(np.array_equal(px, frames[h.frame]) for h, px in got)
    assert ring.writer_open
    outs.close()
    assert not ring.writer_open and list(ring.frames(timeout=1.0)) == []
    ring.close()


def test_a_command_gets_the_stream_on_its_stdin(tmp_path):
    out = tmp_path / "copy.raw"
    script = f"import sys,shutil; shutil.copyfileobj(sys.stdin.buffer, open({str(out)!r}, 'wb'))"
    outs = Outputs(
        [parse_output(f"pipe:|{sys.executable} -c {json.dumps(script)}")], (8, 4), 30,
        lossless=True,
    )  # fmt: skip
    frames = [np.random.default_rng(i).integers(0, 256, (4, 8, 3), np.uint8) for i in range(4)]
    for f in frames:
        outs.write(f)
    outs.close()
    with out.open("rb") as stream:
        back = list(read_frames(stream))
    assert [h.frame for h, _ in back] == [0, 1, 2, 3]
    assert all(np.array_equal(px, f) for (_, px), f in zip(back, frames, strict=True))


def test_an_output_that_fails_mid_show_is_dropped_and_the_rest_go_on(tmp_path, caplog):
    fifo = tmp_path / "p"
    child = reader("pipe", str(fifo))
    outs = Outputs(
        [parse_output("pipe:|true"), parse_output(f"pipe:{fifo}")], (8, 4), 30, lossless=True
    )
    for i in range(20):
        outs.write(np.full((4, 8, 3), i, np.uint8))
        time.sleep(0.005)  # `true` exits at once: its pipe breaks within a frame or two
    outs.close()
    assert len(outs.notices) == 1 and "'true' exited; the show goes on" in outs.notices[0]
    assert len(lines(child)) == 20, "the other output got every frame"


def test_a_slow_pipe_reader_never_stalls_a_live_show(tmp_path):
    fifo = tmp_path / "p"
    outs = Outputs([parse_output(f"pipe:{fifo}")], (64, 36), 30)  # live: lossy
    start = time.perf_counter()
    for i in range(200):  # nobody reads: frames are dropped, never waited for
        outs.write(np.full((36, 64, 3), i % 256, np.uint8))
    assert time.perf_counter() - start < 5.0
    pipe = next(iter(outs.open.values()))
    assert pipe.dropped >= 190  # type: ignore[attr-defined]
    outs.close()
    assert not fifo.exists()


def test_ndi_frames_reach_a_receiver_of_the_same_library():
    from cyndilib.finder import Finder
    from cyndilib.receiver import ReceiveFrameType, Receiver
    from cyndilib.video_frame import VideoRecvFrame
    from cyndilib.wrapper import RecvBandwidth, RecvColorFormat

    name = f"oneiric-test-{os.getpid()}"
    outs = Outputs([parse_output(f"ndi:{name}@64x36")], (128, 72), 30)
    assert not outs.notices, outs.notices
    yy, xx = np.mgrid[0:72, 0:128]
    image = np.stack([xx * 2, yy * 3, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    want = fit(image, (64, 36), 4)
    finder = Finder()
    finder.open()
    try:
        deadline = time.monotonic() + 15
        source = None
        while source is None and time.monotonic() < deadline:
            finder.wait_for_sources(0.5)
            finder.update_sources()
            source = next((s for s in finder.get_source_names() if name in s), None)
        assert source is not None, f"no NDI source {name}: {finder.get_source_names()}"
        receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
        video = VideoRecvFrame()
        receiver.set_video_frame(video)
        receiver.set_source(finder.get_source(source))
        got = None
        for _ in range(200):
            outs.write(image)
            if receiver.receive(ReceiveFrameType.recv_video, 50) & ReceiveFrameType.recv_video:
                got = np.asarray(video).copy().reshape(36, 64, 4)
                break
        assert got is not None, "the receiver got no frame"
        assert video.get_resolution() == (64, 36)
        err = np.abs(got.astype(int) - want.astype(int))[..., :3]
        assert err.mean() < 4 and err.max() < 40  # NDI compresses (SpeedHQ): close, not exact
        receiver.disconnect()
    finally:
        finder.close()
        outs.close()


def test_without_the_ndi_runtime_one_notice_and_the_other_outputs_go_on(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "cyndilib.sender", None)  # as if it were not installed
    name = f"oneiric-nondi-{os.getpid()}"
    outs = Outputs([parse_output("ndi:Stage"), parse_output(f"shm:{name}")], (16, 8), 30)
    ring = ShmReader(name)
    outs.write(np.zeros((8, 16, 3), np.uint8))
    assert len(ring.poll()) == 1, "the shared memory output still gets the frame"
    ring.close()
    outs.close()
    assert len(outs.notices) == 1
    assert outs.notices[0].startswith("output ndi:Stage: no NDI runtime")
    assert "the show goes on without it" in outs.notices[0]


def loopback_devices() -> list[Path]:
    """/dev/videoN that v4l2loopback made (its sysfs name says so)."""
    names = Path("/sys/devices/virtual/video4linux").glob("video*/name")
    return [Path("/dev") / n.parent.name for n in names if "loopback" in n.read_text().lower()]


def test_without_a_v4l2loopback_device_one_notice_saying_how_to_load_it():
    outs = Outputs([parse_output("v4l2:/dev/video-oneiric-none")], (16, 8), 30)
    outs.write(np.zeros((8, 16, 3), np.uint8))
    outs.close()
    assert len(outs.notices) == 1 and "modprobe v4l2loopback" in outs.notices[0]


@pytest.mark.skipif(
    not loopback_devices(),
    reason="no v4l2loopback device: the kernel module is not loaded, and inside a container"
    " it cannot be (sudo modprobe v4l2loopback devices=1 video_nr=10 exclusive_caps=1)",
)
def test_a_v4l2loopback_camera_shows_the_frames():
    device = loopback_devices()[0]
    outs = Outputs([parse_output(f"v4l2:{device}@64x36")], (64, 36), 30)
    assert not outs.notices, outs.notices
    image = np.zeros((36, 64, 3), np.uint8)
    image[:, :32] = (255, 0, 0)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    grab = subprocess.Popen(
        [ffmpeg, "-loglevel", "error", "-f", "v4l2", "-i", str(device), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while grab.poll() is None and time.monotonic() < deadline:
        outs.write(image)
        time.sleep(1 / 30)
    data, _ = grab.communicate(timeout=10)
    outs.close()
    got = np.frombuffer(data, np.uint8).reshape(36, 64, 3)
    assert got[:, :28, 0].mean() > 200 and got[:, 36:, 0].mean() < 50  # red left, dark right


def ndi_receiver(name: str, timeout: float = 15.0):
    """A cyndilib receiver connected to the NDI source whose name contains `name`."""
    from cyndilib.finder import Finder
    from cyndilib.receiver import Receiver
    from cyndilib.video_frame import VideoRecvFrame
    from cyndilib.wrapper import RecvBandwidth, RecvColorFormat

    finder = Finder()
    finder.open()
    deadline = time.monotonic() + timeout
    source = None
    while source is None and time.monotonic() < deadline:
        finder.wait_for_sources(0.5)
        finder.update_sources()
        source = next((s for s in finder.get_source_names() if name in s), None)
    assert source is not None, f"no NDI source {name}: {finder.get_source_names()}"
    receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
    video = VideoRecvFrame()
    receiver.set_video_frame(video)
    receiver.set_source(finder.get_source(source))
    return finder, receiver, video


def test_live_plays_to_a_window_ndi_a_pipe_and_a_recording_each_at_its_size(tmp_path, display):
    from cyndilib.receiver import ReceiveFrameType

    fifo = tmp_path / "live.pipe"
    child = reader("pipe", str(fifo))
    name = f"oneiric-live-{os.getpid()}"
    record = tmp_path / "live.mp4"
    # long enough for NDI discovery, which took 5-7 s here with a window opening (2 s headless)
    cmd = [*LIVE, "--size", "64x36", "--duration", "12", "--no-watch", "--audio", "off"]
    cmd += ["--out", f"pipe:{fifo}@32x18", "--out", "v4l2:/dev/video-oneiric-none"]
    cmd += ["--out", f"ndi:{name}@48x28", "--record", str(record)]
    env = {**headless_env(), "NDI_CONFIG_DIR": str(NDI_CONFIG)}
    if display:
        env["DISPLAY"] = display
    live = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)  # fmt: skip
    finder, receiver, video = ndi_receiver(name)
    try:
        sizes = set()
        deadline = time.monotonic() + 10
        while not sizes and time.monotonic() < deadline:
            if receiver.receive(ReceiveFrameType.recv_video, 100) & ReceiveFrameType.recv_video:
                sizes.add(video.get_resolution())
        out, err = live.communicate(timeout=120)
    finally:
        receiver.disconnect()
        finder.close()
    assert live.returncode == 0, err[-2000:]
    assert "played" in out
    assert ("running headless" in err) == (display is None), err
    notices = [x for x in err.splitlines() if "output " in x and "goes on" in x]
    assert len(notices) == 1 and "v4l2:/dev/video-oneiric-none" in notices[0], err
    assert sizes == {(48, 28)}, "NDI at its own size"
    got = lines(child)
    assert len(got) >= 30 and all(g[1] == "32x18" for g in got), got[:3]
    movie = imageio_ffmpeg.read_frames(str(record))
    size = next(movie)["size"]
    assert size == (64, 36) and sum(1 for _ in movie) >= 30, "the recording at the show's size"


@pytest.fixture(scope="module")
def display():
    """A virtual X display (Xvfb) for the window, where Xvfb is installed (else None)."""
    if shutil.which("Xvfb") is None:
        yield None
        return
    number = 600 + os.getpid() % 300
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "640x360x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=5)


def test_a_pipe_reader_that_leaves_is_followed_by_the_next(tmp_path):
    """Live: the pipe stays; each new reader gets whole frames from about when it opened
    (one that joins where the last left a frame half read skips to the next)."""
    fifo = tmp_path / "p"
    outs = Outputs([parse_output(f"pipe:{fifo}")], (8, 4), 30)
    seen: list[list[int]] = []
    try:
        for _ in range(2):
            with open(fifo, "rb") as stream:  # a reader comes...
                frames = read_frames(stream)
                got = []
                for i in range(200):
                    outs.write(np.full((4, 8, 3), i % 256, np.uint8))
                    time.sleep(0.002)
                    if i % 10 == 9 and len(got) < 3:
                        got.append(next(frames)[0].frame)
                    if len(got) == 3:
                        break
                seen.append(got)
            # ... and goes: the output waits for the next (or the next simply joins)
    finally:
        outs.close()
    assert all(len(g) == 3 and g == sorted(g) for g in seen), seen
    assert seen[1][0] > seen[0][-1], "the second reader starts where the show is"
    assert not outs.notices


def test_fit_shrinks_by_box_means_and_adds_an_opaque_alpha():
    image = np.array([[[0, 0, 0], [10, 20, 30], [100, 100, 100], [200, 200, 200]]] * 2, np.uint8)
    half = fit(image, (2, 1), 4)
    assert half.shape == (1, 2, 4)
    assert half[0, 0].tolist() == [5, 10, 15, 255]  # the mean of each 2x2 box
    assert half[0, 1].tolist() == [150, 150, 150, 255]
    odd = fit(np.zeros((36, 64, 3), np.uint8), (30, 16), 3)  # no whole factor: bilinear
    assert odd.shape == (16, 30, 3)
    same = fit(image, (4, 2), 3)
    assert same.shape == image.shape and np.array_equal(same, image)


def test_a_reader_that_joins_mid_frame_skips_to_the_next_whole_frame():
    import io

    frames = [np.full((4, 8, 3), 40 + i, np.uint8) for i in range(3)]
    data = b"".join(FrameHeader(8, 4, 0, i).pack() + f.tobytes() for i, f in enumerate(frames))
    frame_bytes = len(data) // 3
    for cut in (1, 5, 40, frame_bytes - 2):  # inside the header, inside the pixels
        back = list(read_frames(io.BytesIO(data[cut:])))
        assert [h.frame for h, _ in back] == [1, 2]
        assert all(np.array_equal(px, frames[h.frame]) for h, px in back)
