"""OSC input under abuse: fuzzed datagrams and a flood from another process.

The fuzz test sends valid Mind Monitor / EmotiBit / OpenBCI datagrams (python-osc's
builders), mutated ones and random bytes over real UDP to an OscReceiver feeding an
EventQueue that a Translator drains: nothing raises, the thread lives on, and every
datagram is accounted for. The flood sends 50k msgs/s from a separate process while
a 30 fps frame loop drains the bounded queue: the loop keeps its rate, memory stays
flat, and what is lost is counted.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import numpy as np
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from engine.events import EventQueue
from engine.sources.osc import Endpoint, OscReceiver
from engine.sources.translator import Translator


def _msg(address: str, *args: object) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


VALID = [
    _msg("/muse/eeg", 842.1, 815.3, 830.0, 861.2),
    _msg("/muse/eeg", 842.1, 815.3, 830.0, 861.2, 800.0, 801.0),
    _msg("/muse/elements/alpha_absolute", 0.61),
    _msg("/muse/elements/theta_absolute", 0.1, 0.2, 0.3, 0.4),
    _msg("/muse/elements/horseshoe", 1.0, 2.0, 4.0, 1.0),
    _msg("/muse/elements/blink", 1),
    _msg("/muse/acc", 0.1, -0.2, 0.98),
    _msg("/EmotiBit/0/PPG:IR", 10234.0, 10240.0, 10251.0),
    _msg("/EmotiBit/0/EDA", 0.5, 0.51),
    _msg("/EmotiBit/0/HR", 72.0),
    _msg("/openbci/time-series-raw/ch0", *[float(i) for i in range(10)]),
    _msg("/openbci/average-band-power/2", 1.0, 2.0, 3.0),
    _msg("/openbci/band-power/1", 1.0, 2.0, 3.0, 4.0, 5.0),
    _msg("/openbci/focus", 1),
    _msg("/neurosity/notion/abc/raw", 1.0, 2.0, "ts", 3, "m"),
    _msg("/unknown/thing", "text", b"blob", True, None),
]
TYPE_TAGS = b"ifsbhdtTFNIcmr[]X?\0,"


def _bundle(msgs: list[bytes]) -> bytes:
    b = OscBundleBuilder(IMMEDIATELY)
    for m in msgs:
        b.add_content(OscPacket(m).messages[0].message)  # type: ignore[arg-type]
    return b.build().dgram


@st.composite
def datagrams(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["valid", "bundle", "mutated", "random"]))
    if kind == "random":
        return draw(st.binary(min_size=0, max_size=300))
    if kind == "bundle":
        base = _bundle(draw(st.lists(st.sampled_from(VALID), min_size=0, max_size=10)))
    else:
        base = draw(st.sampled_from(VALID))
    if kind == "valid":
        return base
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "tag"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[i : i + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[i:]
        elif op == "tag":
            comma = data.find(b",")
            if comma >= 0:
                j = min(comma + draw(st.integers(1, 6)), len(data) - 1)
                data[j] = draw(st.sampled_from(TYPE_TAGS))
    return bytes(data)


def _expected_outcomes(data: bytes) -> int:
    """How many accept-or-drop outcomes the receiver should count for one datagram."""
    if not data.startswith((b"/", b"#bundle")) and data[:1].isalpha():
        return 1  # dropped whole: address without a leading slash
    try:
        # each message accepted or dropped; an empty bundle is one drop
        return max(1, len(OscPacket(data).messages))
    except Exception:
        return 1  # dropped whole: malformed


class Rig:
    def __init__(self) -> None:
        self.queue = EventQueue(maxlen=8192)
        self.rx = OscReceiver(Endpoint("127.0.0.1", 0), self.queue.push)
        self.translator = Translator(["mind-monitor", "emotibit", "openbci", "neurosity"])
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0
        self.outcomes = 0
        self.drained = 0


RIG: Rig | None = None


def _rig() -> Rig:
    global RIG
    if RIG is None:
        RIG = Rig()
    return RIG


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datagrams())
def test_fuzzed_datagrams_never_break_the_receiver(data: bytes) -> None:
    rig = _rig()
    rx, queue, tr = rig.rx, rig.queue, rig.translator
    rig.tx.sendto(data, (rx.endpoint.host, rx.endpoint.port))
    rig.sent += 1
    expected = _expected_outcomes(data)
    rig.outcomes += expected
    end = time.monotonic() + 2.0
    while rx.received < rig.sent and time.monotonic() < end:
        time.sleep(0.0005)
    assert rx._thread.is_alive(), "the receive thread died"
    assert rx.received == rig.sent
    # the thread counts after pushing: wait until this datagram's outcomes are all in
    while rx.accepted + sum(rx.dropped.values()) < rig.outcomes and time.monotonic() < end:
        time.sleep(0.0005)
    assert rx.accepted + sum(rx.dropped.values()) == rig.outcomes
    for event in queue.drain():
        rig.drained += 1
        tr.feed(event)  # never raises
    assert queue.pushed == rx.accepted == rig.drained + queue.dropped["queue full"]
    assert tr.fed == rig.drained == tr.translated + sum(tr.dropped.values())


def test_fuzz_rig_closes() -> None:
    """Runs after the fuzz test (file order): the tallies, then the socket is given back."""
    rig = _rig()
    rx = rig.rx
    print(
        f"\nfuzz: {rig.sent} datagrams, {rx.accepted} messages accepted, "
        f"drops {dict(rx.dropped)}; "
        f"translator {rig.translator.counts}"
    )
    assert rx._thread.is_alive()
    rx.close()
    rig.tx.close()


# ---------------------------------------------------------------- flood

SENDER = str(ROOT / "bench" / "udp_sender.py")

FLOOD_RATE = 50_000
FLOOD_SECONDS = 5.0
FPS = 30.0
STALL_FRAME, STALL_S = 15, 0.6  # one long frame: >= 12k events > the queue's 8192


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_flood_keeps_the_frame_loop_alive() -> None:
    queue = EventQueue(maxlen=8192)
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push, buffer_bytes=1 << 20)
    msg = _msg("/muse/eeg", 842.1, 815.3, 830.0, 861.2)
    rss0 = _rss_mb()
    sender = subprocess.Popen(
        [sys.executable, SENDER, str(rx.endpoint.port), str(FLOOD_RATE),
         str(FLOOD_SECONDS), msg.hex()],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    drained = 0
    starts: list[float] = []
    rss_peak = rss0
    t0 = time.perf_counter()
    frame = 0
    try:
        while sender.poll() is None or time.perf_counter() - t0 < 0.5:
            starts.append(time.perf_counter())
            drained += len(queue.drain())  # the frame loop's whole share of input work
            rss_peak = max(rss_peak, _rss_mb())
            frame += 1
            if frame == STALL_FRAME:
                time.sleep(STALL_S)  # one hitch (a shader compile): the queue must overflow
            due = t0 + frame / FPS
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if time.perf_counter() - t0 > FLOOD_SECONDS + 10:
                break
        out, _ = sender.communicate(timeout=10)
        sent = int(out.split()[0])
        # let the kernel's buffer run dry, then count
        last = -1
        while rx.received != last:
            last = rx.received
            time.sleep(0.1)
        drained += len(queue.drain())
    finally:
        if sender.poll() is None:
            sender.kill()
        rx.close()
    intervals = np.diff(starts) * 1000
    p50, p95, worst = np.percentile(intervals, [50, 95, 100])
    kernel = sent - rx.received
    queue_full = queue.dropped["queue full"]
    growth = rss_peak - rss0
    print(
        f"\nflood {FLOOD_RATE}/s x {FLOOD_SECONDS:.0f} s: sent {sent}, received {rx.received}, "
        f"kernel drops {kernel} ({kernel / sent:.1%}), queue-full drops {queue_full}, "
        f"drained {drained}; {len(starts)} frames (one {STALL_S * 1000:.0f} ms stall), "
        f"interval p50 {p50:.1f} ms "
        f"p95 {p95:.1f} ms max {worst:.1f} ms; RSS {rss0:.0f} -> peak {rss_peak:.0f} MB"
    )
    assert sent >= 0.9 * FLOOD_RATE * FLOOD_SECONDS  # the sender really flooded
    assert p95 < 2 * 1000 / 30  # the 30 fps loop rarely misses more than one slot
    assert growth < 100.0
    assert rx.accepted == rx.received == queue.pushed  # every datagram parsed and queued
    assert queue.pushed == drained + queue_full  # nothing vanished inside the rig
    assert queue_full > 0  # the stall overflowed the bounded queue, and it was counted
    assert kernel + queue_full > 0  # the flood cost something, and it was counted
