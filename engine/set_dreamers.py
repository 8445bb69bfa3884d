"""The dreamers of a set: each `[[dreamers]]` group (how many, their source, stages,
shaders, patches, effects), read and checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.fx_spec import FxSpec, parse_fx
from engine.set_table import SetError, Table, name_list, non_negative, positive
from engine.sources.hypnogram import STAGES

STAGE_ALIASES = {"R": "REM", "1": "N1", "2": "N2", "3": "N3", "4": "N3", "0": "W"}


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


def _stage(raw: object) -> str | None:
    s = STAGE_ALIASES.get(str(raw), str(raw))
    return s if s in STAGES else None


def _parse_stages(t: Table) -> tuple[tuple[float, str], ...]:
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


def parse_group(
    path: Path, where: str, data: object, shaders: set[str], patches: set[str]
) -> DreamerGroup:
    t = Table(path, where, data)
    count = t.get("count", int, 1, lambda v: None if 1 <= v <= 1024 else "must be 1..1024")
    source = t.get("source", str, "simulate")
    sources = ("simulate", "osc", "recording", "brainflow", "lsl")
    if source not in sources:
        raise t.error("source", f"unknown source {source!r} (known: {', '.join(sources)})")

    def known(pool: set[str], what: str) -> Callable[[Any], str | None]:
        def check(v: Any) -> str | None:
            names = name_list(v)
            if not names or not all(isinstance(n, str) for n in names):
                return f"must name one {what} or a list of them"
            bad = [n for n in names if n not in pool]
            return f"unknown {what} {bad[0]!r} (known: {', '.join(sorted(pool))})" if bad else None

        return check

    shader = name_list(t.get("shader", (str, list), check=known(shaders, "shader")))
    patch = name_list(t.get("patch", (str, list), check=known(patches, "patch")))
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
        listen = name_list(t.get("listen", (str, list), default))
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
        stagger=t.get("stagger", float, 0.0, non_negative),
        transition=t.get("transition", float, 4.0, non_negative),
        params=dict(t.get("params", dict, {})),
        profile=profile,
        listen=listen,
        allow=tuple(str(a) for a in t.get("allow", list, [])),
        keys=tuple(str(k) for k in t.get("keys", list, [])),
        timeout=t.get("timeout", float, 3.0, positive),
        fade=t.get("fade", float, 2.0, non_negative),
        recording=recording,
        start=t.get("start", float, 0.0, non_negative),
        channels=channels,
        board=t.get("board", str, "synthetic"),
        stream_type=t.get("stream_type", str, "EEG"),
        stream_name=t.get("stream_name", str, ""),
        fx=fx_list(t, "fx"),
        where=where,
    )
    t.finish()
    return group


def _channels_of(t: Table, recording: Path) -> dict[str, str]:
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


def fx_list(t: Table, key: str) -> tuple[FxSpec, ...]:
    """A table's effect chain (engine.fx_spec), checked."""
    try:
        return parse_fx(t.get(key, (list, str), []), t.field(key))
    except ValueError as exc:
        raise SetError(t.path, "", str(exc)) from None
