"""The session log: everything that made a live night's frames, so it can be rendered again.

`performance.py live SET --record-session night.oneiric` writes one; `render --replay`
reads it back and plays the show on a :class:`ReplayClock` instead of the wall clock.

The format is JSON Lines, append-only, ASCII (strings are escaped), one record a line:

    {"format": "oneiric-session", "version": 1, "set_path": ..., "set_text": ..., "seed": 4,
     "fps": 60.0, "size": [1280, 720], "started": "2025-...", "rig": "0.1.0", "python": ...}
    {"f": 12, "t": 0.20013458, "dt": 0.01671204}                  a frame's tick
    {"k": "p", "f": 12, "p": "/merge/chaos", "v": [0.5], "fade": 2.0}   a param change
    {"k": "e", "f": 12, "t": 81.2, "src": "osc:...", "a": "/x", "v": [1, 2.5, "go"]}  an event
    {"k": "i", "f": 12, "t": 81.2, "src": "osc:...", "a": "/muse/eeg", "v": [...]}  an input
    {"k": "r", "f": 12, "d": 3, "n": 40, "v": {"eeg": {"nd": ...}}}   a pulled source's read
    {"k": "s", "f": 12, "kind": "shader", "path": "...", "text": "..."}  a reloaded file
    {"k": "s", "f": 12, "kind": "shader", "path": "...", "error": "aurora.glsl:3: ..."}
    {"k": "end", "frames": 5400, "ended": "2025-..."}              written by close()

`f` on a param, event or source line is the index of the first frame rendered with that
change applied (the frame before which it was applied); it may be one past the last tick
line, since changes are applied before their frame's tick is taken.

Floats are written with `repr`, which reads back to the same bits, so a replay is exact.
Ticks, param values and fades must be finite: a NaN there is a bug upstream, and
the writer refuses it with ValueError. Event values are what came in from outside (OSC
arguments, sensor samples, where NaN is a legitimate "no reading"), so they are
encoded instead: non-finite floats as {"float": "nan" | "inf" | "-inf"} (a NaN's sign
and payload are not kept), bytes as {"b64": ...}, numpy arrays and numpy scalars
(other than float64, which is a float) as {"nd": base64, "dtype": ..., "shape": [...]},
tuples and lists as lists (read back as tuples). None, bool, int and str are plain JSON.
Anything else raises TypeError.

Crash safety: the live process may be killed at any moment. Lines are handed to the
operating system (file.flush, no fsync: surviving the process, not a power cut) once the
oldest unflushed line is `flush_interval` old: on the next write, or by a small daemon
thread that touches nothing but the file when nothing more is written. A kill loses at
most the last `flush_interval` seconds (plus the time the thread waits for the GIL),
and at worst leaves the last line cut, which :func:`load` drops and reports.

Dreamers' inputs are logged whatever their source, so a replay needs nothing but the log:
each OSC message the show routed to its dreamers (`i`, in the order routed, stamped with
the frame that routed it; the header's `inputs` names each group's ports as bound), and
each read of a pulled source (LSL, BrainFlow: `r`, the `n`th read of dreamer index `d`,
with what it returned). One `inputs` line before the first frame says how they were set
up: each OSC group's ports as bound, each pulled source's rates and silence timeout.

    {"k": "inputs", "endpoints": [["127.0.0.1:5000"]], "readers": {"3": {"rates": ...}}}

What a replay should apply: the input events and source changes. Param changes that
cues, the mapping script or a set reload make are derived again by the replayed show;
the param lines are there to check the replay against (and for changes a replayer
cannot derive). ParamSpace observers do not say whether a change was a `jump`.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import math
import os
import platform
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from engine.clock import Tick
from engine.events import Event

FORMAT = "oneiric-session"
VERSION = 1
KINDS = ("shader", "patch", "mapping", "preset", "set", "scene", "effect")
_ND_KINDS = "biufcSU"  # numpy dtype kinds that travel as raw bytes


class SessionError(ValueError):
    """A session log that cannot be read; names the file and the line."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}")


