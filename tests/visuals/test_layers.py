"""Layer shaders: every file in shaders/ compiles, draws, and answers to what it claims.

Each layer names its inputs in a comment line, `// drivers: alpha, breath, hue`
(field names from FIELDS, or eeg / ecg / resp for the raw signals). For every
driver the layer is drawn twice in one instanced draw, the driver low in layer 0
and high in layer 1, and the two images must differ. New shader files are picked
up by `available_layers()`, so they are covered without touching this file.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.visuals.dialects import detect
from engine.visuals.fields import DATA_TEXELS, FIELDS
from engine.visuals.layers import SIGNAL_WIDTH, Draw, LayerStack
from engine.visuals.shaders import (
    SHADER_DIR,
    LayerSource,
    ShaderError,
    available_layers,
    find_layer,
)

SIZE = (160, 90)
TIME = 3.0
LAYERS = [
    name for name in available_layers() if detect(find_layer(name)) == "rig"
]  # ISF etc.: test_dialects
SIGNALS = {"eeg": 0, "ecg": 1, "resp": 2}

# A plausible dreamer: light sleep (N2), a calm heart between beats, mid-breath.
BASE = {
    **{"delta": 0.3, "theta": 0.2, "alpha": 0.2, "sigma": 0.1, "beta": 0.1, "gamma": 0.05},
    **{"arousal": 0.4, "quality": 0.9, "heart": 62.0, "beat": 0.3},
    **{"breath": 0.5, "breath_phase": 0.25, "breath_rate": 12.0},
    **{"hue": 0.55, "warp": 0.3, "speed": 1.0, "seed": 0.2},
    **{"depth": 0.5, "stage": 2.0, "weight": 1.0, "t": 3.6, "beat_age": 0.5},
    **{"bpm": 120.0, "tempo_phase": 0.25},
    **{"audio_rms": 0.2, "audio_bass": 0.5, "audio_mid": 0.4, "audio_high": 0.3},
    **{"audio_onset": 0.0, "share": 1.0},
}
# Another dreamer, different in every field: dreaming (REM), aroused, mid-heartbeat.
OTHER = {
    **{"delta": 0.05, "theta": 0.5, "alpha": 0.6, "sigma": 0.35, "beta": 0.3, "gamma": 0.2},
    **{"arousal": 0.9, "quality": 0.6, "heart": 95.0, "beat": 0.9},
    **{"breath": 0.95, "breath_phase": 0.6, "breath_rate": 18.0},
    **{"hue": 0.05, "warp": 0.9, "speed": 1.7, "seed": 0.6},
    **{"depth": 0.2, "stage": 4.0, "weight": 0.5, "t": 9.1, "beat_age": 0.05},
    **{"bpm": 174.0, "tempo_phase": 0.8},
    **{"audio_rms": 0.6, "audio_bass": 0.9, "audio_mid": 0.7, "audio_high": 0.8},
    **{"audio_onset": 1.0, "share": 0.4},
}
# How far each driver swings in the response test: a trace of it vs plenty of it.
SWINGS = {
    **{"delta": (0.05, 0.7), "theta": (0.05, 0.6), "alpha": (0.05, 0.6), "sigma": (0.0, 0.4)},
    **{"beta": (0.05, 0.5), "gamma": (0.0, 0.4), "arousal": (0.05, 0.95), "quality": (0.1, 1.0)},
    **{"heart": (50.0, 110.0), "beat": (0.0, 1.0), "breath": (0.0, 1.0)},
    **{"breath_phase": (0.0, 0.5), "breath_rate": (6.0, 20.0), "hue": (0.0, 0.5)},
    **{"warp": (0.0, 1.0), "speed": (0.2, 2.0), "seed": (0.0, 0.5), "depth": (0.0, 1.0)},
    **{"stage": (2.0, 4.0), "weight": (0.2, 1.0), "t": (1.0, 5.0), "beat_age": (0.0, 1.0)},
    **{"bpm": (90.0, 174.0), "tempo_phase": (0.0, 0.5)},
    **{"audio_rms": (0.0, 0.8), "audio_bass": (0.0, 1.0), "audio_mid": (0.0, 1.0)},
    **{"audio_high": (0.0, 1.0), "audio_onset": (0.0, 1.0), "share": (0.2, 1.0)},
}
assert set(SWINGS) == set(FIELDS) == set(BASE) == set(OTHER)

# Mean |difference| between two renders, in 0..255 units, that counts as a response.
# The weakest response among the shipped layers (a single raw trace changing) is
# several times this; noise-free renders of the same inputs differ by exactly 0.
MIN_RESPONSE = 1.5


def row(**fields: float) -> np.ndarray:
    r = np.zeros(DATA_TEXELS * 4, np.float32)
    for name, value in {**BASE, **fields}.items():
        r[FIELDS[name]] = value
    return r


def signals(*, flat: tuple[str, ...] = (), sine: tuple[str, ...] = ()) -> np.ndarray:
    """One dreamer's (3, SIGNAL_WIDTH) raw signals over 2 s: alpha-ish EEG, a 70 bpm ECG,
    a slow breath. Channels in `flat` are 0; channels in `sine` are a 3 Hz sine."""
    s = np.linspace(0.0, 2.0, SIGNAL_WIDTH)
    noise = np.random.default_rng(7).standard_normal(s.size)
    eeg = 0.5 * np.sin(2 * np.pi * 9.5 * s) + 0.2 * np.sin(2 * np.pi * 2.1 * s) + 0.1 * noise
    phase = (s * 70 / 60) % 1.0
    ecg = 1.4 * np.exp(-(((phase - 0.3) / 0.015) ** 2)) + 0.2 * np.exp(
        -(((phase - 0.6) / 0.05) ** 2)
    )
    resp = np.sin(2 * np.pi * s / 4.0 + 0.5)
    out = np.stack([eeg, ecg - 0.3, resp]).astype(np.float32)
    for name in flat:
        out[SIGNALS[name]] = 0.0
    for name in sine:
        out[SIGNALS[name]] = 0.8 * np.sin(2 * np.pi * 3.0 * s)
    return out


def drivers(name: str) -> list[str]:
    """The inputs a layer claims in its `// drivers: a, b, c` line (empty if none)."""
    m = re.search(r"^\s*//\s*drivers:\s*(.+)$", (SHADER_DIR / f"{name}.glsl").read_text(), re.M)
    return re.findall(r"[a-z_]+", m[1]) if m else []


def render(gl, program, rows, sigs, *, first: int = 0, count: int | None = None) -> np.ndarray:
    """Draw `program` into a stack of len(rows) layers; all layers as (n, h, w, 3) floats."""
    n = len(rows)
    stack = LayerStack(gl, SIZE, n)
    try:
        stack.upload(np.stack(rows), np.concatenate(sigs))
        stack.render(
            [Draw(program, first, n - first if count is None else count)],
            time=TIME,
            dt=1 / 30,
            frame=90,
        )
        return np.stack([stack.read_layer(i)[..., :3] for i in range(n)]).astype(np.float64)
    finally:
        stack.release()


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def programs(gl):
    """Each layer compiled once for the module (llvmpipe compiles at the first draw: ~1 s)."""
    progs = {name: LayerSource.load(SHADER_DIR / f"{name}.glsl").compile(gl) for name in LAYERS}
    yield progs
    for prog in progs.values():
        prog.release()


def test_there_are_layers():
    assert len(LAYERS) >= 4, LAYERS


@pytest.mark.parametrize("name", LAYERS)
def test_layer_draws_an_image(gl, programs, name):
    rows = [row(), row(**OTHER), row(hue=0.8, seed=0.9)]
    images = render(gl, programs[name], rows, [signals()] * 3)
    for i, img in enumerate(images):
        assert img.max() > 40, f"{name}: layer {i} is (nearly) black"
        assert img.mean() > 2, f"{name}: layer {i} is (nearly) black"
        assert img.std() > 4, f"{name}: layer {i} is (nearly) constant"
        assert (img >= 254.5).mean() < 0.05, f"{name}: layer {i} clips over 5% of its pixels"


@pytest.mark.parametrize("name", LAYERS)
def test_layer_declares_known_drivers(name):
    claimed = drivers(name)
    assert claimed, f"{name}.glsl: add a `// drivers: ...` line naming the inputs it follows"
    unknown = set(claimed) - set(FIELDS) - set(SIGNALS)
    assert not unknown, f"{name}.glsl claims unknown drivers {sorted(unknown)}"


@pytest.mark.parametrize(("name", "driver"), [(name, d) for name in LAYERS for d in drivers(name)])
def test_layer_follows_each_driver(gl, programs, name, driver):
    if driver in SIGNALS:  # a raw signal: flat vs a 3 Hz sine
        rows = [row(), row()]
        sigs = [signals(flat=(driver,)), signals(sine=(driver,))]
    else:
        low, high = SWINGS[driver]
        rows = [row(**{driver: low}), row(**{driver: high})]
        sigs = [signals()] * 2
    low_img, high_img = render(gl, programs[name], rows, sigs)
    change = diff(low_img, high_img)
    assert change > MIN_RESPONSE, f"{name}: {driver} changes the image by only {change:.2f}/255"


@pytest.mark.parametrize("name", LAYERS)
def test_layer_is_per_dreamer(gl, programs, name):
    """Draw(first=1, count=2) fills layers 1 and 2, each from its own data row, not layer 0."""
    rows = [row(), row(), row(**OTHER)]
    sigs = [signals(), signals(), signals(sine=("eeg", "ecg", "resp"))]
    images = render(gl, programs[name], rows, sigs, first=1, count=2)
    assert images[0].max() == 0, f"{name}: layer 0 was drawn into"
    assert diff(images[1], images[2]) > MIN_RESPONSE, f"{name}: two dreamers look the same"


def test_instances_read_their_own_row(gl, tmp_path):
    path = tmp_path / "probe.glsl"
    path.write_text("vec4 layer(vec2 uv) { return vec4(hsv2rgb(vec3(hue, 1.0, 0.8)), 1.0); }\n")
    program = LayerSource.load(path).compile(gl)
    try:
        rows = [row(hue=0.0), row(hue=0.0), row(hue=1 / 3)]  # red, red, green
        images = render(gl, program, rows, [signals()] * 3, first=1, count=2)
    finally:
        program.release()
    assert images[0].max() == 0
    red, green = images[1][0, 0], images[2][0, 0]
    assert red[0] > 150 and red[1] < 20, red
    assert green[1] > 150 and green[0] < 20, green


def test_order_table_sends_instances_to_any_layer(gl, tmp_path):
    """Dreamers sharing a shader need not be neighbours: the order table places them."""
    path = tmp_path / "probe.glsl"
    path.write_text("vec4 layer(vec2 uv) { return vec4(hsv2rgb(vec3(hue, 1.0, 0.8)), 1.0); }\n")
    program = LayerSource.load(path).compile(gl)
    stack = LayerStack(gl, SIZE, 3)
    try:
        stack.upload(np.stack([row(hue=0.0), row(hue=0.5), row(hue=1 / 3)]))
        stack.set_order(np.array([2, 0, 1]))
        stack.render([Draw(program, 0, 2)], time=TIME, dt=1 / 30, frame=1)  # layers 2 and 0
        images = [stack.read_layer(i)[0, 0, :3].astype(int) for i in range(3)]
    finally:
        stack.release()
        program.release()
    assert images[1].max() == 0, "layer 1 is not in the first two entries of the order"
    assert images[0][0] > 150 and images[0][1] < 20, images[0]  # its own row: red
    assert images[2][1] > 150 and images[2][0] < 20, images[2]  # its own row: green


BROKEN = """\
// a typo on line 5
vec4 layer(vec2 uv) {
    vec3 c = hsv2rgb(vec3(hue, 0.8, 0.6));
    float glow = alpha * 2.0;
    float x = glow * ;
    return vec4(c * x, 1.0);
}
"""

UNDECLARED = """\
vec4 layer(vec2 uv) {
    vec3 c = hsv2rgb(vec3(hue, 0.8, 0.6));
    return vec4(c * brightnes, 1.0);
}
"""


@pytest.mark.parametrize(
    ("source", "line"),
    [
        pytest.param(BROKEN, 5, id="syntax"),
        pytest.param(UNDECLARED, 3, id="undeclared"),
    ],
)
def test_compile_error_names_file_and_line(gl, tmp_path, source, line):
    path = tmp_path / "broken.glsl"
    path.write_text(source)
    with pytest.raises(ShaderError) as info:
        LayerSource.load(path).compile(gl)
    err = info.value
    assert err.path == path
    assert err.line == line, str(err)
    assert str(err).startswith(f"{path}:{line}: ")
    assert err.message


def test_file_without_layer_function_is_rejected(tmp_path):
    path = tmp_path / "shadertoy.glsl"
    path.write_text("void mainImage(out vec4 c, in vec2 p) { c = vec4(1.0); }\n")
    with pytest.raises(ShaderError, match=re.escape("vec4 layer(vec2 uv)")) as info:
        LayerSource.load(path)
    assert info.value.path == path


def test_missing_file_is_a_shader_error(tmp_path):
    with pytest.raises(ShaderError, match="cannot read"):
        LayerSource.load(tmp_path / "nope.glsl")
