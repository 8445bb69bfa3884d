"""The live mapping script: Python that runs every frame and maps features, controls
and time onto params.

A mapping script (`patches/mappings/<name>.py`, named by the set) defines
`update(rig)`, its argument a `MappingFrame`: this frame of the rig. It reads what
the rig knows (`rig.t`, `rig.dreamers[i].alpha`, `rig.resonance`, `rig.get(path)`)
and proposes changes with `rig.set(path, value, fade)`. The changes of one call are
applied only if the whole call returns: a script that raises halfway changes
nothing, and the last good version keeps running until the file is fixed. Errors
name the file and line.
"""

from __future__ import annotations

import math
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from engine.folders import MAPPING_DIR
from engine.params import ParamError, ParamSpace

_ids = count()


class MappingError(Exception):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


def available_mappings(folder: Path = MAPPING_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def find_mapping(name: str, folder: Path = MAPPING_DIR) -> Path:
    return folder / f"{name}.py"


def _error_from(path: Path, exc: BaseException) -> MappingError:
    if isinstance(exc, SyntaxError):
        return MappingError(path, exc.lineno, f"SyntaxError: {exc.msg}")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    line = frames[-1].lineno if frames else None
    return MappingError(path, line, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class DreamerView:
    """What a mapping sees of one dreamer: its id, its features and its param prefix."""

    id: int
    path: str
    features: dict[str, float]

    def __getattr__(self, name: str) -> float:
        try:
            return self.features[name]
        except KeyError:
            raise AttributeError(f"dreamer {self.id} has no feature {name!r}") from None


@dataclass
class MappingFrame:
    """The mapping script's window on the show for one frame."""

    t: float
    dt: float
    frame: int
    dreamers: Sequence[DreamerView]
    resonance: float
    params: ParamSpace
    changes: list[tuple[str, object, float]] = field(default_factory=list)

    def get(self, path: str) -> float:
        return self.params.get(path)

    def set(self, path: str, value: object, fade: float = 0.0) -> None:
        """Propose a change, checked here (so an error names the script's line) and
        applied only if the whole update() returns."""
        self.params.check(path, value)
        if not isinstance(fade, (int, float)) or not math.isfinite(fade):
            raise ParamError(f"{path}: a fade is seconds, got {fade!r}")
        self.changes.append((path, value, float(fade)))

    # small helpers mappings reach for
    @staticmethod
    def lerp(a: float, b: float, x: float) -> float:
        return a + (b - a) * x

    @staticmethod
    def clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
        return min(hi, max(lo, x))

    @staticmethod
    def pulse(phase: float, sharpness: float = 8.0) -> float:
        """1 at phase 0 of each cycle, decaying: a beat shape from a 0..1 phase."""
        return math.exp(-sharpness * (phase % 1.0))


class Mapping:
    """One mapping script, reloadable; the last good version keeps running."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self._update: Callable[[MappingFrame], Any] | None = None
        self._source: bytes | None = None
        self.error: MappingError | None = None
        self.calls = 0
        self.load()

    def load(self) -> bool:
        """(Re)load the file; on failure keep the previous update() and record the error."""
        try:
            source = self.path.read_bytes()
        except OSError as exc:
            self.error = MappingError(self.path, None, f"cannot read: {exc.strerror}")
            return False
        if source == self._source and self.error is None:
            return True
        module = types.ModuleType(f"oneiric_mapping_{next(_ids)}")
        module.__file__ = str(self.path)
        try:
            exec(compile(source, str(self.path), "exec"), module.__dict__)
            update = module.__dict__.get("update")
            if not callable(update):
                raise MappingError(self.path, None, "defines no update(rig)")
        except MappingError as exc:
            self.error = exc
            return False
        except Exception as exc:
            self.error = _error_from(self.path, exc)
            return False
        self._update, self._source, self.error = update, source, None
        return True

    def run(self, rig: MappingFrame) -> bool:
        """Call update(rig); apply its changes only if it returned. False on error."""
        if self._update is None:
            return False
        try:
            self._update(rig)  # every rig.set was checked as it was called
        except Exception as exc:
            err = _error_from(self.path, exc)
            if self.error is None or str(self.error) != str(err):
                self.error = err
            return False
        for path, value, fade in rig.changes:
            rig.params.set(path, value, fade)
        self.calls += 1
        if self.error is not None and self._source is not None:
            self.error = None  # the running version works again
        return True
