"""The soak and fault suite, short (60 s; `make soak` runs it for 10 minutes): the live
show under random OSC from three senders, MIDI, broken and good edits, dreamers that
drop out, and SIGKILLs of its sound process and its shader warm-up worker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, headless_env, needs_data

pytestmark = [
    pytest.mark.skipif(
        shutil.which("jackd") is None, reason="jackd is not installed (Debian jackd2)"
    ),
    needs_data,  # the Mind Monitor senders play a real EEG recording
]


@pytest.mark.timeout(420)
def test_a_minute_of_everything_at_once_leaves_the_show_playing(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**headless_env(), "PYTHONPATH": str(ROOT)},
        timeout=400,
    )
    report = (tmp_path / "report.md").read_text() if (tmp_path / "report.md").exists() else ""
    assert done.returncode == 0, report or done.stderr[-3000:]
    got = json.loads((tmp_path / "report.json").read_text())
    assert got["failures"] == [] and not got["crashed"]
    assert got["frames"] > 0.8 * 60 * 20, "it kept close to its 20 fps"
    assert got["stalls"] == 0 and got["black"] == 0 and got["silent"] == 0
    assert got["memory_growth"] < 0.05
    # everything it threw at the show was really thrown
    assert got["osc_sent"] > 1000 and got["garbage_sent"] > 50 and got["midi_sent"] > 100
    assert got["osc_counts"]["fed"] > 1000, "the Mind Monitor senders reached their dreamers"
    assert got["dropouts"] >= 3
    assert any("broken" in k for k in got["edits"]) and any("ok" in k for k in got["edits"])
    assert set(got["errors"]) >= {"shader", "patch"}, "broken edits reported by file"
    assert got["swaps"] >= 1, "good shader edits went in"
    # the sound process was killed and came back
    assert got["revivals"] >= 1 and got["sound_back_s"] < 10.0
    assert len([f for f in got["faults"] if "SIGKILL" in f]) == 2
    assert (tmp_path / "memory.png").stat().st_size > 5000
    assert os.path.getsize(tmp_path / "report.md") > 200
