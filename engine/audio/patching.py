"""Patch files run on the engine's pyo server: their modules (loaded again when edited),
every object a build makes, and the order the server computes their streams in.

Two pyo facts shape this (checked on pyo 1.1.0):
- pyo computes streams in creation order, and a reader takes whatever its input computed
  last: an input created after its reader lags one buffer. What a build made is therefore
  moved ahead of the section that reads it (`adopt`).
- A Python-side pyo object that is dropped may take memory its C objects still use (a
  table read by Pointer: a crash). `build` returns every object a build creates (found
  without hooking pyo: `made_by`), for the engine to keep for as long as the voice or
  master lives, so patches need not hold references.
"""

from __future__ import annotations

import gc
import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

from engine.audio.graph import describe, load_patch, made_by, release


class Patches:
    """The patches of `patch_dir`, built on `server`."""

    def __init__(self, server: Any, patch_dir: Path) -> None:
        self.server, self.patch_dir = server, patch_dir
        self._modules: dict[str, tuple[bytes, types.ModuleType]] = {}

    def module(self, name: str) -> types.ModuleType:
        """patches/<name>.py as a module, loaded again only when its source changed."""
        path = self.patch_dir / f"{name}.py"
        source = path.read_bytes() if path.is_file() else b""
        cached = self._modules.get(name)
        if cached is None or cached[0] != source:  # first use, or edited since
            self.server.setServer()
            cached = self._modules[name] = (source, load_patch(name, self.patch_dir))
        return cached[1]

    def begin(self) -> int:
        """Make this server the one new objects join; the stream index they start at."""
        self.server.setServer()
        return self.streams()

    def streams(self) -> int:
        return len(self.server.getStreams())

    def adopt(self, start: int, marker: Any) -> None:
        """Move the streams created since index `start` to just before `marker`, so they
        are computed before what reads them. One slice assignment: atomic under the GIL,
        which pyo's audio thread holds while it computes a buffer."""
        streams = self.server.getStreams()
        at = streams.index(marker._base_objs[0]._getStream())
        if at < start:
            streams[at:] = streams[start:] + streams[at:start]

    def build(self, name: str, build: Callable[..., Any], *args: Any) -> tuple[Any, list[Any]]:
        """Run a patch's build: its output and every pyo object it made. PatchError
        (with file and line) if it raises or returns something else."""
        objs: list[Any] = []
        try:
            with made_by(build) as objs:  # filled as it returns, even when it raises
                out = build(*args)
            if not isinstance(out, pyo.PyoObject):
                raise TypeError(f"build() returned {type(out).__name__}, not a PyoObject")
            return out, objs
        except Exception as exc:
            err = describe(name, (self.patch_dir / f"{name}.py").resolve(), exc)
        release(objs)
        gc.collect()  # half-built objects go now, not at some later collection
        raise err

    def clear(self) -> None:
        """Forget the modules: a patch may hold pyo objects at module level."""
        self._modules.clear()
