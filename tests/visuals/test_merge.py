"""merge.frag against a numpy model of the same blend, on random layers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.visuals.merge import Blend, Merge, slot_table


def reference(
    layers: np.ndarray, table: np.ndarray, resonance: float, exposure: float = 1.0
) -> np.ndarray:
    """layers: (n, h, w, 3) floats in 0..1, top row first. Returns (h, w, 3)."""
    n, h, w, _ = layers.shape
    ys = 1.0 - (np.arange(h) + 0.5) / h
    xs = (np.arange(w) + 0.5) / w
    uvx, uvy = np.meshgrid(xs, ys)
    aspect = w / h
    sigma = 0.55 / np.sqrt(max(n, 1))
    inv2s2 = 1.0 / (2 * sigma * sigma)
    homes = table[:, 2:].astype(np.float64)
    d2 = ((uvx[None] - homes[:, 0, None, None]) * aspect) ** 2 + (
        uvy[None] - homes[:, 1, None, None]
    ) ** 2
    own = np.exp(-(d2 - d2.min(axis=0)) * inv2s2)
    own /= own.sum(axis=0)
    first_mode = int(table[0, 1])
    acc = np.full((h, w, 3), 1.0 if first_mode == Blend.MULTIPLY else 0.0)
    exposure_sum = np.zeros((h, w, 3))
    for i in range(n):
        wt, mode = float(table[i, 0]), int(table[i, 1])
        if wt <= 0:
            continue
        wmap = (wt * (own[i] * (1 - resonance) + resonance))[..., None]
        c = layers[i]
        if mode == Blend.ADD:
            acc = acc + wmap * c
        elif mode == Blend.SCREEN:
            acc = acc + wmap * c * (1 - acc)
        elif mode == Blend.MULTIPLY:
            acc = acc + (acc * c - acc) * wmap
        elif mode == Blend.DREAM:
            exposure_sum += wmap * c
        elif mode == Blend.LIGHTEN:
            acc = acc + (np.maximum(acc, c) - acc) * wmap
        elif mode == Blend.DIFFERENCE:
            acc = acc + (np.abs(acc - c) - acc) * wmap
    glow = 1 - np.exp(-exposure_sum * exposure)
    return 1 - (1 - np.clip(acc, 0, 1)) * (1 - glow)


def run_merge(gl, layers_u8, table, resonance: float, chaos=0.0, t=0.0, exposure=1.0):
    n, h, w, _ = layers_u8.shape
    tex = gl.texture_array((w, h, n), 4)
    # the shader samples layers in GL orientation (bottom row first): store them flipped
    rgba = np.concatenate([layers_u8[:, ::-1], np.full((n, h, w, 1), 255, np.uint8)], axis=-1)
    tex.write(np.ascontiguousarray(rgba))
    merge = Merge(gl, (w, h))
    try:
        values = {"/merge/fuse": resonance, "/merge/chaos": chaos, "/merge/exposure": exposure}
        merge.render(tex, table, values, time=t)
        return merge.read().copy()
    finally:
        merge.release()
        tex.release()


@pytest.mark.parametrize("n", [1, 7, 64])
@pytest.mark.parametrize("mode", list(Blend))
def test_merge_matches_numpy(gl, n, mode):
    rng = np.random.default_rng(n * 10 + int(mode))
    h, w = 36, 64
    layers = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    weights = rng.uniform(0.0, 1.0, n) * (2.0 / n if mode == Blend.ADD else 1.0)
    weights[rng.random(n) < 0.1] = 0.0  # some muted dreamers
    homes = rng.uniform(0, 1, (n, 2))
    table = slot_table(weights, np.full(n, int(mode)), homes)
    for resonance, exposure in ((0.0, 1.0), (0.4, 2.5), (1.0, 0.7)):
        got = run_merge(gl, layers, table, resonance, exposure=exposure).astype(np.float64)
        want = reference(layers / 255.0, table, resonance, exposure) * 255.0
        err = np.abs(got - want).max()
        assert err <= 2.0, f"mode {mode.name} n={n} resonance={resonance}: max error {err:.2f}/255"


def test_mixed_modes_per_layer(gl):
    rng = np.random.default_rng(5)
    n, h, w = 12, 24, 40
    layers = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    modes = rng.integers(0, len(Blend), n)
    modes[0] = Blend.MULTIPLY  # a multiply-bottom stack starts from white
    table = slot_table(rng.uniform(0, 0.6, n), modes, rng.uniform(0, 1, (n, 2)))
    got = run_merge(gl, layers, table, 0.7).astype(np.float64)
    want = reference(layers / 255.0, table, 0.7) * 255.0
    assert np.abs(got - want).max() <= 2.0


def test_resonance_fuses_layers(gl):
    """At resonance 0 each dreamer owns its region; at 1 all layers cover the frame."""
    n, h, w = 2, 36, 64
    layers = np.zeros((n, h, w, 3), np.uint8)
    layers[0, ..., 0] = 255  # red dreamer, home on the left
    layers[1, ..., 2] = 255  # blue dreamer, home on the right
    table = slot_table(np.ones(2), np.full(2, Blend.SCREEN), [[0.1, 0.5], [0.9, 0.5]])
    apart = run_merge(gl, layers, table, 0.0)
    fused = run_merge(gl, layers, table, 1.0)
    left, right = apart[:, : w // 4].mean(axis=(0, 1)), apart[:, -w // 4 :].mean(axis=(0, 1))
    assert left[0] > 200 and left[2] < 30, left
    assert right[2] > 200 and right[0] < 30, right
    assert fused[..., 0].min() > 250 and fused[..., 2].min() > 250


def test_chaos_tears_layers_deterministically(gl):
    rng = np.random.default_rng(9)
    n, h, w = 8, 72, 128
    layers = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    table = slot_table(np.full(n, 0.5), np.full(n, Blend.DREAM), rng.random((n, 2)))
    calm = run_merge(gl, layers, table, 0.5, chaos=0.0, t=1.0)
    torn = run_merge(gl, layers, table, 0.5, chaos=0.9, t=1.0)
    again = run_merge(gl, layers, table, 0.5, chaos=0.9, t=1.0)
    later = run_merge(gl, layers, table, 0.5, chaos=0.9, t=1.5)
    assert np.array_equal(torn, again)
    diff = np.abs(torn.astype(int) - calm.astype(int)).mean()
    assert diff > 10, f"chaos 0.9 changed the image by only {diff:.1f}/255 on average"
    assert not np.array_equal(torn, later), "the malfunction should flicker over time"


def test_smaller_layers_are_filtered_up_to_the_output(gl):
    """Layers rendered at a lower resolution (layer_scale) merge like full-size ones."""
    n, h, w = 5, 18, 32
    rng = np.random.default_rng(3)
    colours = rng.integers(0, 256, (n, 1, 1, 3), dtype=np.uint8)
    small = np.broadcast_to(colours, (n, h, w, 3)).copy()
    table = slot_table(rng.uniform(0.2, 0.8, n), np.full(n, Blend.SCREEN), rng.random((n, 2)))
    tex = gl.texture_array((w, h, n), 4)
    tex.write(np.concatenate([small, np.full((n, h, w, 1), 255, np.uint8)], axis=-1).tobytes())
    merge = Merge(gl, (2 * w, 2 * h))
    try:
        merge.render(tex, table, {"/merge/fuse": 0.3, "/merge/exposure": 1.0}, time=0.0)
        got = merge.read().astype(np.float64)
    finally:
        merge.release()
        tex.release()
    big = np.broadcast_to(colours, (n, 2 * h, 2 * w, 3)) / 255.0
    want = reference(big, table, 0.3) * 255.0
    assert np.abs(got - want).max() <= 2.0


def test_the_merge_uniforms_are_declared_from_the_param_specs(gl):
    """One route from a param to the pass: merge.frag declares none of the params'
    uniforms itself; each comes from its spec, and the compiled pass has them all."""
    from engine.visuals.merge import MERGE_PATH, UNIFORM_PARAMS, glsl_uniforms

    source = MERGE_PATH.read_text()
    assert "// @params" in source
    assert {s.uniform for s in UNIFORM_PARAMS} == {"u_resonance", "u_chaos", "u_exposure"}
    for spec in UNIFORM_PARAMS:
        assert f"uniform float {spec.uniform};" not in source
        assert f"uniform float {spec.uniform};" in glsl_uniforms()
    merge = Merge(gl, (32, 18))
    try:
        prog, _ = merge.variant(chaos=True, masks=True, mode=-1)
        assert all(spec.uniform in prog for spec in UNIFORM_PARAMS)
    finally:
        merge.release()
