"""Where the rig's files live: one registry of folders, each written once.

Live-coded files (shaders, patches, mapping scripts) and presets (sets, scenes, device
profiles, controller maps, control maps) each have a folder in the repository. A show
takes a :class:`Folders` (tests and replays point it elsewhere); everything else reads
the defaults here. `plain_name` is the one check that a name a client sends (a scene, a
preset) stays inside its folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHADER_DIR = ROOT / "shaders"
PATCH_DIR = ROOT / "patches"
MAPPING_DIR = PATCH_DIR / "mappings"
PRESET_DIR = ROOT / "presets"
SET_DIR = PRESET_DIR / "sets"
SCENE_DIR = PRESET_DIR / "scenes"
PROFILE_DIR = PRESET_DIR / "profiles"
CONTROLLER_DIR = PRESET_DIR / "controllers"
CONTROL_DIR = PRESET_DIR / "controls"

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def plain_name(name: str, what: str = "name") -> str:
    """A file's name without folder or suffix, as clients send it ("calm"); ValueError for
    anything that could reach outside its folder ("../../etc/passwd", "/x", "a/b")."""
    if not isinstance(name, str) or not _PLAIN.fullmatch(name) or ".." in name:
        raise ValueError(f"{what} {name!r} is not a plain name (letters, digits, - _ .)")
    return name


@dataclass(frozen=True, slots=True)
class Folders:
    """Where a show finds its files (tests and replays point these elsewhere)."""

    shaders: Path = SHADER_DIR
    patches: Path = PATCH_DIR
    mappings: Path = MAPPING_DIR
    scenes: Path = SCENE_DIR
