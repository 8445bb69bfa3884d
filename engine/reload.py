"""Live coding: notice edited files, and compile new shaders off the show's path.

:class:`Watcher` (watchdog) reports which files under shaders/, patches/ and
presets/ changed; the frame loop drains it once per frame. :class:`Warmer`
compiles and draws a changed shader once in a GL context of its own on its own
thread: drivers compile at the first draw (about 1.7 s for a big shader on
llvmpipe), and the driver's shader cache then makes the show's own compile of the
same source a cache hit, so the swap costs milliseconds, not a stall.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import moderngl
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from engine.visuals.context import headless_context
from engine.visuals.dialects import WARM_SIZE, detect, load_layer
from engine.visuals.shaders import LayerSource, ShaderError, warm

WATCHED_SUFFIXES = {".glsl", ".fs", ".frag", ".vert", ".py", ".toml", ".json"}


class _Handler(FileSystemEventHandler):
    def __init__(self, changed: queue.SimpleQueue[Path]) -> None:
        self._changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in ("modified", "created", "moved"):
            return
        raw = getattr(event, "dest_path", "") or event.src_path
        path = Path(raw if isinstance(raw, str) else raw.decode())
        # editors save via temporary files and renames: only the real file matters
        if path.suffix in WATCHED_SUFFIXES and not path.name.startswith((".", "#")):
            self._changed.put(path.resolve())


class Watcher:
    """Which watched files changed since the last drain (deduplicated)."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self._changed: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._observer = Observer()
        handler = _Handler(self._changed)
        for folder in folders:
            if folder.is_dir():
                self._observer.schedule(handler, str(folder), recursive=True)
        self._observer.daemon = True
        self._observer.start()

    def drain(self) -> list[Path]:
        seen: dict[Path, None] = {}
        while True:
            try:
                seen[self._changed.get_nowait()] = None
            except queue.Empty:
                return list(seen)

    def close(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=2.0)


@dataclass(frozen=True, slots=True)
class Warmed:
    """A warm-up's outcome: the source (ok) or the error that stopped it."""

    path: Path
    source: LayerSource | None  # rig dialect: the text that was compiled
    error: ShaderError | None
    seconds: float
    foreign: bool = False  # ISF or Shadertoy: the show loads the file again (a cache hit)


class Warmer:
    """A thread with its own GL context that compiles and draws shaders once."""

    def __init__(self, size: tuple[int, int] = WARM_SIZE) -> None:
        self.size = size  # foreign dialects warm at the layer size (llvmpipe cares)
        self._requests: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Warmed] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="oneiric-warmer", daemon=True)
        self._thread.start()

    def request(self, path: Path) -> None:
        self._requests.put(path)

    def results(self) -> list[Warmed]:
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout: float = 30.0) -> list[Warmed]:
        """Block until at least one result arrives (tests and replays)."""
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return []
        return [first, *self.results()]

    def _run(self) -> None:
        # the show's frames come first: on a machine with few cores, compile in the gaps
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
        ctx = headless_context()
        target = ctx.framebuffer(color_attachments=[ctx.texture_array((64, 36, 1), 4)])
        while (path := self._requests.get()) is not None:
            t0 = time.perf_counter()
            try:
                if detect(path) != "rig":
                    load_layer(ctx, path, size=self.size).release()
                    self._done.put(Warmed(path, None, None, time.perf_counter() - t0, True))
                    continue
                source = LayerSource.load(path)
                prog = source.compile(ctx)
                warm(ctx, prog, target)
                prog.release()
                self._done.put(Warmed(path, source, None, time.perf_counter() - t0))
            except ShaderError as exc:
                self._done.put(Warmed(path, None, exc, time.perf_counter() - t0))
            except moderngl.Error as exc:  # a driver failure outside compile
                err = ShaderError(path, 0, str(exc))
                self._done.put(Warmed(path, None, err, time.perf_counter() - t0))
        ctx.release()

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=5.0)
