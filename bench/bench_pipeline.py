#!/usr/bin/env python3
"""The pipelined render and the chunked render, measured side by side in one run.

1. The demo set (12 dreamers, 1280x720, the first --seconds of it) rendered to MP4 with
   sound by today's serial loop and by the pipelined loop, interleaved (serial,
   pipelined, serial, pipelined) so the machine's load falls on both alike: wall time per
   frame against the GPU's time per frame (GL timer queries), and the stages' times.
2. The same render in 2 chunks on 2 local Ray workers against 1 process (pipelined), for
   the demo set and for effects.toml (a feedback effect: its warm-up draws): wall time,
   speed-up, and whether the frames are identical (hashes).

Usage: .venv/bin/python bench/bench_pipeline.py [--seconds 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.chunks import Job, render_chunked  # noqa: E402
from engine.render import RenderOptions, RenderResult, load_set, render  # noqa: E402
from engine.visuals.context import describe, headless_context  # noqa: E402

DEMO = ROOT / "presets" / "sets" / "demo.toml"
EFFECTS = ROOT / "presets" / "sets" / "effects.toml"


def line(name: str, r: RenderResult) -> str:
    st = r.stages
    ratio = st.wall_per_frame / st.gpu_per_frame if st.gpu_per_frame else float("nan")
    return (
        f"{name:>10} {r.wall:>7.1f} {r.wall / r.frames * 1000:>9.1f}"
        f" {st.wall_per_frame * 1000:>9.1f} {st.gpu_per_frame * 1000:>8.1f} {ratio:>7.2f}x"
        f"   {st.summary().split('; per')[0]}"
    )


def bench_loops(seconds: float, tmp: Path) -> None:
    print(f"\n1. the demo set, {seconds:g} s at 1280x720 to MP4 with sound, serial and pipelined")
    print("   wall = the whole render; loop = frames only (no ffmpeg flush); GPU = GL timers")
    head = (
        f"{'loop':>10} {'wall s':>7} {'ms/frame':>9} {'loop ms':>9} {'GPU ms':>8} {'loop/GPU':>8}"
    )
    print(head)
    spec = load_set(DEMO)
    runs: dict[str, list[RenderResult]] = {"serial": [], "pipelined": []}
    for _ in range(2):
        for name in runs:
            options = RenderOptions(duration=seconds, progress=False, pipeline=name == "pipelined")
            r = render(spec, tmp / f"{name}.mp4", options)
            runs[name].append(r)
            print(line(name, r))
    same = runs["serial"][0].frame_hashes == runs["pipelined"][0].frame_hashes
    serial = sum(r.wall for r in runs["serial"])
    piped = sum(r.wall for r in runs["pipelined"])
    st = [r.stages for r in runs["pipelined"]]
    ratio = sum(s.wall_per_frame for s in st) / sum(s.gpu_per_frame for s in st)
    print(
        f"   pipelined: loop/GPU {ratio:.2f}x (goal 1.15x); serial/pipelined wall "
        f"{serial / piped:.2f}x; frames identical: {same}"
    )


def bench_chunks(seconds: float, tmp: Path) -> None:
    print(f"\n2. 2 chunks on 2 local Ray workers against 1 process ({os.cpu_count()} cores)")
    print(
        f"{'set':>10} {'frames':>7} {'1 proc s':>9} {'2 workers s':>12} {'speed-up':>9}"
        f" {'identical':>10}  chunks (wall, warm-up)"
    )
    for path in (DEMO, EFFECTS):
        options = RenderOptions(duration=seconds, progress=False)
        single = render(load_set(path), tmp / "one.mp4", options)
        job = Job(set_path=path, options=options)
        for threads, env in (("", None), (", 1 llvmpipe thread each", {"LP_NUM_THREADS": "1"})):
            two = render_chunked(job, tmp / "two.mp4", workers=2, worker_env=env)
            same = single.frame_hashes == two.frame_hashes and single.audio_hash == two.audio_hash
            parts = ", ".join(f"{c.wall:.1f}/{c.stages.warm_up:.1f} s" for c in two.chunks)
            print(
                f"{path.stem:>10} {single.frames:>7} {single.wall:>9.1f} {two.wall:>12.1f}"
                f" {single.wall / two.wall:>8.2f}x {same!s:>10}  {parts}; join"
                f" {two.joined:.1f} s{threads}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="of each set (default 6)")
    parser.add_argument("--skip-chunks", action="store_true")
    args = parser.parse_args()
    ctx = headless_context()
    print(f"GL: {describe(ctx)}; CPU cores: {os.cpu_count()}")
    ctx.release()
    with tempfile.TemporaryDirectory() as tmp:
        bench_loops(args.seconds, Path(tmp))
        if not args.skip_chunks:
            bench_chunks(args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
