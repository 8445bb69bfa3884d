"""Respiration (and the rest) under the names real files give them: found, named by a
set's channels table, and every channel left unused said out loud."""

from __future__ import annotations

import logging

import edfio
import numpy as np
import pytest

from engine.render import load_set
from engine.sets import SetError
from engine.sources.playback import Playback, guess_channel_map
from engine.sources.recordings import load


def breathing(seconds=60.0, fs=25.0, per_min=8.3):
    t = np.arange(int(seconds * fs)) / fs
    return np.sin(2 * np.pi * per_min / 60 * t)


def test_a_one_column_rsp_file_is_respiration_not_eeg(tmp_path, caplog):
    path = tmp_path / "rsp.txt"
    np.savetxt(path, breathing(), header="Sampling Rate: 25", comments="# ")
    with caplog.at_level(logging.WARNING):
        rec = load(path)
    assert list(rec.channels) == ["resp"]
    assert Playback(rec).channel_map == {"resp": "resp"}
    assert "taken as EEG" not in caplog.text


def test_a_nameless_one_column_file_is_eeg_with_a_warning(tmp_path, caplog):
    path = tmp_path / "night.txt"
    np.savetxt(path, breathing(), header="Sampling Rate: 25", comments="# ")
    with caplog.at_level(logging.WARNING, "oneiric.recordings"):
        assert list(load(path).channels) == ["eeg"]
    assert "taken as EEG" in caplog.text and "channels" in caplog.text


@pytest.mark.parametrize(
    ("label", "signal"),
    [("RSP", "resp"), ("Resp chest", "resp"), ("RIP Thorax", "resp"), ("Airflow", "resp"),
     ("Abdomen", "resp"), ("Pleth", "ppg"), ("BVP", "ppg"), ("EKG", "ecg"), ("ECG II", "ecg")],
)  # fmt: skip
def test_common_labels_name_their_signal(tmp_path, label, signal):
    path = tmp_path / "x.edf"
    sig = edfio.EdfSignal(breathing(10.0, 100.0) * 100, 100.0, label=label)
    edfio.Edf([sig, edfio.EdfSignal(np.zeros(1000), 100.0, label="EEG Fpz-Cz")]).write(path)
    names = list(load(path).channels)
    assert guess_channel_map(names)[signal] == names[0]


def test_an_unused_channel_is_warned_about(tmp_path, caplog):
    path = tmp_path / "x.edf"
    sigs = [
        edfio.EdfSignal(breathing(10.0, 100.0), 100.0, label="RSP"),
        edfio.EdfSignal(np.zeros(1000), 100.0, label="Light"),
    ]
    edfio.Edf(sigs).write(path)
    with caplog.at_level(logging.WARNING, "oneiric.playback"):
        playback = Playback(path)
    assert playback.channel_map == {"resp": "rsp"}
    assert playback.unused == ["light"]
    assert "'light' is not used" in caplog.text


SET = """
[set]
duration = 10.0
fps = 10
size = [32, 18]
[[dreamers]]
source = "recording"
recording = "{file}"
channels = {channels}
shader = "tide"
patch = "drone"
"""


def test_a_set_names_the_channels_of_its_recording(tmp_path, gl):
    path = tmp_path / "belt.edf"
    sigs = [
        edfio.EdfSignal(breathing(30.0, 100.0), 100.0, label="Belt 1"),
        edfio.EdfSignal(np.random.default_rng(0).standard_normal(3000), 100.0, label="Cz"),
    ]
    edfio.Edf(sigs).write(path)
    set_path = tmp_path / "s.toml"
    set_path.write_text(SET.format(file=path.name, channels='{resp = "Belt 1"}'))
    from engine.show import Show

    show = Show(load_set(set_path), gl, audio=False)
    try:
        source = show.dreamers[0].source
        assert isinstance(source, Playback)
        assert source.channel_map == {"resp": "belt_1", "eeg": "cz"}  # the rest guessed
    finally:
        show.close()
    set_path.write_text(SET.format(file=path.name, channels='{resp = "Belt 9"}'))
    with pytest.raises(SetError, match=r"channels\.resp: no channel 'Belt 9'"):
        load_set(set_path)
    set_path.write_text(SET.format(file=path.name, channels='{breath = "Belt 1"}'))
    with pytest.raises(SetError, match=r"channels\.breath: unknown signal"):
        load_set(set_path)
