#!/usr/bin/env python3
"""Live-loop benchmarks, headless, measured side by side in one run.

1. Input-to-photon latency: an OSC datagram (`/dreamer/1/mute 0|1`) sent over UDP to
   the live rig, from its arrival to the end of the first frame that shows its
   effect (the layer vanishing or returning): median and p99, in frames and in ms.
2. Hot-reload cost: the longest frame while an edited shader is swapped in (warmed
   on another thread, then crossfaded), against the median frame; and the same for
   a swap compiled on the show's own thread, for comparison.

Usage: .venv/bin/python bench/bench_live.py [--size 640x360] [--toggles 40]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")

import moderngl
import numpy as np
from pythonosc.udp_client import SimpleUDPClient

from engine import sets
from engine.events import Event
from engine.folders import SHADER_DIR
from engine.live import Live
from engine.show import Folders, Frame, Show
from engine.sources.osc import Endpoint, OscReceiver
from engine.visuals.context import describe, headless_context
from engine.visuals.shaders import LayerSource

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
[[dreamers]]
count = {count}
stages = [[0, "W"]]
shader = "{shader}"
patch = "drone"
"""


@dataclass
class Toggle:
    """The mute change in flight, shared by the sender thread, the receiver's sink and
    the frame loop (one change at a time: the next waits until this one is shown)."""

    want: int = 0  # the mute state last sent
    arrival: float | None = None  # when its event reached the show (None: none pending)
    frame: int = 0  # the show's frame index at that arrival


def p99(xs: list[float]) -> float:
    return float(np.percentile(xs, 99))


def latency(ctx: moderngl.Context, tmp: Path, size: tuple[int, int], toggles: int) -> None:
    folders = Folders(shaders=tmp / "shaders")
    folders.shaders.mkdir(exist_ok=True)
    (folders.shaders / "solid.glsl").write_text(
        "vec4 layer(vec2 uv) { return vec4(0.8, 0.5, 0.2, 1.0); }\n"
    )
    path = tmp / "latency.toml"
    path.write_text(SET.format(w=size[0], h=size[1], count=1, shader="solid"))
    spec = sets.load(path, shaders={"solid"}, patches={"drone"})
    show = Show(spec, ctx, folders=folders)
    live = Live(show, watch=False)
    rx = OscReceiver(Endpoint("127.0.0.1", 0), live.commands.push)
    client = SimpleUDPClient("127.0.0.1", rx.endpoint.port)
    frames_ms: list[float] = []
    lat_ms: list[float] = []
    lat_frames: list[int] = []
    stop = threading.Event()
    state = Toggle()

    def shown_state(frame: Frame) -> int:
        return 1 if frame.image.mean() < 5 else 0  # muted: the only layer is gone

    def sender() -> None:
        for i in range(toggles):
            time.sleep(0.15 + random.random() * 0.1)
            state.want = (i + 1) % 2
            client.send_message("/dreamer/1/mute", state.want)
        stop.set()

    orig_push = live.commands.push

    def push(event: Event) -> None:
        state.arrival, state.frame = event.time, live.frame_index
        orig_push(event)

    rx.sink = push
    threading.Thread(target=sender, daemon=True).start()
    live.on_frame = None
    waiting = False
    while not stop.is_set() or waiting:
        t0 = time.perf_counter()
        frame = live.step()
        frames_ms.append((time.perf_counter() - t0) * 1000)
        done = time.perf_counter()
        if state.arrival is not None:
            waiting = True
            if shown_state(frame) == state.want:
                lat_ms.append((done - state.arrival) * 1000)
                lat_frames.append(live.frame_index - state.frame)
                state.arrival = None
                waiting = False
        time.sleep(max(0.0, 1 / 30 - (time.perf_counter() - t0)))
    rx.close()
    live.close()
    show.close()
    print(f"\n1. input-to-photon latency, OSC /dreamer/1/mute over UDP, {size[0]}x{size[1]}")
    print(f"   frames take {statistics.median(frames_ms):.1f} ms (median); {len(lat_ms)} changes")
    for unit, xs in (("ms", lat_ms), ("frames", [float(f) for f in lat_frames])):
        print(f"   latency {unit:7s} median {statistics.median(xs):6.1f}   p99 {p99(xs):6.1f}")


def reload_cost(ctx: moderngl.Context, tmp: Path, size: tuple[int, int]) -> None:
    folders = Folders(shaders=tmp / "reload")
    folders.shaders.mkdir(exist_ok=True)
    target = folders.shaders / "ember.glsl"
    target.write_text((SHADER_DIR / "ember.glsl").read_text())
    path = tmp / "reload.toml"
    path.write_text(SET.format(w=size[0], h=size[1], count=8, shader="ember"))
    spec = sets.load(path, shaders={"ember"}, patches={"drone"})
    show = Show(spec, ctx, folders=folders, audio=False)
    live = Live(show, watch=False)
    print(f"\n2. hot reload of ember.glsl (8 dreamers, {size[0]}x{size[1]})")
    for mode in ("warmed on its own thread", "compiled on the show's thread"):
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            live.step()
            times.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(times)
        # a unique edit, so the driver's shader cache cannot have it already
        target.write_text(target.read_text() + f"\n// edit {random.random()}\n")
        swap: list[float] = []
        if mode.startswith("warmed"):
            live.file_changed(target)
            while not live.swaps or len(swap) < 40:
                t0 = time.perf_counter()
                live.step()
                swap.append((time.perf_counter() - t0) * 1000)
            live.swaps.clear()
        else:
            t0 = time.perf_counter()
            show.reload_shader(target, 1.0, LayerSource.load(target))
            live.step()
            swap.append((time.perf_counter() - t0) * 1000)
            for _ in range(39):
                t0 = time.perf_counter()
                live.step()
                swap.append((time.perf_counter() - t0) * 1000)
        worst = max(swap)
        print("   frames:", " ".join(f"{x:.0f}" for x in swap))
        print(
            f"   {mode:32s} median frame {median:6.1f} ms, longest during swap"
            f" {worst:7.1f} ms ({worst / median:4.1f}x)"
        )
    live.close()
    show.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--toggles", type=int, default=40)
    args = parser.parse_args()
    size = sets.parse_size(args.size)
    ctx = headless_context()
    print(f"GL: {describe(ctx)}; CPU cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        latency(ctx, Path(tmp), size, args.toggles)
        reload_cost(ctx, Path(tmp), size)


if __name__ == "__main__":
    main()
