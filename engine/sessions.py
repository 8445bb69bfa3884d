"""Reading a session log back: :func:`load` gives a :class:`Session` (its ticks as a
:class:`ReplayClock`, its param lines, events, inputs, reads and source changes), which
engine.replay renders again. The format: engine.session_format."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.clock import Tick
from engine.events import Event
from engine.session_format import (
    FORMAT,
    KINDS,
    VERSION,
    SessionError,
    _get,
    _int,
    _num,
    _opt_str,
    _parse,
    _stamp,
    _str,
    decode_value,
)


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
