"""Set files: a whole show in TOML (duration, dreamers and their sources, shaders,
patches, merge settings, cue list), read and checked before anything renders.

Every mistake is reported once, as `file: field: what is wrong`, so a VJ fixing a
set at 3 a.m. knows exactly where to look. Param values (`[merge]`, `[master]`,
`[group]` tables and cue changes) are checked against the param space when the
show is built; this module checks the shape of the file (the `[[dreamers]]` groups in
engine.set_dreamers, through engine.set_table's checked tables).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.fx_spec import FxSpec
from engine.listen_spec import AudioInSpec, AudioInSpecError, parse_audio_in
from engine.osc_out_spec import OscOutSpec, parse_osc_out
from engine.output_spec import OutputSpec, parse_outputs
from engine.set_dreamers import DreamerGroup, fx_list, parse_group
from engine.set_table import SetError, Table, non_negative, positive
from engine.smpte import TimecodeSpec, parse_timecode

MAX_SIZE = 16384  # GL_MAX_TEXTURE_SIZE on llvmpipe and most GPUs


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


def _parse_cue(path: Path, where: str, data: object, duration: float) -> Cue:
    t = Table(path, where, data)

    def in_show(v: float) -> str | None:
        return None if 0 <= v <= duration else f"must be within the show (0..{duration:g} s)"

    cue = Cue(
        time=t.get("time", float, check=in_show),
        changes=dict(t.get("set", dict)),
        fade=t.get("fade", float, 0.0, non_negative),
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
    top = Table(path, "", raw)
    s = top.table("set")
    duration = s.get("duration", float, check=positive)
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
            parse_group(path, f"dreamers[{i}]", g, shaders, patches)
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
        master_fx=fx_list(top, "master_fx"),
        audio_in=_audio_in(top),
        osc_out=_osc_out(top),
        outputs=_parsed(top, "outputs", parse_outputs, ()),
        timecode=_parsed(top, "timecode", parse_timecode, None),
    )
    s.finish()
    top.finish()
    return spec


def _osc_out(t: Table) -> tuple[OscOutSpec, ...]:
    try:
        return parse_osc_out(t.get("osc_out", (list, dict), []), t.field("osc_out"))
    except ValueError as exc:
        raise SetError(t.path, "", str(exc)) from None


def _parsed(t: Table, key: str, parse: Callable[[object, str], Any], default: Any) -> Any:
    t.used.add(key)
    if key not in t.data:
        return default
    try:
        return parse(t.data[key], key)
    except ValueError as exc:
        raise SetError(t.path, "", str(exc)) from None


def _audio_in(t: Table) -> AudioInSpec | None:
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
