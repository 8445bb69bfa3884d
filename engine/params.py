"""The param space: every controllable value, addressed by path.

A param is declared once as a :class:`ParamSpec` (path, default, range, curve,
smoothing, unit) and everything else is derived from it: shader uniforms, synth
controls, OSC addresses, MIDI bindings, presets and cues all read and write
values through :class:`ParamSpace`. There is no second way to change a value.

Changes are never jumps unless asked for: :meth:`ParamSpace.set` takes a fade
time (a linear ramp in the param's normalised, curve-shaped space) and each
param adds its own one-pole smoothing on top.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["float", "int", "bool", "enum"]
Curve = Literal["lin", "log", "exp"]
# who may change a param (OSCQuery's ACCESS): "rw" controls, "r" outputs the show
# publishes (features, stage), "w" write-only commands
Access = Literal["r", "w", "rw"]
# what happens to a value out of range (OSCQuery's CLIPMODE); the space always clamps
# to keep shaders and synths safe, so this says which bounds are hard
ClipMode = Literal["none", "low", "high", "both"]
Value = float | tuple[float, ...]


class ParamError(ValueError):
    """An unknown path or a value a param cannot take."""


def path_matches(path: str, pattern: str) -> bool:
    """Whether a path matches a pattern whose `*` stands for one segment."""
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """What a param is. Frozen: change a value through the space, not the spec."""

    path: str
    default: Value = 0.0
    min: float = 0.0
    max: float = 1.0
    kind: Kind = "float"
    curve: Curve = "lin"
    smooth: float = 0.0  # seconds, time constant of the one-pole smoother
    unit: str = ""
    doc: str = ""
    choices: tuple[str, ...] = ()  # enum labels; the value is the index
    size: int = 1  # 2 for a point, 3 or 4 for a colour
    access: Access = "rw"
    clip: ClipMode = "both"
    uniform: str = ""  # the shader uniform this param drives, declared from this spec

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path.endswith("/") or "//" in self.path:
            raise ParamError(f"param path must look like /a/b, got {self.path!r}")
        if self.kind == "enum":
            if not self.choices:
                raise ParamError(f"{self.path}: an enum needs choices")
            object.__setattr__(self, "min", 0.0)
            object.__setattr__(self, "max", float(len(self.choices) - 1))
        elif self.kind == "bool":
            object.__setattr__(self, "min", 0.0)
            object.__setattr__(self, "max", 1.0)
        if self.max < self.min:
            raise ParamError(f"{self.path}: max {self.max} < min {self.min}")
        if self.curve == "log" and self.min <= 0:
            raise ParamError(f"{self.path}: a log curve needs min > 0")
        defaults = self.default if isinstance(self.default, tuple) else (self.default,)
        if len(defaults) != self.size:
            raise ParamError(
                f"{self.path}: default has {len(defaults)} values, size is {self.size}"
            )

    @property
    def writable(self) -> bool:
        return "w" in self.access

    def label(self, value: float) -> str:
        """A value as a person reads it: an enum's choice name, else the number."""
        if self.kind == "enum":
            return self.choices[min(len(self.choices) - 1, max(0, round(value)))]
        if self.kind in ("int", "bool"):
            return str(round(value))
        return f"{value:.6g}"

    @property
    def snaps(self) -> bool:
        """Values that cannot be in between (enums, ints) move in steps, never fade."""
        return self.kind in ("enum", "int")

    def coerce(self, value: object) -> tuple[float, ...]:
        """Check and clamp a value into range; strings name enum choices."""
        if self.kind == "enum" and isinstance(value, str):
            if value not in self.choices:
                raise ParamError(f"{self.path}: {value!r} is not one of {list(self.choices)}")
            value = float(self.choices.index(value))
        if isinstance(value, bool):
            value = float(value)
        raw: Sequence[object] = value if isinstance(value, (tuple, list)) else (value,)
        if len(raw) != self.size:
            raise ParamError(f"{self.path}: expects {self.size} value(s), got {len(raw)}")
        out = []
        for v in raw:
            if not isinstance(v, (int, float)):
                raise ParamError(f"{self.path}: expects a number, got {v!r}")
            f = float(v)
            if not math.isfinite(f):
                raise ParamError(f"{self.path}: value is not finite ({f})")
            f = min(self.max, max(self.min, f))
            if self.snaps:
                f = float(round(f))
            out.append(f)
        return tuple(out)

    def to_unit(self, v: float) -> float:
        """Value -> 0..1 along the curve (what a fader position means)."""
        if self.max == self.min:
            return 0.0
        if self.curve == "log":
            return math.log(v / self.min) / math.log(self.max / self.min)
        x = (v - self.min) / (self.max - self.min)
        return math.sqrt(max(x, 0.0)) if self.curve == "exp" else x

    def from_unit(self, x: float) -> float:
        """0..1 (a fader position) -> value along the curve."""
        x = min(1.0, max(0.0, x))
        if self.curve == "log":
            v = self.min * (self.max / self.min) ** x
        elif self.curve == "exp":
            v = self.min + (self.max - self.min) * x * x
        else:
            v = self.min + (self.max - self.min) * x
        return self.coerce(v)[0] if self.size == 1 else v


