"""Device profiles: real apps' OSC messages (FORMATS.md examples) -> dreamers' signals."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.udp_client import SimpleUDPClient

from engine.events import Event, EventQueue
from engine.sources.osc import Endpoint, OscReceiver
from engine.sources.profile_files import available_profiles, load_profile
from engine.sources.profiles import ProfileError, SignalUpdate
from engine.sources.translator import Translator

ALL = ["mind-monitor", "openbci", "emotibit", "neurosity", "polar", "generic"]


def ev(address: str, *values: object, source: str = "osc:10.0.0.7") -> Event:
    return Event(1.5, source, address, tuple(values))


def one(updates: list[SignalUpdate] | None) -> SignalUpdate:
    assert updates is not None and len(updates) == 1, updates
    return updates[0]


def test_every_profile_loads():
    assert set(ALL) <= set(available_profiles())
    for name in ALL:
        assert load_profile(name).name == name
    assert load_profile("mind-monitor").ports == (5000,)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name = 1\n[[rule]]\naddress='/a'\nkind='value'\nsignal='a'", "'name'"),
        ("name='x'\n[[rule]]\naddress='/a'\nkind='wobble'\nsignal='a'", "'kind'"),
        ("name='x'\n[[rule]]\naddress='/a'\nkind='samples'\nsignal='a'", "'rate'"),
        (
            "name='x'\n[dreamer]\nby='address'\ncapture='id'\n[[rule]]\naddress='/a'\nkind='value'"
            "\nsignal='a'",
            "capture",
        ),
        ("name='x'\n[[rule]]\naddress='/a'\nkind='value'\nsignal='{b}'", "'signal'"),
        ("name='x'\n[[rule]]\naddress='/a'\nkind='value'\nsignal='a'\nrnage=[0,1]", "rnage"),
        ("name='x' = broken", "TOML"),
    ],
)
def test_bad_profiles_name_file_and_field(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(path) in str(info.value) and needle in str(info.value)


# ---------------------------------------------------------------- Mind Monitor


def test_muse_eeg_4_or_6_floats_keeps_the_four_electrodes():
    p = load_profile("mind-monitor")
    u = one(p.translate(ev("/muse/eeg", 842.1, 815.3, 830.0, 861.2)))
    assert (u.dreamer, u.signal, u.kind, u.rate) == ("10.0.0.7", "eeg", "samples", 256.0)
    assert u.channels == ("TP9", "AF7", "AF8", "TP10") and u.values.shape == (1, 4)
    assert u.values[0, 0] == pytest.approx(842.1)
    u6 = one(p.translate(ev("/muse/eeg", 842.1, 815.3, 830.0, 861.2, 800.0, 801.0)))
    assert u6.channels == u.channels and np.allclose(u6.values, u.values)
    t = Translator([p])
    assert t.feed(ev("/muse/eeg", 1.0, 2.0, 3.0)) == [] and t.dropped["wrong argument count"] == 1


def test_muse_bands_one_or_four_floats_become_relative_power():
    t = Translator(["mind-monitor"])
    bands = {"delta": 0.9, "theta": 0.7, "alpha": 0.61, "beta": 0.3, "gamma": 0.1}
    out: list[SignalUpdate] = []
    for i, (band, a) in enumerate(bands.items()):
        args = (a,) if i % 2 else (a - 0.1, a + 0.1, a, a)  # 1 float ("Average") or 4
        out += t.feed(ev(f"/muse/elements/{band}_absolute", *args))
    u = one(out)  # one update once the five bands are in
    expect = np.power(10.0, list(bands.values()))
    assert u.kind == "bands" and u.channels == tuple(bands)
    assert np.allclose(u.values, expect / expect.sum()) and u.values.sum() == pytest.approx(1)
    assert t.translated == 5 and not t.dropped
    # the FORMATS.md example
    assert t.feed(ev("/muse/elements/alpha_absolute", 0.61)) == []
    assert t.feed(ev("/muse/elements/alpha_absolute", 0.1, 0.2)) == []
    assert t.dropped["wrong argument count"] == 1


def test_muse_horseshoe_and_events_only_when_they_happen():
    p = load_profile("mind-monitor")
    q = one(p.translate(ev("/muse/elements/horseshoe", 1.0, 2.0, 4.0, 1.0)))
    assert q.kind == "quality" and q.values.tolist() == [1.0, 0.5, 0.0, 1.0]
    assert q.channels == ("TP9", "AF7", "AF8", "TP10")
    b = one(p.translate(ev("/muse/elements/blink", 1)))
    assert (b.signal, b.kind, b.values.tolist()) == ("blink", "event", [1.0])
    assert one(p.translate(ev("/muse/elements/jaw_clench", 1))).signal == "jaw_clench"
    assert one(p.translate(ev("/Marker/3", 1))).signal == "marker3"


# ---------------------------------------------------------------- OpenBCI


def test_openbci_time_series_carries_n_samples_per_channel():
    p = load_profile("openbci")
    u = one(p.translate(ev("/openbci/time-series-raw/ch2", 1.0, 2.0, 3.0, 4.0, 5.0)))
    assert (u.signal, u.channels, u.rate, u.values.shape) == ("eeg", ("ch2",), 250.0, (5, 1))


def test_openbci_average_band_power_growing_arguments_take_the_last():
    t = Translator(["openbci"])
    powers = [8.0, 4.0, 2.0, 1.0, 1.0]
    out: list[SignalUpdate] = []
    for i in range(5):
        # the GUI never clears the message: band i carries i+1 floats, band i's is last
        out += t.feed(ev(f"/openbci/average-band-power/{i}", *powers[: i + 1]))
    u = one(out)
    assert np.allclose(u.values, np.array(powers) / sum(powers))
    b = one(t.feed(ev("/openbci/band-power/1", *powers)))
    assert b.signal == "bands_ch1" and np.allclose(b.values, u.values)


# ---------------------------------------------------------------- EmotiBit, Neurosity, Polar


def test_emotibit_colons_are_literal():
    p = load_profile("emotibit")
    u = one(p.translate(ev("/EmotiBit/0/PPG:IR", 10234.0, 10240.0, 10251.0)))
    assert (u.signal, u.channels, u.rate, u.values[:, 0].tolist()) == (
        "ppg", ("IR",), 25.0, [10234.0, 10240.0, 10251.0]
    )  # fmt: skip
    assert one(p.translate(ev("/EmotiBit/0/ACC:Z", 0.98))).channels == ("Z",)
    assert one(p.translate(ev("/EmotiBit/0/SCR:AMP", 0.2))).signal == "scr_AMP"
    assert p.translate(ev("/EmotiBit/0/PPG", 1.0)) is None  # no colon, no match


def test_neurosity_raw_takes_the_floats_and_the_device_is_the_dreamer():
    p = load_profile("neurosity")
    floats = [float(i) for i in range(128)]
    u = one(p.translate(ev("/neurosity/notion/crown-abc/raw", *floats, "1700000000000", 42, "")))
    assert u.dreamer == "crown-abc" and u.values.shape == (16, 8) and u.rate == 256.0
    assert u.values[1, 0] == 8.0 and u.channels[0] == "CP3"
    t = Translator([p])
    for band in ["delta", "theta", "alpha", "beta"]:
        assert t.feed(ev(f"/crownXYZ/{band}", *[1.0] * 8)) == []
    g = one(t.feed(ev("/crownXYZ/gamma", *[1.0] * 8)))
    assert g.dreamer == "XYZ" and np.allclose(g.values, 0.2)


def test_polar_and_generic():
    t = Translator(["polar", "generic"])
    hr = one(t.feed(ev("/heartrate", 72)))
    assert (hr.signal, hr.values.tolist()) == ("heart_rate", [72.0])
    g = one(t.feed(ev("/dreamer/3/breath", 0.4, 0.5)))
    assert (g.dreamer, g.signal, g.values.tolist()) == ("3", "breath", [0.4, 0.5])


# ---------------------------------------------------------------- bad input is counted


def test_nan_inf_absurd_and_wrong_types_are_counted_never_raised():
    t = Translator([load_profile(n) for n in ALL])
    assert t.feed(ev("/muse/eeg", math.nan, 1.0, 1.0, 1.0)) == []
    assert t.feed(ev("/EmotiBit/0/EDA", 1.0, math.inf)) == []
    assert t.dropped["NaN/inf dropped"] == 2
    u = one(t.feed(ev("/muse/eeg", 1e9, 800.0, -5.0, 800.0)))
    assert u.values[0].tolist() == [1682.815, 800.0, 0.0, 800.0] and t.clamped == 2
    assert t.feed(ev("/muse/eeg", "842.1", 1.0, 1.0, 1.0)) == []
    assert t.feed(ev("/heartrate", True)) == []
    assert t.feed(ev("/dreamer/1/x", b"blob")) == []
    assert t.dropped["wrong argument type"] == 3
    assert t.feed(ev("/nobody/home", 1.0)) == [] and t.dropped["unknown address"] == 1
    assert t.fed == t.translated + sum(t.dropped.values())


_segment = st.sampled_from(
    ["muse", "eeg", "elements", "alpha_absolute", "openbci", "band-power", "0", "1", "raw",
     "EmotiBit", "PPG:IR", "dreamer", "crownX", "gamma", "polar", "ecg", "heartrate", "x:y"]
) | st.text(min_size=1, max_size=6).filter(lambda s: "/" not in s)  # fmt: skip
_value = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**31), 2**31 - 1)
    | st.text(max_size=4)
    | st.booleans()
    | st.binary(max_size=4)
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.lists(_segment, min_size=1, max_size=5), st.lists(_value, max_size=20)))
)
def test_random_messages_never_raise_and_the_counts_add_up(messages):
    t = Translator([load_profile(n) for n in ALL])
    for segments, values in messages:
        for u in t.feed(ev("/" + "/".join(segments), *values)):
            assert np.isfinite(u.values).all()
    assert t.fed == len(messages) == t.translated + sum(t.dropped.values())


# ---------------------------------------------------------------- real UDP on loopback


def _collect(queue: EventQueue, translator: Translator, want: int, timeout: float = 5.0):
    got: list[SignalUpdate] = []
    end = time.monotonic() + timeout
    while translator.fed < want:
        assert time.monotonic() < end, f"timed out: {translator.fed}/{want} events"
        for e in queue.drain():
            got += translator.feed(e)
        time.sleep(0.01)
    return got


def test_udp_round_trip_several_senders_and_profiles():
    queue = EventQueue()
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push)
    try:
        t = Translator([load_profile(n) for n in ALL], port=rx.endpoint.port)
        c = SimpleUDPClient("127.0.0.1", rx.endpoint.port)
        c.send_message("/muse/eeg", [842.1, 815.3, 830.0, 861.2])
        c.send_message("/dreamer/7/breath", [0.25])
        c.send_message("/dreamer/8/breath", [0.75])
        c.send_message("/neurosity/notion/dev1/raw", [*[1.0] * 16, "1700000000000", 3, "m"])
        c.send_message("/EmotiBit/0/PPG:IR", [10234.0, 10240.0, 10251.0])
        c.send_message("/muse/elements/blink", 1)
        got = _collect(queue, t, 6)
    finally:
        rx.close()
    by = {(u.dreamer, u.signal): u for u in got}
    assert by[("127.0.0.1", "eeg")].values[0, 3] == pytest.approx(861.2, abs=1e-3)
    assert by[("7", "breath")].values.tolist() == [0.25]
    assert by[("8", "breath")].values.tolist() == [0.75]
    assert by[("dev1", "eeg")].values.shape == (2, 8)
    assert by[("127.0.0.1", "ppg")].channels == ("IR",)
    assert by[("127.0.0.1", "blink")].kind == "event"
    assert t.translated == 6 and not t.dropped


def test_udp_round_trip_with_liblo_oscsend():
    oscsend = shutil.which("oscsend")
    if oscsend is None:
        pytest.skip("oscsend not on PATH (Debian package liblo-tools): liblo interop untested")
    queue = EventQueue()
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push)
    try:
        t = Translator([load_profile(n) for n in ALL])
        port = str(rx.endpoint.port)
        for args in (
            ["/muse/eeg", "ffff", "842.1", "815.3", "830.0", "861.2"],
            ["/EmotiBit/0/PPG:IR", "fff", "10234", "10240", "10251"],
            ["/heartrate", "i", "72"],
        ):
            subprocess.run([oscsend, "127.0.0.1", port, *args], check=True, timeout=5)
        got = _collect(queue, t, 3)
    finally:
        rx.close()
    assert [u.signal for u in got] == ["eeg", "ppg", "heart_rate"]
    assert got[2].values.tolist() == [72.0] and not t.dropped
