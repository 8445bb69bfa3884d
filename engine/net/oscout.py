"""OSC out: chosen features and params to other software, at a set rate, in bundles.

TouchDesigner, Resolume or a lighting desk follows the dreamers: each dreamer's band
shares, heart and breath rate, quality and stage, the group's resonance, beat and bpm
(DEFAULT_SEND), or whatever paths a set names. The frame loop only snapshots the values
(`frame`, on the show's thread); a thread of its own encodes and sends them on its own
clock, so the rate holds whatever the frame rate does, and a target that is not there
(ICMP refused) is counted and logged, never raised.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence

from engine.dreamer_params import BANDS
from engine.net import osc_wire
from engine.net.namespace import wire_value
from engine.osc_out_spec import parse_target
from engine.params import ParamSpace, ParamSpec

log = logging.getLogger("oneiric.oscout")
DEFAULT_SEND = (
    *(f"/dreamer/*/{b}" for b in BANDS),
    "/dreamer/*/heart",
    "/dreamer/*/breath_rate",
    "/dreamer/*/quality",
    "/dreamer/*/stage",
    "/group/resonance",
    "/tempo/beat",
    "/tempo/bpm",
)
LOG_EVERY = 5.0


class OscOut:
    def __init__(
        self,
        params: ParamSpace,
        targets: Sequence[str],
        *,
        rate: float = 30.0,
        send: Sequence[str] = (),
        max_bundle: int = 8192,
    ) -> None:
        self.params = params
        self.targets = [parse_target(t) for t in targets]
        self.rate = rate
        self.patterns = tuple(send) or DEFAULT_SEND
        self.max_bundle = max_bundle
        self.bundles = 0  # bundles sent, all targets together
        self.messages = 0
        self.errors: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        self._specs: list[ParamSpec] = []
        self._version = -1
        self._latest: tuple[list[ParamSpec], list[tuple[float, ...]]] | None = None
        self._socks: dict[tuple[int, bool], socket.socket] = {}
        self._addresses = [self._resolve(host, port) for host, port in self.targets]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oneiric-oscout", daemon=True)
        self._thread.start()

    def _resolve(self, host: str, port: int) -> tuple[socket.socket, tuple[object, ...]]:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        loopback = ipaddress.ip_address(address[0]).is_loopback
        sock = self._socks.get((family, loopback))
        if sock is None:
            sock = self._socks[family, loopback] = socket.socket(family, socket.SOCK_DGRAM)
            if loopback:  # sending to this machine binds nothing beyond loopback
                sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return sock, address

    @property
    def paths(self) -> list[str]:
        return [s.path for s in self._specs]

    def _match(self) -> None:
        seen: dict[str, ParamSpec] = {}
        for pattern in self.patterns:
            for path in self.params.match(pattern):
                spec = self.params.spec(path)
                if "r" in spec.access:
                    seen.setdefault(path, spec)
        self._specs = list(seen.values())
        unmatched = [p for p in self.patterns if not self.params.match(p)]
        if unmatched:
            log.warning("OSC out: no param matches %s", ", ".join(unmatched))

    def frame(self, frame: object = None) -> None:
        """On the show's thread, once a frame: this frame's values for the sender."""
        if self.params.version != self._version:
            self._version = self.params.version
            self._match()
        get = self.params.get_vec
        self._latest = (self._specs, [get(s.path) for s in self._specs])

    def _run(self) -> None:
        period = 1.0 / self.rate
        due = time.monotonic()
        while not self._stop.is_set():
            due += period
            now = time.monotonic()
            if due < now - period:  # fell more than a period behind: no burst to catch up
                due = now
            if self._stop.wait(max(0.0, due - now)):
                break
            latest = self._latest
            if latest is not None:
                self._send(*latest)

    def _send(self, specs: list[ParamSpec], values: list[tuple[float, ...]]) -> None:
        messages = [
            osc_wire.message(s.path, [wire_value(s, v)] if s.size == 1 else list(v))
            for s, v in zip(specs, values, strict=True)
        ]
        for packet in osc_wire.bundles(messages, self.max_bundle):
            for (host, port), (sock, address) in zip(self.targets, self._addresses, strict=True):
                try:
                    sock.sendto(packet, address)
                except OSError as exc:
                    self._error(f"{host}:{port}: {exc.strerror or exc}")
                    continue
                self.bundles += 1
        self.messages += len(messages) * len(self.targets)

    def _error(self, reason: str) -> None:
        self.errors[reason] += 1
        now = time.monotonic()
        if now - self._last_log.get(reason, -math.inf) >= LOG_EVERY:
            self._last_log[reason] = now
            log.warning("OSC out to %s [%d so far]", reason, self.errors[reason])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for sock in self._socks.values():
            sock.close()
