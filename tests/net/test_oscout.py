"""OSC out: a python-osc receiver and liblo's oscdump get the features at the set rate
(within 5%), in bundles, with the values the rig has; the set file and its errors."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest
from netrig import open_rig
from pythonosc.osc_packet import OscPacket

from engine import sets
from engine.net import osc_wire
from engine.net.oscout import OscOut
from engine.osc_out_spec import parse_osc_out

RATE = 40.0
SECONDS = 3.0


@pytest.fixture
def rig(tmp_path, gl):
    yield from open_rig(tmp_path, gl)


class Receiver:
    """A UDP port read by python-osc's packet parser on a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.bundles: list[tuple[float, dict[str, tuple]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            assert data.startswith(b"#bundle")
            got = {m.message.address: tuple(m.message.params) for m in OscPacket(data).messages}
            self.bundles.append((time.monotonic(), got))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def run_show(rig, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rig.step()


def rate_of(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0])


def test_python_osc_and_oscdump_get_the_features_at_the_set_rate(rig, tmp_path):
    if shutil.which("oscdump") is None:
        pytest.skip("liblo-tools' oscdump is not installed (make system installs it)")
    receiver = Receiver()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        dump_port = probe.getsockname()[1]
    dumped = (tmp_path / "oscdump.txt").open("w")  # a file: a full pipe would stall it
    dump = subprocess.Popen(["oscdump", "-L", str(dump_port)], stdout=dumped)
    time.sleep(0.3)
    out = OscOut(
        rig.show.params,
        [f"127.0.0.1:{receiver.port}", f"127.0.0.1:{dump_port}"],
        rate=RATE,
    )
    rig.live.on_frame = lambda f: (rig.feed.frame(f), out.frame(f))
    try:
        run_show(rig, SECONDS)
        time.sleep(0.3)  # the show is still now: what arrives last is what it has
        out.close()
        time.sleep(0.1)
    finally:
        receiver.close()
        dump.terminate()
        dump.wait(timeout=5)
        dumped.close()
    lines = (tmp_path / "oscdump.txt").read_text()
    times = [t for t, _ in receiver.bundles]
    assert len(times) > RATE * SECONDS * 0.8
    assert rate_of(times) == pytest.approx(RATE, rel=0.05)
    last = receiver.bundles[-1][1]
    params = rig.show.params
    for d in (1, 2):
        assert last[f"/dreamer/{d}/heart"][0] == pytest.approx(params.get(f"/dreamer/{d}/heart"))
        assert last[f"/dreamer/{d}/alpha"][0] == pytest.approx(params.get(f"/dreamer/{d}/alpha"))
        assert last[f"/dreamer/{d}/stage"] == (params.describe(f"/dreamer/{d}/stage"),)
    assert last["/group/resonance"][0] == pytest.approx(params.get("/group/resonance"))
    assert last["/tempo/bpm"][0] == pytest.approx(params.get("/tempo/bpm"))
    assert len(last) == 3 * 10 + 3  # three dreamers' ten features, the group's three
    # oscdump prints each message with its bundle's time: one time per bundle
    rows = [line.split() for line in lines.splitlines() if line.strip()]
    stamps: dict[str, dict[str, str]] = {}
    for row in rows:
        stamps.setdefault(row[0], {})[row[1]] = row[-1]
    bundle_times = [int(s.split(".")[0], 16) + int(s.split(".")[1], 16) / 2**32 for s in stamps]
    assert len(bundle_times) > RATE * SECONDS * 0.8
    assert rate_of(sorted(bundle_times)) == pytest.approx(RATE, rel=0.05)
    final = stamps[max(stamps, key=lambda s: int(s.replace(".", ""), 16))]
    assert float(final["/dreamer/1/heart"]) == pytest.approx(
        params.get("/dreamer/1/heart"), abs=1e-4
    )
    assert final["/dreamer/2/stage"] == f'"{params.describe("/dreamer/2/stage")}"'


def test_chosen_paths_and_patterns_only(rig):
    receiver = Receiver()
    out = OscOut(rig.show.params, [f"127.0.0.1:{receiver.port}"], rate=50, send=["/merge/*"])
    try:
        rig.show.params.set("/merge/chaos", 0.5)
        for _ in range(5):
            rig.step()
            out.frame()
            time.sleep(0.05)
    finally:
        out.close()
        receiver.close()
    last = receiver.bundles[-1][1]
    assert set(last) == {p for p in rig.show.params.match("/merge/*")}
    assert last["/merge/chaos"][0] == pytest.approx(rig.show.params.get("/merge/chaos"))
    assert last["/merge/chaos"][0] > 0.4
    assert last["/merge/mode"] == ("dream",)


def test_a_target_that_is_not_there_is_counted_not_raised(rig):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = OscOut(rig.show.params, [f"127.0.0.1:{port}"], rate=100)
    try:
        for _ in range(10):
            out.frame()
            time.sleep(0.02)
    finally:
        out.close()
    assert out.bundles >= 1  # loopback refuses some with ICMP: those are counted
    assert sum(out.errors.values()) + out.bundles >= 10


def test_bundles_split_under_the_datagram_size_and_parse():
    messages = [osc_wire.message(f"/dreamer/{i}/alpha", [i / 100]) for i in range(400)]
    packets = list(osc_wire.bundles(messages, 1400))
    assert len(packets) > 1 and all(len(p) <= 1400 for p in packets)
    got = [m.message for p in packets for m in OscPacket(p).messages]
    assert [m.address for m in got] == [f"/dreamer/{i}/alpha" for i in range(400)]
    assert got[7].params[0] == pytest.approx(0.07)
    mixed = OscPacket(osc_wire.message("/x", [1, 2.5, "N3", True, False, b"\x01\x02\x03"]))
    assert mixed.messages[0].message.params == [1, 2.5, "N3", True, False, b"\x01\x02\x03"]
    assert struct.unpack(">i", osc_wire.bundle([b"abcd"])[16:20])[0] == 4


def test_the_set_file_names_targets_rate_and_paths(tmp_path):
    [spec] = parse_osc_out(
        [{"target": ["127.0.0.1:9000", "localhost:7000"], "rate": 20, "send": "/dreamer/*/heart"}]
    )
    assert spec.targets == ("127.0.0.1:9000", "localhost:7000") and spec.rate == 20.0
    assert spec.send == ("/dreamer/*/heart",)
    for bad, field in (
        ({"target": "nowhere"}, "target"),
        ({"target": "127.0.0.1:9000", "rate": 0}, "rate"),
        ({"target": "127.0.0.1:9000", "send": ["heart"]}, "send"),
        ({"target": "127.0.0.1:9000", "rat": 3}, "rat"),
    ):
        with pytest.raises(ValueError, match=rf"osc_out\[0\]\.{field}"):
            parse_osc_out([bad])
    path = tmp_path / "s.toml"
    path.write_text(
        '[set]\nduration = 1\n[[dreamers]]\ncount = 1\nstages = [[0, "W"]]\nshader = "aurora"\n'
        'patch = "drone"\n[[osc_out]]\ntarget = "127.0.0.1:9000"\nrate = 60\n'
    )
    loaded = sets.load(path, shaders={"aurora"}, patches={"drone"})
    assert loaded.osc_out[0].rate == 60.0 and loaded.osc_out[0].send == ()
    path.write_text(path.read_text().replace("rate = 60", "rate = -1"))
    with pytest.raises(sets.SetError, match="rate"):
        sets.load(path, shaders={"aurora"}, patches={"drone"})
