"""engine.send: a recording streamed as a real app's OSC reaches a real receiver + profile."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from engine.events import EventQueue
from engine.features.dsp import band_powers
from engine.send import add_parser, packets, run_cli, send
from engine.sources.osc import Endpoint, OscReceiver
from engine.sources.translator import Translator

SPEED = 4.0


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def stream(path, fmt, profile, duration):
    """Send `duration` s at SPEED to a receiver; every update with its event's arrival time."""
    queue = EventQueue()
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push)
    try:
        stats = send(path, fmt, rx.endpoint, speed=SPEED, duration=duration)
        assert wait_for(lambda: rx.received >= stats.messages)
    finally:
        rx.close()
    assert rx.received == stats.messages and sum(rx.dropped.values()) == 0
    translator = Translator([profile])
    updates = [(e.time, u) for e in queue.drain() for u in translator.feed(e)]
    assert translator.fed == stats.messages == translator.translated, translator.counts
    assert stats.seconds == pytest.approx(duration / SPEED, abs=0.05)
    return updates


def sample_rate(updates, signal, channel=None):
    """Samples, and their rate in recording seconds from a fit of arrival time on sample
    index (of one channel, where given)."""
    ends, times = [], []
    n = 0
    for t, u in updates:
        if u.kind == "samples" and u.signal == signal and channel in (None, *u.channels):
            n += len(u.values)
            ends.append(n - 1)
            times.append(t)
    slope = np.polyfit(np.array(ends, float), np.array(times), 1)[0]
    return n, 1.0 / slope / SPEED


def test_mind_monitor_eeg_and_bands(data_dir):
    path = data_dir / "biosignals/physio/biosppy_eeg_ec.txt"
    updates = stream(path, "mind-monitor", "mind-monitor", 2.0)
    n, rate = sample_rate(updates, "eeg")
    assert n == 512
    assert rate == pytest.approx(256.0, rel=0.02)
    eeg = next(u for _, u in updates if u.signal == "eeg")
    assert eeg.channels == ("TP9", "AF7", "AF8", "TP10") and eeg.values.shape == (1, 4)
    assert len(set(eeg.values.ravel())) == 1  # mono copied to the 4 electrodes
    bands = [u for _, u in updates if u.kind == "bands"]
    assert len(bands) == 10  # 10 Hz once 256 samples exist: 1.0 .. 1.9 s
    assert bands[0].channels == ("delta", "theta", "alpha", "beta", "gamma")
    assert np.allclose([b.values.sum() for b in bands], 1.0)
    # the first update is band_powers over the first 256 samples received (sigma in beta)
    first = np.concatenate([u.values[:, 0] for _, u in updates if u.signal == "eeg"])[:256]
    shares = band_powers(first, 256.0)
    expect = [shares["delta"], shares["theta"], shares["alpha"]]
    expect += [shares["sigma"] + shares["beta"], shares["gamma"]]
    assert bands[0].values == pytest.approx(np.array(expect) / sum(expect), rel=1e-3)


def test_emotibit_ppg(data_dir):
    updates = stream(data_dir / "biosignals/wfdb/v102s", "emotibit", "emotibit", 4.0)
    for led in ("RED", "IR", "GRN"):  # the Oscilloscope's default: every LED, each its own
        n, rate = sample_rate(updates, "ppg", led)
        assert n == 100
        assert rate == pytest.approx(25.0, rel=0.02)
    blocks = [u for _, u in updates]
    assert {u.channels for u in blocks} == {("RED",), ("IR",), ("GRN",)}
    assert max(len(u.values) for u in blocks) > 1  # several samples per message


def test_openbci_time_series(data_dir):
    path = data_dir / "biosignals/physio/biosppy_eeg_ec.txt"
    updates = stream(path, "openbci", "openbci", 2.0)
    n, rate = sample_rate(updates, "eeg")
    assert n == 500
    assert rate == pytest.approx(250.0, rel=0.02)
    assert {u.channels for _, u in updates} == {("ch0",)}


def test_loop_duration_and_bad_input(data_dir, tmp_path):
    path = data_dir / "biosignals/physio/biosppy_eeg_ec.txt"
    long = list(packets(path, "openbci", duration=400.0, loop=True))  # the file is ~306 s
    ts = [t for t, _ in long]
    assert ts == sorted(ts) and 399.9 < ts[-1] < 400.0
    assert len(long) == 400 * 25
    assert OscMessage(long[0][1]).address == "/openbci/time-series-raw/ch0"
    with pytest.raises(ValueError, match="unknown format"):
        packets(path, "muse-direct")
    ecg_only = data_dir / "biosignals/physio/biosppy_ecg.txt"
    with pytest.raises(ValueError, match="no EEG channel"):
        packets(ecg_only, "mind-monitor")


def test_cli(data_dir, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    queue = EventQueue()
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push)
    try:
        args = parser.parse_args(
            ["send", str(data_dir / "biosignals/physio/biosppy_eeg_ec.txt"), "--as",
             "openbci", "--to", f"127.0.0.1:{rx.endpoint.port}", "--duration", "0.4",
             "--speed", "8"]
        )  # fmt: skip
        assert args.func(args) == 0
        assert wait_for(lambda: rx.received == 10)
    finally:
        rx.close()
    assert "sent 10 messages" in capsys.readouterr().out
    bad = parser.parse_args(["send", "/nonexistent.txt", "--as", "emotibit", "--to", "9"])
    assert run_cli(bad) == 2
