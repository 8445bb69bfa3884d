"""The live mapping script: a call's changes land only if the whole call returns, a broken
edit leaves the last good version running, errors name the file and line, and an edit
is picked up on reload. Scripts are real files in tmp_path run against real params."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.audio.analysis import audio_in_params
from engine.dreamer_params import FEATURE_OUTPUTS, dreamer_params
from engine.mapping import DreamerView, Mapping, MappingFrame, available_mappings, find_mapping
from engine.params import ParamError, ParamSpace, ParamSpec
from engine.visuals.merge import MERGE_PARAMS

ROOT = Path(__file__).resolve().parents[1]
FEATURES = [name for name, *_ in FEATURE_OUTPUTS]


@pytest.fixture
def params() -> ParamSpace:
    """A show's merge params and one dreamer's, as the mapping scripts address them."""
    space = ParamSpace()
    for spec in (*MERGE_PARAMS, *dreamer_params(1, hue=0.0, pitch=110.0)):
        space.register(spec)
    return space


def script(path: Path, *body: str) -> Path:
    """Write a mapping whose update(rig) runs `body`, one statement a line from line 2."""
    path.write_text("def update(rig):\n" + "".join(f"    {line}\n" for line in body))
    return path


def rig(params: ParamSpace, t: float = 0.0, dreamers: tuple[DreamerView, ...] = ()) -> MappingFrame:
    return MappingFrame(t, 1 / 30, round(t * 30), dreamers, 0.25, params)


def chaos(params: ParamSpace) -> float:
    """Where /merge/chaos is headed (it smooths, so its value lags the change)."""
    return params.target("/merge/chaos")[0]


def test_a_call_that_returns_applies_its_changes_with_their_fades(tmp_path, params):
    m = Mapping(script(tmp_path / "m.py", "rig.set('/dreamer/1/warp', 1.5, 2.0)"))
    assert m.error is None
    assert m.run(rig(params)) and m.calls == 1
    assert params.target("/dreamer/1/warp") == (1.5,)
    params.update(1.0)  # halfway through the 2-s fade (and its 0.3-s smoothing)
    assert 0.5 < params.get("/dreamer/1/warp") < 1.5


def test_the_script_reads_the_rig(tmp_path, params):
    path = script(
        tmp_path / "m.py",
        "d = rig.dreamers[0]",
        "rig.set(d.path + '/hue', d.alpha + rig.resonance)",
        "rig.set('/merge/chaos', rig.get('/merge/state') * rig.t)",
    )
    view = DreamerView(1, "/dreamer/1", {"alpha": 0.5})
    assert Mapping(path).run(rig(params, t=0.5, dreamers=(view,)))
    assert params.target("/dreamer/1/hue") == (0.75,)
    assert chaos(params) == pytest.approx(0.25)  # /merge/state defaults to 0.5


def test_a_call_that_raises_changes_nothing_and_names_the_line(tmp_path, params):
    path = script(tmp_path / "m.py", "rig.set('/merge/chaos', 0.9)", "raise RuntimeError('typo')")
    m = Mapping(path)
    assert not m.run(rig(params))
    assert chaos(params) == 0.0, "the set before the raise must not land"
    assert m.error is not None and m.calls == 0
    assert (m.error.path, m.error.line) == (path.resolve(), 3)
    assert m.error.message == "RuntimeError: typo"
    assert str(m.error) == f"{path.resolve()}:3: RuntimeError: typo"


def test_the_line_is_the_scripts_own_even_when_a_helper_raises(tmp_path, params):
    path = tmp_path / "m.py"
    path.write_text(
        "def level(x):\n    return 1 / x\n\n\n"
        "def update(rig):\n    rig.set('/merge/chaos', level(0))\n"
    )
    m = Mapping(path)
    assert not m.run(rig(params))
    assert m.error is not None and m.error.line == 2  # the division, not the call on line 6
    assert m.error.message.startswith("ZeroDivisionError")


def test_the_same_failure_is_one_error_a_new_one_replaces_it_a_success_clears_it(tmp_path, params):
    """The live loop reports an error when the object changes: once per failure."""
    path = script(tmp_path / "m.py", "rig.set('/merge/chaos', 1 / rig.t)")
    m = Mapping(path)
    assert not m.run(rig(params))
    first = m.error
    assert not m.run(rig(params))
    assert m.error is first
    script(path, "rig.set('/merge/chaos', 0.5)", "rig.set('/merge/nope', 1)")
    assert m.load()
    assert not m.run(rig(params))
    assert m.error is not first and m.error is not None and m.error.line == 3
    script(path, "rig.set('/merge/chaos', 0.5)")
    assert m.load() and m.run(rig(params))
    assert m.error is None and chaos(params) == 0.5


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("rig.set('/merge/nope', 0.5)", "ParamError: no param matches /merge/nope"),
        ("rig.set('/dreamer/9/*', 0.5)", "ParamError: no param matches /dreamer/9/*"),
        ("rig.dreamers[0].alhpa", "AttributeError: dreamer 1 has no feature 'alhpa'"),
    ],
)
def test_an_unknown_path_or_feature_changes_nothing_and_names_the_line(
    tmp_path, params, statement, message
):
    m = Mapping(script(tmp_path / "m.py", "rig.set('/merge/chaos', 0.9)", statement))
    view = DreamerView(1, "/dreamer/1", {"alpha": 0.5})
    assert not m.run(rig(params, dreamers=(view,)))
    assert chaos(params) == 0.0
    assert m.error is not None and m.error.line == 3 and m.error.message == message


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("rig.set('/dreamer/1/warp', 'wild')", "expects a number, got 'wild'"),
        ("rig.set('/dreamer/1/warp', float('nan'))", "value is not finite"),
        ("rig.set('/dreamer/1/blend', 'glitter')", "'glitter' is not one of"),
        ("rig.set('/dreamer/1/warp', (0.1, 0.2))", "expects 1 value(s), got 2"),
    ],
)
def test_a_bad_value_changes_nothing_that_frame(tmp_path, params, statement, problem):
    """Values are checked before any change lands: the good set before it waits too."""
    m = Mapping(script(tmp_path / "m.py", "rig.set('/merge/chaos', 0.9)", statement))
    warp, blend = params.target("/dreamer/1/warp"), params.target("/dreamer/1/blend")
    assert not m.run(rig(params))
    assert chaos(params) == 0.0
    assert (params.target("/dreamer/1/warp"), params.target("/dreamer/1/blend")) == (warp, blend)
    assert m.error is not None and problem in m.error.message
    assert (m.error.path, m.error.line) == (m.path, 3)  # the line of the bad set


def test_a_bad_fade_changes_nothing_and_names_its_line(tmp_path, params):
    m = Mapping(script(tmp_path / "m.py", "rig.set('/merge/chaos', 0.9, 'slow')"))
    assert not m.run(rig(params)) and chaos(params) == 0.0
    assert m.error is not None and m.error.line == 2 and "a fade is seconds" in m.error.message


def test_setting_a_read_only_param_changes_nothing_and_is_reported(tmp_path, params):
    m = Mapping(
        script(tmp_path / "m.py", "rig.set('/merge/chaos', 0.9)", "rig.set('/merge/fuse', 1)")
    )
    assert not m.run(rig(params))
    assert chaos(params) == 0.0
    assert m.error is not None and "read-only" in m.error.message and m.error.line == 3


def test_a_pattern_over_params_of_different_sizes_changes_none_of_them(params):
    """ParamSpace.set checks the value against every param a pattern matches first."""
    params.register(ParamSpec("/merge/zz", (0.0, 0.0), size=2))
    before = params.target("/merge/chaos")
    with pytest.raises(ParamError, match="expects 2 value"):
        params.set("/merge/*", 0.5)  # /merge/chaos takes it; /merge/zz (a point) cannot
    assert params.target("/merge/chaos") == before


def test_an_edit_is_picked_up_on_reload_and_an_unchanged_file_keeps_its_module(tmp_path, params):
    """load() re-runs the file only when its bytes change: a script's globals (a counter, a
    phase) survive a reload of the same text, and start again with new text."""
    counting = ("global n", "n = n + 1", "rig.set('/merge/chaos', n / 10)")
    path = tmp_path / "m.py"
    path.write_text("n = 0\n\n\ndef update(rig):\n" + "".join(f"    {s}\n" for s in counting))
    m = Mapping(path)
    for _ in range(3):
        assert m.run(rig(params))
    assert m.load()  # same bytes: the module keeps counting
    assert m.run(rig(params)) and chaos(params) == pytest.approx(0.4)
    path.write_text(path.read_text().replace("n / 10", "n / 100"))
    assert m.load()
    assert m.run(rig(params)) and chaos(params) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            "def update(rig):\n    rig.set('/merge/chaos', 0.9\n",
            2,
            "SyntaxError: '(' was never closed",
        ),
        ("import math\nSCALE = math.tau / zero\n\n\ndef update(rig):\n    pass\n", 2, "NameError"),
        ("def updates(rig):\n    pass\n", None, "defines no update(rig)"),
        ("update = 3\n", None, "defines no update(rig)"),
    ],
)
def test_a_broken_edit_keeps_the_last_good_update_running(tmp_path, params, source, line, message):
    path = script(tmp_path / "m.py", "rig.set('/merge/chaos', rig.t)")
    m = Mapping(path)
    assert m.run(rig(params, t=0.25))
    path.write_text(source)
    assert not m.load()
    assert m.error is not None and m.error.line == line and m.error.message.startswith(message)
    assert m.run(rig(params, t=0.5)), "the last good update() still runs"
    assert chaos(params) == 0.5
    script(path, "rig.set('/merge/chaos', 1 - rig.t)")
    assert m.load() and m.error is None
    assert m.run(rig(params, t=0.25)) and chaos(params) == 0.75


def test_a_script_broken_from_the_start_runs_nothing_until_fixed(tmp_path, params):
    path = tmp_path / "m.py"
    path.write_text("def update(rig)\n    pass\n")
    m = Mapping(path)
    assert m.error is not None and m.error.line == 1 and "SyntaxError" in m.error.message
    assert not m.run(rig(params)) and m.calls == 0
    script(path, "rig.set('/merge/chaos', 0.3)")
    assert m.load() and m.run(rig(params)) and chaos(params) == 0.3


def test_a_vanished_file_is_an_error_and_the_last_good_update_keeps_running(tmp_path, params):
    path = script(tmp_path / "m.py", "rig.set('/merge/chaos', 0.3)")
    m = Mapping(path)
    path.unlink()
    assert not m.load()
    assert m.error is not None and m.error.line is None and "cannot read" in m.error.message
    assert m.run(rig(params)) and chaos(params) == 0.3


def test_rig_helpers():
    assert MappingFrame.lerp(2.0, 4.0, 0.25) == 2.5
    assert MappingFrame.lerp(0.0, 10.0, 1.5) == 15.0  # no clamping: clamp() is for that
    assert (MappingFrame.clamp(-0.5), MappingFrame.clamp(0.4), MappingFrame.clamp(1.5)) == (
        0.0,
        0.4,
        1.0,
    )
    assert MappingFrame.clamp(5.0, -1.0, 2.0) == 2.0 and MappingFrame.clamp(-5.0, -1.0, 2.0) == -1.0
    # a beat shape: 1 on the beat, decaying through the cycle, again 1 on the next
    assert (
        MappingFrame.pulse(0.0) == 1.0
        and MappingFrame.pulse(1.0) == 1.0
        and MappingFrame.pulse(3.0) == 1.0
    )
    assert MappingFrame.pulse(0.5) == pytest.approx(math.exp(-4.0))
    assert MappingFrame.pulse(0.5, sharpness=2.0) == pytest.approx(math.exp(-1.0))
    assert MappingFrame.pulse(-0.25) == pytest.approx(MappingFrame.pulse(0.75))
    shape = [MappingFrame.pulse(i / 10) for i in range(10)]
    assert shape == sorted(shape, reverse=True) and shape[-1] < 0.001


def test_a_dreamer_view_reads_features_as_attributes_and_names_a_missing_one():
    view = DreamerView(3, "/dreamer/3", {"alpha": 0.25, "beat": 1.0})
    assert (view.alpha, view.beat, view.id, view.path) == (0.25, 1.0, 3, "/dreamer/3")
    with pytest.raises(AttributeError, match=r"dreamer 3 has no feature 'alhpa'"):
        _ = view.alhpa
    assert getattr(view, "theta", 0.5) == 0.5 and not hasattr(view, "theta")


def test_mappings_are_found_by_name_and_helpers_are_not_mappings(tmp_path):
    for name in ("drift.py", "_shared.py", "notes.txt"):
        (tmp_path / name).write_text("")
    assert available_mappings(tmp_path) == ["drift"]
    assert find_mapping("drift", tmp_path) == tmp_path / "drift.py"


@pytest.mark.parametrize("name", available_mappings(ROOT / "patches" / "mappings"))
def test_the_shipped_mappings_run_on_a_shows_params(params, name):
    for spec in (*dreamer_params(2, hue=0.5, pitch=220.0), *audio_in_params(8)):
        params.register(spec)
    m = Mapping(find_mapping(name, ROOT / "patches" / "mappings"))
    views = tuple(
        DreamerView(n, f"/dreamer/{n}", {f: params.get(f"/dreamer/{n}/{f}") for f in FEATURES})
        for n in (1, 2)
    )
    assert m.run(rig(params, dreamers=views)), m.error
    assert m.error is None
