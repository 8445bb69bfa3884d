#!/usr/bin/env python3
"""Render and merge benchmarks: figures measured side by side in one run.

1. Offline render speed (x real time) at 1280x720@30 for 1, 8, 32 and 64 dreamers,
   the whole path: simulation, features, layers, merge, readback, audio, x264.
2. Merge time per frame against the number of layers.
3. The one-pass merge against N ping-pong passes (one draw per layer, blending
   into an accumulator) of the same layers, as a ratio.

Usage: .venv/bin/python bench/bench_render.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")

import moderngl
import numpy as np

from engine import sets
from engine.render import RenderOptions, load_set, render
from engine.visuals.context import describe, headless_context
from engine.visuals.merge import Blend, Merge, slot_table
from engine.visuals.shaders import compile_program, lib

PING_PONG = """
#version 330 core
uniform sampler2DArray u_layers;
uniform sampler2D u_acc;
uniform float u_layer;
uniform float u_weight;
in vec2 v_uv;
out vec4 fragColor;
void main() {
    vec3 acc = texture(u_acc, v_uv).rgb;
    vec3 c = texture(u_layers, vec3(v_uv, u_layer)).rgb;
    fragColor = vec4(acc + u_weight * c * (1.0 - acc), 1.0);  // screen, as the merge does
}
"""

# The probe's form in DESIGN.md: the screen blend with nothing else, for scale.
MINIMAL = """
#version 330 core
uniform sampler2DArray u_layers;
uniform int u_count;
in vec2 v_uv;
out vec4 fragColor;
void main() {
    vec3 keep = vec3(1.0);
    for (int i = 0; i < u_count; ++i)
        keep *= 1.0 - texture(u_layers, vec3(v_uv, float(i))).rgb / float(u_count);
    fragColor = vec4(1.0 - keep, 1.0);
}
"""

SET_TEMPLATE = """
[set]
duration = {duration}
fps = 30
size = [1280, 720]
seed = 1
[[dreamers]]
count = {count}
stages = [[0, "W"], [1, "N2"]]
shader = ["aurora", "tide", "ember"]
patch = ["drone", "choir", "pulse"]
"""


def uniform(prog: moderngl.Program, name: str) -> moderngl.Uniform:
    """One of this bench's own uniforms (each is used, so the driver keeps it), looked up
    once: a program's [] could also be a uniform block, attribute or varying."""
    member = prog[name]
    assert isinstance(member, moderngl.Uniform), name
    return member


