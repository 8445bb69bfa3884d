"""Writing the session log: everything that made a live night's frames, so it can be
rendered again. `performance.py live SET --record-session night.oneiric` writes one with a
:class:`SessionWriter`; engine.sessions reads it back (`render --replay`); the format is
described in engine.session_format.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from engine.clock import Tick
from engine.events import Event
from engine.session_format import FORMAT, KINDS, VERSION, _finite, _frame_no, encode_value


def _rig_version() -> str:
    try:
        return importlib.metadata.version("oneiric")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def _flush_at_exit(file: Any, lock: threading.Condition) -> None:
    """An unclosed writer's last lines, at interpreter exit (its flusher thread keeps it
    alive, so its buffer would not be flushed by garbage collection)."""
    if lock.acquire(timeout=1.0):
        try:
            if not file.closed:
                file.flush()
        except (OSError, ValueError):
            pass
        finally:
            lock.release()


class SessionWriter:
    """Writes a session log as the show runs. Thread-safe; use as a context manager.

    The file must not exist (a night's log is never overwritten by accident) unless
    `overwrite=True`.
    """

    def __init__(
        self,
        path: Path,
        *,
        set_path: Path,
        set_text: str,
        seed: int,
        fps: float,
        size: tuple[int, int],
        flush_interval: float = 0.05,
        overwrite: bool = False,
        started: datetime | None = None,
    ) -> None:
        if not flush_interval > 0 or not math.isfinite(flush_interval):
            raise ValueError(f"flush_interval must be positive, got {flush_interval}")
        if _finite(fps, "fps") <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        w, h = size
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in (w, h)):
            raise ValueError(f"size must be two positive ints, got {size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if not isinstance(set_text, str):
            raise TypeError(f"set_text is the set file's text, got {type(set_text).__name__}")
        self.path = Path(path)
        self.flush_interval = float(flush_interval)
        self.frames = 0  # frame lines written
        self.bytes = 0  # bytes written, header included
        self.last_frame: int | None = None
        self._cond = threading.Condition(threading.Lock())
        self._pending_since: float | None = None  # monotonic time of the oldest unflushed line
        self._closed = False
        self._error: OSError | None = None  # a flush that failed on the flusher thread
        self._file = open(self.path, "wb" if overwrite else "xb")  # noqa: SIM115 (closed in close())
        header = {
            "format": FORMAT,
            "version": VERSION,
            "set_path": str(set_path),
            "set_text": set_text,
            "seed": seed,
            "fps": float(fps),
            "size": [w, h],
            # the show's own start: its date is what date-reading shaders saw live
            "started": (started or datetime.now()).astimezone().isoformat(timespec="microseconds"),
            "rig": _rig_version(),
            "python": platform.python_version(),
        }
        try:
            with self._cond:
                self._write_locked(_dumps(header))
                self._flush_locked()
        except BaseException:
            self._file.close()
            raise
        self._thread = threading.Thread(target=self._flusher, name="session-flush", daemon=True)
        self._thread.start()
        self._at_exit = weakref.finalize(self, _flush_at_exit, self._file, self._cond)

    # records
    def frame(self, tick: Tick) -> None:
        """Log a frame's tick; frame numbers must increase."""
        f = _frame_no(tick.frame)
        t, dt = _finite(tick.time, "tick time"), _finite(tick.dt, "tick dt")
        line = f'{{"f":{f},"t":{t!r},"dt":{dt!r}}}\n'.encode("ascii")
        with self._cond:
            if self.last_frame is not None and f <= self.last_frame:
                raise ValueError(f"frame {f} logged after frame {self.last_frame}")
            self._write_locked(line)
            self.last_frame = f
            self.frames += 1

    def param(self, frame: int, path: str, value: tuple[float, ...] | float, fade: float) -> None:
        """Log a param change (a scalar value is logged as a 1-tuple)."""
        raw = value if isinstance(value, (tuple, list)) else (value,)
        v = [_finite(x, path) for x in raw]
        record = {"k": "p", "f": _frame_no(frame), "p": str(path), "v": v}
        record["fade"] = _finite(fade, f"{path} fade")
        self._write(_dumps(record))

    def inputs(self, endpoints: Sequence[Sequence[str]], readers: dict[int, Any]) -> None:
        """Log how the dreamers' inputs were set up (once, as the show starts)."""
        record: dict[str, Any] = {"k": "inputs"}
        record["endpoints"] = [[str(e) for e in g] for g in endpoints]
        record["readers"] = {str(k): v for k, v in readers.items()}
        self._write(_dumps(record))

    def input(self, frame: int, event: Event) -> None:
        """Log a message routed to the dreamers (OSC from an app), in routing order."""
        self.event(frame, event, kind="i")

    def reading(self, frame: int, dreamer: int, n: int, samples: dict[str, np.ndarray]) -> None:
        """Log the `n`th read of a pulled source (LSL, BrainFlow) of dreamer index
        `dreamer`: what it returned, so the replay's reads return the same."""
        record = {"k": "r", "f": _frame_no(frame), "d": int(dreamer), "n": int(n)}
        record["v"] = {str(k): encode_value(np.asarray(v)) for k, v in samples.items()}
        self._write(_dumps(record))

    def event(self, frame: int, event: Event, *, kind: str = "e") -> None:
        if not isinstance(event.value, (tuple, list)):
            raise TypeError(f"an event value is a tuple, got {event.value!r}")
        record = {
            "k": kind,
            "f": _frame_no(frame),
            "t": _finite(event.time, "event time"),
            "src": str(event.source),
            "a": str(event.address),
            "v": encode_value(event.value),
        }
        self._write(_dumps(record))

    def source(
        self,
        frame: int,
        kind: str,
        path: str | os.PathLike[str],
        text: str | None,
        error: str | None = None,
    ) -> None:
        """Log a live-coded file: its full new text when it went in, or why it did not."""
        if kind not in KINDS:
            raise ValueError(f"source kind must be one of {KINDS}, got {kind!r}")
        if text is None and error is None:
            raise ValueError("a source change carries the new text or the error")
        record: dict[str, object] = {"k": "s", "f": _frame_no(frame), "kind": kind}
        record["path"] = os.fspath(path)
        if text is not None:
            record["text"] = str(text)
        if error is not None:
            record["error"] = str(error)
        self._write(_dumps(record))

    def observer(self, frame: Callable[[], int]) -> Callable[[str, tuple[float, ...], float], None]:
        """A ParamSpace observer logging each change, stamped with `frame()`."""

        def observe(path: str, value: tuple[float, ...], fade: float) -> None:
            self.param(frame(), path, value, fade)

        return observe

    # the file
    def _write(self, line: bytes) -> None:
        with self._cond:
            self._write_locked(line)

    def _write_locked(self, line: bytes) -> None:
        if self._closed:
            raise ValueError(f"session log {self.path} is closed")
        if self._error is not None:
            raise self._error
        self._file.write(line)
        self.bytes += len(line)
        now = time.monotonic()
        if self._pending_since is None:
            self._pending_since = now
            self._cond.notify()  # the flusher sleeps until there is something to flush
        elif now - self._pending_since >= self.flush_interval:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._file.flush()
        self._pending_since = None

    def _flusher(self) -> None:
        """Hands lines to the OS when nothing more is written for a while."""
        with self._cond:
            while not self._closed:
                since = self._pending_since
                if since is None:
                    self._cond.wait()
                    continue
                delay = since + self.flush_interval - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                try:
                    self._flush_locked()
                except OSError as exc:  # disk full...: the next write raises it
                    self._error = exc
                    return

    def flush(self) -> None:
        with self._cond:
            if self._error is not None:
                raise self._error
            if not self._closed:
                self._flush_locked()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Write the end line, flush, sync to disk and close. Closing twice is harmless;
        an OSError (disk full...) is raised after the file is closed."""
        error: OSError | None = None
        with self._cond:
            if self._closed:
                return
            try:
                end = {"k": "end", "frames": self.frames, "ended": _now_iso()}
                self._write_locked(_dumps(end))
                self._flush_locked()
                os.fsync(self._file.fileno())
            except OSError as exc:
                error = exc
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self._at_exit.detach()
        try:
            self._file.close()
        except OSError as exc:
            error = error or exc
        if error is not None:
            raise error

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
