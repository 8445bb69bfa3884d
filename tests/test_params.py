from __future__ import annotations

import math

import pytest

from engine.params import ParamError, ParamSpace, ParamSpec


def space(*specs: ParamSpec) -> ParamSpace:
    ps = ParamSpace()
    for s in specs:
        ps.register(s)
    return ps


def test_set_clamps_to_range_and_rejects_nonsense():
    ps = space(ParamSpec("/merge/chaos", 0.0))
    ps.set("/merge/chaos", 7.0)
    assert ps.get("/merge/chaos") == 1.0
    ps.set("/merge/chaos", -3)
    assert ps.get("/merge/chaos") == 0.0
    with pytest.raises(ParamError, match="not finite"):
        ps.set("/merge/chaos", math.nan)
    with pytest.raises(ParamError, match="expects a number"):
        ps.set("/merge/chaos", "loud")
    with pytest.raises(ParamError, match="no param"):
        ps.set("/merge/nothing", 1)


def test_fade_is_linear_in_time_then_holds():
    ps = space(ParamSpec("/a/x", 0.0, 0.0, 10.0))
    ps.set("/a/x", 10.0, fade=2.0)
    seen = []
    for _ in range(5):
        ps.update(0.5)
        seen.append(ps.get("/a/x"))
    assert seen == pytest.approx([2.5, 5.0, 7.5, 10.0, 10.0])


def test_smoothing_is_one_pole_with_its_time_constant():
    ps = space(ParamSpec("/a/x", 0.0, smooth=0.5))
    ps.set("/a/x", 1.0)
    ps.update(0.5)
    assert ps.get("/a/x") == pytest.approx(1 - math.exp(-1), abs=1e-9)
    for _ in range(200):
        ps.update(0.1)
    assert ps.get("/a/x") == 1.0


def test_log_curve_fades_evenly_in_octaves():
    ps = space(ParamSpec("/v/pitch", 100.0, 100.0, 400.0, curve="log"))
    ps.set("/v/pitch", 400.0, fade=1.0)
    ps.update(0.5)
    assert ps.get("/v/pitch") == pytest.approx(200.0)  # halfway in octaves, not in Hz
    spec = ps.spec("/v/pitch")
    assert spec.from_unit(0.5) == pytest.approx(200.0)
    assert spec.to_unit(200.0) == pytest.approx(0.5)


def test_enum_and_int_snap_instead_of_fading():
    ps = space(ParamSpec("/merge/mode", 0, kind="enum", choices=("add", "screen", "dream")))
    ps.set("/merge/mode", "dream", fade=3.0)
    assert ps.get("/merge/mode") == 2.0
    with pytest.raises(ParamError, match="not one of"):
        ps.set("/merge/mode", "sparkle")


def test_patterns_address_many_params_by_segment():
    ps = space(*(ParamSpec(f"/dreamer/{i}/weight", 1.0) for i in range(1, 4)))
    ps.register(ParamSpec("/dreamer/1/hue", 0.2))
    assert ps.set("/dreamer/*/weight", 0.5) == 3
    assert ps.get("/dreamer/2/weight") == 0.5
    assert ps.get("/dreamer/1/hue") == 0.2
    assert ps.match("/dreamer/*") == []  # * is one segment, not a prefix


def test_vector_params_and_observers():
    ps = space(ParamSpec("/layer/1/color", (1.0, 0.5, 0.0), size=3))
    seen = []
    ps.observers.append(lambda path, value, fade: seen.append((path, value, fade)))
    ps.set("/layer/1/color", (0.0, 2.0, 0.5), fade=1.0)
    ps.update(0.5)
    assert ps.get_vec("/layer/1/color") == pytest.approx((0.5, 0.75, 0.25))
    assert seen == [("/layer/1/color", (0.0, 1.0, 0.5), 1.0)]
    with pytest.raises(ParamError, match="expects 3"):
        ps.set("/layer/1/color", 1.0)


def test_reregistering_keeps_value_and_unregister_removes_subtree():
    ps = space(ParamSpec("/d/1/a", 0.2), ParamSpec("/d/1/b", 0.3), ParamSpec("/d/10/a", 0.4))
    ps.set("/d/1/a", 0.9)
    ps.register(ParamSpec("/d/1/a", 0.2, 0.0, 0.5))  # a reload narrows the range
    assert ps.get("/d/1/a") == 0.5
    assert ps.unregister("/d/1") == 2
    assert "/d/10/a" in ps and "/d/1/b" not in ps


def test_bad_specs_are_refused():
    with pytest.raises(ParamError):
        ParamSpec("no-slash")
    with pytest.raises(ParamError):
        ParamSpec("/a", 1.0, 2.0, 1.0)
    with pytest.raises(ParamError):
        ParamSpec("/a", 1.0, 0.0, 10.0, curve="log")


def test_jump_lands_at_once_past_smoothing():
    ps = space(ParamSpec("/a/x", 0.0, smooth=1.0))
    ps.set("/a/x", 0.8, jump=True)
    assert ps.get("/a/x") == 0.8
    ps.update(0.1)
    assert ps.get("/a/x") == 0.8
