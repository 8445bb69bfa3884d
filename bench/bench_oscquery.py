#!/usr/bin/env python3
"""OSCQuery WebSocket value streaming, measured side by side in one run.

0. Encoding one float message: python-osc's builder against engine.net.osc_wire (the
   same bytes).
1. Held rate: the server fed 64 dreamers' features (17 each: band shares, heart, beat,
   breath..., stage) at 30 updates a second, every value changing each time, to a
   client in another process that LISTENs to all of them: messages per second it
   receives against the 64 x 17 x 30 offered, and packets dropped for it. Then the
   same as fast as the server takes them, for its ceiling.
2. Cost to the frame time: a show of 64 simulated dreamers rendering headless, its
   median frame without the server, and with the server, the feed and that client.

Usage: .venv/bin/python bench/bench_oscquery.py [--size 320x180] [--frames 60]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import struct
import tempfile
import time
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("PYO_GUI_WX", "0")

from engine import sets
from engine.dreamer_params import FEATURE_OUTPUTS
from engine.net.feed import Feed, Update
from engine.net.oscquery import OscQueryServer
from engine.params import ParamSpace
from engine.show import Show
from engine.visuals.context import describe, headless_context

DREAMERS = 64
RATE = 30.0
NAMES = [name for name, *_ in FEATURE_OUTPUTS] + ["stage"]
SET = """
[set]
duration = 600.0
fps = 30
size = [{w}, {h}]
seed = 2
[[dreamers]]
count = {count}
stages = [[0, "N2"]]
shader = ["aurora", "tide", "ember"]
patch = "drone"
"""


def count_messages(data: bytes) -> int:
    if not data.startswith(b"#bundle"):
        return 1
    n, at = 0, 16
    while at < len(data):
        (size,) = struct.unpack_from(">i", data, at)
        n += count_messages(data[at + 4 : at + 4 + size])
        at += 4 + size
    return n


def client(url: str, paths: list[str], seconds: float, out: Queue[Any], stop: Event) -> None:
    """Another process: LISTEN to every path, count what arrives for `seconds` from the
    first packet (or, with seconds 0, until `stop` is set)."""
    import asyncio
    import json

    import aiohttp

    async def run() -> tuple[int, int, float]:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(url.replace("http://", "ws://"), max_msg_size=0)
            for p in paths:
                await ws.send_str(json.dumps({"COMMAND": "LISTEN", "DATA": p}))
            out.put("listening")
            messages = packets = 0
            start = None
            end = time.monotonic() + 600
            while time.monotonic() < end and not stop.is_set():
                try:
                    msg = await ws.receive(timeout=0.2)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                if start is None:
                    start = time.monotonic()
                    end = start + (seconds or 600)
                messages += count_messages(msg.data)
                packets += 1
            return messages, packets, time.monotonic() - (start or time.monotonic())

    out.put(asyncio.run(run()))


def with_client(
    url: str, paths: list[str], seconds: float
) -> tuple[BaseProcess, Queue[Any], Event]:
    spawn = mp.get_context("spawn")
    queue: Queue[Any] = spawn.Queue()
    stop = spawn.Event()
    proc = spawn.Process(target=client, args=(url, paths, seconds, queue, stop))
    proc.start()
    assert queue.get(timeout=60) == "listening"
    time.sleep(0.5)  # the LISTENs are in
    return proc, queue, stop


def encoders() -> None:
    import timeit

    from pythonosc.osc_message_builder import OscMessageBuilder

    from engine.net import osc_wire

    def with_python_osc() -> bytes:
        b = OscMessageBuilder("/dreamer/17/alpha")
        b.add_arg(0.123)
        return b.build().dgram

    def with_osc_wire() -> bytes:
        return osc_wire.message("/dreamer/17/alpha", [0.123])

    assert with_python_osc() == with_osc_wire()
    n = 50_000
    a, b = (timeit.timeit(f, number=n) / n * 1e6 for f in (with_python_osc, with_osc_wire))
    print(f"  one float message: python-osc {a:.2f} us, osc_wire {b:.2f} us ({a / b:.1f}x)")


def held_rate(seconds: float) -> None:
    params = ParamSpace()
    from engine.dreamer_params import dreamer_params

    for n in range(1, DREAMERS + 1):
        for spec in dreamer_params(n, hue=0.5, pitch=110.0):
            params.register(spec)
    paths = [f"/dreamer/{n}/{name}" for n in range(1, DREAMERS + 1) for name in NAMES]

    class Bare:  # what the feed reads of a show (a Showish), without a show
        def __init__(self) -> None:
            self.params = params
            self.dreamers: tuple[Any, ...] = ()
            self.spec = SimpleNamespace(cues=())
            self.folders = SimpleNamespace(scenes=Path(tempfile.gettempdir()) / "none")

    for label, rate in (("at 30 Hz", RATE), ("flat out", 0.0)):
        server = OscQueryServer(submit=lambda a, v: None)
        feed = Feed(Bare(), server.post, thumbnail_rate=0)
        server.post(feed.first())
        proc, queue, _ = with_client(server.url, paths, seconds)
        posted = 0
        start = time.monotonic()
        k = 0
        while time.monotonic() - start < seconds + 1.0:
            k += 1
            values: dict[str, tuple[float, ...]] = {
                p: ((k + i) % 997 / 997.0,) for i, p in enumerate(paths)
            }
            values.update({p: (float(k % 5),) for p in paths if p.endswith("/stage")})
            server.post(Update(values))
            posted += len(values)
            if rate:
                time.sleep(max(0.0, start + k / rate - time.monotonic()))
            else:
                time.sleep(0.0005)  # let the server's thread run
        messages, packets, took = queue.get(timeout=120)
        proc.join(10)
        offered = DREAMERS * len(NAMES) * (rate or k / (time.monotonic() - start))
        dropped = server.counts["dropped for slow clients"]
        server.close()
        print(
            f"  {label}: {messages / took:9.0f} msgs/s received ({packets / took:.1f} packets/s)"
            f" of {offered:9.0f} offered ({messages / took / offered:.2f});"
            f" posted {posted / (time.monotonic() - start):.0f} values/s; dropped {dropped}"
        )


def frame_cost(size: tuple[int, int], frames: int, seconds: float) -> None:
    from engine.clock import FrameClock
    from engine.live import Live

    ctx = headless_context()
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "bench.toml"
    path.write_text(SET.format(w=size[0], h=size[1], count=DREAMERS))
    from engine.render import load_set

    spec = load_set(path)
    assert isinstance(spec, sets.SetSpec)
    show = Show(spec, ctx, audio=False)
    live = Live(show, clock=FrameClock(spec.fps), watch=False)
    paths = [f"/dreamer/{n}/{name}" for n in range(1, DREAMERS + 1) for name in NAMES]

    def run(n: int) -> list[float]:
        ms = []
        for _ in range(n):
            t0 = time.perf_counter()
            live.step()
            ms.append((time.perf_counter() - t0) * 1000)
        return ms

    run(10)  # warm: shaders compiled, features filled
    server = OscQueryServer(submit=lambda a, v: live.command(a, *v))
    feed = Feed(show, server.post)
    server.post(feed.first())
    proc, queue, stop = with_client(server.url, [*paths, "/live/thumbnail"], 0)
    bare: list[float] = []
    streaming: list[float] = []
    streamed_s = 0.0
    block = 10
    cpu = {"bare": 0.0, "streaming": 0.0}  # this process's CPU seconds, all threads
    for _ in range(max(1, frames // block)):  # alternating blocks: drift hits both alike
        live.on_frame = None
        show.params.observers.remove(feed._observe)
        c0 = time.process_time()
        bare += run(block)
        cpu["bare"] += time.process_time() - c0
        show.params.observers.append(feed._observe)
        live.on_frame = feed.frame
        t0, c0 = time.monotonic(), time.process_time()
        streaming += run(block)
        streamed_s += time.monotonic() - t0
        cpu["streaming"] += time.process_time() - c0
    live.on_frame = None
    time.sleep(0.5)
    stop.set()
    messages, packets, _ = queue.get(timeout=120)
    proc.join(10)
    server.close()
    live.close()
    show.close()
    b, s = statistics.median(bare), statistics.median(streaming)
    print(
        f"  {DREAMERS} dreamers at {size[0]}x{size[1]}, alternating blocks of {block} frames:"
        f" median frame {b:.1f} ms without the server, {s:.1f} ms streaming"
        f" ({s / b:.2f}x, {s - b:+.1f} ms)"
    )
    cb, cs = (cpu[k] * 1000 / len(v) for k, v in (("bare", bare), ("streaming", streaming)))
    print(
        f"  CPU per frame (every thread of the process): {cb:.1f} ms without, {cs:.1f} ms"
        f" streaming ({cs / cb:.2f}x, {cs - cb:+.1f} ms)"
    )
    print(
        f"  streamed {messages / streamed_s:.0f} msgs/s ({packets / streamed_s:.1f} packets/s)"
        f" while rendering {len(streaming) / streamed_s:.1f} frames/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    size = sets.parse_size(args.size)
    print(f"OSCQuery streaming on {describe(headless_context())}, {os.cpu_count()} cores")
    print("0. encoding")
    encoders()
    print(f"1. held rate: {DREAMERS} dreamers x {len(NAMES)} features, all changing")
    held_rate(args.seconds)
    print("2. cost to the frame time (the show renders on this thread)")
    frame_cost(size, args.frames, args.seconds)


if __name__ == "__main__":
    main()
