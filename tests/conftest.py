"""Shared fixtures and helpers: one headless GL context for the session, the real-data
folder, the `live` command line, and a decoder for rendered files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
