"""Dreamers on the network: people streaming biosignals over OSC, as live sources.

`Inputs` owns the OSC receivers a set asks for, translates what arrives through
each group's profile (engine.sources.profiles), and hands each sender's signals to
a dreamer of that group, in the order senders first appear (or pinned by `keys`).
A `NetworkSource` buffers one dreamer's samples until the frame loop reads them,
like the simulator's `read`, and knows when its sender last spoke: a dreamer whose
stream goes silent fades out, and fades back in when it returns.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.events import Event, EventQueue
from engine.features.dsp import BANDS
from engine.sources.osc import Endpoint, OscReceiver
from engine.sources.profile_files import load_profile
from engine.sources.profiles import DEFAULT_POLICIES, SignalPolicy, SignalUpdate
from engine.sources.translator import Translator

log = logging.getLogger("oneiric.inputs")
RATE_CHECK_S = 3.0  # seconds of a stream before its rate is judged
STALL_S = 1.0  # a channel this far behind the others has stopped

SAMPLED_SIGNALS = ("eeg", "ecg", "resp", "ppg")  # what a dreamer buffers as samples
BAND_NAMES = tuple(BANDS)  # the rig's EEG bands, slow to fast


class NetworkSource:
    """One dreamer's incoming signals, read by the frame loop like a simulator's.

    Every channel of a signal is its own stream (OpenBCI's ch0..ch7, EmotiBit's three
    PPG LEDs, Muse's four electrodes): `read` gives a signal as one channel where its
    policy picks one, else as aligned columns (n, channels). Each stream's rate is
    checked against the nominal one: a stream at a multiple of it is reported once.
    """

    def __init__(
        self,
        rates: dict[str, float],
        timeout: float = 3.0,
        *,
        signals: Mapping[str, SignalPolicy] | None = None,
    ) -> None:
        self.rates = dict(rates)
        self.timeout = timeout
        self.policies = dict(signals or DEFAULT_POLICIES)
        self._pending: dict[str, dict[str, list[np.ndarray]]] = {k: {} for k in rates}
        # per stream: when it was first seen, the samples then, the samples since
        self._arrived: dict[tuple[str, str], tuple[float, int, int]] = {}
        self._told: set[object] = set()
        self.bands: dict[str, float] | None = None  # shares an app computed itself
        self.quality: float | None = None  # electrode fit, 0..1
        self.events: Counter[str] = Counter()  # blinks, jaw clenches, markers
        self.last_seen = -math.inf  # show time of the last update
        self.sender = ""  # who this dreamer is (the routing key), once someone speaks
        self.dreamer = ""  # the dreamer it feeds ("/dreamer/3"), for reports
        self.notices: list[str] = []  # rate and channel problems, each said once

    @property
    def eeg_combine(self) -> str:
        return self.policies.get("eeg", SignalPolicy()).combine

    def _notice(self, text: str, key: object = None) -> None:
        key = text if key is None else key
        if key not in self._told:
            self._told.add(key)
            self.notices.append(text)
            log.warning("%s", text)

    def push(self, update: SignalUpdate, t: float) -> None:
        self.last_seen = t
        # a generic sender's values for a rig signal are its samples
        if update.kind in ("samples", "value") and update.signal in self._pending:
            x = np.asarray(update.values, dtype=np.float64)
            if x.ndim == 2 and x.shape[1] > 1:
                names = update.channels or tuple(f"ch{i}" for i in range(x.shape[1]))
                for col, name in enumerate(names[: x.shape[1]]):
                    self._add(update.signal, name, x[:, col], t)
            else:
                name = update.channels[0] if len(update.channels) == 1 else ""
                self._add(update.signal, name, x.ravel(), t)
        elif update.kind == "bands":
            shares = dict(zip(update.channels, np.asarray(update.values, float), strict=False))
            total = sum(shares.get(b, 0.0) for b in BAND_NAMES)
            if total > 0:
                self.bands = {b: shares.get(b, 0.0) / total for b in BAND_NAMES}
        elif update.kind == "quality":
            self.quality = float(np.mean(update.values))
        elif update.kind == "event":
            self.events[update.signal] += 1

    def _add(self, signal: str, channel: str, x: np.ndarray, t: float) -> None:
        self._pending[signal].setdefault(channel, []).append(x)
        key = (signal, channel)
        first, at_first, count = self._arrived.get(key, (t, len(x), 0))
        count += len(x)
        self._arrived[key] = (first, at_first, count)
        nominal = self.rates.get(signal, 0.0)
        span = t - first
        if nominal > 0 and span >= RATE_CHECK_S and key not in self._told:
            rate = (count - at_first) / span
            if rate > 1.5 * nominal:
                who = f"{self.sender or 'a sender'}: {signal}" + (f" {channel}" if channel else "")
                self._notice(
                    f"{who} arrives at {rate:.0f} Hz, {rate / nominal:.1f}x its nominal"
                    f" {nominal:g} Hz: are several channels sent under one address?",
                    key,
                )

    def present(self, t: float) -> bool:
        """Has the sender spoken within the timeout?"""
        return t - self.last_seen <= self.timeout

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        out = {}
        for name, streams in self._pending.items():
            if not any(streams.values()):
                continue
            picked = self._pick(name, streams)
            if picked is not None:
                out[name] = picked
        return out

    def _pick(self, name: str, streams: dict[str, list[np.ndarray]]) -> np.ndarray | None:
        policy = self.policies.get(name, SignalPolicy())
        if policy.channel or len(streams) == 1:
            chosen = policy.channel if policy.channel in streams else next(iter(streams))
            if policy.channel and chosen != policy.channel:
                self._notice(
                    f"{self.sender or 'a sender'}: no {name} channel {policy.channel!r}"
                    f" (has {sorted(streams)}): reading {chosen!r}"
                )
            x = np.concatenate(streams[chosen]) if streams[chosen] else np.zeros(0)
            for chunks in streams.values():  # the other LEDs are not the dreamer's
                chunks.clear()
            return x
        # several channels: aligned columns, as many rows as every channel has
        joined = {ch: np.concatenate(c) if c else np.zeros(0) for ch, c in streams.items()}
        rate = self.rates.get(name, 1.0)
        longest = max(len(x) for x in joined.values())
        for ch, x in list(joined.items()):
            if longest - len(x) > rate * STALL_S:  # a channel that stopped: go on without it
                self._notice(f"{self.sender or 'a sender'}: {name} {ch} stopped; left out")
                del joined[ch], streams[ch]
        n = min(len(x) for x in joined.values())
        for ch, x in joined.items():
            streams[ch][:] = [x[n:]] if len(x) > n else []
        if n == 0:
            return None
        return np.stack([x[:n] for x in joined.values()], axis=1)


@dataclass
class _Route:
    profile: str
    translator: Translator
    keys: list[str]  # pinned sender keys, then first-come ones
    slots: list[NetworkSource]
    seen: dict[str, int] = field(default_factory=dict)
    updates: Counter[str] = field(default_factory=Counter)  # per sender


@dataclass(frozen=True, slots=True)
class SenderReport:
    """One sender as the live rig sees it (REPL `senders`, the overlay)."""

    profile: str
    sender: str
    dreamer: str  # "/dreamer/3"; "" when the group had no free dreamer
    updates: int

    def __str__(self) -> str:
        who = self.dreamer or "no free dreamer"
        return f"{self.profile} {self.sender} -> {who}: {self.updates} updates"


class Inputs:
    """The OSC ports of a show and the routing from senders to dreamers."""

    def __init__(self, *, open_ports: bool = True) -> None:
        self.queue = EventQueue(maxlen=1 << 16)
        self._receivers: dict[Endpoint, OscReceiver] = {}
        self._routes: dict[Endpoint, list[_Route]] = {}
        self.unrouted: Counter[str] = Counter()  # senders with no free dreamer
        self._all: list[_Route] = []
        self.tap: Callable[[Event], None] | None = None  # sees every event routed (the log)
        self.open = open_ports  # False: no sockets, events come from a session log (a replay)
        # what arrivals are stamped with: the live runner sets its clock's now (show seconds)
        self.clock: Callable[[], float] = time.perf_counter

    def add_group(
        self,
        listen: Sequence[Endpoint],
        profile: str,
        sources: Sequence[NetworkSource],
        keys: Sequence[str],
        *,
        allow: set[str] | None = None,
    ) -> None:
        """Route a group's senders, heard on any of `listen` (OpenBCI sends on four
        ports), to its dreamers: one routing table, so a sender is one dreamer."""
        route = _Route(profile, Translator([load_profile(profile)]), [*keys], [*sources])
        self._all.append(route)
        for endpoint in listen:
            if not self.open:
                self._routes.setdefault(endpoint, []).append(route)
                continue
            rx = self._receivers.get(endpoint)
            if rx is None:
                rx = OscReceiver(endpoint, self.queue.push, allow=allow, now=self._now)
                self._receivers[endpoint] = rx
                self._receivers[rx.endpoint] = rx
            self._routes.setdefault(rx.endpoint, []).append(route)

    def _now(self) -> float:
        return self.clock()

    @property
    def endpoints(self) -> list[Endpoint]:
        if not self.open:
            return sorted(self._routes, key=lambda e: e.port)
        return sorted({rx.endpoint for rx in self._receivers.values()}, key=lambda e: e.port)

    def group_endpoints(self) -> list[list[str]]:
        """Each group's ports as bound ("host:port"), for a session log's header."""
        return [
            [f"{e.host}:{e.port}" for e, routes in self._routes.items() if route in routes]
            for route in self._all
        ]

    def senders(self) -> list[SenderReport]:
        """Who is sending and which dreamer each took, with counts."""
        out = []
        for route in self._all:
            for key in sorted(set(route.seen) | set(route.updates)):
                index = route.seen.get(key)
                slot = (
                    route.slots[index] if index is not None and index < len(route.slots) else None
                )
                who = slot.dreamer if slot is not None else ""
                out.append(SenderReport(route.profile, key, who, route.updates[key]))
        return out

    def counts(self) -> dict[str, int]:
        """Every group's translator counters, added up."""
        total: Counter[str] = Counter()
        for route in self._all:
            total.update(route.translator.counts)
        return dict(total)

    def _slot(self, route: _Route, key: str) -> NetworkSource | None:
        index = route.seen.get(key)
        if index is None:
            if key in route.keys:
                index = route.keys.index(key)
            else:
                taken = set(route.seen.values()) | set(range(len(route.keys)))
                free = [i for i in range(len(route.slots)) if i not in taken]
                if not free:
                    return None
                index = free[0]
            route.seen[key] = index
            if index < len(route.slots):
                route.slots[index].sender = key
        return route.slots[index] if index < len(route.slots) else None

    def drain(self, t: float) -> int:
        """Route everything that arrived since the last frame; how many updates."""
        routed = 0
        for event in self.queue.drain():
            if self.tap is not None:
                self.tap(event)
            port = _port_of(event.source)
            for endpoint, routes in self._routes.items():
                if port is not None and endpoint.port != port:
                    continue
                for route in routes:
                    for update in route.translator.feed(event):
                        slot = self._slot(route, update.dreamer)
                        route.updates[update.dreamer] += 1
                        if slot is None:
                            self.unrouted[update.dreamer] += 1
                            continue
                        slot.push(update, t)
                        routed += 1
        return routed

    def close(self) -> None:
        for rx in {id(r): r for r in self._receivers.values()}.values():
            rx.close()


def _port_of(source: str) -> int | None:
    """'osc:HOST:PORT' -> PORT (receivers stamp it); None when it is not there."""
    parts = source.split(":")
    return int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None
