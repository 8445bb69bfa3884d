"""A recorded controller performance (a real MIDI file) played into the rig: the params
take the values its control changes imply, at the right frames."""

from __future__ import annotations

import mido
import pytest

from engine import commands
from engine.clock import FrameClock
from engine.folders import SET_DIR
from engine.midi.apply import midi_file_feeder
from engine.render import load_set
from engine.show import Show

MAP = """
name = "test map"
[[bind]]
control = "cc"
channel = 3
number = 1
param = "/merge/chaos"
takeover = "jump"
[[bind]]
control = "cc"
channel = 0
number = 64
param = "/master/reverb"
takeover = "jump"
"""


def cc_timeline(path, channel: int, control: int) -> list[tuple[float, int]]:
    """(seconds, value) of one CC, from ticks and the file's tempo map: computed here,
    not the way the player does it (it iterates mido's own conversion)."""
    mid = mido.MidiFile(path)
    tempo, tick, seconds, out = 500000, 0, 0.0, []
    for msg in mido.merge_tracks(mid.tracks):
        if msg.time:
            seconds += mido.tick2second(msg.time, mid.ticks_per_beat, tempo)
            tick += msg.time
        if msg.type == "set_tempo":
            tempo = msg.tempo
        elif msg.type == "control_change" and (msg.channel, msg.control) == (channel, control):
            out.append((seconds, msg.value))
    return out


def test_a_midi_file_moves_params_as_its_control_changes_say(tmp_path, gl, data_dir):
    path = data_dir / "midi" / "files" / "pretty-midi_example.mid"
    (tmp_path / "map.toml").write_text(MAP)
    show = Show(load_set(SET_DIR / "ritual.toml"), gl, size=(32, 18), fps=20, audio=False)
    fps, seconds = 20.0, 40.0
    before = midi_file_feeder(
        show, path, tmp_path / "map.toml", fps, lambda e: commands.run(commands.Offline(show), e)
    )
    chaos = cc_timeline(path, 3, 1)
    reverb = cc_timeline(path, 0, 64)
    assert chaos and chaos[0][0] < seconds, "the file moves CC 1 on channel 4 early on"
    clock = FrameClock(fps)
    checked = 0
    try:
        for frame in range(int(seconds * fps)):
            before(frame)
            show.step(clock.tick())
            t = frame / fps
            for timeline, param in ((chaos, "/merge/chaos"), (reverb, "/master/reverb")):
                past = [v for (when, v) in timeline if when <= t - 1e-6]
                near = any(abs(when - t) < 1e-4 for when, _ in timeline)
                if past and not near:  # skip frames that sit on a change (rounding)
                    want = show.params.spec(param).from_unit(past[-1] / 127)
                    assert show.params.target(param)[0] == pytest.approx(want), (param, t)
                    checked += 1
    finally:
        show.close()
    assert checked > 400  # both params, on most of the 800 frames
    assert len({v for _, v in chaos if _ < seconds}) > 10  # a real performance, not a constant


def test_render_with_midi_from_the_command_line(tmp_path, data_dir):
    import performance

    out = tmp_path / "midi.mp4"
    status = performance.main(
        [
            "render",
            str(SET_DIR / "ritual.toml"),
            "-o",
            str(out),
            "--size",
            "64x36",
            "--duration",
            "1.0",
            "--quiet",
            "--midi",
            str(data_dir / "midi" / "files" / "magenta_example_complex.mid"),
            "--controller",
            "akai-apc-mini",
        ]
    )
    assert status == 0 and out.stat().st_size > 1000
