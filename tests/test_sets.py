"""Set files: every example loads; every mistake is one clear error, exit 2, no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import performance
from engine.folders import SET_DIR
from engine.render import load_set
from engine.sets import SetError

ROOT = Path(__file__).resolve().parents[1]
GOOD = """
[set]
duration = 2.0
fps = 10
size = [64, 36]
seed = 1

[merge]
chaos = 0.2

[[dreamers]]
count = 2
stages = [[0, "W"], [1, "N2"]]
shader = "aurora"
patch = "drone"

[[cues]]
time = 1.0
set = { "/dreamer/2/mute" = 1 }
"""


@pytest.mark.parametrize("path", sorted(SET_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_every_set_in_the_repo_loads(path):
    spec = load_set(path)
    assert spec.duration > 0 and spec.dreamer_count >= 1


def test_demo_set_meets_the_brief():
    spec = load_set(SET_DIR / "demo.toml")
    assert spec.duration >= 20 and spec.dreamer_count >= 12 and spec.size == (1280, 720)
    stages = [s for _, s in spec.dreamers[0].stages]
    assert stages.index("W") < stages.index("N2") < stages.index("N3") < stages.index("REM")
    assert any("/merge/chaos" in c.changes for c in spec.cues)
    assert any("/group/entrain" in c.changes for c in spec.cues)


def test_ritual_set_is_raw_and_unenhanced():
    spec = load_set(SET_DIR / "ritual.toml")
    assert all(g.drive == "raw" and not g.enhance for g in spec.dreamers)


BAD = [
    ("missing field", GOOD.replace("duration = 2.0\n", ""), "set.duration", "missing"),
    ("wrong type", GOOD.replace("fps = 10", 'fps = "fast"'), "set.fps", "must be a number"),
    ("negative duration", GOOD.replace("duration = 2.0", "duration = -4"), "set.duration", "pos"),
    ("unknown shader", GOOD.replace('"aurora"', '"nope"'), "dreamers[0].shader", "unknown"),
    ("unknown patch", GOOD.replace('"drone"', '"kazoo"'), "dreamers[0].patch", "unknown"),
    ("bad stage", GOOD.replace('"N2"', '"N7"'), "dreamers[0].stages[1]", "unknown stage"),
    ("typo", GOOD.replace("seed = 1", "sede = 1"), "set.sede", "unknown field"),
    ("odd size", GOOD.replace("[64, 36]", "[65, 36]"), "set.size", "even"),
    ("cue path", GOOD.replace("/dreamer/2/mute", "/dreamer/9/mute"), "cues[0].set", "no param"),
    ("merge value", GOOD.replace("chaos = 0.2", 'chaos = "x"'), "merge.chaos", "number"),
    ("not toml", "[set\nduration=", "", "not valid TOML"),
]


@pytest.mark.parametrize(("case", "text", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_set_gives_one_clear_error_and_no_output(tmp_path, capsys, case, text, field, words):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = tmp_path / "out" / "bad.mp4"
    status = performance.main(["render", str(bad), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1, err
    assert str(bad) in err and field in err and words in err, err
    assert not out.exists()
    assert not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_good_set_loads_and_errors_carry_file_and_field(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    spec = load_set(good)
    assert spec.frame_count == 20 and spec.values["/merge/chaos"] == 0.2
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("count = 2", "count = 0"))
    with pytest.raises(SetError) as info:
        load_set(bad)
    assert info.value.path == bad and info.value.where == "dreamers[0].count"


def test_exit_status_two_from_the_command_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("duration = 2.0", "duration = -1.0"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "performance.py"), "render", str(bad), "-o", "x.mp4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "set.duration" in done.stderr and not (tmp_path / "x.mp4").exists()
