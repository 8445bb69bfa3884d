"""Device profiles: how one app's OSC messages become a dreamer's signals. (Files are
read by engine.sources.profile_files; engine.sources.translator applies a set of them.)

A profile is a declarative TOML file under presets/profiles/ (one per app). It names
the app, its default port(s), how a sender becomes a dreamer, and a list of rules.
A rule matches an address pattern: literal text plus `{name}` captures, each matching
one path segment or part of one (`/crown{deviceId}/{band}`); every other character,
EmotiBit's colons included, is literal. The first matching rule wins.

Kinds of rule (what `SignalUpdate.values` holds):
- samples: a block, shape (n_samples, n_channels), with a `rate`. `layout = "channels"`
  (default): one sample across the named channels (Muse /muse/eeg: 4 or 6 floats,
  TP9 AF7 AF8 TP10 then AUX; `select` keeps some). `layout = "samples"`: every float is
  a sample of one channel (`channel`, may use captures: OpenBCI `ch{ch}`, EmotiBit).
  `layout = "interleaved"`: frames of len(channels) floats (Neurosity raw).
- bands: relative band power, shape (n_bands,), channels = band names. `units = "bels"`
  (Mind Monitor: 10^a / sum(10^x)) or `"power"` (linear: p / sum(p)). With `band` (a
  capture template) each message carries one band; several floats are averaged (Muse
  "All Values": 4, averaged in Bels like the app's "Average"); the update is sent once
  every band has arrived since the last one. Without `band`, the args are all bands.
- event: sent only when it happens (Muse blink, jaw_clench: int 1). values = the args.
- quality: per-electrode contact, mapped through `map` (Muse horseshoe 1/2/4 ->
  1.0/0.5/0.0; in-between codes are interpolated).
- value: the args as they are (shape (n,)), e.g. heart rate, accelerometer.
- ignore: known and deliberately dropped (counted as translated with no update).

Options on any rule: `counts` (allowed argument counts), `min_args`, `take = "last"`
(OpenBCI average-band-power: the GUI never clears the argument list, so band i carries
i+1 floats and only the last one is band i), `args = "leading-floats"` (Neurosity raw:
floats then a timestamp string, a count int and a marker string: take the floats),
`scale` (multiplied in), `range = [lo, hi]` (absurd values are clamped and counted).
A message with NaN or inf is dropped whole (a block with a hole is worse than none).

`[signals.NAME]` says how the channels of one signal become the dreamer's: `channel`
picks one (EmotiBit sends PPG:RED, PPG:IR and PPG:GRN; the heart is read from IR),
`combine` says how several are joined: for EEG the band shares are computed per
channel and combined ("mean" or "median"); other signals are averaged sample by sample.
Channels are never appended into one stream.

`by` in [dreamer]: "sender" (the sending host), "port" (the receiving port, given to
Translator or parsed from an "osc:HOST:PORT" source) or "address" (a capture: `capture`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from engine.events import Event

KINDS = ("samples", "bands", "event", "quality", "value", "ignore")
BY = ("sender", "port", "address")
LAYOUTS = ("channels", "samples", "interleaved")
DEFAULT_BANDS = ("delta", "theta", "alpha", "beta", "gamma")

# reasons a message is dropped (Translator.dropped keys)
UNKNOWN = "unknown address"
BAD_COUNT = "wrong argument count"
BAD_TYPE = "wrong argument type"
NON_FINITE = "NaN/inf dropped"
CLAMPED = "absurd value clamped"  # not a drop: the message goes on, clamped


COMBINE = ("mean", "median")


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class SignalPolicy:
    """How one signal's channels become the dreamer's (a profile's [signals.NAME])."""

    channel: str = ""  # use this channel alone ("IR"); "" keeps every channel
    combine: str = "mean"  # how channels join: EEG band shares, other signals' samples


# the rig's own defaults, which a profile's [signals] table overrides per signal
DEFAULT_POLICIES = {"ppg": SignalPolicy(channel="IR")}


@dataclass(frozen=True)
class SignalUpdate:
    dreamer: str
    signal: str
    kind: str
    values: np.ndarray
    rate: float | None
    time: float
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    address: str
    pattern: re.Pattern[str]
    signal: str
    kind: str
    rate: float | None = None
    layout: str = "channels"
    channels: tuple[str, ...] = ()
    channel: str = ""
    select: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    min_args: int = 0
    take: str = "all"
    args: str = "numbers"
    units: str = ""
    scale: float = 1.0
    range: tuple[float, float] | None = None
    bands: tuple[str, ...] = DEFAULT_BANDS
    band: str = ""
    qmap: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What one message came to: updates, or the reason it was dropped."""

    updates: list[SignalUpdate] = field(default_factory=list)
    reason: str | None = None  # None: translated
    clamped: int = 0


def compile_pattern(address: str) -> re.Pattern[str]:
    """'/muse/elements/{band}_absolute' -> a regex; everything but {captures} is literal."""
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", address)
    out = []
    for i, part in enumerate(parts):
        out.append(f"(?P<{part}>[^/]+?)" if i % 2 else re.escape(part))
    return re.compile("".join(out) + r"\Z")


def _host_port(source: str) -> tuple[str, int | None]:
    rest = source.removeprefix("osc:")
    host, sep, port = rest.rpartition(":")
    if sep and port.isdigit() and host:
        return host, int(port)
    return rest, None


class Profile:
    """One app's mapping; keeps the latest band powers per dreamer to make relative power."""

    def __init__(
        self,
        name: str,
        ports: tuple[int, ...],
        by: str,
        rules: tuple[Rule, ...],
        capture: str = "",
        description: str = "",
        signals: Mapping[str, SignalPolicy] | None = None,
    ) -> None:
        self.name = name
        self.signals = {**DEFAULT_POLICIES, **(signals or {})}
        self.ports = ports
        self.by = by
        self.capture = capture
        self.rules = rules
        self.description = description
        self._bands: dict[tuple[str, str], dict[str, float]] = {}

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, ports={self.ports}, rules={len(self.rules)})"

    def translate(self, event: Event, *, port: int | None = None) -> list[SignalUpdate] | None:
        """Updates for `event`; None if it is not this profile's message, [] if dropped."""
        outcome = self.process(event, port=port)
        if outcome is None:
            return None
        return outcome.updates

    def process(self, event: Event, *, port: int | None = None) -> Outcome | None:
        for rule in self.rules:
            m = rule.pattern.match(event.address)
            if m is None:
                continue
            caps = m.groupdict()
            if rule.kind == "bands" and rule.band:
                band = self._band_name(rule, caps)
                if band is None:
                    continue
                caps = {**caps, "_band": band}
            return self._apply(rule, caps, event, port)
        return None

    def _band_name(self, rule: Rule, caps: Mapping[str, str]) -> str | None:
        name = rule.band.format_map(caps)
        if name.isdigit():
            i = int(name)
            return rule.bands[i] if i < len(rule.bands) else None
        return name if name in rule.bands else None

    def _dreamer(self, caps: Mapping[str, str], event: Event, port: int | None) -> str:
        host, src_port = _host_port(event.source)
        if self.by == "address":
            return caps[self.capture]
        if self.by == "port":
            p = port if port is not None else src_port
            return str(p) if p is not None else host
        return host

    def _apply(self, rule: Rule, caps: dict[str, str], event: Event, port: int | None) -> Outcome:
        if rule.kind == "ignore":
            return Outcome()
        raw: Iterable[object] = event.value
        if rule.args == "leading-floats":
            lead: list[object] = []
            for v in event.value:
                if not isinstance(v, float):
                    break
                lead.append(v)
            raw = lead
        nums: list[float] = []
        for v in raw:
            if isinstance(v, bool) or not isinstance(v, int | float):
                return Outcome(reason=BAD_TYPE)
            nums.append(float(v))
        if rule.take == "last" and nums:
            nums = nums[-1:]
        n = len(nums)
        if (rule.counts and n not in rule.counts) or n < max(rule.min_args, 1):
            return Outcome(reason=BAD_COUNT)
        if rule.kind == "samples" and rule.layout == "channels" and n > len(rule.channels):
            return Outcome(reason=BAD_COUNT)
        if rule.layout == "interleaved" and n % len(rule.channels):
            return Outcome(reason=BAD_COUNT)
        values = np.asarray(nums, dtype=np.float64)
        if not np.isfinite(values).all():
            return Outcome(reason=NON_FINITE)
        if rule.scale != 1.0:
            values = values * rule.scale
        clamped = 0
        if rule.range is not None:
            lo, hi = rule.range
            clamped = int(np.count_nonzero((values < lo) | (values > hi)))
            if clamped:
                values = np.clip(values, lo, hi)
        dreamer = self._dreamer(caps, event, port)
        signal = rule.signal.format_map(caps)
        t = event.time
        update: SignalUpdate | None
        if rule.kind == "samples":
            if rule.layout == "samples":
                chans: tuple[str, ...] = (rule.channel.format_map(caps),)
                block = values.reshape(-1, 1)
            elif rule.layout == "interleaved":
                chans = rule.channels
                block = values.reshape(-1, len(chans))
            else:
                chans = rule.channels[:n]
                block = values.reshape(1, -1)
            if rule.select:
                keep = [i for i, c in enumerate(chans) if c in rule.select]
                chans = tuple(chans[i] for i in keep)
                block = block[:, keep]
            update = SignalUpdate(dreamer, signal, "samples", block, rule.rate, t, chans)
        elif rule.kind == "bands":
            update = self._bands_update(rule, caps, values, dreamer, signal, t)
        elif rule.kind == "quality":
            keys = np.array([k for k, _ in rule.qmap])
            goods = np.array([g for _, g in rule.qmap])
            q = np.interp(values, keys, goods)
            update = SignalUpdate(dreamer, signal, "quality", q, None, t, rule.channels[:n])
        else:  # value, event
            update = SignalUpdate(
                dreamer, signal, rule.kind, values, rule.rate, t, rule.channels[:n]
            )
        return Outcome([update] if update is not None else [], clamped=clamped)

    def _bands_update(
        self,
        rule: Rule,
        caps: Mapping[str, str],
        values: np.ndarray,
        dreamer: str,
        signal: str,
        t: float,
    ) -> SignalUpdate | None:
        if rule.band:
            latest = self._bands.setdefault((dreamer, signal), {})
            latest[caps["_band"]] = float(values.mean())
            if len(latest) < len(rule.bands):
                return None
            level = np.array([latest[b] for b in rule.bands])
            latest.clear()
        elif len(values) == len(rule.bands):
            level = values
        else:
            return None
        if rule.units == "bels":
            power = np.power(10.0, level - level.max())  # shifted: same ratios, no overflow
        else:
            power = np.maximum(level, 0.0)
        total = power.sum()
        rel = power / total if total > 0 else np.full(len(power), 1.0 / len(power))
        return SignalUpdate(dreamer, signal, "bands", rel, None, t, rule.bands)
