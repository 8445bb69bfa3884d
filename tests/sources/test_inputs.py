"""Each profile's format, over real UDP, moves the right dreamer's features.

The datagrams are the rig's own `send` rendering of real recordings (an eyes-closed
EEG, a finger PPG) in each app's format, plus liblo's oscsend for the generic scheme.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from engine.clock import FrameClock
from engine.features.dsp import band_powers
from engine.features.heart import heart_rate_ecg
from engine.render import load_set
from engine.send import packets
from engine.show import Show
from engine.sources.recordings import load

SET = """
[set]
duration = 60.0
fps = 30
size = [32, 18]
[[dreamers]]
count = 2
source = "osc"
profile = "{profile}"
listen = "127.0.0.1:0"
enhance = false
shader = "tide"
patch = "drone"
"""


def make_show(tmp_path: Path, gl, profile: str) -> Show:
    path = tmp_path / f"{profile}.toml"
    path.write_text(SET.format(profile=profile))
    return Show(load_set(path), gl, audio=False)


def play(show: Show, senders, seconds: float) -> None:
    """Each sender (host, datagrams) sends each datagram when its time comes in show
    time; frames are stepped in between, as the live loop would."""
    assert show.inputs is not None
    port = show.inputs.endpoints[0].port
    rx = next(iter(show.inputs._receivers.values()))
    streams = []
    for host, datagrams in senders:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        pending = iter(datagrams)
        streams.append([sock, pending, next(pending, None)])
    clock = FrameClock(30)
    sent = 0
    for _ in range(int(seconds * 30)):
        tick = clock.tick()
        for stream in streams:
            sock, pending, nxt = stream
            while nxt is not None and nxt[0] <= tick.time:
                sock.sendto(nxt[1], ("127.0.0.1", port))
                sent += 1
                nxt = next(pending, None)
            stream[2] = nxt
        end = time.monotonic() + 5
        while rx.received < sent and time.monotonic() < end:
            time.sleep(0.0005)
        show.step(tick)


@pytest.mark.parametrize("profile", ["mind-monitor", "openbci"])
def test_eyes_closed_and_open_eeg_in_an_apps_format_reach_their_own_dreamers(
    tmp_path, gl, data_dir, profile
):
    physio = data_dir / "biosignals" / "physio"
    closed, opened = load(physio / "biosppy_eeg_ec.txt"), load(physio / "biosppy_eeg_eo.txt")
    show = make_show(tmp_path, gl, profile)
    try:
        play(
            show,
            [
                ("127.0.0.1", packets(closed, profile, duration=8.0)),  # first: dreamer 1
                ("127.0.0.2", packets(opened, profile, duration=8.0)),
            ],
            8.0,
        )
        one, two = show.dreamers
        assert one.rings["eeg"].filled > 500 and two.rings["eeg"].filled > 500
        # each dreamer's alpha is its own file's, over the same last 4 s (these openings
        # differ: 0.08 with eyes closed, 0.18 open), whatever the app's format did to it
        for dreamer, rec in ((one, closed), (two, opened)):
            ch = next(iter(rec.channels.values()))
            direct = band_powers(ch.data[int(4 * ch.fs) : int(8 * ch.fs)], ch.fs)["alpha"]
            assert dreamer.features.alpha == pytest.approx(direct, abs=0.02)
    finally:
        show.close()


def test_a_finger_ppg_as_emotibit_gives_the_heart_rate_of_the_ecg(tmp_path, gl, data_dir):
    rec = load(data_dir / "biosignals" / "wfdb" / "v102s.hea")
    ecg = rec.channels["ii"]
    want = heart_rate_ecg(ecg.data[: int(10 * ecg.fs)], ecg.fs).bpm
    show = make_show(tmp_path, gl, "emotibit")
    try:
        play(show, [("127.0.0.1", packets(rec, "emotibit", duration=10.0))], 10.0)
        got = show.dreamers[0].features.heart_bpm
        assert abs(got - want) < 5.0, f"PPG over OSC gave {got:.1f} bpm, the ECG {want:.1f}"
    finally:
        show.close()


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="oscsend (liblo-tools) missing")
def test_liblo_oscsend_in_the_generic_scheme_reaches_dreamer_by_its_id(tmp_path, gl):
    show = make_show(tmp_path, gl, "generic")
    try:
        assert show.inputs is not None
        port = str(show.inputs.endpoints[0].port)
        t = np.arange(256 * 4) / 256
        x = 40 * np.sin(2 * np.pi * 10 * t)
        for chunk in np.split(x, 32):  # 32 messages of 32 samples
            args = [f"{v:.3f}" for v in chunk]
            subprocess.run(
                ["oscsend", "127.0.0.1", port, "/dreamer/7/eeg", "f" * len(args), *args],
                check=True,
                timeout=5,
            )
        time.sleep(0.3)
        clock = FrameClock(30)
        for _ in range(12):
            show.step(clock.tick())
        one = show.dreamers[0]  # id "7" is the group's first sender
        assert one.rings["eeg"].filled == len(x)
        assert one.features.alpha > 0.5
    finally:
        show.close()
