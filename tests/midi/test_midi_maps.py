"""Controller maps (presets/controllers/), their LED feedback, and MIDI ports.

The maps are checked against the real controller layouts in
../shared/data/midi/controllers/*.json, and every param they name against the rig's
real param space. Ports are tested twice: the real rtmidi path (which here, with no ALSA
sequencer, must refuse with one clear message) and hot-plug logic against
:class:`StandInBackend`, a named stand-in for a MIDI system.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mido
import pytest
from conftest import DATA, ROOT

from engine.audio.controls import MASTER_PARAMS
from engine.dreamer_params import GROUP_PARAMS, dreamer_params
from engine.midi import feedback, ports
from engine.midi.feedback import feedback_changes, feedback_messages
from engine.params import ParamSpace
from engine.scenes import apply_scene, available_scenes, load_scene
from engine.visuals.merge import MERGE_PARAMS

MAP_DIR = ROOT / "presets" / "controllers"
LAYOUT_DIR = DATA / "midi" / "controllers"
MAPS = sorted(MAP_DIR.glob("*.toml"))

CC_MODES = {"absolute", "relative-twos", "relative-offset", "relative-signbit"}
BUTTON_MODES = {"trigger", "toggle", "momentary"}
CONTROLS = {"cc", "cc14", "nrpn", "pitchbend", "note", "program"}
COMMANDS = ("/cue/go",)
FIELDS = {
    "control": str,
    "channel": int,
    "number": int,
    "param": str,
    "mode": str,
    "range": list,
    "invert": bool,
    "takeover": str,
    "feedback": bool,
    "step": float,
    "on": int,
    "off": int,
    "presets": list,
}


def rig_params() -> ParamSpace:
    space = ParamSpace()
    for spec in (*MERGE_PARAMS, *MASTER_PARAMS, *GROUP_PARAMS):
        space.register(spec)
    for n in range(1, 9):
        for spec in dreamer_params(n, hue=0, pitch=110):
            space.register(spec)
    return space


def _hex_range(text: str) -> range:
    """ "0x00-0x3F (0-63)" -> range(0, 64)."""
    lo, hi = text.split()[0].split("-")
    return range(int(lo, 16), int(hi, 16) + 1)


def layout(map_path: Path) -> dict[str, Any]:
    """The controls a map may use, by kind, read from that controller's JSON layout:
    {"channels", "cc_continuous" (faders, knobs), "cc_buttons", "note_buttons" (pads too)}."""
    if not LAYOUT_DIR.is_dir():
        pytest.skip(f"shared controller layouts not found at {LAYOUT_DIR}")
    stem = map_path.stem
    if stem == "korg-nanokontrol2":
        j = json.loads((LAYOUT_DIR / "korg_nanokontrol2_cc_map.json").read_text())
        j["json"] = "korg_nanokontrol2_cc_map.json"
        buttons = j["solo_buttons_cc"] + j["mute_buttons_cc"] + j["rec_buttons_cc"]
        return {
            "source": j["source"],
            "json": j["json"],
            "channels": {0},
            "cc_continuous": set(j["faders_cc"] + j["knobs_cc"]),
            "cc_buttons": set(buttons + list(j["transport_cc"].values())),
            "note_buttons": set(),
        }
    if stem == "akai-apc-mini":
        j = json.loads((LAYOUT_DIR / "akai_apc_mini_map.json").read_text())
        j["json"] = "akai_apc_mini_map.json"
        pads = set(_hex_range(j["pad_grid_note_on"]["notes"]))
        others = {int(k, 16) for k in j["other_notes_in_mapping"]}
        faders = j["fader_cc"]
        return {
            "source": j["source"],
            "json": j["json"],
            "channels": {0},
            "cc_continuous": set(faders["channel_faders"] + [faders["master_fader"]]),
            "cc_buttons": set(),
            "note_buttons": pads | others,
        }
    if stem == "novation-launch-control-xl":
        j = json.loads((LAYOUT_DIR / "novation_launch_control_xl_map.json").read_text())
        j["json"] = "novation_launch_control_xl_map.json"
        knobs = [n for row in j["knobs_cc"].values() for n in row]
        return {
            "source": j["sources"][0],
            "json": j["json"],
            "channels": set(range(16)),  # user templates on 1-8, factory on 9-16
            "cc_continuous": set(knobs + j["faders_cc"]),
            "cc_buttons": set(j["nav_cc_partial"].values()),
            "note_buttons": set(j["track_focus_notes"] + j["track_control_notes"]),
        }
    raise AssertionError(f"{map_path.name}: no layout known for this controller")


def load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def test_there_are_the_three_maps() -> None:
    assert {p.stem for p in MAPS} >= {
        "korg-nanokontrol2",
        "akai-apc-mini",
        "novation-launch-control-xl",
    }


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.stem)
def test_map_follows_the_schema(path: Path) -> None:
    raw = load(path)
    assert set(raw) == {"name", "port", "bind"}, path.name
    assert isinstance(raw["name"], str) and raw["name"]
    assert isinstance(raw["port"], str) and raw["port"]
    scenes = set(available_scenes())
    for i, b in enumerate(raw["bind"]):
        where = f"{path.name} bind[{i}]"
        assert set(b) <= set(FIELDS), f"{where}: unknown field {set(b) - set(FIELDS)}"
        for key, value in b.items():
            assert type(value) is FIELDS[key], f"{where}.{key}: {value!r}"
        assert b["control"] in CONTROLS, where
        assert 0 <= b["channel"] <= 15, where
        assert 0 <= b.get("number", 0) <= (16383 if b["control"] == "nrpn" else 127), where
        if b["control"] == "cc":
            assert b.get("mode", "absolute") in CC_MODES | BUTTON_MODES, where
        if b["control"] == "nrpn":
            assert b.get("mode", "absolute") in CC_MODES, where
        if b["control"] == "note":
            assert b.get("mode", "trigger") in BUTTON_MODES, where
        assert b.get("takeover", "soft") in ("soft", "jump"), where
        if "range" in b:
            assert len(b["range"]) == 2, where  # 0..1 of the param's travel
            assert all(type(x) is float and 0 <= x <= 1 for x in b["range"]), where
        for key in ("on", "off"):
            assert 0 <= b.get(key, 0) <= 127, where
        if "presets" in b:
            assert b["control"] == "program" and set(b["presets"]) <= scenes, where
        if b["param"].startswith("/scene/load "):
            assert b["param"].split(" ", 1)[1] in scenes, where


def test_maps_load_through_the_bindings_loader() -> None:
    from engine.midi.binding_files import load_bindings

    for path in MAPS:
        assert load_bindings(path).bindings, path.name


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.stem)
def test_map_numbers_exist_on_the_controller(path: Path) -> None:
    lay = layout(path)
    comment = path.read_text().split("\n[", 1)[0]  # cites the layout and its source
    repo = re.search(r"[\w.-]+/[\w.-]+", lay["source"])
    assert repo and repo.group() in comment and lay["json"] in comment, path.name
    for i, b in enumerate(load(path)["bind"]):
        where = f"{path.name} bind[{i}] ({b['control']} {b['number']} -> {b['param']})"
        assert b["channel"] in lay["channels"], where
        if b["control"] == "cc":  # a bool param or a command: a button, else fader/knob
            button = b["param"].split()[0] in (*COMMANDS, "/scene/load")
            button = button or b["param"].endswith("/mute")
            kind = "cc_buttons" if button else "cc_continuous"
            assert b["number"] in lay[kind], f"{where}: not one of the controller's {kind}"
        elif b["control"] == "note":
            assert b["number"] in lay["note_buttons"], f"{where}: not a pad or note button"
        else:
            raise AssertionError(f"{where}: this controller sends no {b['control']}")
    controls = [(b["control"], b["channel"], b["number"]) for b in load(path)["bind"]]
    assert len(controls) == len(set(controls)), f"{path.name}: a control is bound twice"


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.stem)
def test_map_params_are_real_and_cover_the_show(path: Path) -> None:
    space = rig_params()
    binds = load(path)["bind"]
    for b in binds:
        target = b["param"]
        if target in COMMANDS or target.startswith("/scene/load "):
            continue
        assert space.match(target), f"{path.name}: {target} is not a rig param"
    targets = {b["param"] for b in binds}
    for n in range(1, 9):
        assert f"/dreamer/{n}/weight" in targets, path.name
        mute = [b for b in binds if b["param"] == f"/dreamer/{n}/mute"]
        assert len(mute) == 1 and mute[0]["feedback"], path.name
        assert mute[0]["mode"] == "toggle", path.name  # one press mutes, the next unmutes
    assert {"/cue/go", "/scene/load calm", "/scene/load storm", "/master/volume"} <= targets


def test_apc_mini_pads_light_in_its_colours() -> None:
    space = rig_params()
    space.set("/dreamer/2/mute", True)
    space.set("/dreamer/5/mute", 1)
    msgs = feedback_messages(MAP_DIR / "akai-apc-mini.toml", space)
    red, green = 3, 1  # the APC mini's velocity colours
    want = [
        mido.Message("note_on", channel=0, note=n - 1, velocity=red if n in (2, 5) else green)
        for n in range(1, 9)
    ]
    assert msgs == want


def test_nanokontrol2_mute_leds_are_cc_127_and_0() -> None:
    space = rig_params()
    space.set("/dreamer/8/mute", True)
    msgs = feedback_messages(MAP_DIR / "korg-nanokontrol2.toml", space)
    want = [
        mido.Message("control_change", channel=0, control=47 + n, value=127 if n == 8 else 0)
        for n in range(1, 9)
    ]
    assert msgs == want


def test_after_a_preset_only_changed_controls_are_sent() -> None:
    space = rig_params()
    path = MAP_DIR / "akai-apc-mini.toml"
    before = space.snapshot()
    apply_scene(load_scene("storm"), space)
    space.set("/dreamer/3/mute", True)
    for _ in range(300):
        space.update(1 / 30)
    after = space.snapshot()
    assert feedback_changes(path, before, after, params=space) == [
        mido.Message("note_on", channel=0, note=2, velocity=3)
    ]
    assert feedback_changes(path, after, after, params=space) == []


def test_cc_feedback_follows_range_curve_and_invert() -> None:
    space = rig_params()
    cmap = {
        "name": "t",
        "port": "t",
        "bind": [
            {"control": "cc", "channel": 2, "number": 7, "param": "/merge/exposure",
             "feedback": True},
            {"control": "cc", "channel": 2, "number": 8, "param": "/merge/chaos",
             "feedback": True, "invert": True, "range": [0.0, 0.5]},
            {"control": "cc", "channel": 2, "number": 11, "param": "/merge/resonance",
             "feedback": False},
            {"control": "cc", "channel": 2, "number": 9, "param": "/dreamer/1/pitch",
             "feedback": True},
            {"control": "cc", "channel": 2, "number": 10, "param": "/cue/go", "feedback": True},
        ],
    }  # fmt: skip
    space.set("/merge/exposure", 4.0, jump=True)  # half of 0..8
    space.set("/merge/chaos", 0.25, jump=True)  # half of the bound 0..0.5, inverted
    space.set("/dreamer/1/pitch", 200.0, jump=True)  # a log curve over 20..2000 Hz: exactly half
    msgs = feedback_messages(cmap, space)
    assert [(m.control, m.value) for m in msgs] == [(7, 64), (8, 64), (9, 64)]
    before = space.snapshot()
    apply_scene(load_scene("storm"), space)
    for _ in range(300):
        space.update(1 / 30)
    changed = feedback_changes(cmap, before, space.snapshot(), params=space)
    assert [(m.control, m.value) for m in changed] == [(8, 0)]  # chaos 0.9: past the range


def test_feedback_reads_a_map_from_a_dict_or_a_path() -> None:
    path = MAP_DIR / "korg-nanokontrol2.toml"
    assert feedback.load_map(path) == load(path)


# ports: the real path, with no MIDI system here


def _rtmidi_loads() -> bool:
    try:
        importlib.import_module("rtmidi")
    except ImportError:
        return False
    return True


def test_real_rtmidi_refuses_with_one_clear_message() -> None:
    for call in (
        ports.input_names,
        ports.output_names,
        lambda: ports.MidiInput("nanoKONTROL2"),
        lambda: ports.open_output("nanoKONTROL2"),
    ):
        with pytest.raises(ports.MidiUnavailable) as info:
            call()
        msg = str(info.value)
        if _rtmidi_loads():  # python-rtmidi installed: its ALSA client fails (no /dev/snd)
            assert msg == (
                "no MIDI system (ALSA sequencer not available): MIDI is off; "
                "the rest of the rig runs"
            )
        else:
            assert msg == ports.NO_RTMIDI
        assert "\n" not in msg


def test_connect_without_midi_gives_none_and_one_notice(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="engine.midi.ports"):
        assert ports.connect("APC MINI") is None
    assert [r.getMessage() for r in caplog.records] == [
        ports.NO_ALSA if _rtmidi_loads() else ports.NO_RTMIDI
    ]


# ports: hot-plug against a stand-in


class StandInPort:
    """A stand-in input port: a name, a queue, and a flag for being unplugged."""

    def __init__(self, name: str, system: StandInBackend) -> None:
        self.name = name
        self.system = system
        self.closed = False

    def iter_pending(self) -> Iterator[mido.Message]:
        if self.name not in self.system.plugged:
            raise OSError(f"{self.name}: device gone")
        queue = self.system.queued.setdefault(self.name, [])
        while queue:
            yield queue.pop(0)

    def close(self) -> None:
        self.closed = True


class StandInBackend:
    """STAND-IN for a MIDI system (the real rtmidi cannot run without /dev/snd): it
    implements the ports.Backend protocol so hot-plug logic can be tested. Tests plug
    and unplug devices by editing `plugged` and queue messages in `queued`."""

    def __init__(self, *plugged: str) -> None:
        self.plugged = list(plugged)
        self.queued: dict[str, list[mido.Message]] = {}
        self.opened: list[str] = []

    def get_input_names(self) -> list[str]:
        return list(self.plugged)

    def get_output_names(self) -> list[str]:
        return list(self.plugged)

    def open_input(self, name: str) -> StandInPort:
        if name not in self.plugged:
            raise OSError(f"unknown port {name!r}")
        self.opened.append(name)
        return StandInPort(name, self)

    def open_output(self, name: str) -> StandInPort:
        return self.open_input(name)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_open_by_exact_name_or_substring() -> None:
    names = ["nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0", "APC MINI:APC MINI MIDI 1 24:0"]
    assert ports.resolve(names, "APC MINI:APC MINI MIDI 1 24:0") == names[1]
    assert ports.resolve(names, "nanokontrol2") == names[0]
    assert ports.resolve(names, "Launch Control XL") is None
    be = StandInBackend(*names)
    assert ports.open_output("APC", be).name == names[1]
    with pytest.raises(ports.PortNotFound):
        ports.open_output("Launchpad", be)


def test_hot_plug_reopens_a_controller_that_came_back() -> None:
    name = "APC MINI:APC MINI MIDI 1 24:0"
    be, clock = StandInBackend(), Clock()
    inp = ports.MidiInput("APC MINI", be, clock=clock)
    assert not inp.connected and inp.drain() == []  # absent at start: no error

    be.plugged.append(name)
    clock.t = 1.0
    assert inp.drain() == [] and not inp.connected  # not re-scanned before 2 s
    clock.t = 2.0
    be.queued[name] = [mido.Message("note_on", note=3, velocity=127)]
    assert inp.drain() == [mido.Message("note_on", note=3, velocity=127)]
    assert inp.name == name and inp.drain() == []

    be.plugged.clear()  # unplugged: the read fails, the port is dropped, nothing raises
    port = inp.port
    assert inp.drain() == [] and not inp.connected
    assert isinstance(port, StandInPort) and port.closed

    be.plugged.append(name)  # back: reopened at the next scan
    clock.t = 4.0
    be.queued[name] = [mido.Message("control_change", control=48, value=90)]
    assert inp.drain() == [mido.Message("control_change", control=48, value=90)]
    assert be.opened == [name, name]


def test_poll_notices_a_port_gone_from_the_list() -> None:
    be, clock = StandInBackend("nanoKONTROL2 0"), Clock()
    inp = ports.MidiInput("nanoKONTROL2", be, clock=clock)
    assert inp.connected
    be.plugged = ["nanoKONTROL2 1"]  # replugged on another port number
    clock.t = 2.0
    assert inp.poll() and not inp.connected
    clock.t = 4.0
    assert inp.poll() and inp.name == "nanoKONTROL2 1"


def test_virtual_ports_fail_with_one_clear_notice_where_there_are_none():
    from engine.midi.ports import MidiUnavailable, RtMidiBackend

    try:
        pair = RtMidiBackend().open_virtual("oneiric-test")
    except MidiUnavailable as exc:
        assert "MIDI" in str(exc) and "\n" not in str(exc)
    else:  # a machine with a MIDI system: the pair is real
        for port in pair:
            port.close()