def _rig_version() -> str:
    try:
        return importlib.metadata.version("oneiric")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def _finite(x: object, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: expects a number, got {x!r}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{what}: {f} is not finite (the session log refuses NaN and inf)")
    return f


def _frame_no(frame: object) -> int:
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
        raise ValueError(f"a frame number is an int >= 0, got {frame!r}")
    return int(frame)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def encode_value(v: object) -> object:
    """An event value as JSON (see the module docstring for the tags)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        f = float(v)
        return f if math.isfinite(f) else {"float": repr(f)}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"b64": _b64(bytes(v))}
    if isinstance(v, (tuple, list)):
        return [encode_value(x) for x in v]
    if isinstance(v, (np.ndarray, np.generic)):
        a = np.asarray(v)
        if a.dtype.kind not in _ND_KINDS:
            raise TypeError(f"cannot log a numpy value of dtype {a.dtype}")
        out: dict[str, object] = {
            "nd": _b64(np.ascontiguousarray(a).tobytes()),
            "dtype": a.dtype.str,
            "shape": list(a.shape),
        }
        if isinstance(v, np.generic):
            out["scalar"] = True
        return out
    raise TypeError(f"cannot log an event value of type {type(v).__name__}: {v!r}")


def decode_value(v: object) -> object:
    """The inverse of :func:`encode_value`; arrays come back as tuples."""
    if isinstance(v, list):
        return tuple(decode_value(x) for x in v)
    if not isinstance(v, dict):
        return v
    keys = set(v)
    if keys == {"b64"}:
        return base64.b64decode(_str(v, "b64"), validate=True)
    if keys == {"float"}:
        name = v["float"]
        if name not in ("nan", "inf", "-inf"):
            raise ValueError(f"unknown float tag {name!r}")
        return float(name)
    if keys in ({"nd", "dtype", "shape"}, {"nd", "dtype", "shape", "scalar"}):
        dtype = np.dtype(_str(v, "dtype"))
        shape = v["shape"]
        if dtype.kind not in _ND_KINDS or not isinstance(shape, list):
            raise ValueError(f"bad numpy value {v!r}")
        raw = base64.b64decode(_str(v, "nd"), validate=True)
        a = np.frombuffer(raw, dtype).reshape(shape).copy()
        return a[()] if v.get("scalar") is True else a
    raise ValueError(f"unknown tagged value {v!r}")


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


# reading
@dataclass(frozen=True, slots=True)
class SourceChange:
    kind: str  # one of KINDS
    path: str
    text: str | None  # the full new text, when it went in
    error: str | None = None  # why it did not

    @property
    def ok(self) -> bool:
        return self.error is None


class ReplayClock:
    """The recorded ticks, in order: a clock like FrameClock and RealtimeClock.
    `tick()` past the last recorded frame raises IndexError."""

    def __init__(self, ticks: Sequence[Tick], fps: float) -> None:
        self.fps = float(fps)
        self._ticks = list(ticks)
        self._next = 0

    @property
    def frames(self) -> int:
        return len(self._ticks)

    @property
    def position(self) -> int:
        """How many ticks have been handed out."""
        return self._next

    def __len__(self) -> int:
        return len(self._ticks)

    def now(self) -> float:
        """The latest replayed tick's time (events come from the log, already stamped)."""
        return self._ticks[max(self._next - 1, 0)].time if self._ticks else 0.0

    def tick(self) -> Tick:
        if self._next >= len(self._ticks):
            raise IndexError(f"the session has {len(self._ticks)} frames; all were replayed")
        tick = self._ticks[self._next]
        self._next += 1
        return tick

    def __iter__(self) -> Iterator[Tick]:
        while self._next < len(self._ticks):
            yield self.tick()


@dataclass(frozen=True)
class Session:
    """A loaded session log. params, events and sources are keyed by the frame before
    which they were applied, in the order they were logged."""

    header: dict[str, Any]
    ticks: list[Tick]
    params: dict[int, list[tuple[str, tuple[float, ...], float]]]
    events: dict[int, list[Event]]
    sources: dict[int, list[SourceChange]]
    truncated: bool  # the last line was cut off (the writer was killed mid-line)
    complete: bool = False  # the writer closed the log (there is an end line)
    path: Path = field(default=Path())
    inputs: dict[int, list[Event]] = field(default_factory=dict)  # routed to dreamers
    input_setup: dict[str, Any] = field(default_factory=dict)  # the `inputs` line
    readings: dict[int, dict[int, dict[str, np.ndarray]]] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return float(self.header["fps"])

    @property
    def seed(self) -> int:
        return int(self.header["seed"])

    @property
    def size(self) -> tuple[int, int]:
        w, h = self.header["size"]
        return (w, h)

    @property
    def set_text(self) -> str:
        return str(self.header["set_text"])

    @property
    def frames(self) -> int:
        return len(self.ticks)

    def clock(self) -> ReplayClock:
        return ReplayClock(self.ticks, self.fps)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _parse(line: bytes) -> Any:
    return _DECODER.decode(line.decode("utf-8"))


def _get(rec: dict[str, Any], key: str) -> Any:
    if key not in rec:
        raise ValueError(f"no {key!r}")
    return rec[key]


def _str(rec: dict[str, Any], key: str) -> str:
    v = _get(rec, key)
    if not isinstance(v, str):
        raise ValueError(f"{key!r} should be a string, got {v!r}")
    return v


def _opt_str(rec: dict[str, Any], key: str) -> str | None:
    return _str(rec, key) if key in rec else None


def _int(rec: dict[str, Any], key: str) -> int:
    v = _get(rec, key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{key!r} should be an int, got {v!r}")
    return v


def _num(rec: dict[str, Any], key: str) -> float:
    v = _get(rec, key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{key!r} should be a number, got {v!r}")
    return float(v)


def _stamp(rec: dict[str, Any]) -> int:
    f = _int(rec, "f")
    if f < 0:
        raise ValueError(f"frame {f} is negative")
    return f


def _header(rec: dict[str, Any]) -> dict[str, Any]:
    if rec.get("format") != FORMAT:
        raise ValueError(f"not an Oneiric session log (format {rec.get('format')!r})")
    version = _int(rec, "version")
    if version != VERSION:
        raise ValueError(f"session log version {version}; this rig reads version {VERSION}")
    _str(rec, "set_path")
    _str(rec, "set_text")
    _int(rec, "seed")
    if not _num(rec, "fps") > 0:
        raise ValueError(f"fps must be positive, got {rec['fps']}")
    size = _get(rec, "size")
    ok = isinstance(size, list) and len(size) == 2
    if not ok or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size):
        raise ValueError(f"size should be [width, height], got {size!r}")
    return {**rec, "size": tuple(size)}


def load(path: Path) -> Session:
    """Read a session log. A last line without its newline (the writer was killed while
    writing it) is dropped and reported as `truncated`; anything else malformed raises
    SessionError with the line number."""
    path = Path(path)
    lines = path.read_bytes().split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, as the writer leaves it
    truncated = False
    if tail:
        try:
            _parse(tail)
            lines.append(tail)  # whole, only its newline is missing
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            truncated = True
    if not lines:
        raise SessionError(path, 1, "no header: the log is empty or was cut off at its start")

    header: dict[str, Any] = {}
    ticks: list[Tick] = []
    params: dict[int, list[tuple[str, tuple[float, ...], float]]] = {}
    events: dict[int, list[Event]] = {}
    sources: dict[int, list[SourceChange]] = {}
    inputs: dict[int, list[Event]] = {}
    readings: dict[int, dict[int, dict[str, np.ndarray]]] = {}
    setup: dict[str, Any] = {}
    complete = False
    for n, line in enumerate(lines, 1):
        try:
            if complete:
                raise ValueError("a line after the end line")
            rec = _parse(line)
            if not isinstance(rec, dict):
                raise ValueError(f"a record is a JSON object, got {type(rec).__name__}")
            if n == 1:
                header = _header(rec)
                continue
            k = rec.get("k")
            if k is None:
                f = _stamp(rec)
                if ticks and f <= ticks[-1].frame:
                    raise ValueError(f"frame {f} after frame {ticks[-1].frame}")
                ticks.append(Tick(f, _num(rec, "t"), _num(rec, "dt")))
            elif k == "p":
                v = _get(rec, "v")
                if not isinstance(v, list) or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in v
                ):
                    raise ValueError(f"a param value is a list of numbers, got {v!r}")
                change = (_str(rec, "p"), tuple(float(x) for x in v), _num(rec, "fade"))
                params.setdefault(_stamp(rec), []).append(change)
            elif k in ("e", "i"):
                v = _get(rec, "v")
                if not isinstance(v, list):
                    raise ValueError(f"an event value is a list, got {v!r}")
                value = decode_value(v)
                assert isinstance(value, tuple)
                ev = Event(_num(rec, "t"), _str(rec, "src"), _str(rec, "a"), value)
                (events if k == "e" else inputs).setdefault(_stamp(rec), []).append(ev)
            elif k == "r":
                _stamp(rec)
                got = _get(rec, "v")
                if not isinstance(got, dict):
                    raise ValueError(f"a reading is an object of arrays, got {got!r}")
                arrays = {str(sig): np.asarray(decode_value(x), float) for sig, x in got.items()}
                readings.setdefault(_int(rec, "d"), {})[_int(rec, "n")] = arrays
            elif k == "s":
                kind = _str(rec, "kind")
                if kind not in KINDS:
                    raise ValueError(f"unknown source kind {kind!r}")
                text, error = _opt_str(rec, "text"), _opt_str(rec, "error")
                if text is None and error is None:
                    raise ValueError("a source line has neither text nor error")
                change_s = SourceChange(kind, _str(rec, "path"), text, error)
                sources.setdefault(_stamp(rec), []).append(change_s)
            elif k == "inputs":
                groups = _get(rec, "endpoints")
                readers = _get(rec, "readers")
                if not isinstance(groups, list) or not isinstance(readers, dict):
                    raise ValueError("an inputs line has endpoints (a list) and readers")
                setup = {"endpoints": groups, "readers": {int(i): r for i, r in readers.items()}}
            elif k == "end":
                complete = True
            else:
                raise ValueError(f"unknown record kind {k!r}")
        except SessionError:
            raise
        except (ValueError, TypeError) as exc:  # so are JSONDecodeError, UnicodeDecodeError
            raise SessionError(path, n, str(exc)) from None
    return Session(
        header, ticks, params, events, sources, truncated, complete, path, inputs, setup, readings
    )
