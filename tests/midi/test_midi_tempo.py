"""Tempo: MIDI clock in (jittered), tap tempo, clock out, and MIDI file playback."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import mido
import pytest
from conftest import DATA

from engine.midi.clock import PPQN, TEMPO_PARAMS, ClockIn, ClockOut, TapTempo
from engine.midi.files import MidiFilePlayer
from engine.params import ParamSpace

MIDI_FILES = DATA / "midi" / "files"


def clock_times(segments: list[tuple[float, int]], jitter: float, seed: int, t0: float = 1.0):
    """Ideal and jittered tick times for (bpm, beats) segments."""
    rng = random.Random(seed)
    ideal, t = [], t0
    for bpm, beats in segments:
        for _ in range(beats * PPQN):
            ideal.append(t)
            t += 60.0 / (PPQN * bpm)
    return ideal, [x + rng.gauss(0.0, jitter) for x in ideal]


def circ(a: float, b: float) -> float:
    d = (a - b) % 1.0
    return min(d, 1.0 - d)


@pytest.mark.parametrize("bpm", [120.0, 174.0])
@pytest.mark.parametrize("jitter", [0.001, 0.002])
def test_clock_in_follows_jittered_clock(bpm: float, jitter: float) -> None:
    ideal, real = clock_times([(bpm, 16)], jitter, seed=int(bpm))
    c = ClockIn()
    c.feed("start", real[0] - 0.005)
    assert c.playing and c.position == 0.0
    worst_bpm = worst_phase = 0.0
    for k, t in enumerate(real):
        c.feed("clock", t)
        if k % PPQN == PPQN - 1 and k >= 2 * PPQN:  # just before each beat after the first 2
            beat_t = ideal[k] + 60.0 / (PPQN * bpm)  # when the next beat truly falls
            truth = (beat_t - ideal[0]) * bpm / 60.0
            for frac in (0.0, -0.3, -0.6):  # frames between clocks of the last beat too
                tt = beat_t + frac * 60.0 / bpm
                worst_phase = max(worst_phase, circ(c.phase_at(tt), (truth + frac * 1.0) % 1.0))
            assert c.bpm is not None
            worst_bpm = max(worst_bpm, abs(c.bpm - bpm))
    print(
        f"bpm {bpm} jitter {jitter * 1e3:.0f} ms: worst |bpm err| {worst_bpm:.3f}, "
        f"worst phase err {worst_phase:.4f} beat"
    )
    assert worst_bpm < 0.5
    assert worst_phase < 0.05
    assert c.bpm is not None and abs(c.bpm - bpm) < 0.5
    # the beat count itself is right, not just the phase
    assert c.position_at(ideal[-1]) == pytest.approx(16 - 1 / PPQN, abs=0.05)


def test_naive_tick_differences_would_fail() -> None:
    """The jitter is real: single tick-to-tick intervals miss by far more than 0.5."""
    _, real = clock_times([(174.0, 4)], 0.002, seed=1)
    worst = max(abs(60.0 / (PPQN * (b - a)) - 174.0) for a, b in itertools.pairwise(real))
    assert worst > 5.0


def test_tempo_change_followed_within_two_beats() -> None:
    ideal, real = clock_times([(120.0, 8), (150.0, 8)], 0.0015, seed=7)
    c = ClockIn()
    c.feed("start", real[0] - 0.001)
    change = 8 * PPQN
    for k, t in enumerate(real):
        c.feed("clock", t)
        if k == change - 1:
            assert c.bpm is not None and abs(c.bpm - 120.0) < 0.5
        if k >= change + 2 * PPQN - 1:
            assert c.bpm is not None and abs(c.bpm - 150.0) < 0.5, (k - change) / PPQN
            if k % PPQN == PPQN - 1:
                beat_t = ideal[k] + 60.0 / (PPQN * 150.0)
                truth = 8 + (beat_t - ideal[change]) * 150.0 / 60.0
                assert circ(c.phase_at(beat_t), truth % 1.0) < 0.05


def test_transport_start_stop_continue_songpos() -> None:
    c = ClockIn()
    period = 60.0 / (PPQN * 120.0)
    t = 0.0

    def clocks(n: int) -> None:
        nonlocal t
        for _ in range(n):
            c.feed("clock", t)
            t += period

    clocks(48)  # clocks while stopped: tempo known, position stays put
    assert not c.playing and c.position == 0.0
    assert c.bpm == pytest.approx(120.0, abs=1e-6)
    c.feed(0xFA, t - period / 2)  # start, raw status byte
    assert c.playing and c.position == 0.0
    clocks(PPQN + 12)  # 1.5 beats of clocks, the first is beat 0
    assert c.position_at(t - period) == pytest.approx(1.5 - 1 / PPQN, abs=1e-6)
    assert c.phase_at(t - period / 2) == pytest.approx((1.5 - 0.5 / PPQN) % 1.0, abs=1e-6)
    c.feed("stop", t)
    frozen = c.position_at(t)
    clocks(30)
    assert not c.playing and c.position_at(t + 1.0) == frozen == pytest.approx(1.5)
    c.feed("continue", t)
    clocks(PPQN)
    assert c.position_at(t - period) == pytest.approx(2.5 - 1 / PPQN, abs=1e-6)
    c.feed("stop", t)
    c.feed(mido.Message("songpos", pos=8).type, t, 8)  # 8 sixteenths = beat 2
    assert c.position == pytest.approx(2.0)
    c.feed("continue", t)
    clocks(12)
    assert c.position_at(t - period) == pytest.approx(2.5 - 1 / PPQN, abs=1e-6)
    c.feed("start", t)  # start again: back to 0
    assert c.position_at(t) == 0.0
    clocks(PPQN)
    assert c.position_at(t - period) == pytest.approx(1 - 1 / PPQN, abs=1e-6)
    # clocks stop arriving: the beat waits at most one clock ahead instead of running on
    assert c.position_at(t + 10.0) == pytest.approx(1.0)


def test_tap_tempo() -> None:
    tap = TapTempo()
    assert tap.tap(10.0) is None
    for t, jit in zip(range(1, 8), [0.004, -0.004, 0.0, 0.15, 0.0, -0.004, 0.002], strict=False):
        bpm = tap.tap(10.0 + 0.5 * t + jit)
    assert bpm is not None and abs(bpm - 120.0) < 1.5  # the 0.15 s stumble is outvoted
    assert tap.tap(20.0) is None  # a long pause starts over
    tap.tap(20.4)
    tap.tap(20.8)
    assert tap.bpm == pytest.approx(150.0)
    assert tap.phase_at(21.0) == pytest.approx(0.5)


def test_clock_out_exact_24_ppqn_no_drift() -> None:
    out = ClockOut()
    bpm, fps = 174.0, 30.0
    out.start(0.0)
    beats = 100
    n_frames = math.ceil(beats * 60.0 / bpm * fps)
    events = []
    for n in range(n_frames):
        t0, t1 = n / fps, (n + 1) / fps
        got = out.due(bpm, t0, t1)
        assert all(t0 <= t < t1 for t, _ in got)
        events += got
    assert events[0][1].type == "start" and events[1][1].type == "clock"
    clocks = [t for t, m in events if m.type == "clock"]
    end = beats * 60.0 / bpm
    assert len([t for t in clocks if t < end]) == beats * PPQN
    period = 60.0 / (PPQN * bpm)
    assert max(abs(t - i * period) for i, t in enumerate(clocks)) < 1e-9  # no drift
    # a tempo change: the next clock follows the last one at the new period
    last = clocks[-1]
    t1 = n_frames / fps
    more = [t for t, m in out.due(120.0, t1, t1 + 0.5) if m.type == "clock"]
    assert more[0] == pytest.approx(last + 60.0 / (PPQN * 120.0))
    assert all(b - a == pytest.approx(60.0 / (PPQN * 120.0)) for a, b in itertools.pairwise(more))
    out.stop(t1 + 0.5)
    assert next(m.type for _, m in out.due(120.0, t1 + 0.5, t1 + 0.51)) == "stop"


def test_clock_out_feeds_clock_in() -> None:
    out, c = ClockOut(), ClockIn()
    out.start(0.0)
    for n in range(60):
        for t, m in out.due(140.0, n / 30, (n + 1) / 30):
            c.feed_message(m, t)
    assert c.playing and c.bpm == pytest.approx(140.0, abs=1e-6)
    assert c.position_at(2.0) == pytest.approx(2.0 * 140 / 60, abs=1e-6)


def test_tempo_params_register() -> None:
    space = ParamSpace()
    for spec in TEMPO_PARAMS:
        space.register(spec)
    assert space.get("/tempo/bpm") == 120.0 and space.spec("/tempo/bpm").unit == "BPM"
    space.set("/tempo/bpm", 400)
    assert space.get("/tempo/bpm") == 300.0
    space.set("/tempo/source", "link")
    assert space.get("/tempo/source") == 2.0
    assert space.spec("/tempo/beat").max == 1.0


# --- MIDI files -------------------------------------------------------------------------


def independent_events(path: Path) -> list[tuple[float, int, int, int, int]]:
    """(seconds, order, channel, control, value) of every control change, computed from
    ticks with the file's tempo map, without mido's own time conversion."""
    mid = mido.MidiFile(path)
    tempos: list[tuple[int, int]] = []
    ccs: list[tuple[int, int, int, mido.Message]] = []
    for ti, track in enumerate(mid.tracks):
        tick = 0
        for i, msg in enumerate(track):
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "control_change":
                ccs.append((tick, ti, i, msg))
    tempos.sort(key=lambda x: x[0])
    # seconds at each tempo change
    segs = [(0, 0.0, 500000)]
    for tick, tempo in tempos:
        t0, s0, us = segs[-1]
        segs.append((tick, s0 + (tick - t0) * us / 1e6 / mid.ticks_per_beat, tempo))

    def seconds(tick: int) -> float:
        lo = max(i for i, s in enumerate(segs) if s[0] <= tick)
        t0, s0, us = segs[lo]
        return s0 + (tick - t0) * us / 1e6 / mid.ticks_per_beat

    ccs.sort(key=lambda x: (x[0], x[1], x[2]))
    return [(seconds(tk), n, m.channel, m.control, m.value) for n, (tk, _, _, m) in enumerate(ccs)]


def state_at(events: list[tuple[float, int, int, int, int]], t: float) -> dict:
    state = {}
    for time, _, ch, cc, v in events:
        if time <= t:
            state[(ch, cc)] = v
    return state


def midi_files() -> list[Path]:
    if not MIDI_FILES.is_dir():
        pytest.skip(f"shared MIDI data not found at {MIDI_FILES}")
    return sorted(MIDI_FILES.glob("*.mid"))


def test_midi_file_cc_playback_frame_by_frame() -> None:
    files = midi_files()
    counts = {}
    for path in files:
        ref = independent_events(path)
        player = MidiFilePlayer(path)
        fps = 30.0
        got = []
        for n in range(math.ceil(player.duration * fps) + 2):
            t0, t1 = n / fps, (n + 1) / fps
            for t, m in player.events_between(t0, t1):
                assert t0 <= t < t1
                if m.type == "control_change":
                    got.append((t, m.channel, m.control, m.value))
        counts[path.name] = len(got)
        assert len(got) == len(ref), path.name  # every CC exactly once
        for (t, ch, cc, v), (rt, _, rch, rcc, rv) in zip(got, ref, strict=True):
            assert (ch, cc, v) == (rch, rcc, rv)
            assert t == pytest.approx(rt, abs=1e-6)
        if ref:
            rng = random.Random(3)
            # right after a CC (1e-7 s: the two time computations round differently)
            probes = [e[0] + 1e-7 for e in rng.sample(ref, min(20, len(ref)))]
            probes += [rng.uniform(0, player.duration) for _ in range(20)]
            for t in probes:
                assert player.controls_at(t) == state_at(ref, t), (path.name, t)
            # and what frame-by-frame playback has applied at a frame boundary
            state: dict = {}
            for n in range(int(player.duration * fps // 2)):
                for _, m in player.events_between(n / fps, (n + 1) / fps):
                    if m.type == "control_change":
                        state[(m.channel, m.control)] = m.value
            tb = int(player.duration * fps // 2) / fps
            assert state == {k: v for k, v in state_at([e for e in ref if e[0] < tb], tb).items()}
    assert counts.get("pretty-midi_example.mid") == 2384
    assert counts.get("magenta_example_complex.mid", 0) > 0


def test_midi_file_tempo_changes_honoured() -> None:
    path = MIDI_FILES / "pretty-midi_example.mid"
    midi_files()
    mid = mido.MidiFile(path)
    n_tempo = sum(m.type == "set_tempo" for tr in mid.tracks for m in tr)
    assert n_tempo == 420
    player = MidiFilePlayer(path)
    assert player.duration == pytest.approx(mid.length)
    assert 355 < player.duration < 365
    # at a constant 120 BPM the last event would be somewhere else entirely
    last_tick = max(sum(m.time for m in tr) for tr in mid.tracks)
    assert abs(player.duration - last_tick / mid.ticks_per_beat * 0.5) > 1.0
    kinds = {m.type for m in player.messages}
    assert {"note_on", "control_change", "pitchwheel", "program_change"} <= kinds


def test_ableton_link_alone_keeps_a_steady_beat():
    """Link without peers is a steady clock (aalink is an optional extra: pip install .[link])."""
    pytest.importorskip("aalink", reason="aalink (Ableton Link) is the optional extra [link]")
    import time

    from engine.midi.clock import Link

    link = Link(128.0)
    try:
        assert link.bpm == pytest.approx(128.0)
        b0 = link.beat
        time.sleep(0.5)
        assert link.beat - b0 == pytest.approx(0.5 * 128 / 60, abs=0.1)
        assert 0.0 <= link.phase < 1.0
    finally:
        link.close()
