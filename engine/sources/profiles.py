"""Device profiles: how one app's OSC messages become a dreamer's signals.

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
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.events import Event
from engine.folders import PROFILE_DIR

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


# ---------------------------------------------------------------- loading and checking


def _need(table: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise ProfileError(f"{where}: missing field {key!r}")
    return _opt(table, key, typ, where, None)


def _opt(
    table: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str, default: Any
) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise ProfileError(f"{where}: field {key!r} must be {names}, got {value!r}")
    return value


def _strs(
    table: Mapping[str, Any], key: str, where: str, default: tuple[str, ...] = ()
) -> tuple[str, ...]:
    items = _opt(table, key, list, where, list(default))
    if not all(isinstance(s, str) for s in items):
        raise ProfileError(f"{where}: field {key!r} must be a list of strings")
    return tuple(items)


def _rule(table: Mapping[str, Any], where: str, by: str, capture: str) -> Rule:
    known = {
        "address", "signal", "kind", "rate", "layout", "channels", "channel", "select", "counts",
        "min_args", "take", "args", "units", "scale", "range", "bands", "band", "map",
    }  # fmt: skip
    extra = sorted(set(table) - known)
    if extra:
        raise ProfileError(f"{where}: unknown field(s) {', '.join(extra)}")
    address = _need(table, "address", str, where)
    if not address.startswith("/"):
        raise ProfileError(f"{where}: field 'address' must start with '/', got {address!r}")
    pattern = compile_pattern(address)
    kind = _need(table, "kind", str, where)
    if kind not in KINDS:
        raise ProfileError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    signal = _opt(table, "signal", str, where, "" if kind == "ignore" else None)
    if signal is None:
        raise ProfileError(f"{where}: missing field 'signal'")
    captures = set(pattern.groupindex)
    for tmpl_key in ("signal", "channel", "band"):
        names = set(re.findall(r"\{(\w+)\}", str(table.get(tmpl_key, ""))))
        if names - captures:
            raise ProfileError(
                f"{where}: field {tmpl_key!r} uses {sorted(names - captures)} not captured by "
                f"{address!r}"
            )
    if by == "address" and kind != "ignore" and capture not in captures:
        raise ProfileError(f"{where}: field 'address' lacks the dreamer capture {{{capture}}}")
    rate = _opt(table, "rate", (int, float), where, None)
    if kind == "samples" and (rate is None or rate <= 0):
        raise ProfileError(f"{where}: field 'rate' (Hz > 0) is required for samples")
    layout = _opt(table, "layout", str, where, "channels")
    if layout not in LAYOUTS:
        raise ProfileError(f"{where}: field 'layout' must be one of {', '.join(LAYOUTS)}")
    channels = _strs(table, "channels", where)
    channel = _opt(table, "channel", str, where, "")
    if kind == "samples" and layout != "samples" and not channels:
        raise ProfileError(f"{where}: field 'channels' is required for layout {layout!r}")
    if kind == "samples" and layout == "samples" and not channel:
        raise ProfileError(f"{where}: field 'channel' is required for layout 'samples'")
    counts = _opt(table, "counts", list, where, [])
    if not all(isinstance(c, int) and c > 0 for c in counts):
        raise ProfileError(f"{where}: field 'counts' must be a list of positive integers")
    rng = _opt(table, "range", list, where, None)
    if rng is not None and (
        len(rng) != 2 or not all(isinstance(x, int | float) for x in rng) or rng[0] > rng[1]
    ):
        raise ProfileError(f"{where}: field 'range' must be [low, high]")
    take = _opt(table, "take", str, where, "all")
    if take not in ("all", "last"):
        raise ProfileError(f"{where}: field 'take' must be 'all' or 'last'")
    args = _opt(table, "args", str, where, "numbers")
    if args not in ("numbers", "leading-floats"):
        raise ProfileError(f"{where}: field 'args' must be 'numbers' or 'leading-floats'")
    units = _opt(table, "units", str, where, "")
    if kind == "bands" and units not in ("bels", "power"):
        raise ProfileError(f"{where}: field 'units' must be 'bels' or 'power' for bands")
    qmap: tuple[tuple[float, float], ...] = ()
    if kind == "quality":
        raw = _need(table, "map", dict, where)
        try:
            qmap = tuple(sorted((float(k), float(v)) for k, v in raw.items()))
        except (TypeError, ValueError):
            raise ProfileError(f"{where}: field 'map' must map numbers to numbers") from None
        if not qmap:
            raise ProfileError(f"{where}: field 'map' is empty")
    return Rule(
        address=address,
        pattern=pattern,
        signal=signal,
        kind=kind,
        rate=float(rate) if rate is not None else None,
        layout=layout,
        channels=channels,
        channel=channel,
        select=_strs(table, "select", where),
        counts=tuple(counts),
        min_args=_opt(table, "min_args", int, where, 0),
        take=take,
        args=args,
        units=units,
        scale=float(_opt(table, "scale", (int, float), where, 1.0)),
        range=(float(rng[0]), float(rng[1])) if rng is not None else None,
        bands=_strs(table, "bands", where, DEFAULT_BANDS),
        band=_opt(table, "band", str, where, ""),
        qmap=qmap,
    )


def load_profile(path: str | Path) -> Profile:
    """Read and check one profile file; ProfileError names the file and the field."""
    path = Path(path)
    if not path.suffix:
        path = PROFILE_DIR / f"{path}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    where = str(path)
    name = _need(data, "name", str, where)
    ports = _opt(data, "ports", list, where, [])
    if not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
        raise ProfileError(f"{where}: field 'ports' must be a list of UDP ports")
    dreamer = _opt(data, "dreamer", dict, where, {"by": "sender"})
    by = _opt(dreamer, "by", str, f"{where} [dreamer]", "sender")
    if by not in BY:
        raise ProfileError(f"{where} [dreamer]: field 'by' must be one of {', '.join(BY)}")
    capture = _opt(dreamer, "capture", str, f"{where} [dreamer]", "")
    if by == "address" and not capture:
        raise ProfileError(f"{where} [dreamer]: field 'capture' is required with by = 'address'")
    signals = {}
    for sig, table in _opt(data, "signals", dict, where, {}).items():
        at = f"{where} [signals.{sig}]"
        if not isinstance(table, dict):
            raise ProfileError(f"{at}: must be a table (channel, combine)")
        extra = sorted(set(table) - {"channel", "combine"})
        if extra:
            raise ProfileError(f"{at}: unknown field(s) {', '.join(extra)}")
        combine = _opt(table, "combine", str, at, "mean")
        if combine not in COMBINE:
            raise ProfileError(f"{at}: field 'combine' must be one of {', '.join(COMBINE)}")
        signals[sig] = SignalPolicy(_opt(table, "channel", str, at, ""), combine)
    rules = _need(data, "rule", list, where)
    if not rules or not all(isinstance(r, dict) for r in rules):
        raise ProfileError(f"{where}: field 'rule' must be one or more [[rule]] tables")
    return Profile(
        name,
        tuple(ports),
        by,
        tuple(_rule(r, f"{where} rule {i + 1}", by, capture) for i, r in enumerate(rules)),
        capture=capture,
        description=_opt(data, "description", str, where, ""),
        signals=signals,
    )


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


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


__all__ = [
    "PROFILE_DIR",
    "Profile",
    "ProfileError",
    "SignalPolicy",
    "SignalUpdate",
    "Translator",
    "available_profiles",
    "load_profile",
]
