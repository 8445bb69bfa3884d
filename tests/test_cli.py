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
