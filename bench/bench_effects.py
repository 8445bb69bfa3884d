#!/usr/bin/env python3
"""Effect chain benchmark: what a master chain of three effects costs, in one run.

At 1280x720 on the merged frame of 8 layers: the merge alone, then the merge followed
by a master chain of blur, hue_shift and feedback (engine.visuals.effects), and each
effect alone after the merge; medians of N frames each, with ctx.finish() after each
frame, and the ratios against the merge alone.

Usage: .venv/bin/python bench/bench_effects.py [--frames N] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from engine.fx_spec import FxSpec
from engine.params import ParamSpace
from engine.sets import parse_size
from engine.visuals.context import describe, headless_context
from engine.visuals.dialect_base import DrawFrame
from engine.visuals.effects import EffectChain
from engine.visuals.merge import Blend, Merge, slot_table

LAYERS = 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", type=parse_size, default=(1280, 720))
    args = ap.parse_args()
    ctx = headless_context()
    size = args.size
    print(describe(ctx))
    layers = ctx.texture_array((size[0] // 2, size[1] // 2, LAYERS), 4)
    rng = np.random.default_rng(1)
    layers.write(rng.integers(0, 256, (LAYERS, size[1] // 2, size[0] // 2, 4), np.uint8).tobytes())
    merge = Merge(ctx, size)
    homes = rng.random((LAYERS, 2))
    table = slot_table(np.full(LAYERS, 0.8), [int(Blend.SCREEN)] * LAYERS, homes)

    def merged() -> None:
        merge.render(layers, table, {"/merge/fuse": 0.4, "/merge/exposure": 1.0}, time=0.0)

    chains = {
        "blur + hue_shift + feedback": ["blur", "hue_shift", "feedback"],
        "blur": ["blur"],
        "hue_shift": ["hue_shift"],
        "feedback": ["feedback"],
    }
    built = {
        name: EffectChain(ctx, size, "/master", [FxSpec(n) for n in names], ParamSpace())
        for name, names in chains.items()
    }

    def timed(step: Callable[[int], object]) -> float:
        for _ in range(3):  # warm: drivers compile at the first draw
            step(0)
        ctx.finish()
        times = []
        for i in range(args.frames):
            t0 = time.perf_counter()
            step(i)
            ctx.finish()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    base = timed(lambda i: merged())
    print(f"{size[0]}x{size[1]}, {LAYERS} layers, median of {args.frames} frames")
    print(f"  merge alone                        {base:8.2f} ms   1.00x")
    for name, chain in built.items():

        def step(i: int, chain: EffectChain = chain) -> None:
            merged()
            frame = DrawFrame(i / 30, 1 / 30, i, None, (2026.0, 1.0, 1.0, 0.0))
            chain.render(frame, merge.fbo, 0, src=merge.output, flip=True)

        ms = timed(step)
        print(f"  merge + {name:<27} {ms:8.2f} ms   {ms / base:5.2f}x  (+{ms - base:.2f} ms)")
    for chain in built.values():
        chain.release()
    merge.release()
    layers.release()
    ctx.release()


if __name__ == "__main__":
    main()
