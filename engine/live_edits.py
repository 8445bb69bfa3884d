"""Live coding's side of the live show: edited files reloaded mid-show (shaders warmed off
the show's thread and crossfaded in, patches, the mapping script, the set, effects), each
error kept with its file and line while the last good version plays on, and every
change stamped into the session log."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine import sets
from engine.audio.graph import PatchError
from engine.clock import Tick
from engine.events import Event
from engine.reload import Warmer
from engine.render import load_set
from engine.show import Show
from engine.visuals.shaders import ShaderError

log = logging.getLogger("oneiric.live")


class SessionLog(Protocol):
    """What the live loop records (engine.record.SessionWriter)."""

    def frame(self, tick: Tick) -> None: ...
    def event(self, frame: int, event: Event) -> None: ...
    def source(
        self, frame: int, kind: str, path: str, text: str | None, error: str | None = None
    ) -> None: ...
    def inputs(self, endpoints: list[list[str]], readers: dict[int, Any]) -> None: ...
    def input(self, frame: int, event: Event) -> None: ...
    def reading(self, frame: int, dreamer: int, n: int, samples: dict[str, np.ndarray]) -> None: ...


@dataclass(frozen=True, slots=True)
class LiveError:
    """Something that went wrong in a file, for the overlay and the tests."""

    kind: str  # shader, patch, mapping, set, effect
    path: Path
    line: int | None
    message: str
    frame: int

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class LiveEdits:
    """What Live does with an edited file (engine.live.Live is one)."""

    show: Show
    warmer: Warmer
    errors: deque[LiveError]
    session: SessionLog | None
    frame_index: int
    swaps: list[tuple[int, str]]
    _edited_effects: dict[Path, None]

    def file_changed(self, path: Path) -> None:
        """React to an edited file (the watcher calls this; tests may too)."""
        path = path.resolve()
        folders = self.show.folders
        if self.show.fx.uses(path):  # an effect: compiled at the next frame, on this thread
            self._edited_effects[path] = None
        if path.parent == folders.shaders.resolve() and path.stem in self.show.shaders:
            self.warmer.request(path)
        elif path.parent == folders.mappings.resolve():
            self._reload_mapping(path)
        elif path.parent == folders.patches.resolve() and path.suffix == ".py":
            self._reload_patch(path)
        elif path == self.show.spec.path.resolve():
            self._reload_set(path)

    def _error(self, kind: str, path: Path, line: int | None, message: str) -> None:
        err = LiveError(kind, path, line, message, self.frame_index)
        self.errors.append(err)
        log.error("%s", err)
        if self.session is not None:
            self.session.source(self.frame_index, kind, str(path), None, str(err))

    def _record_source(self, kind: str, path: Path, text: str) -> None:
        if self.session is not None:
            self.session.source(self.frame_index, kind, str(path), text)

    def _reload_mapping(self, path: Path) -> None:
        mapping = self.show.mapping
        if mapping is None or mapping.path != path:
            return
        if mapping.load():
            log.info("mapping %s reloaded", path.name)
            self._record_source("mapping", path, path.read_text())
        elif mapping.error is not None:
            self._error("mapping", path, mapping.error.line, mapping.error.message)

    def _reload_patch(self, path: Path) -> None:
        audio = self.show.audio
        if audio is None or path.stem not in {d.patch for d in self.show.dreamers}:
            return
        try:
            keys = audio.reload_patch(path.stem)
        except PatchError as exc:
            where = exc.path or path
            message = exc.detail.removeprefix(f"{where}:{exc.line}:").removeprefix(f"{where}:")
            self._error("patch", where, exc.line, message.strip())
            return
        self.show.patch_reloaded(path.stem)  # a control it adds becomes a param
        log.info("patch %s reloaded for %d voices", path.stem, len(keys))
        self._record_source("patch", path, path.read_text())

    def _reload_set(self, path: Path) -> None:
        try:
            spec = load_set(path, self.show.folders)
            self.show.reload_set(spec)
        except sets.SetError as exc:
            self._error("set", exc.path, None, f"{exc.where}: {exc.message}")
            return
        log.info("set %s re-applied", path.name)
        self._record_source("set", path, path.read_text())

    def _reload_effects(self) -> None:
        """Effects edited since the last frame, compiled again (stamped with this frame);
        one that fails keeps the last good one running."""
        for path in list(self._edited_effects):
            errors = self.show.reload_effect(path)
            for exc in errors:
                self._error("effect", exc.path, exc.line, exc.message)
            if not errors:
                self._record_source("effect", path, path.read_text(errors="replace"))
        self._edited_effects.clear()

    def _swap_warmed(self) -> None:
        for done in self.warmer.results():
            if done.error is not None:
                self._error("shader", done.error.path, done.error.line, done.error.message)
                continue
            try:
                fade = self.show.params.get("/live/crossfade")
                self.show.reload_shader(done.path, fade, done.source)
            except ShaderError as exc:
                self._error("shader", exc.path, exc.line, exc.message)
                continue
            self.swaps.append((self.frame_index, done.path.stem))
            text = (
                done.source.code
                if done.source is not None
                else done.path.read_text(errors="replace")
            )
            self._record_source("shader", done.path, text)
            log.info("shader %s swapped in (warmed in %.2f s)", done.path.name, done.seconds)