@dataclass(slots=True)
class _State:
    spec: ParamSpec
    value: list[float]  # what consumers read (ramped and smoothed)
    ramp_from: list[float]
    target: list[float]
    ramp_len: float = 0.0
    ramp_pos: float = 0.0

    def moving(self) -> bool:
        return self.ramp_pos < self.ramp_len or self.value != self.target


Observer = Callable[[str, tuple[float, ...], float], None]


class ParamSpace:
    """All params of a show, by path."""

    def __init__(self) -> None:
        self._params: dict[str, _State] = {}
        self._moving: set[str] = set()
        self.observers: list[Observer] = []
        self.version = 0  # grows whenever a param comes, goes or changes its spec (OSCQuery)

    # declaring
    def register(self, spec: ParamSpec) -> ParamSpec:
        """Add a param. Registering the same spec again is a no-op (hot reload)."""
        old = self._params.get(spec.path)
        if old is not None:
            if old.spec == spec:
                return spec
            # a reloaded shader may change a range: keep the value, clamp it into the new one
            value = spec.coerce(tuple(old.target) if spec.size > 1 else old.target[0])
        else:
            value = spec.coerce(spec.default)
        self._params[spec.path] = _State(spec, list(value), list(value), list(value))
        self.version += 1
        return spec

    def unregister(self, prefix: str) -> int:
        """Remove every param at or under a path; returns how many."""
        gone = [p for p in self._params if p == prefix or p.startswith(prefix.rstrip("/") + "/")]
        for p in gone:
            del self._params[p]
            self._moving.discard(p)
        self.version += len(gone)
        return len(gone)

    def __contains__(self, path: object) -> bool:
        return path in self._params

    def __iter__(self) -> Iterator[ParamSpec]:
        return (s.spec for s in self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def spec(self, path: str) -> ParamSpec:
        try:
            return self._params[path].spec
        except KeyError:
            raise ParamError(f"no param at {path}") from None

    def match(self, pattern: str) -> list[str]:
        """Paths matching a pattern; `*` stands for one path segment (`/dreamer/*/weight`)."""
        if not any(c in pattern for c in "*?["):
            return [pattern] if pattern in self._params else []
        return [p for p in self._params if path_matches(p, pattern)]

    # reading
    def get(self, path: str) -> float:
        """The current (faded, smoothed) value of a scalar param."""
        try:
            return self._params[path].value[0]
        except KeyError:
            raise ParamError(f"no param at {path}") from None

    def read(self, paths: Iterable[str]) -> list[float]:
        """Many scalar params at once, 0.0 for a path with no param (a set without it)."""
        params = self._params
        return [params[p].value[0] if p in params else 0.0 for p in paths]

    def get_vec(self, path: str) -> tuple[float, ...]:
        try:
            return tuple(self._params[path].value)
        except KeyError:
            raise ParamError(f"no param at {path}") from None

    def target(self, path: str) -> tuple[float, ...]:
        return tuple(self._params[path].target)

    def snapshot(self) -> dict[str, Value]:
        return {
            p: (s.value[0] if s.spec.size == 1 else tuple(s.value)) for p, s in self._params.items()
        }

    # writing
    def set(self, pattern: str, value: object, fade: float = 0.0, *, jump: bool = False) -> int:
        """Move every matching param to `value` over `fade` seconds; returns how many matched.
        jump=True lands there at once, past fades and smoothing (a show's starting values)."""
        paths = self.match(pattern)
        for path in self.check(pattern, value, paths):  # all checked first: all or nothing
            self._set_one(path, value, fade)
            if jump:
                st = self._params[path]
                st.value = list(st.target)
                st.ramp_len = st.ramp_pos = 0.0
        return len(paths)

    def check(self, pattern: str, value: object, paths: list[str] | None = None) -> list[str]:
        """The controls `set(pattern, value)` would move, the value checked against each;
        raises ParamError as set would, and changes nothing. A pattern may sweep over
        outputs (it moves the controls among them), not only over them."""
        paths = self.match(pattern) if paths is None else paths
        if not paths:
            raise ParamError(f"no param matches {pattern}")
        controls = [p for p in paths if self._params[p].spec.writable]
        if not controls:
            raise ParamError(f"{paths[0]} is read-only: the show publishes it")
        for path in controls:
            self._params[path].spec.coerce(value)
        return controls

    def publish(self, path: str, value: object) -> None:
        """What the show measured (a feature, the stage, the beat), written at once.
        The one writer of read-only params; observers hear it when it changes."""
        st = self._params[path]
        target = list(st.spec.coerce(value))
        if target == st.target and st.value == target:
            return
        st.value, st.target, st.ramp_from = target, list(target), list(target)
        st.ramp_len = st.ramp_pos = 0.0
        for obs in self.observers:
            obs(path, tuple(target), 0.0)

    def describe(self, path: str) -> str:
        """A value as a person reads it: `N2`, `62.3 bpm`, `0.1, 0.2, 0.3`."""
        spec = self.spec(path)
        values = self._params[path].value
        text = ", ".join(spec.label(v) for v in values)
        return f"{text} {spec.unit}" if spec.unit and spec.kind != "enum" else text

    def set_unit(self, path: str, x: float, fade: float = 0.0) -> None:
        """Set from a 0..1 control position, through the param's curve."""
        spec = self.spec(path)
        if not spec.writable:
            raise ParamError(f"{path} is read-only: the show publishes it")
        self._set_one(path, spec.from_unit(x), fade)

    def _set_one(self, path: str, value: object, fade: float) -> None:
        st = self._params[path]
        target = list(st.spec.coerce(value))
        fade = 0.0 if st.spec.snaps else max(0.0, float(fade))
        st.ramp_from = list(st.value) if fade > 0 else target
        st.target = target
        st.ramp_len = fade
        st.ramp_pos = 0.0
        if fade == 0 and st.spec.smooth == 0:
            st.value = list(target)
        self._moving.add(path)
        for obs in self.observers:
            obs(path, tuple(target), fade)

    def reset(self, paths: Iterable[str] | None = None) -> None:
        for p in list(self._params) if paths is None else paths:
            self._set_one(p, self._params[p].spec.default, 0.0)

    def update(self, dt: float) -> None:
        """Advance fades and smoothing by dt seconds (once per frame)."""
        done = []
        for path in self._moving:
            st = self._params.get(path)
            if st is None:
                done.append(path)
                continue
            spec = st.spec
            if st.ramp_len > 0:
                st.ramp_pos = min(st.ramp_len, st.ramp_pos + dt)
                k = st.ramp_pos / st.ramp_len
                ramp = [
                    spec.from_unit(spec.to_unit(a) + (spec.to_unit(b) - spec.to_unit(a)) * k)
                    if spec.size == 1
                    else a + (b - a) * k
                    for a, b in zip(st.ramp_from, st.target, strict=True)
                ]
            else:
                ramp = st.target
            if spec.smooth > 0 and dt > 0:
                a = 1.0 - math.exp(-dt / spec.smooth)
                st.value = [v + (r - v) * a for v, r in zip(st.value, ramp, strict=True)]
                pairs = zip(st.value, ramp, strict=True)
                if all(abs(v - r) < 1e-6 * (1 + abs(r)) for v, r in pairs):
                    st.value = list(ramp)
            elif spec.smooth == 0:
                st.value = list(ramp)
            if st.ramp_pos >= st.ramp_len and st.value == st.target:
                done.append(path)
        for p in done:
            self._moving.discard(p)
