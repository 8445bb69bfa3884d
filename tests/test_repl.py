"""The console and the scenes it loads, against a real (small) live show."""

from __future__ import annotations

import io

import pytest

from engine import repl
from engine.clock import FrameClock
from engine.folders import SET_DIR
from engine.live import Live
from engine.params import ParamError
from engine.render import load_set
from engine.scenes import apply_scene, available_scenes, load_scene
from engine.sets import SetError
from engine.show import Show
from engine.sources.hypnogram import STAGES


@pytest.fixture(scope="module")
def live(gl):
    show = Show(load_set(SET_DIR / "demo.toml"), gl, size=(64, 36), audio=False)
    running = Live(show, clock=FrameClock(30), watch=False)
    yield running
    running.close()
    show.close()


def test_console_commands_reach_the_show(live):
    out = io.StringIO()
    stopped = []
    repl.execute(live, "set /merge/chaos 0.4", out, lambda: stopped.append(1))
    repl.execute(live, "set /merge/mode screen", out, lambda: None)
    repl.execute(live, "set /dreamer/*/warp 1.5 0.5", out, lambda: None)
    for _ in range(90):  # past the fade and the params' smoothing
        live.step()
    assert live.show.params.get("/merge/chaos") == pytest.approx(0.4)
    assert live.show.params.get("/merge/mode") == 1.0
    assert live.show.params.get("/dreamer/7/warp") == pytest.approx(1.5, abs=1e-3)
    repl.execute(live, "get /merge/chaos", out, lambda: None)
    repl.execute(live, "set /merge/nothing 1", out, lambda: None)
    repl.execute(live, "params /merge/*", out, lambda: None)
    repl.execute(live, "quit", out, lambda: stopped.append(1))
    text = out.getvalue()
    assert "/merge/chaos = 0.4" in text
    assert "? no param at /merge/nothing" in text
    assert "/merge/exposure" in text and "/dreamer/1/hue" not in text
    assert stopped == [1]


def test_features_are_read_only_params_the_console_shows_by_name(live):
    for _ in range(30):
        live.step()
    out = io.StringIO()
    repl.execute(live, "get /dreamer/1/heart", out, lambda: None)
    repl.execute(live, "get /dreamer/1/stage", out, lambda: None)
    repl.execute(live, "get /dreamer/1/alpha", out, lambda: None)
    repl.execute(live, "set /dreamer/1/heart 80", out, lambda: None)
    text = out.getvalue()
    heart = live.show.layer_fields(live.show.dreamers[0])["heart"]
    assert heart > 30  # the simulated heart is measured by now
    assert f"/dreamer/1/heart = {heart:.6g} bpm" in text
    stage = STAGES[int(live.show.params.get("/dreamer/1/stage"))]
    assert f"/dreamer/1/stage = {stage}\n" in text  # a name, not (0.0,)
    assert "/dreamer/1/alpha = 0." in text
    assert "? /dreamer/1/heart is read-only" in text
    assert live.show.params.get("/group/resonance") == pytest.approx(live.show.resonance)


def test_go_fires_the_next_cue_now(live):
    before = live.show._next_cue
    repl.execute(live, "go", io.StringIO(), lambda: None)
    live.step()
    assert live.show._next_cue == before + 1


@pytest.mark.parametrize("name", available_scenes())
def test_every_scene_applies_to_the_demo(live, name):
    scene = load_scene(name)
    assert apply_scene(scene, live.show.params) == len(scene.values)


def test_a_bad_scene_changes_nothing(live, tmp_path):
    (tmp_path / "bad.toml").write_text('fade = 1.0\n[values]\n"/merge/chaos" = 0.9\n"/nope" = 1\n')
    chaos = live.show.params.target("/merge/chaos")
    with pytest.raises(ParamError, match="/nope"):
        apply_scene(load_scene("bad", tmp_path), live.show.params)
    assert live.show.params.target("/merge/chaos") == chaos
    with pytest.raises(SetError, match="no scene 'gone'"):
        load_scene("gone", tmp_path)
