"""MIDI bindings, the byte-stream parser and MIDI learn: mido messages and bytes in,
params and command events out (no MIDI ports here)."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.midi.binding_files import load_bindings
from engine.midi.bindings import Binding, BindingMap, pitch_unit
from engine.midi.learn import Learner
from engine.midi.stream import MidiParser
from engine.params import ParamSpace, ParamSpec
from engine.sets import SetError


def space() -> ParamSpace:
    ps = ParamSpace()
    ps.register(ParamSpec("/a"))
    ps.register(ParamSpec("/b", default=0.0, kind="bool"))
    ps.register(ParamSpec("/d/1/w"))
    ps.register(ParamSpec("/d/2/w"))
    return ps


def cc(n: int, v: int, ch: int = 0) -> mido.Message:
    return mido.Message("control_change", channel=ch, control=n, value=v)


def bmap(*bs: Binding) -> BindingMap:
    return BindingMap("test", bs)


def val(ps: ParamSpace, path: str = "/a") -> float:
    return ps.target(path)[0]


# absolute controls
def test_cc7_maps_value_over_127_and_reports_param_commands():
    ps, m = space(), bmap(Binding("cc", "/a", number=7, takeover="jump"))
    ev = m.handle(cc(7, 64), ps, 1.5)
    assert val(ps) == 64 / 127
    assert [(e.time, e.source, e.address, e.value) for e in ev] == [
        (1.5, "midi:test", "/a", (64 / 127, 0.0))
    ]
    assert m.handle(cc(7, 64, ch=1), ps, 2.0) == []  # other channel
    assert m.handle(cc(8, 127), ps, 2.0) == [] and val(ps) == 64 / 127


def test_cc7_pattern_range_invert():
    ps = space()
    m = bmap(Binding("cc", "/d/*/w", number=1, range=(0.2, 0.6), invert=True, takeover="jump"))
    assert len(m.handle(cc(1, 127), ps, 0)) == 2
    assert val(ps, "/d/1/w") == pytest.approx(0.2, abs=1e-15) and val(ps, "/d/2/w") == val(
        ps, "/d/1/w"
    )
    m.handle(cc(1, 0), ps, 0)
    assert val(ps, "/d/2/w") == pytest.approx(0.6, abs=1e-15)


def test_cc14_msb_then_lsb():
    ps, m = space(), bmap(Binding("cc14", "/a", number=3, takeover="jump"))
    assert m.handle(cc(35, 100), ps, 0) == []  # an LSB before any MSB is ignored
    m.handle(cc(3, 64), ps, 0)  # MSB alone applies msb << 7
    assert val(ps) == 8192 / 16383
    m.handle(cc(35, 1), ps, 0)  # the LSB refines it
    assert val(ps) == 8193 / 16383
    m.handle(cc(3, 127), ps, 0)
    m.handle(cc(35, 127), ps, 0)
    assert val(ps) == 1.0
    m.handle(cc(3, 0), ps, 0)
    assert val(ps) == 0.0
    m.handle(cc(35, 127), ps, 0)
    assert val(ps) == 127 / 16383


def test_nrpn_select_data_entry_increment():
    ps, m = space(), bmap(Binding("nrpn", "/a", number=(1 << 7) | 2, takeover="jump"))
    assert m.handle(cc(6, 64), ps, 0) == []  # nothing selected yet
    m.handle(cc(99, 1), ps, 0)
    m.handle(cc(98, 2), ps, 0)
    m.handle(cc(6, 64), ps, 0)
    assert val(ps) == 8192 / 16383
    m.handle(cc(38, 5), ps, 0)
    assert val(ps) == 8197 / 16383
    m.handle(cc(96, 0), ps, 0)
    assert val(ps) == pytest.approx(8197 / 16383 + 0.01, abs=1e-12)
    m.handle(cc(97, 0), ps, 0)
    m.handle(cc(97, 0), ps, 0)
    assert val(ps) == pytest.approx(8197 / 16383 - 0.01, abs=1e-12)
    m.handle(cc(98, 3), ps, 0)  # another parameter: not ours
    assert m.handle(cc(6, 127), ps, 0) == []
    m.handle(cc(101, 0), ps, 0)  # an RPN deselects
    m.handle(cc(98, 2), ps, 0)
    assert m.handle(cc(6, 127), ps, 0) == []


def test_pitchbend_extremes_and_centre():
    assert (pitch_unit(-8192), pitch_unit(0), pitch_unit(8191)) == (0.0, 0.5, 1.0)
    ps, m = space(), bmap(Binding("pitchbend", "/a", takeover="jump"))
    for pitch, want in ((-8192, 0.0), (8191, 1.0), (0, 0.5), (-4096, 0.25)):
        m.handle(mido.Message("pitchwheel", pitch=pitch), ps, 0)
        assert val(ps) == want


@pytest.mark.parametrize(
    ("mode", "up", "down"),
    [("relative-twos", 3, 125), ("relative-offset", 67, 61), ("relative-signbit", 3, 67)],
)
def test_relative_modes(mode: str, up: int, down: int):
    ps = space()
    ps.set("/a", 0.5)
    m = bmap(Binding("cc", "/a", number=16, mode=mode, step=0.01))
    m.handle(cc(16, up), ps, 0)
    assert val(ps) == pytest.approx(0.53, abs=1e-12)
    m.handle(cc(16, down), ps, 0)
    m.handle(cc(16, down), ps, 0)
    assert val(ps) == pytest.approx(0.47, abs=1e-12)
    for _ in range(60):  # clamped at the range's end
        m.handle(cc(16, up), ps, 0)
    assert val(ps) == 1.0


def test_relative_ticks_values():
    from engine.midi.bindings import relative_ticks as r

    assert [r("relative-twos", v) for v in (0, 1, 63, 64, 65, 127)] == [0, 1, 63, -64, -63, -1]
    assert [r("relative-offset", v) for v in (64, 65, 63, 0, 127)] == [0, 1, -1, -64, 63]
    assert [r("relative-signbit", v) for v in (0, 1, 63, 64, 65, 127)] == [0, 1, 63, 0, -1, -63]


def test_soft_takeover_waits_for_the_crossing_then_tracks():
    ps = space()
    ps.set("/a", 0.5)
    m = bmap(Binding("cc", "/a", number=0))  # soft by default
    assert m.handle(cc(0, 10), ps, 0) == [] and val(ps) == 0.5
    assert m.handle(cc(0, 40), ps, 0) == [] and val(ps) == 0.5
    assert m.handle(cc(0, 70), ps, 0) != [] and val(ps) == 70 / 127  # crossed 0.5
    m.handle(cc(0, 20), ps, 0)  # now it tracks, even a jump
    assert val(ps) == 20 / 127
    ps.set("/a", 0.8)  # something else moves it: the fader must take it again
    assert m.handle(cc(0, 30), ps, 0) == [] and val(ps) == 0.8
    m.handle(cc(0, 101), ps, 0)  # within the tolerance of 0.8 (101.6 / 127): taken
    assert val(ps) == 101 / 127
    # a fader that starts right at the value takes it at once
    ps2 = space()
    assert bmap(Binding("cc", "/a", number=0)).handle(cc(0, 0), ps2, 0) != []


def test_jump_takeover_moves_at_once():
    ps = space()
    ps.set("/a", 0.5)
    bmap(Binding("cc", "/a", number=0, takeover="jump")).handle(cc(0, 10), ps, 0)
    assert val(ps) == 10 / 127


def note(n: int, vel: int, on: bool = True) -> mido.Message:
    return mido.Message("note_on" if on else "note_off", note=n, velocity=vel)


def test_toggle_momentary_trigger():
    ps = space()
    m = bmap(
        Binding("note", "/b", number=36, mode="toggle"),
        Binding("note", "/a", number=37, mode="momentary", range=(0.25, 0.75)),
        Binding("note", "/d/1/w", number=38, mode="trigger"),
    )
    m.handle(note(36, 100), ps, 0)
    assert val(ps, "/b") == 1.0
    m.handle(note(36, 0, on=False), ps, 0)  # release: no change
    assert val(ps, "/b") == 1.0
    m.handle(note(36, 1), ps, 0)
    assert val(ps, "/b") == 0.0
    m.handle(note(37, 90), ps, 0)
    assert val(ps) == 0.75
    m.handle(note(37, 0), ps, 0)  # note on with velocity 0 is a release
    assert val(ps) == 0.25
    m.handle(note(37, 90), ps, 0)
    m.handle(note(37, 64, on=False), ps, 0)
    assert val(ps) == 0.25
    assert m.handle(note(38, 0, on=False), ps, 0) == []
    m.handle(note(38, 10), ps, 0)
    assert val(ps, "/d/1/w") == 1.0


def test_cc_buttons_take_the_note_modes():
    """A button sending 127 pressed, 0 released (the nanoKONTROL2 factory setting)."""
    ps = space()
    m = bmap(
        Binding("cc", "/b", number=48, mode="toggle"),
        Binding("cc", "/a", number=49, mode="momentary", range=(0.2, 0.8)),
        Binding("cc", "/d/1/w", number=50, mode="trigger"),
    )
    for v, want in [(127, 1.0), (0, 1.0), (127, 0.0), (0, 0.0), (127, 1.0)]:
        m.handle(cc(48, v), ps, 0)
        assert val(ps, "/b") == want, (v, want)
    m.handle(cc(48, 100), ps, 0)  # still held (a pressure-sensitive button): no flip
    assert val(ps, "/b") == 1.0
    ps.set("/b", 0.0)  # muted elsewhere (OSC, a preset): the next press follows that
    m.handle(cc(48, 0), ps, 0)
    m.handle(cc(48, 127), ps, 0)
    assert val(ps, "/b") == 1.0
    m.handle(cc(49, 127), ps, 0)
    assert val(ps) == pytest.approx(0.8)
    m.handle(cc(49, 0), ps, 0)
    assert val(ps) == pytest.approx(0.2)
    assert m.handle(cc(50, 0), ps, 0) == []
    m.handle(cc(50, 127), ps, 0)
    assert val(ps, "/d/1/w") == 1.0


def test_commands_from_notes_and_buttons():
    ps = space()
    m = bmap(
        Binding("note", "/cue/go", number=40),
        Binding("cc", "/preset/load storm", number=45),
    )
    ev = m.handle(note(40, 127), ps, 3.0)
    assert [(e.address, e.value) for e in ev] == [("/cue/go", ())]
    assert m.handle(note(40, 0, on=False), ps, 3.0) == []
    assert [(e.address, e.value) for e in m.handle(cc(45, 127), ps, 0)] == [
        ("/preset/load", ("storm",))
    ]
    assert m.handle(cc(45, 127), ps, 0) == []  # held: no second fire
    assert m.handle(cc(45, 0), ps, 0) == []
    assert len(m.handle(cc(45, 100), ps, 0)) == 1


def test_program_change_loads_presets():
    ps = space()
    m = bmap(
        Binding("program", "/preset/load", presets=("calm", "storm")),
        Binding("program", "/cue/go", channel=1, number=9),
    )
    pc = mido.Message("program_change", program=1)
    assert [(e.address, e.value) for e in m.handle(pc, ps, 0)] == [("/preset/load", ("storm",))]
    assert m.handle(mido.Message("program_change", program=2), ps, 0) == []
    assert m.handle(mido.Message("program_change", channel=1, program=8), ps, 0) == []
    ev = m.handle(mido.Message("program_change", channel=1, program=9), ps, 0)
    assert [e.address for e in ev] == ["/cue/go"]


# loading
MAP = """
name = "Test pad"
port = "nanoKONTROL2"
[[bind]]
control = "cc"
number = 0
param = "/dreamer/1/weight"
[[bind]]
control = "note"
channel = 9
number = 36
param = "/cue/go"
on = 3
[[bind]]
control = "program"
param = "/preset/load"
presets = ["calm", "storm"]
"""


def test_load_bindings(tmp_path: Path):
    f = tmp_path / "pad.toml"
    f.write_text(MAP)
    m = load_bindings(f)
    assert (m.name, m.port, len(m.bindings)) == ("Test pad", "nanoKONTROL2", 3)
    assert m.bindings[0] == Binding("cc", "/dreamer/1/weight", mode="absolute")
    assert m.bindings[1].mode == "trigger" and m.bindings[1].on == 3
    assert m.bindings[1].channel == 9
    assert m.bindings[2].presets == ("calm", "storm")


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ('mode = "relative-twos"', "bind[1].mode"),
        ("off = 200", "bind[1].off"),
        ("range = [0.0, 2.0]", "bind[1].range"),
        ("colour = 1", "bind[1].colour"),
        ('takeover = "maybe"', "bind[1].takeover"),
    ],
)
def test_load_errors_name_file_and_field(tmp_path: Path, extra: str, where: str):
    f = tmp_path / "bad.toml"
    f.write_text(MAP.replace('param = "/cue/go"', f'param = "/cue/go"\n{extra}'))
    with pytest.raises(SetError) as e:
        load_bindings(f)
    assert e.value.where == where and str(e.value).startswith(str(f))


# the byte-stream parser
def test_parser_running_status_and_clock_inside_messages():
    p = MidiParser()
    data = bytes([0x90, 60, 0xF8, 100, 62, 0xFA, 90, 64, 0, 0xB1, 7, 127, 0xF8, 10, 20])
    out = p.feed(data)
    assert [m.bytes() for m in out] == [
        [0xF8],
        [0x90, 60, 100],
        [0xFA],
        [0x90, 62, 90],
        [0x90, 64, 0],
        [0xB1, 7, 127],
        [0xF8],
        [0xB1, 10, 20],
    ]
    assert p.counts == {"running status": 3}
    assert (p.used, p.dropped, p.pending) == (len(data), 0, 0)


def test_parser_sysex_stray_and_garbage():
    p = MidiParser()
    parts = [
        [5, 6],  # data with no status: stray
        [0xF7],  # stray sysex end
        [0xF0, 0x7E, 0xF8, 0x7F, 0xF7],  # sysex with a clock inside
        [7],  # running status was cancelled by the sysex: stray
        [0xF0, 1, 2, 0x80, 60, 0],  # unterminated sysex cut by a note off
        [0x90, 61],  # cut by an undefined status
        [0xF4, 0xF9, 0xC0, 5, 6],  # program change, then running status
        [0xF2, 1, 2, 3],  # song position, then a stray (system common ends running status)
        [0xE0, 0],  # truncated: pending
    ]
    data = bytes(b for part in parts for b in part)
    out = p.feed(data)
    assert [m.bytes() for m in out] == [
        [0xF8],
        [0xF0, 0x7E, 0x7F, 0xF7],
        [0x80, 60, 0],
        [0xC0, 5],
        [0xC0, 6],
        [0xF2, 1, 2],
    ]
    assert p.counts == {
        "stray data byte": 4,
        "stray sysex end": 1,
        "sysex": 1,
        "interrupted message": 2,
        "undefined status": 2,
        "running status": 1,
    }
    assert p.pending == 2 and p.dropped == 4 + 1 + 3 + 2 + 2
    assert p.used + p.dropped + p.pending == len(data)
    # the truncated bend completes in the next feed; 0x20 starts another by running status
    assert [m.bytes() for m in p.feed(bytes([0x40, 0x20]))] == [[0xE0, 0, 0x40]]
    assert p.pending == 1


def test_parser_byte_at_a_time_matches_whole():
    data = bytes([0x90, 60, 0xF8, 100, 62, 90, 0xF0, 1, 0xFE, 2, 0xF7, 0xE3, 0, 0x40])
    whole = [m.bytes() for m in MidiParser().feed(data)]
    p = MidiParser()
    parts = [m.bytes() for b in data for m in p.feed(bytes([b]))]
    assert parts == whole and len(whole) == 6


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=20))
def test_parser_random_bytes_never_raise_and_every_byte_is_accounted_for(
    data: bytes, cuts: list[int]
):
    """Every byte fed is used (in an emitted message), dropped (counted under a reason)
    or pending (an unfinished message): used + dropped + pending == bytes fed. The used
    bytes are exactly the emitted messages' bytes less the status bytes that running
    status filled in. Feeding in arbitrary chunks gives the same messages."""
    p = MidiParser()
    out = p.feed(data)
    assert p.used + p.dropped + p.pending == len(data)
    assert sum(len(m.bytes()) for m in out) == p.used + p.counts["running status"]
    chunked, pos = MidiParser(), 0
    got = []
    for n in [*cuts, len(data)]:
        got += chunked.feed(data[pos : pos + n])
        pos += n
    assert [m.bytes() for m in got] == [m.bytes() for m in out] and chunked.counts == p.counts


# learn
def test_learn_save_reload(tmp_path: Path):
    ps = space()
    f = tmp_path / "learned.toml"
    f.write_text('name = "pad"\n# my comment\n[[bind]]\ncontrol = "cc"\nnumber = 5\nparam = "/a"\n')
    lr = Learner(ps)
    assert lr.observe(cc(1, 3)) is None  # not armed
    lr.arm("/d/1/w")
    b1 = lr.observe(cc(20, 64, ch=2), t=0.0)
    assert b1 == Binding("cc", "/d/1/w", channel=2, number=20)
    b1 = lr.observe(cc(52, 10, ch=2), t=0.01)  # its LSB partner in the same burst
    assert b1 == Binding("cc14", "/d/1/w", channel=2, number=20)
    lr.arm("/b")
    b2 = lr.observe(note(36, 100))
    assert b2 is not None and b2.mode == "toggle"
    lr.arm("/cue/go")
    b3 = lr.observe(note(37, 100))
    assert b3 is not None and b3.mode == "trigger"
    lr.arm("/a")
    b4 = lr.observe(cc(21, 1), t=1.0)
    assert lr.observe(cc(53, 1), t=2.0) is None  # too late to be its LSB
    lr.save(f)
    assert "# my comment" in f.read_text()  # appended, the file kept
    m = load_bindings(f)
    assert m.bindings == [Binding("cc", "/a", number=5), b1, b2, b3, b4]
    # relearning a control replaces its binding
    lr2 = Learner(ps)
    lr2.arm("/d/2/w")
    b5 = lr2.observe(cc(5, 0))
    lr2.arm("/a")
    b6 = lr2.observe(mido.Message("pitchwheel", pitch=100))
    lr2.save(f)
    assert load_bindings(f).bindings == [b1, b2, b3, b4, b5, b6]
    assert load_bindings(f).name == "pad"


def test_learn_saves_custom_fields(tmp_path: Path):
    f = tmp_path / "new.toml"
    lr = Learner()
    b = Binding("program", "/preset/load", channel=3, presets=('a "q"', "b"), range=(0.1, 0.9))
    lr.learned.append(b)
    lr.save(f, port="APC")
    m = load_bindings(f)
    assert m.bindings == [b] and m.port == "APC" and m.name == "new"
