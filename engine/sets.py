"""Set files: a whole show in TOML (duration, dreamers and their sources, shaders,
patches, merge settings, cue list), read and checked before anything renders.

Every mistake is reported once, as `file: field: what is wrong`, so a VJ fixing a
set at 3 a.m. knows exactly where to look. Param values (`[merge]`, `[master]`,
`[group]` tables and cue changes) are checked against the param space when the
show is built; this module checks the shape of the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.fx_spec import FxSpec, parse_fx
from engine.listen_spec import AudioInSpec, AudioInSpecError, parse_audio_in
from engine.osc_out_spec import OscOutSpec, parse_osc_out
from engine.output_spec import OutputSpec, parse_outputs
from engine.smpte import TimecodeSpec, parse_timecode
from engine.sources.simulate import STAGES

STAGE_ALIASES = {"R": "REM", "1": "N1", "2": "N2", "3": "N3", "4": "N3", "0": "W"}
MAX_SIZE = 16384  # GL_MAX_TEXTURE_SIZE on llvmpipe and most GPUs


class SetError(ValueError):
    """A set file that cannot be played: names the file and the field."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        self.path = Path(path)
        self.where = where
        self.message = message
        super().__init__(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")


@dataclass(frozen=True, slots=True)
class DreamerGroup:
    """`count` dreamers that share a source and a look; shaders and patches are cycled."""

    count: int
    source: Literal["simulate", "osc", "recording", "brainflow", "lsl"]
    stages: tuple[tuple[float, str], ...]
    shaders: tuple[str, ...]
    patches: tuple[str, ...]
    drive: Literal["features", "raw"] = "features"
    enhance: bool = True
    stagger: float = 0.0  # each next dreamer reaches each stage this many seconds later
    transition: float = 4.0  # seconds over which one stage crossfades into the next
    params: Mapping[str, object] = field(default_factory=dict)  # /dreamer/N/<key> defaults
    # source = "osc": people streaming from apps (engine.sources.profiles)
    profile: str = ""
    listen: tuple[str, ...] = ()  # HOST:PORTs; default 127.0.0.1 and the profile's ports
    allow: tuple[str, ...] = ()  # only these sender hosts (empty: anyone who reaches us)
    keys: tuple[str, ...] = ()  # senders pinned to the group's dreamers, in order
    timeout: float = 3.0  # seconds of silence before a dreamer fades out
    fade: float = 2.0  # seconds a dreamer takes to fade out, and back in
    # source = "recording": a file played back (EDF, WFDB, text, npz), looping
    recording: Path | None = None
    start: float = 0.0
    channels: dict[str, str] = field(default_factory=dict)  # signal -> the file's channel
    # source = "brainflow": a board by BrainFlow's name ("synthetic" runs with no hardware);
    # source = "lsl": a stream on the network by type (and name)
    board: str = "synthetic"
    stream_type: str = "EEG"
    stream_name: str = ""
    fx: tuple[FxSpec, ...] = ()  # effects over each of the group's layers (fx_spec)
    where: str = ""


@dataclass(frozen=True, slots=True)
class Cue:
    time: float
    changes: Mapping[str, object]  # param path or pattern -> value
    fade: float = 0.0
    name: str = ""
    where: str = ""


@dataclass(frozen=True, slots=True)
class SetSpec:
    path: Path
    title: str
    duration: float
    fps: float
    size: tuple[int, int]
    seed: int
    layer_scale: float
    sample_rate: int
    mapping: str  # a mapping script in patches/mappings/ ("" for none)
    dreamers: tuple[DreamerGroup, ...]
    values: Mapping[str, object]  # initial param values by path (from [merge], [master], [group])
    cues: tuple[Cue, ...]
    master_fx: tuple[FxSpec, ...] = ()  # effects over the merged frame
    audio_in: AudioInSpec | None = None  # what the rig listens to ([audio_in]), if anything
    osc_out: tuple[OscOutSpec, ...] = ()  # features and params sent to other software
    outputs: tuple[OutputSpec, ...] = ()  # [[outputs]]: the picture to other software
    timecode: TimecodeSpec | None = None  # [timecode]: the cue list follows it

    @property
    def dreamer_count(self) -> int:
        return sum(g.count for g in self.dreamers)

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def layer_size(self) -> tuple[int, int]:
        w, h = self.size
        return max(1, round(w * self.layer_scale)), max(1, round(h * self.layer_scale))


_MISSING = object()
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_TYPE_NAMES.update({list: "a list", dict: "a table"})


class _Table:
    """Typed access to one TOML table that remembers which keys were read."""

    def __init__(self, path: Path, where: str, data: object) -> None:
        if not isinstance(data, dict):
            raise SetError(path, where, f"must be a table, got {type(data).__name__}")
        self.path, self.where, self.data = path, where, data
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, message: str) -> SetError:
        return SetError(self.path, self.field(key), message)

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = _MISSING,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, "missing (required)")
            return default
        value = self.data[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            got = type(value).__name__
            kinds = kind if isinstance(kind, tuple) else (kind,)
            wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            raise self.error(key, f"must be {wanted}, got {got}")
        if check is not None and (problem := check(value)):
            raise self.error(key, problem)
        return value

    def table(self, key: str) -> _Table:
        self.used.add(key)
        return _Table(self.path, self.field(key), self.data.get(key, {}))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], "unknown field (a typo?)")


