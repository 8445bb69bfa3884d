"""OSC over UDP: a receive thread that parses datagrams into events, nothing else.

The thread never touches GL or pyo and never sleeps on a bundle's timetag (python-
osc's own servers can): it receives, parses with python-osc's packet parser, and
hands timestamped events to a sink (usually a bounded queue the frame loop drains).
Bad datagrams are counted by reason and logged at a bounded rate; they never stop
the thread.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pythonosc.osc_packet import OscPacket, ParseError

from engine.events import Event

log = logging.getLogger("oneiric.osc")
MAX_DATAGRAM = 65535
LOG_EVERY = 5.0  # seconds between log lines about the same kind of bad input


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_host: str = "127.0.0.1") -> Endpoint:
        """'9000', ':9000', '0.0.0.0:9000' -> Endpoint; ValueError with a clear message."""
        host, _, port = text.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            raise ValueError(f"expected HOST:PORT or PORT, got {text!r}") from None
        if not 0 <= number <= 65535:
            raise ValueError(f"port out of range: {number}")
        return cls(host or default_host, number)


def decode(data: bytes, source: str, arrived: float) -> tuple[list[Event], list[tuple[str, str]]]:
    """One datagram -> its messages as events (a bundle's in order, its timetags not
    waited on), and each problem as (reason, detail). Pure: tested from literal bytes.
    `source` ("osc:HOST:PORT", the sender's host and the port it reached) and `arrived`
    stamp every event."""
    if not data.startswith((b"/", b"#bundle")) and data[:1].isalpha():
        # Muse Direct and some bridges send "muse/eeg": say so, not just "malformed"
        head = data.split(b"\0", 1)[0][:40].decode("ascii", "replace")
        return [], [("address without a leading slash", head)]
    try:
        packet = OscPacket(data)
    except (ParseError, ValueError, IndexError, TypeError, OverflowError) as exc:
        return [], [("malformed datagram", str(exc)[:80])]
    if not packet.messages:
        return [], [("empty bundle", "")]  # valid, but nothing in it: still counted
    events, problems = [], []
    for timed in packet.messages:
        msg = timed.message
        if not msg.address.startswith("/"):
            problems.append(("address without a leading slash", msg.address[:40]))
            continue
        events.append(Event(arrived, source, msg.address, tuple(msg.params)))
    return events, problems


class OscReceiver:
    """One UDP port, one daemon thread."""

    def __init__(
        self,
        endpoint: Endpoint,
        sink: Callable[[Event], None],
        *,
        allow: set[str] | None = None,
        buffer_bytes: int = 4 << 20,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sink = sink
        self.now = now  # stamps arrivals: the show's clock (Event.time is show seconds)
        self.allow = allow
        self.received = 0
        self.accepted = 0
        self.dropped: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # a burst of sensor data must wait in the kernel, not be lost there
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
        self._sock.bind((endpoint.host, endpoint.port))
        self._sock.settimeout(0.2)
        host, port = self._sock.getsockname()
        self.endpoint = Endpoint(host, port)
        self.source = f"osc:{host}:{port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"oneiric-{self.source}", daemon=True
        )
        self._thread.start()

    def _drop(self, reason: str, detail: str = "") -> None:
        self.dropped[reason] += 1
        now = time.monotonic()
        if now - self._last_log.get(reason, -math.inf) >= LOG_EVERY:
            self._last_log[reason] = now
            log.warning(
                "%s: dropped (%s) %s [%d so far]", self.source, reason, detail, self.dropped[reason]
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, (host, _port) = self._sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                break  # closed
            arrived = self.now()
            self.received += 1
            if self.allow is not None and host not in self.allow:
                self._drop("sender not allowed", host)
                continue
            source = f"osc:{host}:{self.endpoint.port}"
            events, problems = decode(data, source, arrived)
            for reason, detail in problems:
                self._drop(reason, detail)
            self.accepted += len(events)
            for event in events:
                self.sink(event)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=1.0)
