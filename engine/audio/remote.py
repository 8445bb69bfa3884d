"""Realtime sound in a process of its own.

pyo's audio callback takes the Python GIL for every buffer, and the show's frame loop
holds it through each draw and readback: in one process, a 256-frame JACK period
(5.3 ms) is missed whenever a frame's GL work outlasts it, and the PA hears the xrun.
So a live show's realtime engine runs in a child process (:class:`RemoteAudio`) with
its own interpreter and GIL; the frame loop only sends it messages:

- the per-frame controls (`set`, `set_gain`, `set_master`) are queued and go as one
  message at :meth:`RemoteAudio.commit`, once a frame;
- `add_voice`, `reload_patch`, `start_recording`, `stop_recording` wait for the
  answer, so a patch that raises comes back as the same :class:`PatchError` (name,
  file, line) and the live loop reports it as before.

If the show's process dies, the pipe closes and the child stops its server and exits.
If the child dies (a crash, a SIGKILL), the next frame starts another in the background
and gives it the voices back once it is ready; the show never waits for it.
Offline rendering keeps the engine in-process: manual mode has no callback.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.audio.graph import PatchError
from engine.audio.server import AudioError

log = logging.getLogger(__name__)
START_TIMEOUT = 60.0  # seconds for the child to import pyo and boot its server
CALL_TIMEOUT = 30.0
REVIVE_TIMEOUT = 8.0  # a child started again that is not ready by then is killed and retried
QUEUED = ("set", "set_gain", "set_master")
CALLS = ("add_voice", "remove_voice", "reload_patch", "start_recording", "stop_recording")


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    """The child: one realtime AudioEngine, driven by messages until the pipe closes."""
    os.environ.setdefault("PYO_GUI_WX", "0")
    os.environ.update(options.pop("environ", {}))  # this process's own: libjack reads it
    from engine.audio.engine import AudioEngine

    try:
        engine = AudioEngine(mode="realtime", **options)
    except (AudioError, ValueError) as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", engine.sr, engine.driver))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the show is gone
            kind = message[0]
            if kind == "close":
                break
            if kind == "queued":
                for name, args in message[1]:
                    try:
                        getattr(engine, name)(*args)
                    except Exception as exc:  # a voice that failed to come back
                        log.error("audio: %s%r failed: %s", name, args[:2], exc)
                continue
            _, name, args = message
            try:
                conn.send(("ok", getattr(engine, name)(*args)))
            except PatchError as exc:
                path = str(exc.path) if exc.path else None
                conn.send(("patch", exc.name, exc.detail, path, exc.line, exc.traceback))
            except Exception as exc:  # reported to the show, which goes on
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.close()


class RemoteAudio:
    """The realtime AudioEngine's interface, served by a child process."""

    mode = "realtime"

    def __init__(self, *, jack_autostart: bool = True, **options: Any) -> None:
        """`options`: the AudioEngine's own keyword arguments (its mode is realtime).
        `jack_autostart=False`: use a JACK server only if one is running (libjack would
        otherwise try to start one), as a show trying devices in turn wants."""
        if not jack_autostart:
            options["environ"] = {"JACK_NO_START_SERVER": "1"}
        self._options = options
        self._spawn()
        self._queue: list[tuple[str, tuple[Any, ...]]] = []
        self.recording: Path | None = None
        self._voices: dict[str, tuple[str, dict[str, float] | None]] = {}
        self._reviving = False  # a new child is booting; it has no voices yet
        self._next_try = 0.0
        self._boot_started = 0.0
        self.revivals = 0  # children started again after one died
        answer = self._receive(START_TIMEOUT)
        if answer[0] != "ready":
            self._stop()
            raise AudioError(str(answer[1]))
        _, self.sr, self.driver = answer

    def _spawn(self) -> None:
        spawn = multiprocessing.get_context("spawn")  # no GL context or threads inherited
        self._conn, child = spawn.Pipe()
        self._process = spawn.Process(
            target=_serve, args=(child, dict(self._options)), name="oneiric-audio", daemon=True
        )
        self._process.start()
        child.close()
        self.pid = self._process.pid

    @property
    def ready(self) -> bool:
        """Whether a child is up with its voices (False while one is being revived)."""
        return not self._reviving and self._process.is_alive()

    def _revive(self) -> None:
        """The child died: start another (at most once a second), and once it says ready,
        give it the voices back (their patches as the files are now). Never blocks."""
        if not self._reviving:
            if time.monotonic() < self._next_try:
                return
            log.error(
                "audio: the sound process died (exit %s); starting another",
                self._process.exitcode,
            )
            self._conn.close()
            self._spawn()
            self._boot_started = time.monotonic()
            self._reviving = True
            self.revivals += 1
            return
        if not self._conn.poll(0):
            stuck = time.monotonic() - self._boot_started > REVIVE_TIMEOUT
            if stuck or not self._process.is_alive():  # died or hung booting: again later
                log.error(
                    "audio: the new sound process %s; trying again", "hung" if stuck else "died"
                )
                self._process.kill()
                self._process.join()
                self._reviving = False
                self._next_try = time.monotonic() + 1.0
            return
        self._reviving = False
        try:
            answer = self._conn.recv()
        except (EOFError, OSError):
            answer = ("error", "gone while booting")
        if answer[0] != "ready":
            log.error("audio: the new sound process failed: %s", answer[1])
            self._next_try = time.monotonic() + 1.0
            return
        voices = [("add_voice", (k, patch, c)) for k, (patch, c) in self._voices.items()]
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("queued", voices))
        log.info("audio: the sound process is back with %d voices", len(voices))

    # the per-frame controls: queued, sent once a frame
    def set(self, key: str, control: str, value: float, ramp: float = 0.05) -> None:
        self._queue.append(("set", (key, control, float(value), float(ramp))))

    def set_gain(self, key: str, gain: float, ramp: float = 0.05) -> None:
        self._queue.append(("set_gain", (key, float(gain), float(ramp))))

    def set_master(self, control: str, value: float, ramp: float = 0.05) -> None:
        self._queue.append(("set_master", (control, float(value), float(ramp))))

    def commit(self) -> None:
        """Send this frame's controls in one message (dropped if the child is gone)."""
        queued, self._queue = self._queue, []
        if not self.ready:
            self._revive()
            return
        if queued:
            try:
                self._conn.send(("queued", queued))
            except (BrokenPipeError, OSError):
                log.error("audio: the sound process is gone")

    # calls that answer
    def add_voice(self, key: str, patch: str, controls: dict[str, float] | None = None) -> None:
        self._call("add_voice", key, patch, controls)
        self._voices[key] = (patch, controls)

    def remove_voice(self, key: str) -> None:
        self._voices.pop(key, None)
        self._call("remove_voice", key)

    def reload_patch(self, patch: str) -> list[str]:
        if not self.ready:  # a revived child loads the patch as the file is when it boots
            return [k for k, (p, _) in self._voices.items() if p == patch]
        keys: list[str] = self._call("reload_patch", patch)
        return keys

    def levels(self) -> dict[str, float]:
        """Each voice's RMS over the last frame, as the child plays it ({} while the
        child is being revived)."""
        if not self.ready:
            return {}
        levels: dict[str, float] = self._call("levels")
        return levels

    def start_recording(self, path: Path) -> None:
        self._call("start_recording", Path(path))
        self.recording = Path(path)

    def stop_recording(self, settle: float = 1.0) -> Path | None:
        self.recording = None
        path: Path | None = self._call("stop_recording", settle)
        return path

    def _call(self, name: str, *args: Any) -> Any:
        self.commit()  # what was queued first happens first
        if not self.ready:
            raise AudioError("the sound process is restarting")
        try:
            self._conn.send(("call", name, args))
        except (BrokenPipeError, OSError):
            raise AudioError("the sound process is gone") from None
        answer = self._receive(CALL_TIMEOUT)
        if answer[0] == "ok":
            return answer[1]
        if answer[0] == "patch":
            _, patch, detail, path, line, trace = answer
            exc = PatchError(patch, detail, Path(path) if path else None, line)
            exc.traceback = trace
            raise exc
        raise AudioError(str(answer[1]))

    def _receive(self, timeout: float) -> tuple[Any, ...]:
        if not self._conn.poll(timeout):
            return ("error", f"the sound process did not answer in {timeout:g} s")
        try:
            answer: tuple[Any, ...] = self._conn.recv()
        except (EOFError, OSError):
            return ("error", "the sound process is gone")
        return answer

    def close(self) -> None:
        """Stop the server and the process; safe to call twice."""
        if self._process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(("close",))
        self._stop()

    def _stop(self) -> None:
        self._process.join(timeout=10.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
