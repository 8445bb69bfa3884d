"""A set of device profiles applied to incoming OSC events, with every drop counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from engine.events import Event
from engine.sources.profile_files import load_profile
from engine.sources.profiles import CLAMPED, UNKNOWN, Profile, SignalUpdate


class Translator:
    """Events -> SignalUpdates through profiles (first that knows the address wins).

    Never raises on input: every event fed is either translated or dropped with a
    reason, so fed == translated + sum(dropped.values()). Clamped values are counted
    in `clamped` (the message still goes through).
    """

    def __init__(
        self, profiles: Iterable[Profile | str | Path], *, port: int | None = None
    ) -> None:
        self.profiles = [p if isinstance(p, Profile) else load_profile(p) for p in profiles]
        self.port = port
        self.fed = 0
        self.translated = 0
        self.dropped: Counter[str] = Counter()
        self.clamped = 0
        self.unknown_addresses: Counter[str] = Counter()

    def feed(self, event: Event) -> list[SignalUpdate]:
        self.fed += 1
        for profile in self.profiles:
            outcome = profile.process(event, port=self.port)
            if outcome is None:
                continue
            if outcome.reason is not None:
                self.dropped[outcome.reason] += 1
                return []
            self.translated += 1
            if outcome.clamped:
                self.clamped += outcome.clamped
            return outcome.updates
        self.dropped[UNKNOWN] += 1
        if len(self.unknown_addresses) < 256 or event.address in self.unknown_addresses:
            self.unknown_addresses[event.address] += 1
        return []

    @property
    def counts(self) -> dict[str, int]:
        """Everything counted, by reason (for an overlay or a log line)."""
        return {
            "fed": self.fed,
            "translated": self.translated,
            **self.dropped,
            CLAMPED: self.clamped,
        }
