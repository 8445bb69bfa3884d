"""The shader checker: does each layer shader load, draw, and how long does a frame take?

`check(paths)` takes files or folders (searched recursively for .glsl and .fs, leaving
out `lib/` folders, `merge.frag` and `_draft` files), loads each shader in its dialect,
draws a few frames headless into a one-layer LayerStack with default inputs, a
plausible dreamer and a little sound, and reports ok or the error with its line in
the user's file. `performance.py shaders check PATH... [--json]` prints
:func:`format_results`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import moderngl
import numpy as np

from engine.visuals.dialect_base import DrawFrame, image_texture
from engine.visuals.dialects import SHADER_EXTENSIONS, date_of, detect, load_layer
from engine.visuals.fields import DATA_TEXELS, FIELDS
from engine.visuals.isf_program import IsfProgram
from engine.visuals.layers import SIGNAL_WIDTH, Draw, LayerStack
from engine.visuals.shaders import LayerSource, ShaderError
from engine.visuals.shadertoy_json import is_export
from engine.visuals.testcard import load_test_card

# a dreamer in light sleep (N2), mid-breath, between heartbeats: what the checker draws
DREAMER = {
    **{"delta": 0.3, "theta": 0.2, "alpha": 0.2, "sigma": 0.1, "beta": 0.1, "gamma": 0.05},
    **{"arousal": 0.4, "quality": 0.9, "heart": 62.0, "beat": 0.3, "breath": 0.5},
    **{"breath_phase": 0.25, "breath_rate": 12.0, "hue": 0.55, "warp": 0.3, "speed": 1.0},
    **{"seed": 0.2, "depth": 0.5, "stage": 2.0, "weight": 1.0, "t": 3.6, "beat_age": 0.5},
    "share": 1.0,
}
FPS = 30.0
SAMPLE_RATE = 48000
BLACK = 2  # a frame whose brightest channel is at most this (of 255) is black


@dataclass(frozen=True, slots=True)
class CheckResult:
    path: Path
    dialect: str  # rig, isf, shadertoy; "?" when the file couldn't be told apart
    ok: bool
    line: int = 0  # of the error in the user's file; 0 if unknown or none
    message: str = ""  # the error, or a warning for a shader that loads but draws black
    ms: float | None = None  # median milliseconds per frame (after warming)
    black: bool = False  # it loads and draws, but the frame is black
    notices: tuple[str, ...] = ()  # fix-ups made so a strict compiler takes it
    filter: bool = False  # an ISF filter (an inputImage input): an effect, given an image
    categories: tuple[str, ...] = ()  # ISF CATEGORIES
    image: np.ndarray | None = field(default=None, compare=False, repr=False)  # the last frame

    @property
    def status(self) -> str:
        """ok, black (loads and draws nothing) or error."""
        return "error" if not self.ok else ("black" if self.black else "ok")

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "dialect": self.dialect,
            "status": self.status,
            "ok": self.ok,
            "line": self.line,
            "message": self.message,
            "ms": None if self.ms is None else round(self.ms, 3),
            "notices": list(self.notices),
            "filter": self.filter,
            "categories": list(self.categories),
        }


def shader_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders searched recursively for layer shaders."""
    out: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            out.append(path)
            continue
        found = (
            p
            for p in path.rglob("*")
            if p.suffix in SHADER_EXTENSIONS
            and p.is_file()
            and not p.name.startswith("_")
            and "lib" not in p.relative_to(path).parts[:-1]
            and (p.suffix != ".json" or _is_export(p))  # a folder's other JSON: not shaders
        )
        out.extend(sorted(found))
    return out


def _is_export(path: Path) -> bool:
    try:
        return is_export(path.read_text(encoding="utf-8-sig", errors="replace"))
    except OSError:
        return False


def dreamer_row() -> np.ndarray:
    row = np.zeros(DATA_TEXELS * 4, np.float32)
    for name, value in DREAMER.items():
        row[FIELDS[name]] = value
    return row


def dreamer_signals() -> np.ndarray:
    """(3, SIGNAL_WIDTH): an alpha-ish EEG, a 62 bpm ECG, a slow breath."""
    s = np.linspace(0.0, 2.0, SIGNAL_WIDTH)
    eeg = 0.5 * np.sin(2 * np.pi * 9.5 * s) + 0.2 * np.sin(2 * np.pi * 2.3 * s)
    ecg = 1.4 * np.exp(-((((s * 62 / 60) % 1.0 - 0.3) / 0.015) ** 2)) - 0.3
    return np.stack([eeg, ecg, np.sin(2 * np.pi * s / 5.0)]).astype(np.float32)


def test_sound(frame: int) -> np.ndarray:
    """One video frame of a soft chord (220, 330, 440 Hz)."""
    n = int(SAMPLE_RATE / FPS)
    t = (np.arange(n) + frame * n) / SAMPLE_RATE
    chord = np.sin(2 * np.pi * np.outer((220.0, 330.0, 440.0), t)).sum(axis=0)
    return (0.2 * chord).astype(np.float32)


def check(
    paths: Sequence[Path],
    frames: int = 3,
    size: tuple[int, int] = (320, 180),
    *,
    ctx: moderngl.Context | None = None,
) -> list[CheckResult]:
    own = ctx is None
    if ctx is None:
        from engine.visuals.context import headless_context

        ctx = headless_context()
    try:
        return [check_one(ctx, path, frames, size) for path in shader_files(paths)]
    finally:
        if own:
            ctx.release()


