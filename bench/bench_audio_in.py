#!/usr/bin/env python3
"""Audio-input benchmarks, measured side by side in one run.

1. Analysis cost per frame (48 kHz, 30 fps: 1600 samples a frame) of music (the kick
   and hat loop): the whole analysis (levels, bands, 16-band spectrum, aubio's onset
   detector and beat tracker), and the numpy part and the aubio part alone; then a
   show's whole frame at --size with the file as its audio input against the same
   show without one.
2. Onset-to-photon latency, live: a JACK client (another process) plays clicks into
   the rig's input port (jackd's dummy driver, 48 kHz, 256-frame periods) and notes
   when each click entered the graph; the live rig draws a layer that lights up on
   `audio_onset`. From the click to the end of the first frame that shows it: median
   and p99, in ms and in frames.

Usage: .venv/bin/python bench/bench_audio_in.py [--size 640x360] [--clicks 40]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")

import moderngl
import numpy as np
import soundfile

from engine import sets
from engine.audio import analysis as an
from engine.clock import FrameClock
from engine.live import Live
from engine.show import Folders, Show
from engine.visuals.context import describe, headless_context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "audio"))
from sounds import SR, click, kick_hat_track

FPS = 30
BLOCK = SR // FPS
SET = """
[set]
duration = 600.0
fps = 30
size = [{w}, {h}]
seed = 2
[merge]
mode = "add"
resonance = 1.0
state = 0.0
{audio_in}
[[dreamers]]
count = 1
stages = [[0, "W"]]
shader = "{shader}"
patch = "drone"
"""
FLASH = "vec4 layer(vec2 uv) { return vec4(vec3(audio_onset), 1.0); }\n"
PLAYER = """
import sys, time, jack, numpy as np
sr, gaps, click = 48000, [float(g) for g in sys.argv[2:]], np.load(sys.argv[1])
client = jack.Client("clicker", no_start_server=True)
out = client.outports.register("out_1")
starts = np.cumsum(gaps)
state = {"n": 0, "k": 0}
@client.set_process_callback
def process(frames):
    buf = out.get_array()
    buf[:] = 0
    n, k = state["n"], state["k"]
    while k < len(starts) and int(starts[k] * sr) < n + frames:
        i = int(starts[k] * sr) - n
        part = click[: frames - i]
        buf[i : i + len(part)] = part
        print(f"click {time.monotonic() + i / sr:.6f}", flush=True)
        k += 1
    state["n"], state["k"] = n + frames, k
with client:
    client.connect(out, "oneiric-in:input_1")
    time.sleep(starts[-1] + 1.0)
print("done", flush=True)
"""


def p99(xs: list[float]) -> float:
    return float(np.percentile(xs, 99))


class NumpyOnly(an.Analysis):
    """The analysis with aubio's onset and beat tracking left out: its numpy part alone."""

    def _track(self, x: np.ndarray) -> tuple[bool, bool]:
        return False, False


def analysis_cost(ctx: moderngl.Context, tmp: Path, size: tuple[int, int]) -> None:
    x, _, _ = kick_hat_track(20.0)
    blocks = [x[i : i + BLOCK] for i in range(0, len(x) - BLOCK, BLOCK)]
    whole = an.Analysis(SR)
    numpy_part = NumpyOnly(SR)
    aubio_part = an.Analysis(SR)
    times: dict[str, list[float]] = {"whole": [], "numpy": [], "aubio": []}
    for block in blocks:  # interleaved, so the three share the machine's state
        t0 = time.perf_counter()
        whole.feed(block)
        t1 = time.perf_counter()
        numpy_part.feed(block)
        t2 = time.perf_counter()
        aubio_part._track(block)
        t3 = time.perf_counter()
        times["whole"].append((t1 - t0) * 1000)
        times["numpy"].append((t2 - t1) * 1000)
        times["aubio"].append((t3 - t2) * 1000)
    print(f"\n1. analysis per frame ({BLOCK} samples at {SR} Hz, {len(blocks)} frames)")
    for name, xs in times.items():
        print(f"   {name:6s} median {statistics.median(xs):6.3f} ms   p99 {p99(xs):6.3f} ms")
    share = statistics.median(times["whole"]) / (1000 / FPS)
    print(f"   = {share * 100:.1f} % of a {1000 / FPS:.1f} ms frame")

    wav = tmp / "music.wav"
    soundfile.write(wav, x, SR, subtype="FLOAT")
    shows = {}
    for name, table in (("without", ""), ("with", f'[audio_in]\nfile = "{wav}"\n')):
        path = tmp / f"{name}.toml"
        path.write_text(SET.format(w=size[0], h=size[1], audio_in=table, shader="tide"))
        spec = sets.load(path, shaders={"tide"}, patches={"drone"})
        shows[name] = (Show(spec, ctx, audio=False), FrameClock(FPS))
    step_ms: dict[str, list[float]] = {name: [] for name in shows}
    for _ in range(150):
        for name, (show, clock) in shows.items():
            t0 = time.perf_counter()
            show.step(clock.tick())
            step_ms[name].append((time.perf_counter() - t0) * 1000)
    for show, _ in shows.values():
        show.close()
    a, b = (statistics.median(step_ms[k]) for k in ("without", "with"))
    print(f"   a show's frame at {size[0]}x{size[1]} (tide, 150 frames, interleaved):")
    print(f"   without audio in {a:6.2f} ms, with {b:6.2f} ms: {b / a:.3f}x (+{b - a:.2f} ms)")


