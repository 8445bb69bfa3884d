"""Shared fixtures: one headless GL context for the session, the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYO_GUI_WX", "0")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ONEIRIC_DATA", ROOT.parent / "shared" / "data"))


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
