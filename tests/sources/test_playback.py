"""Recordings replayed as live sources: exact samples in any chunking, looping, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, needs_data

from engine.features import compute_features
from engine.sources.playback import Playback, guess_channel_map
from engine.sources.recordings import Channel, Recording, RecordingError, load

BIO = DATA / "biosignals"


def jittery_times(seconds: float, seed: int = 0) -> np.ndarray:
    """Frame times like a live loop's: ~60 fps with jitter, stalls and doubled frames."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([0.0, 1 / 60, 1 / 60, 1 / 30, 0.25], size=int(seconds * 50))
    steps = steps * rng.uniform(0.7, 1.3, size=len(steps))
    return np.cumsum(steps)[np.cumsum(steps) < seconds]


def replay(pb: Playback, times: np.ndarray) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {s: [] for s in pb.channel_map}
    for t in times:
        for sig, x in pb.read(float(t)).items():
            parts[sig].append(x)
    return {s: np.concatenate(p) for s, p in parts.items()}


@needs_data
@pytest.mark.parametrize(
    ("name", "expect"),
    [
        ("edf/v102s_ecg_ppg_resp_250Hz.edf", {"ecg": "ecg_ii", "ppg": "ppg_pleth", "resp": "resp"}),
        ("wfdb/v102s", {"ecg": "ii", "ppg": "pleth", "resp": "resp"}),
        ("wfdb/03700181", {"ecg": "mcl1", "resp": "resp"}),
    ],
)
def test_replay_gives_exactly_the_file(name: str, expect: dict[str, str]) -> None:
    rec = load(BIO / name)
    start, seconds = 12.3, 40.0
    pb = Playback(rec, start=start)
    assert pb.channel_map == expect
    assert pb.rates == {s: rec.channels[c].fs for s, c in expect.items()}
    got = replay(pb, np.append(jittery_times(seconds), seconds))
    for sig, ch in expect.items():
        c = rec.channels[ch]
        i0 = round(start * c.fs)
        want = c.data[i0 : i0 + math.ceil(seconds * c.fs)]
        np.testing.assert_array_equal(got[sig], want)  # same samples, none lost or doubled
        assert len(got[sig]) == round(seconds * c.fs)


@needs_data
def test_multirate_wfdb_keeps_native_rates() -> None:
    pb = Playback(BIO / "wfdb/03700181")
    assert pb.rates == {"ecg": 500.0, "resp": 125.0}
    out = pb.read(2.0)
    assert {k: len(v) for k, v in out.items()} == {"ecg": 1000, "resp": 250}
    out = pb.read(2.0)  # nothing new at the same time
    assert {k: len(v) for k, v in out.items()} == {"ecg": 0, "resp": 0}


@needs_data
@pytest.mark.parametrize("name", ["edf/v102s_ecg_ppg_resp_250Hz.edf", "wfdb/v102s"])
def test_features_on_replayed_windows_match_the_file(name: str) -> None:
    rec = load(BIO / name)
    pb = Playback(rec)
    fs = pb.rates
    buf: dict[str, np.ndarray] = {s: np.zeros(0) for s in fs}
    checked = 0
    for t in jittery_times(35.0, seed=3):
        for sig, x in pb.read(float(t)).items():
            buf[sig] = np.concatenate((buf[sig], x))[-round(10 * fs[sig]) :]  # 10-s window
        n = len(buf["ecg"])
        if t < 10 or checked * 5 > t - 10:  # a check every ~5 s once the window is full
            continue
        checked += 1
        direct = {}
        for sig, ch in pb.channel_map.items():
            end = math.ceil(t * fs[sig] - 1e-9)
            direct[sig] = rec.channels[ch].data[end - len(buf[sig]) : end]
        assert n == len(direct["ecg"])
        a = compute_features(ecg=buf["ecg"], ecg_fs=fs["ecg"], resp=buf["resp"],
                             resp_fs=fs["resp"], ppg=buf["ppg"], ppg_fs=fs["ppg"])  # fmt: skip
        b = compute_features(ecg=direct["ecg"], ecg_fs=fs["ecg"], resp=direct["resp"],
                             resp_fs=fs["resp"], ppg=direct["ppg"], ppg_fs=fs["ppg"])  # fmt: skip
        assert a.as_dict() == b.as_dict()
        assert a.heart_bpm > 40 and a.breath_rate > 0
    assert checked >= 4


def small_recording() -> Recording:
    return Recording(
        Path("toy.npz"),
        {
            "ecg": Channel("ecg", np.arange(10.0), 10.0),
            "resp": Channel("resp", 100 + np.arange(5.0), 5.0),
        },
    )


def test_loop_wraps_without_gaps_or_duplicates() -> None:
    pb = Playback(small_recording(), loop=True, start=0.35)
    got = replay(pb, np.array([0.05, 0.5, 0.51, 1.3, 2.0, 2.0, 3.77, 4.0]))
    # ecg: 10 samples at 10 Hz, starting at sample round(3.5) = 4, 40 samples in 4 s.
    np.testing.assert_array_equal(got["ecg"], (4 + np.arange(40)) % 10)
    np.testing.assert_array_equal(got["resp"], 100 + (2 + np.arange(20)) % 5)
    assert not pb.finished and pb.duration == math.inf


def test_without_loop_stops_at_the_end() -> None:
    pb = Playback(small_recording())
    got = replay(pb, np.array([0.3, 0.99, 5.0, 7.0]))
    np.testing.assert_array_equal(got["ecg"], np.arange(10.0))
    np.testing.assert_array_equal(got["resp"], 100 + np.arange(5.0))
    assert pb.finished and pb.read(9.0)["ecg"].size == 0


def test_bad_channel_map_names_recording_and_channel() -> None:
    with pytest.raises(RecordingError, match=r"toy\.npz.*'pulse'.*'ppg'"):
        Playback(small_recording(), {"ppg": "pulse"})
    with pytest.raises(RecordingError, match=r"toy\.npz.*unknown signal 'heart'"):
        Playback(small_recording(), {"heart": "ecg"})
    with pytest.raises(RecordingError, match=r"toy\.npz.*past the end"):
        Playback(small_recording(), start=5.0)


def test_guessed_maps() -> None:
    assert guess_channel_map(["eeg_fpz_cz", "eog_horizontal", "resp_oro_nasal"]) == {
        "eeg": "eeg_fpz_cz",
        "resp": "resp_oro_nasal",
        "eog": "eog_horizontal",
    }
    assert guess_channel_map(["mlii", "v5"]) == {"ecg": "mlii"}
    assert guess_channel_map(["abp"]) == {}
