"""A live show driven by a real OSC sender replays to the frames shown live: the session
log keeps what the dreamers' apps sent (it logged ticks and nothing of the input, and the
replay was black in every frame)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import numpy as np
from conftest import ROOT

from engine import record, sessions
from engine.clock import RealtimeClock
from engine.live import Live
from engine.render import RenderOptions, load_set
from engine.replay import replay
from engine.show import Show

SET = """
[set]
duration = 60.0
fps = 20
size = [96, 54]
seed = 3
[[dreamers]]
count = 2
source = "osc"
profile = "mind-monitor"
listen = "127.0.0.1:0"
timeout = 1.0
fade = 0.5
shader = ["aurora", "tide"]
patch = "drone"
"""


def test_a_show_fed_by_a_real_sender_replays_to_its_live_frames(tmp_path, gl, data_dir):
    set_path = tmp_path / "night.toml"
    set_path.write_text(SET)
    show = Show(load_set(set_path), gl)
    assert show.inputs is not None
    port = show.inputs.endpoints[0].port
    log_path = tmp_path / "night.oneiric"
    writer = record.SessionWriter(
        log_path, set_path=set_path, set_text=SET, seed=3, fps=20, size=(96, 54)
    )
    live = Live(show, clock=RealtimeClock(20), session=writer, watch=False)
    eeg = data_dir / "biosignals" / "physio" / "biosppy_eeg_ec.txt"
    cmd = [sys.executable, str(ROOT / "performance.py"), "send", str(eeg)]
    proc = subprocess.Popen(
        [*cmd, "--as", "mind-monitor", "--to", f"127.0.0.1:{port}", "--duration", "3"],
        stdout=subprocess.DEVNULL,
    )
    hashes, images = [], []
    try:
        after = 0  # frames after the sender is done: its dreamer fades out
        while after < 30 and len(hashes) < 600:
            after += proc.poll() is not None
            frame = live.step()
            hashes.append(hashlib.blake2b(frame.image.data, digest_size=16).hexdigest())
            images.append(frame.image)
            time.sleep(0.02)
    finally:
        proc.wait(timeout=30)
        live.close()
        writer.close()
        show.close()
    lit = [float(img.mean()) for img in images]
    assert max(lit) > 3.0, "the sender's dreamer should have lit the frames"
    assert show.dreamers[0].presence > 0 or max(lit[-20:]) < max(lit)  # it came, then went

    session = sessions.load(log_path)
    routed = sum(len(v) for v in session.inputs.values())
    assert routed > 100  # 256 EEG messages a second while it sent, and the band elements
    assert session.input_setup["endpoints"] == [[f"127.0.0.1:{port}"]]
    result = replay(log_path, None, RenderOptions(progress=False))
    assert result.frame_hashes == hashes
    assert len(set(hashes)) > 40 and np.std(lit) > 0.1
