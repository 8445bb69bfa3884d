"""Each channel and each LED its own stream: what a NetworkSource gives its dreamer,
the rate check, and the profile's [signals] table."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.sources.network import NetworkSource
from engine.sources.profile_files import load_profile
from engine.sources.profiles import ProfileError, SignalUpdate

RATES = {"eeg": 250.0, "ppg": 25.0, "ecg": 256.0, "resp": 32.0}


def block(signal: str, channel: str, values, t=0.0) -> SignalUpdate:
    x = np.asarray(values, float).reshape(-1, 1)
    return SignalUpdate("host", signal, "samples", x, RATES[signal], t, (channel,))


def test_the_three_emotibit_leds_give_the_ir_stream_alone():
    source = NetworkSource(RATES, signals=load_profile("emotibit").signals)
    for i in range(4):
        for led, offset in (("RED", 100.0), ("IR", 0.0), ("GRN", -50.0)):
            source.push(block("ppg", led, np.arange(3) + 3 * i + offset), t=i * 0.12)
    got = source.read(1.0)["ppg"]
    np.testing.assert_array_equal(got, np.arange(12.0))  # IR's samples, in order, alone
    assert source.read(2.0) == {}


def test_a_missing_named_led_falls_back_to_the_one_sent_with_a_notice(caplog):
    source = NetworkSource(RATES, signals=load_profile("emotibit").signals)
    source.sender = "127.0.0.9"
    source.push(block("ppg", "GRN", [1.0, 2.0]), 0.0)
    with caplog.at_level(logging.WARNING, "oneiric.inputs"):
        np.testing.assert_array_equal(source.read(1.0)["ppg"], [1.0, 2.0])
    assert "no ppg channel 'IR'" in caplog.text and "127.0.0.9" in caplog.text


def test_eeg_channels_come_out_aligned_as_columns():
    source = NetworkSource(RATES)
    for ch in range(8):
        source.push(block("eeg", f"ch{ch}", np.full(10, float(ch))), 0.0)
    source.push(block("eeg", "ch0", np.full(5, 0.0)), 0.04)  # ch0 is ahead by 5
    x = source.read(0.1)["eeg"]
    assert x.shape == (10, 8)
    np.testing.assert_array_equal(x[0], np.arange(8.0))
    for ch in range(1, 8):
        source.push(block("eeg", f"ch{ch}", np.full(5, float(ch))), 0.08)
    assert source.read(0.2)["eeg"].shape == (5, 8)  # ch0's five waited for the rest


def test_a_channel_that_stops_is_left_out_and_the_rest_go_on(caplog):
    source = NetworkSource(RATES)
    with caplog.at_level(logging.WARNING, "oneiric.inputs"):
        source.push(block("eeg", "ch0", np.zeros(300)), 0.0)
        source.push(block("eeg", "ch1", np.zeros(10)), 0.0)
        x = source.read(1.2)["eeg"]
    assert x.shape == (300, 1)
    assert "ch1 stopped" in caplog.text


def test_a_stream_at_a_multiple_of_its_rate_is_reported_once(caplog):
    source = NetworkSource(RATES)
    source.sender = "10.0.0.5"
    with caplog.at_level(logging.WARNING, "oneiric.inputs"):
        for k in range(50):  # 4 channels' worth of samples under one name: 1000 Hz
            source.push(block("eeg", "", np.zeros(100)), k * 0.1)
    assert len(source.notices) == 1
    assert "4.0x its nominal 250 Hz" in source.notices[0] and "10.0.0.5" in source.notices[0]
    assert caplog.text.count("nominal") == 1


def test_a_stream_at_its_own_rate_is_not_reported():
    source = NetworkSource(RATES)
    for k in range(50):
        source.push(block("eeg", "ch0", np.zeros(25)), k * 0.1)
    assert source.notices == []


def test_profile_signals_table_is_checked(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text(
        'name = "x"\n[signals.eeg]\ncombine = "max"\n'
        '[[rule]]\naddress = "/a"\nsignal = "eeg"\nkind = "value"\n'
    )
    with pytest.raises(ProfileError, match=r"\[signals.eeg\]: field 'combine'"):
        load_profile(bad)
    bad.write_text(
        'name = "x"\n[signals.ppg]\nled = "IR"\n'
        '[[rule]]\naddress = "/a"\nsignal = "eeg"\nkind = "value"\n'
    )
    with pytest.raises(ProfileError, match="unknown field"):
        load_profile(bad)
    assert load_profile("emotibit").signals["ppg"].channel == "IR"
    assert load_profile("openbci").signals["eeg"].combine == "mean"