def _positive(v: float) -> str | None:
    return None if v > 0 else f"must be positive, got {v}"


def _non_negative(v: float) -> str | None:
    return None if v >= 0 else f"must not be negative, got {v}"


def _names(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def _stage(raw: object) -> str | None:
    s = STAGE_ALIASES.get(str(raw), str(raw))
    return s if s in STAGES else None


def _parse_stages(t: _Table) -> tuple[tuple[float, str], ...]:
    raw = t.get("stages", list)
    if not raw:
        raise t.error("stages", "needs at least one [time, stage] pair")
    out: list[tuple[float, str]] = []
    for i, item in enumerate(raw):
        where = f"stages[{i}]"
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (int, float))):
            raise t.error(where, 'must be [seconds, "stage"], e.g. [12.0, "N2"]')
        stage = _stage(item[1])
        if stage is None:
            raise t.error(where, f"unknown stage {item[1]!r} (one of {', '.join(STAGES)})")
        if out and item[0] <= out[-1][0]:
            raise t.error(where, "stage times must increase")
        out.append((float(item[0]), stage))
    return tuple(out)


def _parse_group(
    path: Path, where: str, data: object, shaders: set[str], patches: set[str]
) -> DreamerGroup:
    t = _Table(path, where, data)
    count = t.get("count", int, 1, lambda v: None if 1 <= v <= 1024 else "must be 1..1024")
    source = t.get("source", str, "simulate")
    sources = ("simulate", "osc", "recording", "brainflow", "lsl")
    if source not in sources:
        raise t.error("source", f"unknown source {source!r} (known: {', '.join(sources)})")

    def known(pool: set[str], what: str) -> Callable[[Any], str | None]:
        def check(v: Any) -> str | None:
            names = _names(v)
            if not names or not all(isinstance(n, str) for n in names):
                return f"must name one {what} or a list of them"
            bad = [n for n in names if n not in pool]
            return f"unknown {what} {bad[0]!r} (known: {', '.join(sorted(pool))})" if bad else None

        return check

    shader = _names(t.get("shader", (str, list), check=known(shaders, "shader")))
    patch = _names(t.get("patch", (str, list), check=known(patches, "patch")))
    drive = t.get("drive", str, "features")
    if drive not in ("features", "raw"):
        raise t.error("drive", f'must be "features" or "raw", got {drive!r}')
    profile, recording = "", None
    channels: dict[str, str] = {}
    listen: tuple[str, ...] = ()
    if source == "osc":
        from engine.sources.osc import Endpoint
        from engine.sources.profile_files import available_profiles, load_profile

        known_profiles = set(available_profiles())
        profile = t.get(
            "profile",
            str,
            check=lambda v: (
                None
                if v in known_profiles
                else (f"unknown profile {v!r} (known: {', '.join(sorted(known_profiles))})")
            ),
        )
        default = [f"127.0.0.1:{p}" for p in load_profile(profile).ports]
        listen = _names(t.get("listen", (str, list), default))
        try:
            for text in listen:
                Endpoint.parse(text)
        except (ValueError, AttributeError) as exc:
            raise t.error("listen", str(exc)) from None
    if source == "recording":
        rel = t.get("recording", str)
        recording = (path.parent / rel).resolve()
        if not recording.exists():
            raise t.error("recording", f"no such file: {recording}")
        channels = _channels_of(t, recording)
    if source == "brainflow":
        from brainflow.board_shim import BoardIds

        boards = sorted(b.name.removesuffix("_BOARD").lower() for b in BoardIds)
        t.get(
            "board",
            str,
            "synthetic",
            lambda v: (
                None
                if v in boards
                else (f"unknown board {v!r} (BrainFlow knows: {', '.join(boards[:12])}, ...)")
            ),
        )
    stages = _parse_stages(t) if source == "simulate" or "stages" in t.data else ((0.0, "W"),)
    group = DreamerGroup(
        count=count,
        source=source,
        stages=stages,
        shaders=shader,
        patches=patch,
        drive=drive,
        enhance=t.get("enhance", bool, True),
        stagger=t.get("stagger", float, 0.0, _non_negative),
        transition=t.get("transition", float, 4.0, _non_negative),
        params=dict(t.get("params", dict, {})),
        profile=profile,
        listen=listen,
        allow=tuple(str(a) for a in t.get("allow", list, [])),
        keys=tuple(str(k) for k in t.get("keys", list, [])),
        timeout=t.get("timeout", float, 3.0, _positive),
        fade=t.get("fade", float, 2.0, _non_negative),
        recording=recording,
        start=t.get("start", float, 0.0, _non_negative),
        channels=channels,
        board=t.get("board", str, "synthetic"),
        stream_type=t.get("stream_type", str, "EEG"),
        stream_name=t.get("stream_name", str, ""),
        fx=_fx(t, "fx"),
        where=where,
    )
    t.finish()
    return group


