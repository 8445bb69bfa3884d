"""The rig hears the room live, through a real JACK server (the dummy driver keeps real
time without a sound card): another JACK client plays a file into the rig's input
port, and `/audio/in/*` follow it as it plays. The PortAudio path is tested the same
way, through ALSA's default device carried into JACK by ALSA's JACK plugin."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import test_jack
from conftest import LIVE, ROOT, headless_env
from sounds import SR, kick_hat_track
from test_jack import ALSA_JACK, JACKD, jack_ports

from engine.audio.inputs import CLIENT
from engine.audio.listen import Listener
from engine.clock import RealtimeClock
from engine.listen_spec import AudioInSpec
from engine.params import ParamSpace

pytestmark = pytest.mark.skipif(
    JACKD is None, reason="jackd is not installed (Debian jackd2; make test installs it)"
)
FPS = 30
jack_server, jack = test_jack.jack_server, test_jack.jack  # the JACK server's fixtures

# another JACK client (not the rig's code): plays a WAV into a port, then leaves
PLAYER = """
import sys, threading, jack, numpy as np, soundfile
sound, _ = soundfile.read(sys.argv[1], dtype="float32")
client = jack.Client("player", no_start_server=True)
out = client.outports.register("out_1")
done, pos = threading.Event(), [0]
@client.set_process_callback
def process(frames):
    block = sound[pos[0] : pos[0] + frames]
    buf = out.get_array()
    buf[:] = 0
    buf[: len(block)] = block
    pos[0] += frames
    if pos[0] >= len(sound):
        done.set()
with client:
    for target in sys.argv[2:]:
        client.connect(out, target)
    print("playing", flush=True)
    done.wait(60)
"""


def play(path: Path, *targets: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", PLAYER, str(path), *targets],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "playing", proc.communicate(timeout=10)[1][-2000:]
    return proc


def write_track(tmp_path: Path, seconds: float, bpm: float):
    x, kicks, hats = kick_hat_track(seconds, bpm)
    path = tmp_path / "kicks.wav"
    soundfile.write(path, x, SR, subtype="FLOAT")
    return path, kicks, hats


@pytest.fixture
def track(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    return write_track(tmp_path, 8.0, 120.0)


def listen_while(listener: Listener, proc: subprocess.Popen, extra: float = 0.5):
    """Step the listener at the frame rate on the wall clock while `proc` plays, and a
    little after; every frame's /audio/in values."""
    clock = RealtimeClock(FPS)
    seen = []
    end = None
    while end is None or time.monotonic() < end:
        if end is None and proc.poll() is not None:
            end = time.monotonic() + extra
        listener.step(clock.tick())
        assert listener.heard is not None
        seen.append(listener.heard)
        time.sleep(1.0 / FPS)
    return seen


def test_another_client_plays_into_the_rigs_port_and_the_params_follow(jack, tmp_path):
    """132 BPM: not the tempo params' default (120)."""
    path, kicks, hats = write_track(tmp_path, 8.0, 132.0)
    params = ParamSpace()
    listener = Listener(AudioInSpec(device="jack"), params, sr=48000, fps=FPS)
    try:
        assert listener.notice == "" and listener.source.startswith("jack oneiric-in:input_1")
        assert f"{CLIENT}:input_1" in jack_ports(jack)
        proc = play(path, f"{CLIENT}:input_1")
        seen = listen_while(listener, proc)
        assert proc.wait(10) == 0
    finally:
        listener.close()
    assert CLIENT not in jack_ports(jack), "closing leaves the graph"
    bass = np.array([h.bands["bass"] for h in seen])
    onsets = sorted({h.onset_time for h in seen if h.onset})
    assert bass.max() > 0.8 and bass[-5:].max() == 0, "the kicks, then silence"
    assert len(onsets) == pytest.approx(len(kicks) + len(hats), abs=2)
    # onsets are half a beat apart in the file: so they are in what the port heard
    gaps = np.diff(onsets)
    assert np.median(gaps) == pytest.approx(30 / 132, abs=0.005)
    assert seen[-1].bpm == pytest.approx(132.0, abs=1.0)
    assert seen[-1].time == pytest.approx(len(seen) / FPS, rel=0.25), "it kept real time"