def jack_server() -> tuple[subprocess.Popen, str]:
    jackd = shutil.which("jackd")
    if jackd is None:
        raise SystemExit("jackd is not installed (Debian jackd2)")
    name = f"oneiric-bench-{os.getpid()}"
    cmd = [jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", str(SR), "-p", "256"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        ports = subprocess.run(["jack_lsp", "-s", name], capture_output=True, text=True)
        if "system:playback_1" in ports.stdout:
            return proc, name
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("jackd did not start")
        time.sleep(0.1)


def latency(ctx: moderngl.Context, tmp: Path, size: tuple[int, int], clicks: int) -> None:
    server, name = jack_server()
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        folders = Folders(shaders=tmp / "shaders")
        folders.shaders.mkdir(exist_ok=True)
        (folders.shaders / "flash.glsl").write_text(FLASH)
        path = tmp / "latency.toml"
        table = '[audio_in]\ndevice = "jack"\n'
        path.write_text(SET.format(w=size[0], h=size[1], audio_in=table, shader="flash"))
        spec = sets.load(path, shaders={"flash"}, patches={"drone"})
        show = Show(spec, ctx, folders=folders, audio=False)
        live = Live(show, watch=False)
        np.save(tmp / "click.npy", click())
        rng = np.random.default_rng(1)
        gaps = [1.0, *(0.3 + 0.2 * rng.random(clicks - 1))]  # off the frame grid
        player = subprocess.Popen(
            [sys.executable, "-c", PLAYER, str(tmp / "click.npy"), *map(str, gaps)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert player.stdout is not None
        stdout = player.stdout
        lines: queue.SimpleQueue[str] = queue.SimpleQueue()

        def read() -> None:
            for line in stdout:
                lines.put(line.strip())

        reader = threading.Thread(target=read)
        reader.start()
        pending: list[float] = []
        lat_ms: list[float] = []
        lat_frames: list[int] = []
        frame_starts: list[float] = []
        frames_ms: list[float] = []
        finished = False
        spurious = missed = 0
        while not finished:
            t0 = time.monotonic()
            frame_starts.append(t0)
            frame = live.step()
            done = time.monotonic()
            frames_ms.append((done - t0) * 1000)
            while not lines.empty():
                line = lines.get()
                finished = finished or line == "done"
                if line.startswith("click"):
                    pending.append(float(line.split()[1]))
            if frame.image.mean() > 128:  # lit: the latest click before it is shown
                heard = [c for c in pending if c <= done]
                spurious += not heard
                if heard:
                    c = heard[-1]
                    missed += len(heard) - 1
                    pending = [p for p in pending if p > c]
                    lat_ms.append((done - c) * 1000)
                    lat_frames.append(sum(1 for s in frame_starts if s >= c) or 1)
            time.sleep(max(0.0, 1 / FPS - (time.monotonic() - t0)))
        player.wait(10)
        reader.join(5)
        xruns = getattr(show.listen.input if show.listen else None, "xruns", 0)
        live.close()
        show.close()
    finally:
        server.terminate()
        server.wait(10)
    print(f"\n2. onset-to-photon latency, clicks into JACK, {size[0]}x{size[1]}")
    print(f"   frames take {statistics.median(frames_ms):.1f} ms (median); ", end="")
    print(f"{len(lat_ms)} of {clicks} clicks shown ({missed} missed, {spurious} lit without;")
    print(f"   JACK xruns while listening: {xruns})")
    for unit, xs in (("ms", lat_ms), ("frames", [float(f) for f in lat_frames])):
        print(f"   latency {unit:7s} median {statistics.median(xs):6.1f}   p99 {p99(xs):6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--clicks", type=int, default=40)
    args = parser.parse_args()
    size = sets.parse_size(args.size)
    ctx = headless_context()
    print(f"GL: {describe(ctx)}")
    with tempfile.TemporaryDirectory() as tmp:
        analysis_cost(ctx, Path(tmp), size)
        latency(ctx, Path(tmp), size, args.clicks)


if __name__ == "__main__":
    main()
