"""Control maps: any OSC address onto any param, with range, curve, smoothing and deadband.

A VJ's TouchOSC page, a phone's accelerometer or another rig sends whatever
addresses it sends; a control map (presets/controls/*.toml) says which argument of
which address moves which param, over what input range, along what curve, how
smoothed (a One Euro filter: smooth when still, quick when moving) and with what
deadband (jitter smaller than it is ignored). Everything lands in the param space
through the params' own curves, like a fader.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.events import Event
from engine.folders import CONTROL_DIR
from engine.params import ParamError, ParamSpace
from engine.sets import SetError


class OneEuro:
    """The One Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass whose cutoff
    rises with the signal's speed, so slow moves are smooth and fast ones keep up."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: float | None = None
        self._dx = 0.0
        self._t = 0.0

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: float, t: float) -> float:
        if self._x is None or t <= self._t:
            self._x, self._t = x, t
            return x
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx += self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x


@dataclass
class ControlBinding:
    address: str
    param: str  # a path or a pattern
    arg: int = 0
    lo: float = 0.0  # the input's range
    hi: float = 1.0
    out: tuple[float, float] = (0.0, 1.0)  # the part of the param's travel (0..1) it covers
    invert: bool = False
    deadband: float = 0.0  # in 0..1 of the travel
    fade: float = 0.0
    filter: OneEuro | None = None
    last: float | None = field(default=None, repr=False)

    def position(self, event: Event) -> float | None:
        """The event as a 0..1 fader position, or None if it carries no usable number."""
        if self.arg >= len(event.value):
            return None
        raw = event.value[self.arg]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            return None
        x = (float(raw) - self.lo) / (self.hi - self.lo) if self.hi != self.lo else 0.0
        x = min(1.0, max(0.0, x))
        if self.filter is not None:
            x = self.filter(x, event.time)
        x = 1.0 - x if self.invert else x
        return self.out[0] + (self.out[1] - self.out[0]) * x


class ControlMap:
    def __init__(self, name: str, bindings: list[ControlBinding]) -> None:
        self.name = name
        self.bindings = bindings
        self._by_address: dict[str, list[ControlBinding]] = {}
        for b in bindings:
            self._by_address.setdefault(b.address, []).append(b)

    def knows(self, address: str) -> bool:
        return address in self._by_address

    def apply(self, event: Event, params: ParamSpace) -> list[Event]:
        """Move the params this event is bound to. Returns what it did as plain param
        commands (path, value, fade), which is what a session log records."""
        done = []
        for b in self._by_address.get(event.address, []):
            x = b.position(event)
            if x is None or (b.last is not None and abs(x - b.last) < b.deadband):
                continue
            b.last = x
            for path in params.match(b.param):
                value = params.spec(path).from_unit(x)
                params.set(path, value, b.fade)
                done.append(Event(event.time, f"{event.source}>{self.name}", path, (value, b.fade)))
        return done


def _number(t: dict[str, object], key: str, default: float, where: str, path: Path) -> float:
    v = t.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SetError(path, f"{where}.{key}", "must be a number")
    return float(v)


def load_controls(
    name: str, params: ParamSpace | None = None, folder: Path = CONTROL_DIR
) -> ControlMap:
    """Read presets/controls/NAME.toml; with `params`, check every target exists."""
    path = folder / f"{name}.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except OSError:
        raise SetError(path, "", f"no control map {name!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetError(path, "", f"not valid TOML: {exc}") from None
    bindings = []
    for i, m in enumerate(raw.get("map", [])):
        where = f"map[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("address"), str):
            raise SetError(path, where, "needs an address (string)")
        if not isinstance(m.get("param"), str):
            raise SetError(path, f"{where}.param", "needs a param path (string)")
        unknown = set(m) - {"address", "param", "arg", "in", "out", "invert", "deadband",
                            "fade", "filter"}  # fmt: skip
        if unknown:
            raise SetError(path, f"{where}.{sorted(unknown)[0]}", "unknown field (a typo?)")
        lo, hi = m.get("in", [0.0, 1.0])
        out = m.get("out", [0.0, 1.0])
        filt = m.get("filter")
        one_euro = None
        if isinstance(filt, dict):
            one_euro = OneEuro(
                _number(filt, "min_cutoff", 1.0, f"{where}.filter", path),
                _number(filt, "beta", 0.0, f"{where}.filter", path),
                _number(filt, "d_cutoff", 1.0, f"{where}.filter", path),
            )
        b = ControlBinding(
            address=m["address"],
            param=m["param"],
            arg=int(_number(m, "arg", 0, where, path)),
            lo=float(lo),
            hi=float(hi),
            out=(float(out[0]), float(out[1])),
            invert=bool(m.get("invert", False)),
            deadband=_number(m, "deadband", 0.0, where, path),
            fade=_number(m, "fade", 0.0, where, path),
            filter=one_euro,
        )
        if params is not None and not params.match(b.param):
            raise SetError(path, f"{where}.param", str(ParamError(f"no param matches {b.param}")))
        bindings.append(b)
    return ControlMap(name, bindings)
