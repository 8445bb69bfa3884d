"""MIDI Time Code: SMPTE arithmetic, the MTC decoder from literal bytes, and a show's cue
list following MTC sent through a real MIDI port (JACK MIDI, python-rtmidi)."""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from pathlib import Path

import mido
import pytest
from test_jack import JACK_MIDI, JACKD, jack, jack_server  # noqa: F401  (fixtures)

from engine.clock import FrameClock
from engine.live import Live
from engine.midi.timecode import MtcClock, TimecodeFollower, full_frame, quarter_frames
from engine.render import load_set
from engine.sets import SetError
from engine.show import Show
from engine.smpte import Timecode, TimecodeSpec


def feed_bytes(clock: MtcClock, data: list[int], t: float) -> None:
    clock.feed(mido.Message.from_bytes(data), t)


@pytest.mark.parametrize(
    ("text", "rate", "frame"),
    [
        ("00:00:01:00", "30", 30),
        ("01:00:00:00", "25", 90000),
        ("00:01:00;02", "29.97df", 1800),  # ;00 and ;01 do not exist at minute 1
        ("00:10:00;00", "29.97df", 17982),  # every tenth minute keeps them
        ("01:00:00;00", "29.97df", 107892),
    ],
)
def test_timecode_labels_count_frames_as_smpte_does(text, rate, frame):
    tc = Timecode.parse(text, rate)
    assert tc.frame_number() == frame
    assert Timecode.from_frame_number(frame, rate) == tc
    assert str(tc).replace(";", ":") == text.replace(";", ":")


def test_drop_frame_keeps_to_the_wall_clock():
    hour = Timecode.parse("01:00:00;00", "29.97df").to_seconds()
    assert abs(hour - 3600) < 0.004  # 3.6 ms short of an hour, where 30 non-drop is off 3.6 s
    for n in range(0, 40000, 7):  # every frame label maps back to its frame
        assert Timecode.from_frame_number(n, "29.97df").frame_number() == n
    with pytest.raises(ValueError, match="out of range"):
        Timecode.parse("00:00:00:25", "25")


def test_a_full_frame_from_literal_bytes_locates():
    clock = MtcClock()
    assert clock.seconds_at(0.0) is None  # no lock yet
    # F0 7F 7F 01 01 hr mn sc fr F7: hr 0x61 = rate code 3 (30 fps), hour 1
    feed_bytes(clock, [0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x61, 0x02, 0x03, 0x04, 0xF7], 10.0)
    assert clock.timecode == Timecode(1, 2, 3, 4, "30")
    assert clock.take_jump() and not clock.take_jump()
    assert clock.seconds_at(11.0) == pytest.approx(3723 + 4 / 30)  # located: it waits
    feed_bytes(clock, [0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x2A, 0, 0, 0, 0xF7], 12.0)  # 25 fps
    assert clock.rate == "25" and clock.timecode == Timecode(10, 0, 0, 0, "25")


def test_quarter_frames_from_literal_bytes_lock_and_run():
    """01:00:00:00 at 25 fps as the eight F1 messages a sender puts out, one every 10 ms."""
    clock = MtcClock()
    pieces = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x61, 0x72]  # hours 1, rate code 1 (25)
    for k, piece in enumerate(pieces):
        feed_bytes(clock, [0xF1, piece], 100.0 + k * 0.01)
    assert clock.timecode == Timecode(1, 0, 0, 0, "25")
    assert clock.take_jump()  # the first lock is a locate
    at = 100.07
    assert clock.seconds_at(at) == pytest.approx(3600 + 1.75 / 25)  # 7/4 frames on
    assert clock.seconds_at(at + 0.1) == pytest.approx(3600 + 1.75 / 25 + 0.1)  # runs on
    assert clock.seconds_at(at + 5) == pytest.approx(3600 + 1.75 / 25)  # stopped: it holds


def test_a_running_stream_is_smooth_and_a_jump_in_it_is_a_locate():
    clock = MtcClock()
    start = Timecode.parse("00:59:58:00", "30")
    t = 0.0
    for cycle in range(30):  # two seconds of quarter frames, 120 a second
        tc = Timecode.from_frame_number(start.frame_number() + 2 * cycle, "30")
        for msg in quarter_frames(tc):
            clock.feed(msg, t)
            truth = tc.to_seconds() + (msg.frame_type / 4) / 30
            if cycle:  # locked: the position is the frame the sender is at
                assert clock.seconds_at(t) == pytest.approx(truth, abs=1e-9)
            t += 1 / 120
    assert clock.locates == 1
    for msg in quarter_frames(Timecode.parse("01:00:30:00", "30")):  # the sender jumped
        clock.feed(msg, t)
        t += 1 / 120
    assert clock.locates == 2 and clock.take_jump()
    assert clock.seconds_at(t) == pytest.approx(3630 + 2 / 30, abs=1e-6)