def median_ms(fn: Callable[[], object], repeat: int, ctx: moderngl.Context) -> float:
    fn()
    ctx.finish()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ctx.finish()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_render(counts: list[int], duration: float) -> None:
    print(f"\n1. offline render at 1280x720@30, {duration:g} s of show each (to MP4 with sound)")
    print(f"{'dreamers':>9} {'frames':>7} {'wall s':>8} {'x real time':>12} {'ms/frame':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            path = Path(tmp) / f"bench{n}.toml"
            path.write_text(SET_TEMPLATE.format(duration=duration, count=n))
            spec: sets.SetSpec = load_set(path)
            result = render(spec, Path(tmp) / f"bench{n}.mp4", RenderOptions(progress=False))
            ms = result.wall / result.frames * 1000
            print(f"{n:>9} {result.frames:>7} {result.wall:>8.1f} {result.speed:>12.3f} {ms:>9.1f}")


def bench_merge(ctx: moderngl.Context, counts: list[int], repeat: int) -> None:
    w, h = 1280, 720
    merge = Merge(ctx, (w, h))
    pp_prog = compile_program(ctx, Path("ping-pong"), vertex=lib("quad.vert"), fragment=PING_PONG)
    pp_vao = ctx.vertex_array(pp_prog, [])
    min_prog = compile_program(ctx, Path("minimal"), vertex=lib("quad.vert"), fragment=MINIMAL)
    min_vao = ctx.vertex_array(min_prog, [])
    u_layers, u_acc, u_weight, u_layer = (
        uniform(pp_prog, name) for name in ("u_layers", "u_acc", "u_weight", "u_layer")
    )
    u_count = uniform(min_prog, "u_count")
    accs = [ctx.texture((w, h), 4) for _ in range(2)]
    fbos = [ctx.framebuffer(color_attachments=[t]) for t in accs]
    # every read here is texel for texel (layers, accumulator and output one size): the
    # merge reads such layers through a nearest sampler (llvmpipe's fastest texture path).
    # The ping-pong is timed twice: as usually written (the textures' default, filtered
    # reads) and tuned the same way as the merge (nearest reads), for a fair ratio.
    nearest = ctx.sampler(filter=(moderngl.NEAREST, moderngl.NEAREST))
    print(f"\n2./3. merge at {w}x{h}, layers at {w}x{h} (screen blend, resonance 1, chaos 0)")
    print("   minimal = a bare one-pass screen loop (nearest reads), for scale;")
    print("   ping-pong: N passes into an accumulator, filtered reads / nearest reads;")
    print("   ratio = ping-pong / merge.frag")
    print(
        f"{'layers':>7} {'merge.frag ms':>14} {'minimal ms':>11} {'ping-pong ms':>13}"
        f" {'ratio':>7} {'pp nearest ms':>14} {'ratio':>7}"
    )
    rng = np.random.default_rng(0)
    for n in counts:
        layers = ctx.texture_array((w, h, n), 4)
        layers.write(rng.integers(0, 256, (n, h, w, 4), dtype=np.uint8).tobytes())
        weights = np.full(n, 1.0 / n)
        table = slot_table(weights, np.full(n, Blend.SCREEN), rng.random((n, 2)))

        def one_pass(layers: moderngl.TextureArray = layers, table: np.ndarray = table) -> None:
            merge.render(layers, table, {"/merge/fuse": 1.0, "/merge/exposure": 1.0}, time=0.0)

        def ping_pong(
            layers: moderngl.TextureArray = layers, n: int = n, sharp: bool = False
        ) -> None:
            if sharp:
                nearest.use(0)
                nearest.use(1)
            fbos[0].use()
            fbos[0].clear(0, 0, 0, 1)
            layers.use(0)
            u_layers.value = 0
            u_acc.value = 1
            u_weight.value = 1.0 / n
            for i in range(n):
                src, dst = i % 2, (i + 1) % 2
                accs[src].use(1)
                u_layer.value = float(i)
                fbos[dst].use()
                pp_vao.render(moderngl.TRIANGLES, vertices=3)
            if sharp:
                nearest.clear(0)
                nearest.clear(1)

        def minimal(layers: moderngl.TextureArray = layers, n: int = n) -> None:
            fbos[0].use()
            layers.use(0)
            nearest.use(0)
            u_count.value = n
            min_vao.render(moderngl.TRIANGLES, vertices=3)
            nearest.clear(0)

        a = median_ms(one_pass, repeat, ctx)
        m = median_ms(minimal, repeat, ctx)
        b = median_ms(ping_pong, repeat, ctx)
        c = median_ms(functools.partial(ping_pong, sharp=True), repeat, ctx)
        print(f"{n:>7} {a:>14.1f} {m:>11.1f} {b:>13.1f} {b / a:>6.2f}x {c:>14.1f} {c / a:>6.2f}x")
        layers.release()
    merge.release()
    nearest.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    parser.add_argument("--skip-render", action="store_true")
    args = parser.parse_args()
    ctx = headless_context()
    print(f"GL: {describe(ctx)}; CPU cores: {os.cpu_count()}")
    bench_merge(ctx, [1, 8, 16, 32, 64], repeat=3 if args.quick else 7)
    ctx.release()
    if not args.skip_render:
        bench_render([1, 8, 32, 64], duration=1.0 if args.quick else 3.0)


if __name__ == "__main__":
    main()
