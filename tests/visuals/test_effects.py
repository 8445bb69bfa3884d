"""ISF filters as effects: each against a numpy model of the same operation on the test
card, mix and bypass, chains over a dreamer's layer and over the merge in a show, their
params, other image inputs, sets naming them, and hot reload keeping the last good one."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scratch_folders

from engine.clock import Tick
from engine.fx_spec import FxSpec, parse_fx
from engine.params import ParamSpace
from engine.render import RenderOptions, load_set
from engine.sets import SetError
from engine.show import Folders, Show
from engine.visuals.dialect_base import DrawFrame, image_texture
from engine.visuals.effects import EffectChain, find_effect
from engine.visuals.shaders import SHADER_DIR, ShaderError
from engine.visuals.testcard import load_test_card

CARD = load_test_card()[..., :3].astype(np.float64)  # (180, 320, 3), top row first
SIZE = (CARD.shape[1], CARD.shape[0])
FRAME = DrawFrame(1.0, 1 / 30, 1, None, (2026.0, 1.0, 1.0, 0.0))
LEVELS = 2.0  # how far (of 255) the GPU may be from the model


@pytest.fixture
def card(gl):
    tex = image_texture(gl, load_test_card())
    yield tex
    tex.release()


def run_chain(gl, card, specs, values=None, frames=1):
    """The chain over the test card at its own size: (h, w, 3) floats, top row first."""
    params = ParamSpace()
    chain = EffectChain(
        gl, SIZE, "/master", [FxSpec(s) if isinstance(s, str) else s for s in specs], params
    )
    out = gl.texture(SIZE, 4)
    fbo = gl.framebuffer(color_attachments=[out])
    try:
        for path, value in (values or {}).items():
            params.set(path, value, jump=True)
        drawn = True
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        for i in range(frames):
            drawn = chain.render(DrawFrame(i / 30, 1 / 30, i, None, FRAME.date), fbo, 0, src=card)
        img = np.frombuffer(fbo.read(components=3), np.uint8).reshape(SIZE[1], SIZE[0], 3)
        return img[::-1].astype(np.float64), drawn, params
    finally:
        fbo.release()
        out.release()
        chain.release()


def blur_model(img: np.ndarray, radius: float) -> np.ndarray:
    sigma = max(radius * 0.5, 1e-3)
    taps = np.arange(-8, 9)
    w = np.where(np.abs(taps) <= radius, np.exp(-0.5 * taps**2 / sigma**2), 0.0)
    w /= w.sum()
    out = img / 255.0
    for axis in (1, 0):
        pad = [(8, 8) if a == axis else (0, 0) for a in range(3)]
        padded = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        out = sum(
            wi * np.take(padded, np.arange(n) + 8 + t, axis=axis)
            for t, wi in zip(taps, w, strict=True)
        )
    return out * 255.0


def hue_model(img: np.ndarray, shift: float, saturation: float, brightness: float) -> np.ndarray:
    c = img / 255.0
    hi, lo = c.max(-1), c.min(-1)
    d = hi - lo
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    safe = np.where(d > 1e-6, d, 1.0)
    h = np.where(
        hi == r,
        np.mod((g - b) / safe, 6.0),
        np.where(hi == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    h = np.where(d > 1e-6, h / 6.0, 0.0)
    s = np.where(hi > 1e-6, d / np.where(hi > 1e-6, hi, 1.0), 0.0)
    h, s, v = np.mod(h + shift, 1.0), np.clip(s * saturation, 0, 1), hi * brightness
    k = np.clip(
        np.abs(np.mod(h[..., None] * 6.0 + np.array([0.0, 4.0, 2.0]), 6.0) - 3.0) - 1.0, 0, 1
    )
    return np.clip(v[..., None] * (1 - s[..., None] + s[..., None] * k), 0, 1) * 255.0


def far(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max())


# each effect against its model -------------------------------------------------------------


@pytest.mark.parametrize("radius", [1.0, 3.0, 6.5])
def test_blur_is_a_gaussian_blur(gl, card, radius):
    img, _, _ = run_chain(gl, card, ["blur"], {"/master/fx/0/radius": radius})
    model = blur_model(CARD, radius)
    assert far(img, model) <= LEVELS
    assert far(img, CARD) > 40, "and it did blur"


@pytest.mark.parametrize(("shift", "sat", "value"), [(0.25, 1.0, 1.0), (0.6, 0.4, 1.3)])
def test_hue_shift_turns_hues_as_hsv_does(gl, card, shift, sat, value):
    values = {"/master/fx/0/shift": shift, "/master/fx/0/saturation": sat}
    values["/master/fx/0/brightness"] = value
    img, _, _ = run_chain(gl, card, ["hue_shift"], values)
    assert far(img, hue_model(CARD, shift, sat, value)) <= LEVELS
    assert far(img, CARD) > 100


def test_a_chain_runs_in_order_with_mix_and_bypass(gl, card):
    both, _, _ = run_chain(gl, card, ["hue_shift", "blur"])
    model = blur_model(hue_model(CARD, 0.25, 1.0, 1.0), 3.0)
    assert far(both, model) <= LEVELS + 1  # the hue shift's output is rounded to 8 bits
    half, _, _ = run_chain(gl, card, ["hue_shift"], {"/master/fx/0/mix": 0.5})
    assert far(half, 0.5 * CARD + 0.5 * hue_model(CARD, 0.25, 1.0, 1.0)) <= LEVELS
    skipped, _, _ = run_chain(gl, card, ["hue_shift", "blur"], {"/master/fx/0/bypass": 1})
    assert far(skipped, blur_model(CARD, 3.0)) <= LEVELS
    _, drawn, _ = run_chain(gl, card, ["blur"], {"/master/fx/0/bypass": 1})
    assert not drawn, "all bypassed: nothing drawn, the image stays as it was"


def test_feedback_remembers_and_fades(gl, card):
    one, _, _ = run_chain(gl, card, ["feedback"], frames=1)
    assert far(one, CARD) <= 1, "the first frame is the input"
    many, _, _ = run_chain(gl, card, ["feedback"], frames=6)
    assert (many >= CARD - 1).all() and np.abs(many - CARD).mean() > 2, "trails add light"
    none, _, _ = run_chain(gl, card, ["feedback"], {"/master/fx/0/decay": 0.0}, frames=6)
    assert far(none, CARD) <= 1


def test_effect_params_sit_under_the_chain(gl, card):
    _, _, params = run_chain(gl, card, ["blur", "hue_shift"])
    paths = {s.path for s in params}
    assert {"/master/fx/0/radius", "/master/fx/0/mix", "/master/fx/0/bypass"} <= paths
    assert {"/master/fx/1/shift", "/master/fx/1/saturation", "/master/fx/1/mix"} <= paths


def test_a_shader_without_input_image_is_not_an_effect(gl, tmp_path):
    (tmp_path / "fx").mkdir()
    (tmp_path / "fx" / "plain.fs").write_text(
        '/*{"ISFVSN": "2"}*/\nvoid main() { gl_FragColor = vec4(1.0); }\n'
    )
    with pytest.raises(ShaderError, match="inputImage"):
        EffectChain(gl, (32, 18), "/master", [FxSpec("plain")], ParamSpace(), tmp_path)
    with pytest.raises(ShaderError, match="no effect 'nope'"):
        find_effect("nope", tmp_path)


# in sets and shows ------------------------------------------------------------------------

SET = """
{master}
[set]
duration = 10.0
fps = 30
size = [64, 36]
layer_scale = 1.0
seed = 3
[[dreamers]]
count = 2
shader = "tide"
patch = "drone"
stages = [[0.0, "N2"]]
fx = {fx}
"""


def show_of(
    gl, tmp_path, fx='["blur", "hue_shift"]', master='master_fx = ["feedback"]', folders=None
):
    path = tmp_path / "fx.toml"
    path.write_text(SET.format(fx=fx, master=master))
    return Show(load_set(path, folders), gl, audio=False, folders=folders)


def frames(show: Show, n: int = 3, changes=None) -> np.ndarray:
    img = None
    for i in range(n):
        if i == 1 and changes:
            for p, v in changes.items():
                show.params.set(p, v, jump=True)
        img = show.step(Tick(i, i / 30, 1 / 30 if i else 0.0)).image
    assert img is not None
    return img.astype(np.float64)


def test_moving_an_effect_param_changes_the_frame(gl, tmp_path):
    shows = [show_of(gl, tmp_path) for _ in range(4)]
    try:
        assert {"/dreamer/1/fx/0/radius", "/dreamer/2/fx/1/shift", "/master/fx/0/decay"} <= {
            s.path for s in shows[0].params
        }
        same = [frames(shows[0]), frames(shows[1])]
        moved = frames(shows[2], changes={"/dreamer/1/fx/1/shift": 0.7})
        master = frames(shows[3], changes={"/master/fx/0/bypass": 1, "/dreamer/2/fx/0/radius": 0})
    finally:
        for s in shows:
            s.close()
    assert np.array_equal(same[0], same[1]), "same set, same seed: the same frames"
    assert np.abs(moved - same[0]).mean() > 1
    assert np.abs(master - same[0]).mean() > 1


def test_other_image_inputs_take_layers_and_files(gl, tmp_path):
    shaders = tmp_path / "shaders"
    (shaders / "fx").mkdir(parents=True)
    for name in ("tide.glsl",):
        (shaders / name).write_text((SHADER_DIR / name).read_text())
    (shaders / "fx" / "show_other.fs").write_text(
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"},'
        ' {"NAME": "other", "TYPE": "image"}]}*/\n'
        "void main() { gl_FragColor = IMG_THIS_NORM_PIXEL(other); }\n"
    )
    folders = Folders(shaders=shaders)
    (tmp_path / "red.png").write_bytes(_red_png())
    show = show_of(
        gl,
        tmp_path,
        fx='[{ shader = "show_other", images = { other = "red.png" } }]',
        master='master_fx = [{ shader = "show_other", images = { other = "dreamer/2" } }]',
        folders=folders,
    )
    try:
        frames(show, 2)
        layer = show.layers.read_layer(0)[..., :3]
        assert (layer[..., 0] >= 250).all() and (layer[..., 1:] <= 5).all(), "the file"
        final = show.merge.read().astype(int)
        # the master reads dreamer 2's layer as drawn, before that dreamer's own effects
        raw = show.fx._layer_copies[1].read()
        want = np.frombuffer(raw, np.uint8).reshape(36, 64, 4)[::-1, :, :3].astype(int)
        assert np.abs(final - want).max() <= 2 and want.std() > 10
        assert np.abs(final - (255, 0, 0)).mean() > 50, "not the red it turned into"
    finally:
        show.close()


def _red_png() -> bytes:
    from engine.visuals.testcard import encode_png

    img = np.zeros((4, 4, 4), np.uint8)
    img[..., 0] = img[..., 3] = 255
    return encode_png(img)


def test_sets_name_effects_and_bad_ones_are_reported(gl, tmp_path):
    assert parse_fx(["blur", {"shader": "feedback", "mix": 0.5}], "fx")[1].mix == 0.5
    for fx, words in [
        ('[{ shader = "blur", mix = 2 }]', "dreamers[0].fx[0].mix"),
        ('[{ shader = "blur", wet = 1 }]', "dreamers[0].fx[0].wet: unknown field"),
        ("[3]", "dreamers[0].fx[0]: must be"),
    ]:
        with pytest.raises(SetError, match=words.replace("[", r"\[").replace("]", r"\]")):
            show_of(gl, tmp_path, fx=fx)
    with pytest.raises(SetError, match=r"dreamers\[0\]\.fx\[1\].*no effect 'blurr'"):
        show_of(gl, tmp_path, fx='["blur", "blurr"]')
    bad = '[{ shader = "blur", images = { nothing = "merge" } }]'
    with pytest.raises(SetError, match="no image input 'nothing'"):
        show_of(gl, tmp_path, fx=bad)


def test_a_broken_effect_keeps_the_last_good_one(gl, tmp_path):
    shaders = tmp_path / "shaders"
    (shaders / "fx").mkdir(parents=True)
    (shaders / "tide.glsl").write_text((SHADER_DIR / "tide.glsl").read_text())
    fx = shaders / "fx" / "tint.fs"
    body = (
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n'
        "void main() { gl_FragColor = vec4(RGB, 1.0); }\n"
    )
    fx.write_text(body.replace("RGB", "0.2, 0.4, 0.6"))
    show = show_of(gl, tmp_path, fx="[]", master='master_fx = ["tint"]', folders=Folders(shaders))
    try:
        assert tuple(frames(show, 1)[5, 5]) == (51, 102, 153)
        fx.write_text(body.replace("RGB", "0.2, oops"))
        errors = show.reload_effect(fx)
        assert len(errors) == 1 and errors[0].line == 2
        assert tuple(frames(show, 1)[5, 5]) == (51, 102, 153), "the last good one"
        fx.write_text(body.replace("RGB", "0.8, 0.4, 0.2"))
        assert show.reload_effect(fx) == [] and show.fx.uses(fx)
        assert tuple(frames(show, 1)[5, 5]) == (204, 102, 51)
    finally:
        show.close()


def test_the_live_runner_reloads_an_edited_effect(gl, tmp_path):
    from engine.clock import FrameClock
    from engine.live import Live

    shaders = tmp_path / "shaders"
    (shaders / "fx").mkdir(parents=True)
    (shaders / "tide.glsl").write_text((SHADER_DIR / "tide.glsl").read_text())
    fx = shaders / "fx" / "tint.fs"
    body = (
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n'
        "void main() { gl_FragColor = vec4(RGB, 1.0); }\n"
    )
    fx.write_text(body.replace("RGB", "0.2, 0.4, 0.6"))
    show = show_of(gl, tmp_path, fx="[]", master='master_fx = ["tint"]', folders=Folders(shaders))
    live = Live(show, clock=FrameClock(15), watch=False)
    try:
        assert tuple(live.step().image[5, 5]) == (51, 102, 153)
        fx.write_text(body.replace("RGB", "0.2, oops"))
        live.file_changed(fx)
        assert tuple(live.step().image[5, 5]) == (51, 102, 153), "the show goes on"
        assert live.errors and live.errors[-1].line == 2 and live.errors[-1].path == fx
        fx.write_text(body.replace("RGB", "0.8, 0.4, 0.2"))
        live.file_changed(fx)
        assert tuple(live.step().image[5, 5]) == (204, 102, 51)
    finally:
        live.close()
        show.close()


def test_a_replay_shows_the_effects_as_they_were_edited_live(gl, tmp_path):
    import hashlib

    from engine import record
    from engine.clock import RealtimeClock
    from engine.live import Live
    from engine.replay import replay

    folders = scratch_folders(
        tmp_path, "shaders/tide.glsl", "shaders/fx/blur.fs", "patches/drone.py", "patches/master.py"
    )
    fx = folders.shaders / "fx" / "tint.fs"
    body = (
        '/*{"ISFVSN": "2", "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n'
        "void main() { gl_FragColor = IMG_THIS_PIXEL(inputImage) * vec4(RGB, 1.0); }\n"
    )
    fx.write_text(body.replace("RGB", "1.0, 0.5, 0.5"))
    set_path = tmp_path / "fx.toml"
    text = SET.format(fx='["tint"]', master='master_fx = ["blur"]')
    set_path.write_text(text)
    spec = load_set(set_path, folders)
    log_path = tmp_path / "fx.oneiric"
    show = Show(spec, gl, folders=folders)
    writer = record.SessionWriter(
        log_path, set_path=set_path, set_text=text, seed=3, fps=30, size=(64, 36)
    )
    live = Live(show, clock=RealtimeClock(30), session=writer, watch=False)
    hashes = []
    try:
        for i in range(20):
            if i == 8:
                fx.write_text(body.replace("RGB", "0.3, 1.0, 0.6"))
                live.file_changed(fx)
            frame = live.step()
            hashes.append(hashlib.blake2b(frame.image.data, digest_size=16).hexdigest())
    finally:
        live.close()
        writer.close()
        show.close()
    assert hashes[7] != hashes[8], "the edit went in at once"
    fx.write_text(body.replace("RGB", "0.0, 0.0, 1.0"))  # later edits: the replay must not care
    assert replay(log_path, None, RenderOptions(audio=False, progress=False)).frame_hashes == hashes