def test_full_frame_and_quarter_frames_round_trip_at_every_rate():
    for rate in ("24", "25", "29.97df", "30"):
        tc = Timecode.parse("13:27:45:12", rate)
        clock = MtcClock()
        clock.feed(full_frame(tc), 0.0)
        assert clock.timecode == tc
        for msg in quarter_frames(tc):
            clock.feed(msg, 1.0)
        assert clock.timecode == tc and clock.rate == rate


CUE_SET = """
[set]
duration = 60.0
fps = 30
size = [32, 18]

[merge]
chaos = 0.2

[[dreamers]]
count = 1
stages = [[0, "W"]]
shader = "tide"
patch = "drone"

[[cues]]
time = 1.0
set = { "/merge/chaos" = 0.5 }

[[cues]]
time = 2.0
name = "storm"
set = { "/merge/chaos" = 0.9 }

[timecode]
source = "mtc"
port = "mtc-sender"
offset = "01:00:00:00"
"""


def test_a_set_names_its_timecode_and_a_bad_one_is_one_clear_error(tmp_path):
    good = tmp_path / "tc.toml"
    good.write_text(CUE_SET)
    spec = load_set(good)
    assert spec.timecode == TimecodeSpec("mtc", "mtc-sender", "01:00:00:00", 0.2)
    assert spec.timecode.offset_seconds("25") == 3600.0
    for bad, message in [
        ('source = "mtc"', "timecode.port"),
        ('source = "ltc"\nport = "x"', "timecode.source: 'ltc' is not known"),
        ('port = "x"\noffset = "1:00"', "timecode.offset: timecode must look like"),
        ('port = "x"\nrate = 30', "timecode.rate: unknown field"),
    ]:
        path = tmp_path / "bad.toml"
        path.write_text(CUE_SET.split("[timecode]")[0] + "[timecode]\n" + bad + "\n")
        with pytest.raises(SetError, match=message.replace("(", r"\(")):
            load_set(path)


def test_a_show_seeks_its_cues_forward_and_back(gl, tmp_path):
    (tmp_path / "tc.toml").write_text(CUE_SET)
    show = Show(load_set(tmp_path / "tc.toml"), gl, audio=False)
    try:
        show.cue_time = -math.inf  # following a timecode that has not locked yet
        show.step(FrameClock(30).tick())
        assert show.params.target("/merge/chaos")[0] == pytest.approx(0.2)
        assert [c.name for c in show.seek_cues(5.0)] == ["", "storm"]  # both, at once
        assert show.params.target("/merge/chaos")[0] == pytest.approx(0.9)
        assert show.seek_cues(1.5)[0].time == 1.0  # back: the set's value, then cue 1
        assert show.params.target("/merge/chaos")[0] == pytest.approx(0.5)
        assert show.seek_cues(0.5) == []
        assert show.params.target("/merge/chaos")[0] == pytest.approx(0.2)
    finally:
        show.close()