ASOUND = """pcm_type.jack {{
    lib "{lib}"
}}
pcm.!default {{
    type jack
    playback_ports {{
        0 system:playback_1
    }}
    capture_ports {{
        0 player:out_1
    }}
}}
"""  # ALSA's default device in JACK: its capture is what the player plays


@pytest.mark.skipif(ALSA_JACK is None, reason="ALSA's JACK plugin (libasound2-plugins) is missing")
def test_live_audio_in_default_hears_portaudios_input_device(jack, tmp_path):
    """`live --audio-in default`: PortAudio's default input (ALSA's default device, which
    the plugin fills from the player's port); the console's `get` reads the tracked
    tempo (132 BPM: not the param's default, 120)."""
    path, _, _ = write_track(tmp_path, 14.0, 132.0)
    conf = tmp_path / "asound.conf"
    conf.write_text(ASOUND.format(lib=ALSA_JACK))
    env = headless_env()
    env["ALSA_CONFIG_PATH"] = str(conf)
    player = play(path)  # first: ALSA connects its capture to the player's port
    cmd = [*LIVE, "--size", "64x36", "--duration", "14", "--no-watch", "--audio", "off"]
    live = subprocess.Popen(
        [*cmd, "--audio-in", "default", "--repl"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(10.0)  # the show has been listening for several seconds
        assert live.stdin is not None
        live.stdin.write("get /audio/in/bpm\nget /tempo/source\n")
        live.stdin.flush()
        out, err = live.communicate(timeout=60)
    finally:
        for proc in (live, player):
            if proc.poll() is None:
                proc.kill()
    assert live.returncode == 0, err[-2000:]
    assert "audio in: portaudio" in err, err[-2000:]
    got = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    assert float(got["/audio/in/bpm"].split()[0]) == pytest.approx(132.0, abs=1.0), out
    assert got["/tempo/source"] == "internal", "the music's tempo is the show's only if asked"


def test_a_show_that_heard_jack_live_replays_to_the_frames_it_showed(jack, track, gl, tmp_path):
    """The session log keeps every read of the device: `render --replay` hears what the
    live show heard, frame for frame (a layer on the audio fields, and spectrum_bloom on
    audioFFT), though nothing plays into the port any more."""
    import hashlib

    from engine import record, sessions
    from engine.live import Live
    from engine.render import RenderOptions, load_set
    from engine.replay import replay
    from engine.show import Show

    path, _, _ = track
    text = """
[set]
duration = 60.0
fps = 30
size = [96, 54]
seed = 3
mapping = "listen"
[audio_in]
device = "jack"
[[dreamers]]
count = 2
stages = [[0, "W"]]
shader = ["tide", "spectrum_bloom"]
patch = "drone"
"""
    set_path = tmp_path / "night.toml"
    set_path.write_text(text)
    show = Show(load_set(set_path), gl, audio=False)
    log_path = tmp_path / "night.oneiric"
    writer = record.SessionWriter(
        log_path, set_path=set_path, set_text=text, seed=3, fps=30, size=(96, 54)
    )
    live = Live(show, clock=RealtimeClock(FPS), session=writer, watch=False)
    hashes, bass = [], []
    try:
        player = play(path, f"{CLIENT}:input_1")
        while player.poll() is None and len(hashes) < 600:
            frame = live.step()
            hashes.append(hashlib.blake2b(frame.image.data, digest_size=16).hexdigest())
            bass.append(show.params.get("/audio/in/bass"))
            time.sleep(1.0 / FPS)
    finally:
        live.close()
        writer.close()
        show.close()
    assert max(bass) > 0.8 and len(set(hashes)) > 50, "the kicks drove the frames"
    session = sessions.load(log_path)
    assert session.input_setup["readers"][-1]["audio_in"]["device"] == "jack"
    assert len(session.readings[-1]) == len(hashes)
    result = replay(log_path, None, RenderOptions(audio=False, progress=False))
    assert result.frame_hashes == hashes
