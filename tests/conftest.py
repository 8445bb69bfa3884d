"""Shared fixtures and helpers: one headless GL context for the session, the real-data
folder, the `live` command line, and a decoder for rendered files."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from engine.folders import Folders

os.environ.setdefault("PYO_GUI_WX", "0")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ONEIRIC_DATA", ROOT.parent / "shared" / "data"))
needs_data = pytest.mark.skipif(
    not (DATA / "biosignals").is_dir(), reason=f"real recordings not found at {DATA / 'biosignals'}"
)
LIVE = [sys.executable, str(ROOT / "performance.py"), "live", "presets/sets/ritual.toml"]


def headless_env() -> dict[str, str]:
    """This process's environment without a display: `live` runs headless."""
    return {k: v for k, v in os.environ.items() if k != "DISPLAY"}


def probe(path: Path) -> tuple[int, tuple[int, int], float, np.ndarray]:
    """Frame count, size and fps from the file's video stream; its decoded audio
    (stereo float32 at the file's own rate)."""
    import imageio_ffmpeg

    from engine.visuals.sinks import ffmpeg_exe

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    frames = sum(1 for _ in reader)
    pcm = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2", "-"],
        capture_output=True,
        check=True,
    ).stdout
    audio = np.frombuffer(pcm, "<f4").reshape(-1, 2)
    return frames, tuple(meta["size"]), float(meta["fps"]), audio


@pytest.fixture(scope="session")
def gl():
    from engine.visuals.context import headless_context

    ctx = headless_context()
    yield ctx
    ctx.release()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real recordings not found at {DATA} (set ONEIRIC_DATA)")
    return DATA


def scratch_folders(root: Path, *shipped: str) -> Folders:
    """A show's folders under `root` (shaders/ with fx/, patches/, mappings/, scenes/), for
    tests that edit files mid-show, holding copies of the named shipped files: paths
    relative to the repository ("shaders/aurora.glsl", "patches/drone.py", ...)."""
    from engine.folders import Folders

    folders = Folders(root / "shaders", root / "patches", root / "mappings", root / "scenes")
    for folder in (folders.shaders / "fx", folders.patches, folders.mappings, folders.scenes):
        folder.mkdir(parents=True, exist_ok=True)
    places = {"patches/mappings": folders.mappings, "shaders": folders.shaders}
    places["patches"] = folders.patches
    for name in shipped:
        top = next(t for t in places if name.startswith(t + "/"))
        target = places[top] / name[len(top) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    return folders


@pytest.fixture
def scratch(tmp_path: Path) -> Callable[..., Folders]:
    """`scratch("shaders/tide.glsl", "patches/drone.py")`: scratch_folders in tmp_path."""
    return functools.partial(scratch_folders, tmp_path)
