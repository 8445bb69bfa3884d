"""Scenes: named sets of param values (presets/scenes/*.toml), applied together with
one fade. The same path patterns as cues; checked against the show's params."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from engine.folders import SCENE_DIR
from engine.params import ParamError, ParamSpace
from engine.sets import SetError


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    fade: float
    values: dict[str, object]


def available_scenes(folder: Path = SCENE_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_scene(name: str, folder: Path = SCENE_DIR) -> Scene:
    path = folder / f"{name}.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except OSError:
        known = ", ".join(available_scenes(folder)) or "none"
        raise SetError(path, "", f"no scene {name!r} (known: {known})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetError(path, "", f"not valid TOML: {exc}") from None
    fade = raw.get("fade", 0.0)
    values = raw.get("values", {})
    if not isinstance(fade, (int, float)) or isinstance(fade, bool) or fade < 0:
        raise SetError(path, "fade", "must be a number of seconds >= 0")
    if not isinstance(values, dict):
        raise SetError(path, "values", "must be a table of param path = value")
    unknown = set(raw) - {"fade", "values"}
    if unknown:
        raise SetError(path, sorted(unknown)[0], "unknown field (a typo?)")
    return Scene(name, float(fade), values)


def apply_scene(scene: Scene, params: ParamSpace) -> int:
    """Check every value first, then apply them all: a bad scene changes nothing."""
    plan = []
    for pattern, value in scene.values.items():
        paths = params.match(pattern)
        if not paths:
            raise ParamError(f"scene {scene.name}: no param matches {pattern}")
        for p in paths:
            params.spec(p).coerce(value)
        plan.append((pattern, value))
    for pattern, value in plan:
        params.set(pattern, value, scene.fade)
    return len(plan)
