"""Reading a controller's bindings file (presets/controllers/NAME.toml), checked entry by
entry: a mistake is a SetError naming the file and the binding."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from engine.folders import CONTROLLER_DIR
from engine.midi.bindings import (
    BINDING_KEYS,
    CONTROLS,
    MODES,
    NUMBER_MAX,
    Binding,
    BindingMap,
    split_command,
)
from engine.sets import SetError


def _check(path: Path, where: str, raw: dict[str, Any]) -> Binding:
    def err(key: str, message: str) -> SetError:
        return SetError(path, f"{where}.{key}" if key else where, message)

    for key in raw:
        if key not in BINDING_KEYS:
            raise err(key, f"unknown field (expected one of {', '.join(sorted(BINDING_KEYS))})")

    def integer(key: str, default: int, lo: int, hi: int) -> int:
        v = raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise err(key, f"must be an integer, got {v!r}")
        if not lo <= v <= hi:
            raise err(key, f"must be {lo}..{hi}, got {v}")
        return v

    def flag(key: str, default: bool) -> bool:
        v = raw.get(key, default)
        if not isinstance(v, bool):
            raise err(key, f"must be true or false, got {v!r}")
        return v

    control = raw.get("control")
    if control not in CONTROLS:
        raise err("control", f"must be one of {', '.join(CONTROLS)}, got {control!r}")
    param = raw.get("param")
    if not isinstance(param, str) or not param.startswith("/") or not param.split():
        raise err("param", f"must be a param path or a command like /cue/go, got {param!r}")
    is_command = split_command(param) is not None
    presets_given = control == "program" and bool(raw.get("presets"))
    head = param.split()[0]
    if head in ("/scene/load", "/preset/load") and len(param.split()) != 2 and not presets_given:
        raise err("param", f'a scene command names one scene: "{head} <name>"')
    mode = raw.get("mode", "")
    if control == "program":
        if mode:
            raise err("mode", "a program change has no mode (presets = [...] says what loads)")
    elif mode and mode not in MODES[control]:
        raise err("mode", f"for {control} must be one of {', '.join(MODES[control])}, got {mode!r}")
    rng = raw.get("range", [0.0, 1.0])
    if (
        not isinstance(rng, list)
        or len(rng) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)
        or not all(0.0 <= v <= 1.0 for v in rng)
    ):
        raise err("range", f"must be [lo, hi] with both in 0..1, got {rng!r}")
    takeover = raw.get("takeover", "soft")
    if takeover not in ("soft", "jump"):
        raise err("takeover", f'must be "soft" or "jump", got {takeover!r}')
    step = raw.get("step", 0.01)
    if isinstance(step, bool) or not isinstance(step, int | float) or not 0 < step <= 1:
        raise err("step", f"must be a number in (0, 1], got {step!r}")
    presets = raw.get("presets", [])
    if not isinstance(presets, list) or not all(isinstance(p, str) and p for p in presets):
        raise err("presets", f"must be a list of preset names, got {presets!r}")
    if presets and control != "program":
        raise err("presets", "only a program binding has presets")
    if control == "program" and not presets and not is_command:
        raise err("param", "a program binding needs presets = [...] or a command param")
    return Binding(
        control=control,
        param=param,
        channel=integer("channel", 0, 0, 15),
        number=integer("number", 0, 0, NUMBER_MAX[control]),
        mode=mode,
        range=(float(rng[0]), float(rng[1])),
        invert=flag("invert", False),
        takeover=takeover,
        step=float(step),
        feedback=flag("feedback", True),
        on=integer("on", 127, 0, 127),
        off=integer("off", 0, 0, 127),
        presets=tuple(presets),
    )


def parse_bindings(data: dict[str, Any], path: Path) -> BindingMap:
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise SetError(path, "name", f"must be a non-empty string, got {name!r}")
    port = data.get("port", "")
    if not isinstance(port, str):
        raise SetError(path, "port", f"must be a string, got {port!r}")
    binds = data.get("bind", [])
    if not isinstance(binds, list):
        raise SetError(path, "bind", "must be an array of tables ([[bind]])")
    bindings = []
    for i, raw in enumerate(binds):
        if not isinstance(raw, dict):
            raise SetError(path, f"bind[{i}]", "must be a table")
        bindings.append(_check(path, f"bind[{i}]", raw))
    return BindingMap(name, bindings, port=port, path=path)


def controller_path(name: str | Path) -> Path:
    """A controller map's file: a path as given (a file, or a name with a suffix), else
    the map of that name in presets/controllers/."""
    path = Path(name)
    return path if path.is_file() or path.suffix else CONTROLLER_DIR / f"{path}.toml"


def load_bindings(path: Path | str) -> BindingMap:
    """Read and check a controller map; errors name the file and the field."""
    path = controller_path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SetError(path, "", f"cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise SetError(path, "", f"not valid TOML: {e}") from None
    return parse_bindings(data, path)
