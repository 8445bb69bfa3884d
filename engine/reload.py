"""Live coding: notice edited files, and compile new shaders off the show's path.

:class:`Watcher` (watchdog) reports which files under shaders/, patches/ and
presets/ changed; the frame loop drains it once per frame. :class:`Warmer`
compiles and draws a changed shader once in a GL context of its own in a process
of its own: drivers compile at the first draw (about 1.7 s for a big shader on
llvmpipe), and the driver's shader cache then makes the show's own compile of the
same source a cache hit, so the swap costs milliseconds, not a stall.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moderngl
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from engine.visuals.context import headless_context
from engine.visuals.dialects import WARM_SIZE, detect, load_layer
from engine.visuals.layers import LayerStack
from engine.visuals.merge import BLEND_NAMES, Merge
from engine.visuals.shaders import LayerSource, ShaderError

log = logging.getLogger("oneiric.reload")

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


# Twice: Mesa's llvmpipe keys the code it JIT-compiles on the program as linked, and a
# program linked from the disk cache (as the show's will be) differs from one compiled
# from source, so only the second round leaves in the cache what the show will look up
# (measured: the show's first draw of a hot-reloaded ember.glsl 85 ms after one round,
# 21 ms after two).
ROUNDS = 2


def _warm_one(ctx: moderngl.Context, stack: LayerStack, path: Path) -> tuple[str | None, bool]:
    """Compile and draw a shader as the show will; (the rig-dialect text, foreign?)."""
    if detect(path) != "rig":
        for _ in range(ROUNDS):
            load_layer(ctx, path, size=stack.size).release()
        return None, True
    source = LayerSource.load(path)
    for _ in range(ROUNDS):
        prog = source.compile(ctx)
        stack.warm(prog)  # in the show's own state, at the show's layer size
        stack.forget(prog)
        prog.release()
    return source.code, False


MERGE_REQUEST = "merge "  # "merge WxH EXACT": every build of merge.frag, not a file


def merge_variants(exact: bool = False) -> list[tuple[bool, bool, int, bool]]:
    """Every (chaos, masks, mode, unroll) build a show can reach, the likeliest first."""
    modes = (-1, *range(len(BLEND_NAMES)))
    builds = [(chaos, masks, mode, False) for chaos in (False, True) for masks in (True, False)
              for mode in modes]  # fmt: skip
    if exact:  # calm, fused and exact: the unrolled loop too
        builds += [(False, False, mode, True) for mode in modes]
    return builds


def _warm_merge(ctx: moderngl.Context, request: str) -> int:
    """Compile and draw every merge variant at the show's size, so the show's own
    compiles, when a cue first needs one, come from the driver's disk cache."""
    size, exact = request.removeprefix(MERGE_REQUEST).split()
    w, h = (int(n) for n in size.split("x"))
    builds = merge_variants(exact == "1")
    for _ in range(ROUNDS):
        merge = Merge(ctx, (w, h))
        try:
            for chaos, masks, mode, unroll in builds:
                merge.variant(chaos, masks, mode, exact == "1", unroll)
            ctx.finish()
        finally:
            merge.release()
    return len(builds)


def _worker(size: tuple[int, int]) -> None:
    """The warm-up process: a GL context of its own, at low priority. Reads one path a
    line on stdin, answers one JSON line each on stdout."""
    with contextlib.suppress(OSError):
        os.nice(15)  # the show's frames come first
    ctx = headless_context()
    stack = LayerStack(ctx, size, 1)
    for line in sys.stdin:
        raw, t0 = line.rstrip("\n"), time.perf_counter()
        answer: dict[str, Any] = {"path": raw}
        if raw.startswith(MERGE_REQUEST):
            answer["merge"] = _warm_merge(ctx, raw)
            answer["seconds"] = time.perf_counter() - t0
            print(json.dumps(answer), flush=True)
            continue
        try:
            answer["code"], answer["foreign"] = _warm_one(ctx, stack, Path(raw))
        except ShaderError as exc:
            answer["error"] = [str(exc.path), exc.line, exc.message]
        except moderngl.Error as exc:  # a driver failure outside compile
            answer["error"] = [raw, 0, str(exc)]
        answer["seconds"] = time.perf_counter() - t0
        print(json.dumps(answer), flush=True)
    stack.release()
    ctx.release()


class Warmer:
    """A process with its own GL context that compiles and draws shaders once.

    A process, not a thread: threads' contexts share the driver's screen, and on
    llvmpipe a compile on one thread stalls the other's draws as much as compiling
    on the show's own thread would. The driver's on-disk shader cache is what the two
    processes share.
    """

    def __init__(self, size: tuple[int, int] = WARM_SIZE) -> None:
        self.size = size  # foreign dialects warm at the layer size (llvmpipe cares)
        self.merge_warmed: tuple[int, float] | None = None
        self._done: queue.SimpleQueue[Warmed] = queue.SimpleQueue()
        self._start()

    def _start(self) -> None:
        size = self.size
        self._process = subprocess.Popen(
            [sys.executable, "-m", "engine.reload", "--warm", f"{size[0]}x{size[1]}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        reader = threading.Thread(
            target=self._read, args=(self._process,), name="oneiric-warmer", daemon=True
        )
        reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:
                continue  # a stray line from a driver: not an answer
            path, seconds = Path(answer["path"]), float(answer["seconds"])
            if "merge" in answer:
                self.merge_warmed = (int(answer["merge"]), seconds)
                continue
            if "error" in answer:
                where, number, message = answer["error"]
                err = ShaderError(Path(where), int(number), message)
                self._done.put(Warmed(path, None, err, seconds))
            else:
                code = answer["code"]
                source = LayerSource(path, code) if code is not None else None
                self._done.put(Warmed(path, source, None, seconds, bool(answer["foreign"])))

    def warm_merge(self, size: tuple[int, int], exact: bool) -> None:
        """Every build of merge.frag for a show of this size, in the background; a cue
        that first needs one (chaos, a resonance below 1, a blend mode) then compiles
        it from the driver's disk cache instead of stalling the show (about 0.1-0.5 s
        a build cold on llvmpipe). `merge_warmed` says (builds, seconds) when done."""
        self._send(f"{MERGE_REQUEST}{size[0]}x{size[1]} {int(exact)}")

    def _send(self, line: str) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(f"{line}\n")
            stdin.flush()
        except BrokenPipeError:
            self._start()

    def request(self, path: Path) -> None:
        if self._process.poll() is not None:
            # a shader that crashed the driver took only the warm-up process with it
            log.warning("shader warm-up process died (%s); restarting it", self._process.returncode)
            self._done.put(Warmed(path, None, ShaderError(path, 0, "crashed the driver"), 0.0))
            self._start()
            return
        self._send(str(path))

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

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if self._process.stdin is not None:
                self._process.stdin.close()
        try:  # a warm-up still running is only lost time saved later: do not wait long
            self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


if __name__ == "__main__" and sys.argv[1:2] == ["--warm"]:
    w, h = (int(n) for n in sys.argv[2].split("x"))
    _worker((w, h))
