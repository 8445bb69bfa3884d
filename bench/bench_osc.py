"""Sustained OSC ingest without loss: OscReceiver (python-osc parsing) vs a raw recv loop.

A sender in another process sends Mind Monitor /muse/eeg messages (one per datagram,
or bundles of 10) at a fixed rate scheduled from its start; the receiver under test
counts what arrives. The rate steps up (then bisects) until loss reaches 0.1%; the
highest lossless rate, in messages/s, is the figure. Both receivers run with the
same socket buffer, one after the other at each step, so the ratio is side by side.

    .venv/bin/python bench/bench_osc.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from engine.events import Event
from engine.sources.osc import Endpoint, OscReceiver

BUFFER = 4 << 20
LOSS = 0.001
RATES = [5_000, 10_000, 20_000, 40_000, 60_000, 80_000, 120_000, 160_000, 240_000, 320_000]

SENDER = str(Path(__file__).resolve().parents[1] / "bench" / "udp_sender.py")


def eeg_message() -> OscMessageBuilder:
    b = OscMessageBuilder("/muse/eeg")
    for v in (842.1, 815.3, 830.0, 861.2):
        b.add_arg(v)
    return b


def payloads() -> dict[str, tuple[bytes, int]]:
    one = eeg_message().build()
    bundle = OscBundleBuilder(IMMEDIATELY)
    for _ in range(10):
        bundle.add_content(one)
    return {"/muse/eeg": (one.dgram, 1), "bundle x10": (bundle.build().dgram, 10)}


class RawReceiver:
    """recvfrom only: the ceiling a receive thread in Python can reach."""

    def __init__(self) -> None:
        self.received = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        recv = self._sock.recvfrom
        while not self._stop:
            try:
                recv(65535)
            except TimeoutError:
                continue
            except OSError:
                break
            self.received += 1

    def close(self) -> None:
        self._stop = True
        self._sock.close()
        self._thread.join(1.0)


class OscCounting:
    """OscReceiver with a sink that only counts: python-osc parsing + Event creation."""

    def __init__(self) -> None:
        self.events = 0
        self.rx = OscReceiver(Endpoint("127.0.0.1", 0), self._sink, buffer_bytes=BUFFER)
        self.port = self.rx.endpoint.port

    def _sink(self, event: Event) -> None:
        self.events += 1

    @property
    def received(self) -> int:
        return self.rx.received

    def close(self) -> None:
        self.rx.close()


def trial(kind: str, payload: bytes, per: int, msg_rate: float, seconds: float) -> float:
    """Loss fraction at `msg_rate` messages/s (inf if the sender could not keep up)."""
    rx: RawReceiver | OscCounting = RawReceiver() if kind == "raw" else OscCounting()
    try:
        dgram_rate = msg_rate / per
        out = subprocess.run(
            [sys.executable, SENDER, str(rx.port), str(dgram_rate), str(seconds),
             payload.hex()],
            capture_output=True, text=True, check=True, timeout=seconds + 30,
        ).stdout.split()  # fmt: skip
        sent = int(out[0])
        last = -1
        while rx.received != last:  # until the kernel buffer runs dry
            last = rx.received
            time.sleep(0.05)
    finally:
        rx.close()
    if sent < 0.98 * dgram_rate * seconds:
        return float("inf")  # the sender fell behind: not a receiver figure
    return 1.0 - rx.received / sent


def best_rate(kind: str, payload: bytes, per: int, seconds: float) -> tuple[int, str]:
    good, bad = 0, None
    for rate in RATES:
        loss = trial(kind, payload, per, rate, seconds)
        if loss == float("inf"):
            return good, f"sender-limited at {rate}"
        if loss >= LOSS:
            bad = rate
            break
        good = rate
    if bad is None:
        return good, "no loss up to the top step"
    for _ in range(2):  # bisect between the last good and the first bad step
        mid = (good + bad) // 2
        loss = trial(kind, payload, per, mid, seconds)
        if loss < LOSS:
            good = mid
        else:
            bad = mid
    return good, f"loss >= 0.1% at {bad}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="per trial (default 1)")
    args = ap.parse_args()
    rows = []
    for name, (payload, per) in payloads().items():
        osc, osc_note = best_rate("osc", payload, per, args.seconds)
        raw, raw_note = best_rate("raw", payload, per, args.seconds)
        rows.append((name, osc, raw, osc_note, raw_note))
    print(f"\nhighest lossless rate (< 0.1% loss), messages/s, {args.seconds:g} s trials")
    print(f"{'payload':<12} {'OscReceiver':>12} {'raw recvfrom':>13} {'ratio':>6}  notes")
    for name, osc, raw, osc_note, raw_note in rows:
        ratio = osc / raw if raw else float("nan")
        print(f"{name:<12} {osc:>12,} {raw:>13,} {ratio:>6.2f}  osc: {osc_note}; raw: {raw_note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