def check_one(
    ctx: moderngl.Context, path: Path, frames: int = 3, size: tuple[int, int] = (320, 180)
) -> CheckResult:
    dialect = "?"
    stack = LayerStack(ctx, size, 1)
    try:
        dialect = detect(path)
        notices: tuple[str, ...] = ()
        categories: tuple[str, ...]
        is_filter, categories = False, ()  # what ISF says a file is
        if dialect == "rig":
            times = _render_rig(ctx, stack, path, frames)
        else:
            times, notices, is_filter, categories = _render_foreign(ctx, stack, path, frames)
        image = stack.read_layer(0)[::-1, :, :3].copy()  # top row first
        black = int(image.max()) <= BLACK
        warning = "warning: the image is black" if black else ""
        ms = statistics.median(times) if times else None
        return CheckResult(
            path,
            dialect,
            True,
            message=warning,
            ms=ms,
            black=black,
            notices=notices,
            image=image,
            filter=is_filter,
            categories=categories,
        )
    except ShaderError as exc:
        return CheckResult(path, dialect, False, exc.line, exc.message)
    except Exception as exc:  # a checker reports; it doesn't crash on one bad file
        return CheckResult(path, dialect, False, 0, f"{type(exc).__name__}: {exc}")
    finally:
        stack.release()


def _render_rig(ctx: moderngl.Context, stack: LayerStack, path: Path, frames: int) -> list[float]:
    program = LayerSource.load(path).compile(ctx)
    try:
        stack.upload(dreamer_row()[None, :], dreamer_signals())
        stack.warm(program)
        times = []
        for f in range(max(1, frames)):
            t0 = time.perf_counter()
            stack.render([Draw(program, 0, 1)], time=f / FPS, dt=1 / FPS, frame=f)
            ctx.finish()
            times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        stack.forget(program)
        program.release()


def _render_foreign(
    ctx: moderngl.Context, stack: LayerStack, path: Path, frames: int
) -> tuple[list[float], tuple[str, ...], bool, tuple[str, ...]]:
    """Times per frame, the fix-ups it needed, and what ISF says it is (filter,
    categories). Image inputs show the test card."""
    prog = load_layer(ctx, path)
    other = None
    try:
        values: dict[str, float | tuple[float, ...]] = {}
        if isinstance(prog, IsfProgram):
            other = _second_image(ctx, prog, values)
        row, date = dreamer_row(), date_of()
        times = []
        for f in range(max(1, frames)):
            sound = test_sound(f)
            t0 = time.perf_counter()
            at = DrawFrame(f / FPS, 1 / FPS, f, sound, date)
            prog.render(stack.fbo, 0, stack.size, at, values=values, dreamer_row=row)
            ctx.finish()
            times.append((time.perf_counter() - t0) * 1000)
        doc = prog.doc if isinstance(prog, IsfProgram) else None
        is_filter = doc is not None and any(
            i.name == "inputImage" and i.type == "image" for i in doc.inputs
        )
        categories = doc.categories if doc is not None else ()
        return times, tuple(getattr(prog, "notices", ())), is_filter, categories
    finally:
        prog.release()
        if other is not None:
            other.release()


def _second_image(
    ctx: moderngl.Context, prog: IsfProgram, values: dict[str, float | tuple[float, ...]]
) -> moderngl.Texture | None:
    """A shader of two pictures or more (a transition, a blend, a mask) sees a second,
    different one in every image input after its first, and a transition (startImage,
    endImage, progress: ISF's convention) is drawn partway, so its tile shows it working."""
    images = [i.name for i in prog.doc.inputs if i.type == "image"]
    first = next((n for n in ("inputImage", "startImage") if n in images), None)
    rest = [n for n in images if n != (first or images[0])]
    if {"startImage", "endImage"} <= set(images) and any(
        i.name == "progress" and i.spec is not None for i in prog.doc.inputs
    ):
        values["/progress"] = 0.4  # not 0.5: a fade through black is all black there
    if not rest:
        return None
    card = load_test_card()
    other = image_texture(ctx, np.ascontiguousarray(card[:, ::-1][..., [2, 0, 1, 3]]))
    for name in rest:
        prog.set_image(name, other)
    return other


def summary(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {"ok": 0, "black": 0, "error": 0}
    for r in results:
        counts[r.status] += 1
    return counts


def format_results(results: Sequence[CheckResult], as_json: bool = False) -> str:
    failed = sum(not r.ok for r in results)
    counts = summary(results)
    if as_json:
        top = {"ok": failed == 0, "count": len(results), "failed": failed, "summary": counts}
        return json.dumps({**top, "results": [r.as_dict() for r in results]}, indent=2)
    width = max((len(str(r.path)) for r in results), default=0)
    lines = []
    for r in results:
        if r.ok:
            ms = f"{r.ms:7.2f} ms/frame" if r.ms is not None else ""
            note = ("  filter" if r.filter else "") + (f"  {r.message}" if r.message else "")
            lines.append(f"{r.status:<5} {r.dialect:<9}  {r.path!s:<{width}}  {ms}{note}")
            lines += [f"      fixed: {n}" for n in r.notices]
        else:
            where = f"{r.path}:{r.line}" if r.line else str(r.path)
            lines.append(f"FAIL  {r.dialect:<9}  {where}: {r.message}")
    lines.append(
        f"{len(results)} shader(s): {counts['ok']} ok, {counts['black']} black, {failed} failed"
    )
    return "\n".join(lines)


def write_sheet(results: Sequence[CheckResult], path: Path, columns: int = 6) -> None:
    """A contact sheet PNG: one tile per result (see engine.visuals.sheet)."""
    from engine.visuals.sheet import contact_sheet
    from engine.visuals.testcard import encode_png

    sheet = contact_sheet(results, columns)
    rgba = np.dstack([sheet, np.full(sheet.shape[:2], 255, np.uint8)])
    path.write_bytes(encode_png(rgba))
