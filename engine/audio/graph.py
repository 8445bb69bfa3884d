"""The pyo pieces the audio engine is built from: a patch file loaded as a module, what
its build() made (kept for as long as the voice lives), the SigTo controls patches read
(moved by ramps), and taps that read a signal into numpy one frame at a time."""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import os
import sys
import traceback
import types
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

from engine.folders import PATCH_DIR

_module_ids = itertools.count()
_WRAPPERS = (pyo.lib._core.Dummy, pyo.lib._core.ArithmeticDummy)


@contextlib.contextmanager
def made_by(build: Callable[..., Any]) -> Iterator[list[Any]]:
    """Every pyo object a call of `build` made that is alive as it returns (its locals
    included), found without hooking pyo: the cyclic collector is paused, so what the
    call allocates stays in generation 0, and this thread's profile hook looks there
    when `build`'s frame returns (normally or by raising). What was there before is
    known by weak reference (holding it would change when an old server's garbage goes)."""
    code = getattr(build, "__code__", None)
    young = gc.get_objects(generation=0)
    before = {id(o): weakref.ref(o) for o in young if isinstance(o, pyo.PyoObjectBase)}
    del young
    made: list[Any] = []

    def scan() -> None:
        made[:] = [
            o
            for o in gc.get_objects(generation=0)
            if isinstance(o, pyo.PyoObjectBase)
            and ((old := before.get(id(o))) is None or old() is not o)
        ]

    def hook(frame: types.FrameType, event: str, _arg: object) -> None:
        if event == "return" and frame.f_code is code:
            scan()

    enabled, previous = gc.isenabled(), sys.getprofile()
    gc.disable()
    sys.setprofile(hook)
    try:
        yield made
    finally:
        sys.setprofile(previous)
        if code is None:
            scan()
        if enabled:
            gc.enable()


class PatchError(Exception):
    """A patch failed to load or build; `path` and `line` point at the culprit."""

    def __init__(
        self, name: str, detail: str, path: Path | None = None, line: int | None = None
    ) -> None:
        super().__init__(f"patch {name!r}: {detail}")
        self.name, self.detail, self.path, self.line = name, detail, path, line
        self.traceback = ""  # the full traceback, for the log


def available_patches(patch_dir: Path = PATCH_DIR) -> list[str]:
    """Voice patch names in `patch_dir` (the master bus and _private files excluded)."""
    names = (p.stem for p in patch_dir.glob("*.py"))
    return sorted(n for n in names if not n.startswith("_") and n != "master")


def describe(name: str, path: Path, exc: BaseException) -> PatchError:
    """A PatchError naming the file and line in the patch where `exc` came from."""
    if isinstance(exc, SyntaxError):
        where, line, scope = Path(exc.filename or path), exc.lineno, ""
        what = f"SyntaxError: {exc.msg}"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        mine = [f for f in frames if Path(f.filename) == path] or frames[-1:]
        where, line = (Path(mine[-1].filename), mine[-1].lineno) if mine else (path, None)
        scope = f" in {mine[-1].name}" if mine else ""
        what = f"{type(exc).__name__}: {exc}"
    err = PatchError(name, f"{where}:{line}:{scope} {what}", where, line)
    err.traceback = "".join(traceback.format_exception(exc))
    if exc.__traceback__ is not None:
        traceback.clear_frames(exc.__traceback__)  # let go of half-built pyo objects
    return err


def load_patch(name: str, patch_dir: Path = PATCH_DIR) -> types.ModuleType:
    """Run patches/<name>.py as a fresh module: no sys.path or sys.modules entry and no
    bytecode cache (whose one-second mtimes can miss a quick edit)."""
    path = (patch_dir / f"{name}.py").resolve()
    if not name.isidentifier() or not path.is_file():
        raise PatchError(name, f"no patch file {path}", path)
    module = types.ModuleType(f"oneiric_patch_{name}_{next(_module_ids)}")
    module.__file__ = str(path)
    try:
        exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)
    except Exception as exc:
        raise describe(name, path, exc) from None
    controls = getattr(module, "CONTROLS", None)
    if not callable(getattr(module, "build", None)):
        raise PatchError(name, f"{path}: defines no build()", path)
    if not isinstance(controls, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) for k, v in controls.items()
    ):
        raise PatchError(name, f"{path}: CONTROLS must be a dict of name -> number", path)
    return module


def release(objs: list[Any]) -> None:
    """Stop the objects a build made, then drop them: stopped, none can read memory that
    another one's going frees. (Arithmetic wrappers are skipped: they may wrap streams
    the engine owns.)"""
    for obj in objs:
        if isinstance(obj, pyo.PyoObject) and not isinstance(obj, _WRAPPERS):
            obj.stop()
    objs.clear()


def ramp_to(
    sigs: Mapping[str, Any], sent: dict[str, tuple[float, float]], name: str,
    value: float, time: float,
) -> bool:  # fmt: skip
    """Ramp the SigTo `sigs[name]` to `value` over `time` seconds, unless `sent` says it
    already is; False (and nothing sent) for an unknown name or a value not finite."""
    sig = sigs.get(name)
    value, time = float(value), max(0.0, float(time))
    if sig is None or not math.isfinite(value) or not math.isfinite(time):
        return False
    if sent.get(name) != (value, time):
        # straight to the C objects: SigTo's Python setters take 8 us a pair (about
        # 5 ms a frame for 64 voices), these 0.2
        for base in sig._base_objs:
            base.setTime(time)
            base.setValue(value)
        sig._time, sig._value = time, value
        sent[name] = (value, time)
    return True


class Tap:
    """A TableFill of `source` into a one-frame table, read through numpy views."""

    def __init__(self, source: Any, samples: int, nchnls: int) -> None:
        self.table = pyo.DataTable(size=samples, chnls=nchnls)
        self.fill = pyo.TableFill(source, self.table)
        self.views = [np.asarray(self.table.getBuffer(c)) for c in range(nchnls)]  # float32

    def read(self) -> np.ndarray:
        return np.stack(self.views, axis=1)  # (samples, nchnls), a copy

    def rms(self) -> float:
        return float(
            np.sqrt(np.mean([np.mean(np.square(v, dtype=np.float64)) for v in self.views]))
        )

    def close(self) -> None:
        # pyo frees a table's memory even while a numpy view of it lives, then crashes
        # when the view goes: the views must always go first
        self.views = []
        self.fill = self.table = None

    def __del__(self) -> None:
        self.close()