def _channels_of(t: _Table, recording: Path) -> dict[str, str]:
    """`channels = {resp = "rsp", ecg = "ECG II"}`: which of the file's channels is which
    signal, checked against the file."""
    from engine.sources.playback import SIGNALS
    from engine.sources.recordings import RecordingError, label, load

    table = t.get("channels", dict, {})
    if not table:
        return {}
    try:
        names = list(load(recording).channels)
    except RecordingError as exc:
        raise t.error("recording", str(exc)) from None
    out = {}
    for sig, ch in table.items():
        if sig not in SIGNALS:
            raise t.error(f"channels.{sig}", f"unknown signal (one of {', '.join(SIGNALS)})")
        if not isinstance(ch, str) or label(ch) not in names:
            raise t.error(f"channels.{sig}", f"no channel {ch!r} in the file (has {names})")
        out[sig] = ch
    return out


def _parse_cue(path: Path, where: str, data: object, duration: float) -> Cue:
    t = _Table(path, where, data)

    def in_show(v: float) -> str | None:
        return None if 0 <= v <= duration else f"must be within the show (0..{duration:g} s)"

    cue = Cue(
        time=t.get("time", float, check=in_show),
        changes=dict(t.get("set", dict)),
        fade=t.get("fade", float, 0.0, _non_negative),
        name=t.get("name", str, ""),
        where=where,
    )
    t.finish()
    return cue


