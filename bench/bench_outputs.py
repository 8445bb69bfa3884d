#!/usr/bin/env python3
"""Video output benchmark: what each output costs the frame loop, side by side in one run.

The same 1280x720 frame (a gradient with noise) goes N times into each output alone,
paced at 30 fps as the live loop paces it:
the x264 recording `live --record` makes (engine.visuals.sinks.VideoSink, the
reference), the shared-memory ring at full size and at 640x360 (Pillow's scale
included), the named pipe with another process draining it, and NDI at both sizes
(cyndilib; SpeedHQ compression on this CPU; kept on loopback unless $NDI_CONFIG_DIR
says otherwise). Medians of the time write() takes in the
frame loop, and each against the recording.

Usage: .venv/bin/python bench/bench_outputs.py [--frames N] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.output_spec import parse_output
from engine.sets import parse_size
from engine.visuals.outputs import Outputs
from engine.visuals.sinks import VideoSink

LOOPBACK = {
    "networks": {"ips": "127.0.0.1", "discovery": ""},
    "adapters": {"allowed": ["127.0.0.1"]},
}


def frame(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(1)
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], axis=-1)
    return np.clip(img + rng.integers(-8, 8, img.shape), 0, 255).astype(np.uint8)


def timed(
    write: Callable[[np.ndarray], object], image: np.ndarray, n: int, fps: float = 30.0
) -> float:
    """Median ms a write takes, the writes paced at `fps` as the live loop paces them
    (an output that works in its own thread has the rest of the slot)."""
    for _ in range(3):  # warm up (NDI's first frames, the reader attaching)
        write(image)
    times = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        write(image)
        times.append(time.perf_counter() - t0)
        time.sleep(max(0.0, start + (i + 1) / fps - time.perf_counter()))
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=parse_size, default=(1280, 720))
    args = ap.parse_args()
    size, n = args.size, args.frames
    image = frame(size)
    tmp = Path(tempfile.mkdtemp(prefix="oneiric-bench-"))
    if "NDI_CONFIG_DIR" not in os.environ:  # no mDNS on the LAN for a benchmark
        (tmp / "ndi-config.v1.json").write_text(json.dumps({"ndi": LOOPBACK}))
        os.environ["NDI_CONFIG_DIR"] = str(tmp)
    rows: list[tuple[str, float]] = []

    video = VideoSink(tmp / "rec.mp4", size, 30, preset="ultrafast")
    rows.append(("record (x264 ultrafast)", timed(video.write, image, n)))
    video.close()

    half = f"@{size[0] // 2}x{size[1] // 2}"
    fifo = tmp / "frames.pipe"
    os.mkfifo(fifo)
    drain = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.DEVNULL)
    for label, text in [
        ("shm, full size", f"shm:oneiric-bench-{os.getpid()}"),
        ("shm" + half + " (scale included)", f"shm:oneiric-bench-h-{os.getpid()}{half}"),
        ("pipe, full size (cat drains it)", f"pipe:{fifo}"),
        ("ndi, full size", f"ndi:oneiric-bench-{os.getpid()}"),
        ("ndi" + half + " (scale included)", f"ndi:oneiric-bench-h-{os.getpid()}{half}"),
    ]:
        outs = Outputs([parse_output(text)], size, 30, lossless=text.startswith("pipe"))
        if outs.notices:
            print(f"{label}: {outs.notices[0]}", file=sys.stderr)
            continue
        ms = timed(outs.write, image, n)
        outs.close()
        if outs.notices:  # it failed while writing: no figure for it
            print(f"{label}: {outs.notices[-1]}", file=sys.stderr)
            continue
        rows.append((label, ms))
    drain.wait(timeout=10)
    fifo.unlink()

    ref = rows[0][1]
    print(f"{size[0]}x{size[1]} frames, median of {n} writes, {os.cpu_count()} CPUs")
    print(f"{'output':40s} {'ms/frame':>9s} {'vs record':>10s}")
    for label, ms in rows:
        print(f"{label:40s} {ms:9.2f} {ms / ref:10.2f}")


if __name__ == "__main__":
    main()
