"""engine.tempo: one writer of /tempo/bpm and /tempo/beat, asking only the source that
/tempo/source names."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from engine.audio.analysis import Heard
from engine.midi.clock import PPQN, TEMPO_PARAMS, ClockIn
from engine.params import ParamSpace
from engine.tempo import Tempo


@pytest.fixture
def params() -> ParamSpace:
    space = ParamSpace()
    for p in TEMPO_PARAMS:
        space.register(p)
    return space


def heard(bpm: float, phase: float) -> Heard:
    bands = dict.fromkeys(("bass", "low_mid", "mid", "high"), 0.0)
    return Heard(0, 0, bands, np.zeros(4), False, -1, False, -1, bpm, phase, 0.9, 5.0)


def test_internal_advances_the_beat_and_leaves_a_fading_bpm_alone(params):
    tempo = Tempo(params)
    params.set("/tempo/bpm", 180.0, 2.0)  # a cue fading the tempo over 2 s
    bpms = []
    for _ in range(30):
        params.update(1 / 30)
        tempo.advance(1 / 30, heard(90.0, 0.5))  # the music is not the source
        bpms.append(params.get("/tempo/bpm"))
    assert 120 < bpms[-1] < 180 and bpms == sorted(bpms), "still fading"
    beats = (sum(bpms) / 30 / 60) % 1.0  # the beat integrates the bpm
    assert params.get("/tempo/beat") == pytest.approx(beats, abs=1e-6)


def test_the_music_drives_the_tempo_only_when_it_is_the_source(params):
    tempo = Tempo(params)
    params.set("/tempo/source", "audio", jump=True)
    tempo.advance(1 / 30, None)  # nothing heard yet: unchanged
    assert params.get("/tempo/bpm") == 120.0
    tempo.advance(1 / 30, heard(128.0, 0.25))
    assert (params.get("/tempo/bpm"), params.get("/tempo/beat")) == (128.0, 0.25)
    tempo.follow(10.0)  # the wall-clock sources are not asked
    assert params.get("/tempo/bpm") == 128.0


def test_taps_and_a_midi_clock(params):
    tempo = Tempo(params)
    for i in range(5):
        tempo.tap(100.0 + 0.5 * i)
    assert tempo.source == "tap"
    tempo.follow(102.25)
    assert params.get("/tempo/bpm") == pytest.approx(120.0)
    assert params.get("/tempo/beat") == pytest.approx(0.5, abs=1e-6)

    clock = ClockIn()
    for k in range(4 * PPQN):
        clock.feed_message(mido.Message("clock"), 200.0 + k * 60.0 / (140 * PPQN))
    tempo.follow_clock(clock, 202.0)
    assert params.get("/tempo/bpm") == pytest.approx(120.0), "taps are the source, not MIDI"
    params.set("/tempo/source", "midi", jump=True)
    tempo.follow_clock(clock, 202.0)
    assert params.get("/tempo/bpm") == pytest.approx(140.0, abs=0.01)