def load(
    path: Path | str,
    *,
    shaders: set[str],
    patches: set[str],
    mappings: set[str] | None = None,
) -> SetSpec:
    """Read and check a set file. `shaders`, `patches` and `mappings` are the names that
    exist."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SetError(path, "", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetError(path, "", f"not valid TOML: {exc}") from None
    top = _Table(path, "", raw)
    s = top.table("set")
    duration = s.get("duration", float, check=_positive)
    fps = s.get("fps", float, 30.0, lambda v: None if 1 <= v <= 240 else "must be 1..240")
    size = s.get("size", list, [1280, 720], _check_size)
    spec = SetSpec(
        path=path,
        title=s.get("title", str, path.stem),
        duration=duration,
        fps=fps,
        size=(int(size[0]), int(size[1])),
        seed=s.get("seed", int, 0),
        layer_scale=s.get("layer_scale", float, 0.5, lambda v: None if 0 < v <= 1 else "0..1"),
        sample_rate=s.get("sample_rate", int, 48000, _check_rate),
        mapping=s.get("mapping", str, "", _known_mapping(mappings)),
        dreamers=tuple(
            _parse_group(path, f"dreamers[{i}]", g, shaders, patches)
            for i, g in enumerate(top.get("dreamers", list, check=_non_empty))
        ),
        values={
            f"/{prefix}/{k}": v
            for prefix in ("merge", "master", "group")
            for k, v in top.get(prefix, dict, {}).items()
        },
        cues=tuple(
            sorted(
                (
                    _parse_cue(path, f"cues[{i}]", c, duration)
                    for i, c in enumerate(top.get("cues", list, []))
                ),
                key=lambda c: c.time,
            )
        ),
        master_fx=_fx(top, "master_fx"),
        audio_in=_audio_in(top),
        osc_out=_osc_out(top),
        outputs=_parsed(top, "outputs", parse_outputs, ()),
        timecode=_parsed(top, "timecode", parse_timecode, None),
    )
    s.finish()
    top.finish()
    return spec


def _osc_out(t: _Table) -> tuple[OscOutSpec, ...]:
    try:
        return parse_osc_out(t.get("osc_out", (list, dict), []), t.field("osc_out"))
    except ValueError as exc:
        raise SetError(t.path, "", str(exc)) from None


def _fx(t: _Table, key: str) -> tuple[FxSpec, ...]:
    try:
        return parse_fx(t.get(key, (list, str), []), t.field(key))
    except ValueError as exc:
        raise SetError(t.path, "", str(exc)) from None


def _parsed(t: _Table, key: str, parse: Callable[[object, str], Any], default: Any) -> Any:
    t.used.add(key)
    if key not in t.data:
        return default
    try:
        return parse(t.data[key], key)
    except ValueError as exc:
        raise SetError(t.path, "", str(exc)) from None


def _audio_in(t: _Table) -> AudioInSpec | None:
    try:
        return parse_audio_in(t.get("audio_in", dict, None), t.path.resolve().parent)
    except AudioInSpecError as exc:
        raise SetError(t.path, exc.where, exc.message) from None


def _known_mapping(mappings: set[str] | None) -> Callable[[str], str | None]:
    def check(name: str) -> str | None:
        if mappings is None or name in mappings:
            return None
        return f"unknown mapping {name!r} (known: {', '.join(sorted(mappings)) or 'none'})"

    return check


def _non_empty(v: list[object]) -> str | None:
    return None if v else "needs at least one dreamer group"


def _check_size(v: list[object]) -> str | None:
    if len(v) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return "must be [width, height] in pixels"
    w, h = v
    assert isinstance(w, int) and isinstance(h, int)
    if not (16 <= w <= MAX_SIZE and 16 <= h <= MAX_SIZE):
        return f"each side must be 16..{MAX_SIZE} pixels"
    if w % 2 or h % 2:
        return "width and height must be even (H.264 with 4:2:0 chroma)"
    return None


def _check_rate(v: int) -> str | None:
    return None if v in (22050, 32000, 44100, 48000, 96000) else "must be a standard audio rate"


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); raises ValueError with a readable message."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must look like 1920x1080, got {text!r}") from None
    if problem := _check_size([w, h]):
        raise ValueError(f"size {text}: {problem}")
    return w, h
