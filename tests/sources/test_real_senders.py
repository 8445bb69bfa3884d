"""Real senders, real UDP: EmotiBit with its three LEDs and an 8-channel OpenBCI Cyton,
sent by the rig's own `send`, by liblo's oscsendfile and by osc.js (an npm library), reach
one dreamer with the heart rate and the bands of the single stream they carry.

Before each channel and LED became its own stream, the three LEDs appended into one
PPG read 166.7 bpm (the packet rhythm) and eight channels appended into one EEG, at 8x
its rate, put alpha far from the file's.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, headless_env
from pythonosc.osc_message import OscMessage

from engine.clock import RealtimeClock
from engine.features.dsp import band_powers
from engine.features.heart import heart_rate_ecg
from engine.render import load_set
from engine.send import packets
from engine.show import Show
from engine.sources.network import NetworkSource
from engine.sources.recordings import load

SENDERS_DIR = ROOT / "tests" / "senders"
SET = """
[set]
duration = 60.0
fps = 30
size = [32, 18]
[[dreamers]]
count = 1
source = "osc"
profile = "{profile}"
listen = "127.0.0.1:0"
enhance = false
shader = "tide"
patch = "drone"
"""


def schedule(recording: Path, fmt: str, seconds: float, channels: int | None = None):
    """(time, address, floats) of every message the app would send."""
    out = []
    for t, datagram in packets(recording, fmt, duration=seconds, channels=channels):
        msg = OscMessage(datagram)
        out.append((t, msg.address, [float(x) for x in msg.params]))
    return out


def liblo_file(path: Path, messages) -> Path:
    """oscsendfile's input: an NTP timetag (hex seconds.fraction), address, types, args."""
    lines = []
    for t, address, args in messages:
        seconds = 1 << 20
        frac = int((t % 1.0) * (1 << 32))
        lines.append(
            f"{seconds + int(t):08x}.{frac:08x} {address} {'f' * len(args)} "
            + " ".join(f"{x:.6f}" for x in args)
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def plain_file(path: Path, messages) -> Path:
    lines = [
        f"{t:.6f} {a} {'f' * len(args)} " + " ".join(repr(x) for x in args)
        for t, a, args in messages
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def sender(kind: str, tmp_path: Path, rec: Path, fmt: str, seconds: float, port: int, n=None):
    """The command line of one of the three senders."""
    if kind == "rig":
        cmd = [sys.executable, str(ROOT / "performance.py"), "send", str(rec), "--as", fmt]
        cmd += ["--to", f"127.0.0.1:{port}", "--duration", str(seconds)]
        return cmd + (["--channels", str(n)] if n else [])
    messages = schedule(rec, fmt, seconds, n)
    if kind == "liblo":
        if shutil.which("oscsendfile") is None:
            pytest.skip("oscsendfile (liblo-tools) missing")
        return [
            "oscsendfile",
            "127.0.0.1",
            str(port),
            str(liblo_file(tmp_path / "m.txt", messages)),
        ]
    if shutil.which("node") is None or not (SENDERS_DIR / "node_modules" / "osc").is_dir():
        pytest.skip("node or osc.js missing (make test installs it: tests/senders)")
    path = plain_file(tmp_path / "m.txt", messages)
    return ["node", str(SENDERS_DIR / "send.js"), str(path), "127.0.0.1", str(port)]


def play_live(tmp_path: Path, gl, profile: str, cmd_for) -> tuple[Show, NetworkSource]:
    """Run the show on the wall clock while the sender sends, until it is done."""
    path = tmp_path / f"{profile}.toml"
    path.write_text(SET.format(profile=profile))
    show = Show(load_set(path), gl, audio=False)
    assert show.inputs is not None
    proc = subprocess.Popen(
        cmd_for(show.inputs.endpoints[0].port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    clock = RealtimeClock(30)
    done_at = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        show.step(clock.tick())
        time.sleep(1 / 60)
        if done_at is None and proc.poll() is not None:
            done_at = time.monotonic()
        if done_at is not None and time.monotonic() - done_at > 0.4:
            break
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    source = show.dreamers[0].source
    assert isinstance(source, NetworkSource)
    return show, source


@pytest.mark.parametrize("kind", ["rig", "liblo", "osc.js"])
def test_emotibit_with_three_leds_reads_the_heart_from_ir(tmp_path, gl, data_dir, kind):
    rec_path = data_dir / "biosignals" / "wfdb" / "v102s.hea"
    ecg = load(rec_path).channels["ii"]
    want = heart_rate_ecg(ecg.data[: int(10 * ecg.fs)], ecg.fs).bpm
    show, source = play_live(
        tmp_path,
        gl,
        "emotibit",
        lambda port: sender(kind, tmp_path, rec_path, "emotibit", 10.0, port),
    )
    try:
        d = show.dreamers[0]
        d.analyse(show.now)
        got = d.features.heart_bpm
        assert abs(got - want) < 5.0, f"{kind}: {got:.1f} bpm from the LEDs, {want:.1f} the ECG"
        assert set(source._arrived) >= {("ppg", "RED"), ("ppg", "IR"), ("ppg", "GRN")}
        assert not source.notices, source.notices  # every LED at its nominal 25 Hz
    finally:
        show.close()


@pytest.mark.parametrize("kind", ["rig", "liblo", "osc.js"])
def test_an_8_channel_cyton_gives_the_bands_of_its_one_stream(tmp_path, gl, data_dir, kind):
    rec_path = data_dir / "biosignals" / "physio" / "biosppy_eeg_ec.txt"
    seconds = 6.0
    show, source = play_live(
        tmp_path,
        gl,
        "openbci",
        lambda port: sender(kind, tmp_path, rec_path, "openbci", seconds, port, 8),
    )
    try:
        d = show.dreamers[0]
        assert len(d.eeg_channels) == 8
        d.analyse(show.now)
        ch = next(iter(load(rec_path).channels.values()))
        truth = band_powers(ch.data[int((seconds - 4) * ch.fs) : int(seconds * ch.fs)], ch.fs)
        for band in ("delta", "alpha"):
            got = getattr(d.features, band)
            assert got == pytest.approx(truth[band], abs=0.03), f"{kind}: {band}"
        assert d.rings["eeg"].filled >= 0.95 * 4 * 250  # 250 Hz, not 8 x 250
        assert not source.notices, source.notices
    finally:
        show.close()


def test_live_prints_who_sent_and_which_dreamer_each_took(tmp_path, data_dir):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    set_path = tmp_path / "room.toml"
    set_path.write_text(
        SET.format(profile="mind-monitor").replace("127.0.0.1:0", f"127.0.0.1:{port}")
    )
    live = [sys.executable, str(ROOT / "performance.py"), "live", str(set_path), "--headless"]
    proc = subprocess.Popen(
        [*live, "--audio", "off", "--no-watch", "--duration", "8"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=headless_env(),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "listening for dreamers" in line:
            break
    eeg = data_dir / "biosignals" / "physio" / "biosppy_eeg_ec.txt"
    send = [sys.executable, str(ROOT / "performance.py"), "send", str(eeg), "--as", "mind-monitor"]
    subprocess.run([*send, "--to", f"127.0.0.1:{port}", "--duration", "2"], check=True,
                   capture_output=True)  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert re.search(rf"osc 127\.0\.0\.1:{port}: \d+ in, \d+ used, 0 dropped", out), out
    assert "mind-monitor 127.0.0.1 -> /dreamer/1:" in out, out
