"""Reading device profiles from their TOML files (presets/profiles/), checked line by line:
every mistake is a ProfileError naming the file and the rule."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.folders import PROFILE_DIR
from engine.sources.profiles import (
    BY,
    COMBINE,
    DEFAULT_BANDS,
    KINDS,
    LAYOUTS,
    Profile,
    ProfileError,
    Rule,
    SignalPolicy,
    compile_pattern,
)


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