class MtcSender:
    """A stage's timeline on a MIDI port: full frames to locate, quarter frames to run
    (sent on the wall clock, 4 a frame, from a thread)."""

    def __init__(self, port: mido.ports.BaseOutput) -> None:
        self.port = port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def locate(self, text: str) -> None:
        self.stop()
        self.port.send(full_frame(Timecode.parse(text, "30")))

    def play(self, text: str) -> None:
        self.stop()
        self._stop.clear()
        start = Timecode.parse(text, "30").frame_number()
        self._thread = threading.Thread(target=self._run, args=(start,), daemon=True)
        self._thread.start()

    def _run(self, start: int) -> None:
        t0 = time.perf_counter()
        n = 0  # quarter frames sent
        while not self._stop.is_set():
            tc = Timecode.from_frame_number(start + 2 * (n // 8), "30")
            self.port.send(quarter_frames(tc)[n % 8])
            n += 1
            wait = t0 + n / 120 - time.perf_counter()
            if wait > 0:
                time.sleep(wait)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


@pytest.mark.skipif(JACKD is None, reason="jackd is not installed (Debian jackd2)")
def test_mtc_through_a_real_midi_port_moves_the_cues(jack, gl, tmp_path, monkeypatch):  # noqa: F811
    """Full frames and quarter frames sent through JACK MIDI (a virtual port, as a DAW
    or a show controller has) to the rig's own port code and follower."""
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    (tmp_path / "tc.toml").write_text(CUE_SET)
    spec = load_set(tmp_path / "tc.toml")
    port = mido.Backend(JACK_MIDI, load=False).open_output("mtc-sender", virtual=True)
    sender = MtcSender(port)
    show = Show(spec, gl, audio=False)
    assert spec.timecode is not None
    follower = TimecodeFollower(spec.timecode)
    live = Live(show, clock=FrameClock(30), watch=False, overlay=True)
    live.timecode = follower  # what `live` does for a set with [timecode]
    chaos = lambda: show.params.target("/merge/chaos")[0]  # noqa: E731

    def run(seconds: float, until=lambda: False) -> list[tuple[float, float]]:
        seen = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            live.step()
            seen.append((show.cue_time, chaos()))
            time.sleep(0.01)
        return seen

    try:
        run(5.0, until=lambda: follower.input.connected)
        assert follower.input.connected, "the rig never saw the sender's port"
        run(0.3)
        assert show.cue_time == -math.inf, "no timecode yet: no cue time"
        sender.locate("01:00:00:00")
        run(2.0, until=lambda: show.cue_time == 0.0)
        assert show.cue_time == 0.0 and chaos() == pytest.approx(0.2)
        sender.play("01:00:00:00")
        seen = run(6.0, until=lambda: chaos() == pytest.approx(0.5))
        fired_at = seen[-1][0]
        assert chaos() == pytest.approx(0.5), seen[-5:]
        assert 1.0 <= fired_at < 1.2, f"cue 1 fired at timecode {fired_at:.3f} s"
        assert all(t < 1.0 for t, c in seen[:-1] if t is not None), "fired early"
        assert show.overlay_state is not None  # the overlay shows where the timeline is
        assert re.search(r"\| tc 01:00:0[01]:\d\d", show.overlay_state.status)
        sender.locate("01:00:05:00")  # the stage jumps past the storm
        run(2.0, until=lambda: show.cue_time == 5.0)
        assert chaos() == pytest.approx(0.9)
        sender.locate("01:00:00:15")  # and back before the first cue
        run(2.0, until=lambda: show.cue_time == pytest.approx(0.5))
        assert chaos() == pytest.approx(0.2)
        assert follower.clock.locates >= 3
    finally:
        sender.stop()
        live.close()
        follower.close()
        port.close()
        show.close()


@pytest.mark.skipif(Path("/dev/snd/seq").exists(), reason="an ALSA sequencer is here")
def test_without_a_midi_system_the_follower_says_so(monkeypatch):
    from engine.midi.ports import MidiUnavailable

    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    with pytest.raises(MidiUnavailable, match="MIDI is off"):
        TimecodeFollower(TimecodeSpec("mtc", "anything"))


@pytest.mark.skipif(Path("/dev/snd/seq").exists(), reason="an ALSA sequencer is here")
def test_live_with_a_timecode_and_no_midi_says_so_once_and_plays(tmp_path):
    import subprocess

    from conftest import ROOT, headless_env

    (tmp_path / "tc.toml").write_text(CUE_SET)
    cmd = [sys.executable, str(ROOT / "performance.py"), "live", str(tmp_path / "tc.toml")]
    cmd += ["--size", "32x18", "--duration", "0.5", "--no-watch", "--audio", "off"]
    env = {k: v for k, v in headless_env().items() if k != "MIDO_BACKEND"}
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "played" in run.stdout
    notices = [x for x in run.stderr.splitlines() if x.startswith("notice:") and "MIDI" in x]
    assert len(notices) == 1 and "the cues keep the show's own time" in notices[0]


@pytest.mark.skipif(JACKD is None, reason="jackd is not installed (Debian jackd2)")
def test_a_timecode_port_that_comes_back_is_followed_again(jack, monkeypatch):  # noqa: F811
    """The sender's port goes away and comes back (a DAW restarted): the follower reopens
    it and hooks its arrival stamps onto the new port."""
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    system = mido.Backend(JACK_MIDI, load=False)
    port = system.open_output("mtc-again", virtual=True)
    follower = TimecodeFollower(TimecodeSpec("mtc", "mtc-again"))
    follower.input.rescan = 0.2

    class Cues:
        cue_time: float | None = None

        def seek_cues(self, t: float) -> None:
            self.cue_time = t

    cues = Cues()

    def steer_until(done, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            follower.steer(cues)
            time.sleep(0.01)

    try:
        steer_until(lambda: follower.input.connected)
        port.send(full_frame(Timecode.parse("00:00:10:00", "30")))
        steer_until(lambda: cues.cue_time == 10.0)
        assert cues.cue_time == 10.0
        port.close()
        steer_until(lambda: not follower.input.connected)
        assert not follower.input.connected, "the port went away"
        port = system.open_output("mtc-again", virtual=True)
        steer_until(lambda: follower.input.connected)
        port.send(full_frame(Timecode.parse("00:00:20:00", "30")))
        steer_until(lambda: cues.cue_time == 20.0)
        assert cues.cue_time == 20.0, "the reopened port's messages arrive"
        assert follower._hooked is follower.input.port  # stamped on arrival again
    finally:
        follower.close()
        port.close()
