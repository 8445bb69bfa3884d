"""The command line's shader checker, as a VJ runs it over a library before a show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "performance.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_shaders_check_reports_each_file_and_fails_on_a_broken_one(tmp_path):
    (tmp_path / "good.glsl").write_text("vec4 layer(vec2 uv) { return vec4(uv, alpha, 1.0); }\n")
    (tmp_path / "bad.fs").write_text(
        '/*{ "ISFVSN": "2", "INPUTS": [] }*/\nvoid main() {\n  gl_FragColor = vec4(oops);\n}\n'
    )
    done = run("shaders", "check", str(tmp_path), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["count"] == 2 and report["failed"] == 1
    by_name = {Path(r["path"]).name: r for r in report["results"]}
    assert by_name["good.glsl"]["ok"] and by_name["good.glsl"]["dialect"] == "rig"
    assert not by_name["bad.fs"]["ok"] and by_name["bad.fs"]["line"] == 3


def test_every_shader_in_the_repo_passes_the_checker():
    done = run("shaders", "check", "shaders")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout


def test_params_lists_every_param_command_and_output_of_a_set():
    done = run("params", "presets/sets/listen.toml", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["path"]: r for r in json.loads(done.stdout)}
    weight = rows["/dreamer/1/weight"]
    assert (weight["type"], weight["min"], weight["max"], weight["access"]) == ("float", 0, 1, "rw")
    assert rows["/dreamer/1/heart"]["unit"] == "bpm" and rows["/dreamer/1/heart"]["access"] == "r"
    assert rows["/dreamer/1/stage"]["choices"] == ["W", "N1", "N2", "N3", "REM"]
    assert rows["/dreamer/1/share"]["access"] == "r"  # what the merge gives it: an output
    assert rows["/audio/in/bpm"]["access"] == "r"  # the set hears music
    assert any(p.startswith("/dreamer/1/voice/") for p in rows)  # a patch's own controls
    assert rows["/cue/go"]["type"] == "impulse" and rows["/scene/load"]["args"] == ["scene"]
    assert rows["/preset/load"]["alias_of"] == "/scene/load"
    assert all(r["description"] for r in rows.values() if r["access"] != "r"), [
        p for p, r in rows.items() if not r["description"]
    ]
    text = run("params", "presets/sets/listen.toml", "/dreamer/*/heart").stdout.splitlines()
    assert [line.split()[:2] for line in text] == [
        ["/dreamer/1/heart", "float"],
        ["/dreamer/2/heart", "float"],
    ]
