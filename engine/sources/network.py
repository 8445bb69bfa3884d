"""Dreamers on the network: people streaming biosignals over OSC, as live sources.

`Inputs` owns the OSC receivers a set asks for, translates what arrives through
each group's profile (engine.sources.profiles), and hands each sender's signals to
a dreamer of that group, in the order senders first appear (or pinned by `keys`).
A `NetworkSource` buffers one dreamer's samples until the frame loop reads them,
like the simulator's `read`, and knows when its sender last spoke: a dreamer whose
stream goes silent fades out, and fades back in when it returns.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.events import EventQueue
from engine.sources.osc import Endpoint, OscReceiver
from engine.sources.profiles import SignalUpdate, Translator, load_profile

RIG_SIGNALS = ("eeg", "ecg", "resp", "ppg")  # what a dreamer buffers as samples
BAND_NAMES = ("delta", "theta", "alpha", "sigma", "beta", "gamma")


class NetworkSource:
    """One dreamer's incoming signals, read by the frame loop like a simulator's."""

    def __init__(self, rates: dict[str, float], timeout: float = 3.0) -> None:
        self.rates = dict(rates)
        self.timeout = timeout
        self._pending: dict[str, list[np.ndarray]] = {k: [] for k in rates}
        self.bands: dict[str, float] | None = None  # shares an app computed itself
        self.quality: float | None = None  # electrode fit, 0..1
        self.events: Counter[str] = Counter()  # blinks, jaw clenches, markers
        self.last_seen = -math.inf  # show time of the last update

    def push(self, update: SignalUpdate, t: float) -> None:
        self.last_seen = t
        # a generic sender's values for a rig signal are its samples
        if update.kind in ("samples", "value") and update.signal in self._pending:
            x = np.asarray(update.values, dtype=np.float64)
            # several electrodes: their mean is the dreamer's one EEG derivation
            self._pending[update.signal].append(x.mean(axis=1) if x.ndim == 2 else x.ravel())
        elif update.kind == "bands":
            shares = dict(zip(update.channels, np.asarray(update.values, float), strict=False))
            total = sum(shares.get(b, 0.0) for b in BAND_NAMES)
            if total > 0:
                self.bands = {b: shares.get(b, 0.0) / total for b in BAND_NAMES}
        elif update.kind == "quality":
            self.quality = float(np.mean(update.values))
        elif update.kind == "event":
            self.events[update.signal] += 1

    def present(self, t: float) -> bool:
        """Has the sender spoken within the timeout?"""
        return t - self.last_seen <= self.timeout

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        out = {}
        for name, chunks in self._pending.items():
            if chunks:
                out[name] = np.concatenate(chunks)
                chunks.clear()
        return out


@dataclass
class _Route:
    translator: Translator
    keys: list[str]  # pinned sender keys, then first-come ones
    slots: list[NetworkSource]
    seen: dict[str, int] = field(default_factory=dict)


class Inputs:
    """The OSC ports of a show and the routing from senders to dreamers."""

    def __init__(self) -> None:
        self.queue = EventQueue(maxlen=1 << 16)
        self._receivers: dict[Endpoint, OscReceiver] = {}
        self._routes: dict[Endpoint, list[_Route]] = {}
        self.unrouted: Counter[str] = Counter()  # senders with no free dreamer

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
        route = _Route(Translator([load_profile(profile)]), [*keys], [*sources])
        for endpoint in listen:
            rx = self._receivers.get(endpoint)
            if rx is None:
                rx = OscReceiver(endpoint, self.queue.push, allow=allow)
                self._receivers[endpoint] = rx
                self._receivers[rx.endpoint] = rx
            self._routes.setdefault(rx.endpoint, []).append(route)

    @property
    def endpoints(self) -> list[Endpoint]:
        return sorted({rx.endpoint for rx in self._receivers.values()}, key=lambda e: e.port)

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
        return route.slots[index] if index < len(route.slots) else None

    def drain(self, t: float) -> int:
        """Route everything that arrived since the last frame; how many updates."""
        routed = 0
        for event in self.queue.drain():
            port = _port_of(event.source)
            for endpoint, routes in self._routes.items():
                if port is not None and endpoint.port != port:
                    continue
                for route in routes:
                    for update in route.translator.feed(event):
                        slot = self._slot(route, update.dreamer)
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
