"""Control maps: any OSC address onto any param, with range, curve, One Euro and deadband."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.clock import FrameClock
from engine.control_maps import OneEuro, load_controls
from engine.events import Event
from engine.folders import SET_DIR
from engine.live import Live
from engine.params import ParamSpace, ParamSpec
from engine.render import load_set
from engine.sets import SetError
from engine.show import Show

MAP = """
[[map]]
address = "/fader"
param = "/v/pitch"
in = [0, 127]
deadband = 0.01

[[map]]
address = "/tilt"
arg = 1
param = "/merge/chaos"
in = [-1.0, 1.0]
out = [0.0, 0.5]
invert = true
"""


def space() -> ParamSpace:
    ps = ParamSpace()
    ps.register(ParamSpec("/v/pitch", 100.0, 100.0, 400.0, curve="log"))
    ps.register(ParamSpec("/merge/chaos", 0.0))
    return ps


def test_ranges_curves_inversion_and_deadband(tmp_path):
    (tmp_path / "m.toml").write_text(MAP)
    ps = space()
    cm = load_controls("m", ps, tmp_path)
    out = cm.apply(Event(0.0, "osc", "/fader", (63.5,)), ps)
    assert ps.get("/v/pitch") == pytest.approx(200.0)  # halfway along a log curve
    assert out[0].address == "/v/pitch" and out[0].value[0] == pytest.approx(200.0)
    assert cm.apply(Event(0.1, "osc", "/fader", (64.0,)), ps) == []  # inside the deadband
    cm.apply(Event(0.2, "osc", "/tilt", (0.0, -1.0)), ps)  # fully one way, inverted
    assert ps.get("/merge/chaos") == pytest.approx(0.5)
    cm.apply(Event(0.3, "osc", "/tilt", (0.0, 5.0)), ps)  # past the range: clamped
    assert ps.get("/merge/chaos") == 0.0
    assert cm.apply(Event(0.4, "osc", "/tilt", (0.0, "loud")), ps) == []  # not a number
    assert cm.apply(Event(0.5, "osc", "/tilt", (math.nan, math.nan)), ps) == []
    assert not cm.knows("/other")


def test_one_euro_is_smooth_when_still_and_quick_when_moving():
    t = np.arange(0, 4, 1 / 60)
    outs = {}
    for beta in (0.0, 0.5):  # beta 0: a plain 1 Hz low-pass, for comparison
        rng = np.random.default_rng(0)
        f = OneEuro(min_cutoff=1.0, beta=beta)
        still = [f(0.5 + rng.normal(0, 0.02), ti) for ti in t[:120]]
        moved = [f(1.0, ti) for ti in t[120:150]]
        outs[beta] = (float(np.std(still[30:])), moved[5])
    assert outs[0.5][0] < 0.3 * 0.02, "jitter at rest is smoothed away"
    assert outs[0.5][1] > 0.9 > outs[0.0][1], "a real move is followed at once, unlike a low-pass"


def test_bad_maps_name_the_file_and_field(tmp_path):
    (tmp_path / "bad.toml").write_text('[[map]]\naddress = "/x"\nparam = "/nope"\n')
    with pytest.raises(SetError, match=r"map\[0\]\.param"):
        load_controls("bad", space(), tmp_path)
    (tmp_path / "typo.toml").write_text('[[map]]\naddress = "/x"\nparam = "/v/pitch"\nrnage = 1\n')
    with pytest.raises(SetError, match="rnage"):
        load_controls("typo", space(), tmp_path)


def test_the_shipped_touchosc_map_drives_the_demo_in_the_live_loop(gl):
    show = Show(load_set(SET_DIR / "demo.toml"), gl, size=(64, 36), audio=False)
    live = Live(show, clock=FrameClock(30), watch=False)
    try:
        live.controls = [load_controls("touchosc", show.params)]
        live.commands.push(Event(0.0, "osc", "/1/fader1", (0.75,)))
        live.commands.push(Event(0.0, "osc", "/1/fader5", (1.0,)))
        for _ in range(90):  # past the fade and the params' smoothing
            live.step()
        assert show.params.get("/merge/chaos") == pytest.approx(0.75)
        assert show.params.get("/dreamer/3/warp") == pytest.approx(2.0, abs=1e-3)
    finally:
        live.close()
        show.close()
