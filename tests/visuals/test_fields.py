"""The layer header's fields are generated from one table: each name reads its own slot
of the data row, in GLSL as in Python."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.features.dsp import BANDS
from engine.visuals.fields import DATA_TEXELS, FIELD_NAMES, FIELDS, glsl_fields
from engine.visuals.layers import SIGNAL_WIDTH, Draw, LayerStack
from engine.visuals.shaders import LayerSource


def test_each_field_is_loaded_from_its_own_slot():
    loads = dict(re.findall(r"^\s+(\w+) = _f(\d+\.[xyzw]);$", glsl_fields(), re.M))
    assert list(loads) == list(FIELD_NAMES)
    for name, where in loads.items():
        texel, comp = where.split(".")
        assert int(texel) * 4 + "xyzw".index(comp) == FIELDS[name]
    assert all(f"float {n};" in glsl_fields() for n in FIELD_NAMES)
    assert FIELD_NAMES[: len(BANDS)] == tuple(BANDS)  # the bands, as the features name them


@pytest.mark.parametrize("names", [("delta", "breath_rate", "tempo_phase")])
def test_a_layer_reads_the_values_the_row_carries(gl, tmp_path, names):
    path = tmp_path / "probe.glsl"
    path.write_text(f"vec4 layer(vec2 uv) {{ return vec4({', '.join(names)}, 1.0); }}\n")
    program = LayerSource.load(path).compile(gl)
    stack = LayerStack(gl, (8, 8), 1)
    try:
        row = np.zeros((1, DATA_TEXELS * 4), np.float32)
        for name, value in zip(names, (0.25, 0.5, 0.75), strict=True):
            row[0, FIELDS[name]] = value
        stack.upload(row, np.zeros((3, SIGNAL_WIDTH), np.float32))
        stack.render([Draw(program, 0, 1)], time=0.0, dt=0.0, frame=0)
        rgb = stack.read_layer(0)[4, 4, :3].astype(float) / 255
        np.testing.assert_allclose(rgb, (0.25, 0.5, 0.75), atol=2 / 255)
    finally:
        stack.release()
        program.release()
