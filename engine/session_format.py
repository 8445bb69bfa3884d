"""The session log's format: its records, their values, and the errors that name a line.

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
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

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
