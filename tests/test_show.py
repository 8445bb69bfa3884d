"""The show's one route from a param to a layer: every field a layer shader reads is a
param of the show, the row is filled from the param space alone, and a dreamer's share
of the merge is a read-only param of its own, apart from its `weight` control."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from engine.clock import FrameClock
from engine.render import load_set
from engine.show import Show
from engine.visuals.fields import DATA_TEXELS, FIELD_NAMES, LAYER_FIELDS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def listening(gl):
    """The shipped listen set (a music file in, a mapping on the first layer), 40x24."""
    spec = load_set(ROOT / "presets" / "sets" / "listen.toml")
    show = Show(spec, gl, audio=False, size=(40, 24))
    yield show
    show.close()


def test_every_layer_field_is_a_registered_param(listening):
    for d in listening.dreamers:
        for f in LAYER_FIELDS:
            spec = listening.params.spec(f.param(d.path))
            assert spec.doc or spec.path.startswith("/audio/in/"), f"{spec.path}: no description"
    outputs = {
        f.name for f in LAYER_FIELDS if not listening.params.spec(f.param("/dreamer/1")).writable
    }
    # what the show measures is read-only; the look of a layer is a control
    assert {"alpha", "heart", "t", "beat_age", "share", "audio_rms"} <= outputs
    assert {"hue", "warp", "speed", "weight", "bpm"}.isdisjoint(outputs)


def test_the_row_is_the_params_and_share_is_not_weight(listening):
    show, clock = listening, FrameClock(30)
    show.params.set("/dreamer/2/mute", 1.0)
    for _ in range(45):  # 1.5 s: the kick has sounded, the weights have settled
        show.step(clock.tick())
    data = np.frombuffer(show.layers.data.read(), np.float32).reshape(-1, DATA_TEXELS * 4)
    for d in show.dreamers:
        fields = show.layer_fields(d)
        assert list(fields) == list(FIELD_NAMES)
        # the uploaded row is exactly what the params say, field by field
        row = np.array(list(fields.values()), np.float32)
        np.testing.assert_array_equal(data[d.layer, : len(FIELD_NAMES)], row)
        assert fields["t"] == pytest.approx(show.params.get(f"{d.path}/time"))
    one, two = (show.layer_fields(d) for d in show.dreamers[:2])
    # the mapping moves dreamer 1's weight with the bass; its share follows its weight
    assert one["weight"] == pytest.approx(show.params.get("/dreamer/1/weight"))
    assert 0 < one["share"] <= one["weight"] + 1e-6
    assert two["weight"] == pytest.approx(1.0) and two["share"] == 0.0  # muted: no share
    assert one["audio_rms"] > 0 and one["audio_rms"] == show.params.get("/audio/in/rms")
    assert one["bpm"] == show.params.get("/tempo/bpm")


def test_a_set_without_audio_in_reads_zero_audio_fields(gl, tmp_path):
    path = tmp_path / "quiet.toml"
    path.write_text(
        "[set]\nduration = 2.0\nfps = 10\nsize = [32, 18]\nseed = 3\n"
        '[[dreamers]]\ncount = 1\nstages = [[0, "N2"]]\nshader = "tide"\npatch = "drone"\n'
    )
    show = Show(load_set(path), gl, audio=False)
    try:
        clock = FrameClock(10)
        for _ in range(3):
            show.step(clock.tick())
        fields = show.layer_fields(show.dreamers[0])
        assert not show.params.match("/audio/in/*")
        assert [fields[n] for n in FIELD_NAMES if n.startswith("audio_")] == [0.0] * 5
        assert fields["heart"] == show.params.get("/dreamer/1/heart")
    finally:
        show.close()


def test_the_shader_guide_lists_every_field():
    """shaders/README.md's table of what a layer reads names each field, none missing or extra."""
    text = (ROOT / "shaders" / "README.md").read_text()
    listed: list[str] = []
    for row in re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| float \|", text, re.M):
        listed += [n for n in re.findall(r"`([a-z_]+)`", row) if not n.startswith("u_")]
    assert sorted(listed) == sorted(FIELD_NAMES)
