"""People streaming from apps: real UDP on loopback into the right dreamer; dropouts fade."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from engine.clock import FrameClock
from engine.render import load_set
from engine.show import Show

SET = """
[set]
duration = 60.0
fps = 30
size = [64, 36]
seed = 1

[merge]
mode = "add"
resonance = 1.0
state = 0.0

[[dreamers]]
count = 2
source = "osc"
profile = "mind-monitor"
listen = "127.0.0.1:0"
timeout = 1.0
fade = 0.5
enhance = false
shader = "aurora"
patch = "drone"
"""
FS = 256


class Phone:
    """A Mind Monitor stand-in: /muse/eeg messages from its own address."""

    def __init__(self, host: str, port: int, hz: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.target = ("127.0.0.1", port)
        self.hz = hz
        self.n = 0
        self.sent = 0

    def send_until(self, t: float) -> None:
        rng = np.random.default_rng(self.n)
        while self.n < int(t * FS):
            x = 800.0 + 60.0 * np.sin(2 * np.pi * self.hz * self.n / FS) + rng.normal(0, 3, 4)
            msg = OscMessageBuilder("/muse/eeg")
            for v in x:
                msg.add_arg(float(v), "f")
            self.sock.sendto(msg.build().dgram, self.target)
            self.n += 1
            self.sent += 1


@pytest.fixture
def show(tmp_path, gl):
    path = tmp_path / "room.toml"
    path.write_text(SET)
    running = Show(load_set(path), gl, audio=False)
    yield running
    running.close()


def run(show, clock, phones, seconds, sending=True):
    assert show.inputs is not None
    rx = next(iter(show.inputs._receivers.values()))
    for _ in range(int(seconds * 30)):
        tick = clock.tick()
        if sending:
            for phone in phones:
                phone.send_until(tick.time)
            want = sum(p.sent for p in phones)
            end = time.monotonic() + 5
            while rx.received < want and time.monotonic() < end:
                time.sleep(0.001)
        show.step(tick)


def test_two_phones_drive_two_dreamers_and_a_dropout_fades_out_and_back(show):
    port = show.inputs.endpoints[0].port
    alpha_phone = Phone("127.0.0.1", port, 10.0)  # eyes closed: alpha
    delta_phone = Phone("127.0.0.2", port, 1.5)  # deep sleep: delta
    clock = FrameClock(30)
    run(show, clock, [alpha_phone, delta_phone], 6.0)
    one, two = show.dreamers
    assert one.features.alpha > 0.5 > two.features.alpha, (one.features, two.features)
    assert two.features.delta > 0.5 > one.features.delta
    assert one.presence == 1.0 and two.presence == 1.0
    assert show.weights()[1] > 0.9

    run(show, clock, [alpha_phone], 2.0)  # the second phone locks its screen
    assert two.presence == 0.0 and show.weights()[1] == 0.0
    assert one.presence == 1.0

    delta_phone.n = int(clock.time_of(clock._next) * FS)  # it comes back, live
    run(show, clock, [alpha_phone, delta_phone], 1.0)
    assert two.presence == 1.0


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="oscsend (liblo-tools) missing")
def test_an_independent_sender_moves_the_dreamer(show):
    """liblo's oscsend, not python-osc, sends the electrode fit: the quality follows."""
    port = show.inputs.endpoints[0].port
    phone = Phone("127.0.0.1", port, 10.0)
    clock = FrameClock(30)
    run(show, clock, [phone], 2.0)
    for fit in ("1", "4"):  # all good, then all bad (Muse horseshoe codes)
        subprocess.run(
            [
                "oscsend",
                "127.0.0.1",
                str(port),
                "/muse/elements/horseshoe",
                "ffff",
                fit,
                fit,
                fit,
                fit,
            ],
            check=True,
        )
        time.sleep(0.1)
        run(show, clock, [phone], 0.5)
        expected = 1.0 if fit == "1" else 0.0
        assert show.dreamers[0].features.quality == expected


def test_a_flat_electrode_is_not_trusted_and_keeps_the_last_bands(show):
    port = show.inputs.endpoints[0].port
    phone = Phone("127.0.0.1", port, 10.0)
    clock = FrameClock(30)
    run(show, clock, [phone], 5.0)
    dreamer = show.dreamers[0]
    assert dreamer.problem is None and dreamer.features.alpha > 0.5
    assert dreamer.features.quality > 0.5

    class Flat(Phone):  # the headband slipped: the ADC sits still
        def send_until(self, t: float) -> None:
            while self.n < int(t * FS):
                msg = OscMessageBuilder("/muse/eeg")
                for _ in range(4):
                    msg.add_arg(842.0, "f")
                self.sock.sendto(msg.build().dgram, self.target)
                self.n += 1
                self.sent += 1

    flat = Flat("127.0.0.1", port, 0.0)
    flat.n = phone.n
    for _ in range(30):  # once the 4-s window holds nothing but the flat line...
        run(show, clock, [flat], 0.2)
        if dreamer.problem == "flat":
            break
    assert dreamer.problem == "flat" and dreamer.features.quality == 0.0
    held = dreamer.features.bands
    run(show, clock, [flat], 2.0)
    assert dreamer.features.bands == held, "a flat window must not rewrite the bands"
    assert dreamer.features.quality == 0.0


def test_one_sender_on_several_ports_is_one_dreamer_and_strangers_are_kept_out(tmp_path, gl):
    """OpenBCI's GUI sends on up to four ports; an allowlist keeps other senders out."""
    from pythonosc.udp_client import SimpleUDPClient

    ports = []
    for _ in range(2):  # two free ports for the set to listen on
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        ports.append(probe.getsockname()[1])
        probe.close()
    path = tmp_path / "bci.toml"
    path.write_text(
        "[set]\nduration = 10.0\nfps = 30\nsize = [32, 18]\n"
        '[[dreamers]]\ncount = 2\nsource = "osc"\nprofile = "openbci"\n'
        f'listen = ["127.0.0.1:{ports[0]}", "127.0.0.1:{ports[1]}"]\n'
        'allow = ["127.0.0.1"]\nshader = "tide"\npatch = "drone"\n'
    )
    show = Show(load_set(path), gl, audio=False)
    try:
        samples = [float(x) for x in np.sin(np.arange(25) / 3.0) * 20]
        SimpleUDPClient("127.0.0.1", ports[0]).send_message("/openbci/time-series-raw/ch0", samples)
        SimpleUDPClient("127.0.0.1", ports[1]).send_message("/openbci/time-series-raw/ch0", samples)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.0.0.2", 0))
        msg = OscMessageBuilder("/openbci/time-series-raw/ch0")
        msg.add_arg(1.0, "f")
        stranger.sendto(msg.build().dgram, ("127.0.0.1", ports[0]))
        time.sleep(0.3)
        clock = FrameClock(30)
        show.step(clock.tick())
        first, second = show.dreamers
        assert first.rings["eeg"].filled == 50, "both ports' samples reach the same dreamer"
        assert second.rings["eeg"].filled == 0, "the stranger was not let in"
        assert show.inputs is not None
        rx = show.inputs._receivers[next(e for e in show.inputs.endpoints if e.port == ports[0])]
        assert rx.dropped["sender not allowed"] == 1
    finally:
        show.close()
