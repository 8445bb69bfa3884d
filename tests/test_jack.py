"""Real-time sound and MIDI through a real JACK server.

There is no sound card here (nor in CI), but jackd's dummy driver runs a JACK graph on
the wall clock without one: the rig's realtime pyo server plays into it, paced as by a
device, and python-rtmidi's JACK API carries MIDI between clients. `make test` installs
jackd2 (Debian); without jackd these tests are skipped and say why.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np
import pytest
from conftest import LIVE, ROOT, headless_env, probe

from engine.audio.engine import AudioEngine
from engine.visuals.sinks import wav_seconds

JACKD = shutil.which("jackd")
pytestmark = pytest.mark.skipif(
    JACKD is None, reason="jackd is not installed (Debian jackd2; make test installs it)"
)
RATE = 48000
JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"


def jack_ports(server: str, *flags: str) -> str:
    return subprocess.run(
        ["jack_lsp", "-s", server, *flags], capture_output=True, text=True, timeout=10
    ).stdout


@pytest.fixture(scope="module")
def jack_server() -> Iterator[str]:
    """A JACK server of our own (dummy driver, 48 kHz, 256-frame periods: 5.3 ms, which
    a live show's sound keeps because it plays from a process of its own)."""
    name = f"oneiric-test-{os.getpid()}"
    assert JACKD is not None
    cmd = [JACKD, "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE), "-p", "256"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 15
        while "system:playback_1" not in jack_ports(name):
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5) if proc.poll() is not None else ("", "")
                pytest.fail(f"jackd did not start: {err[-500:]}")
            time.sleep(0.1)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def jack(jack_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    return jack_server


def test_realtime_audio_is_paced_by_jack_and_routed_to_the_speakers(jack):
    import pyo

    engine = AudioEngine(mode="realtime", driver="jack", sr=44100, fps=30)
    try:
        assert engine.sr == RATE, "JACK's rate, not the set's"
        assert engine.frame_samples == RATE // 30
        engine.add_voice("1", "drone", {"amp": 0.6})
        ticks = [0]
        metro = pyo.Metro(0.05).play()
        count = pyo.TrigFunc(metro, lambda: ticks.__setitem__(0, ticks[0] + 1))
        start = time.monotonic()
        time.sleep(1.5)
        elapsed = time.monotonic() - start
        metro.stop()
        del count, metro
        # audio time follows the wall clock (a null device would race ahead)
        assert ticks[0] == pytest.approx(elapsed / 0.05, rel=0.25), (ticks[0], elapsed)
        assert engine.levels()["1"] > 0.01, "the voice plays"
        engine.reload_patch("drone")  # swapped while the audio thread runs
        engine.remove_voice("1")
        time.sleep(0.2)
        connected = jack_ports(jack, "-c")
        assert "oneiric:output_1\n   system:playback_1" in connected, connected
        assert "oneiric:output_2\n   system:playback_2" in connected, connected
    finally:
        engine.close()
    assert "oneiric:" not in jack_ports(jack), "closing leaves the graph"


def test_live_plays_the_show_into_jack_and_another_client_records_it(jack, tmp_path):
    env = headless_env()
    cmd = [*LIVE, "--size", "64x36", "--duration", "6", "--no-watch", "--audio", "jack"]
    live = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while "oneiric:output_2" not in jack_ports(jack):
            assert live.poll() is None, live.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the rig never joined the JACK graph"
            time.sleep(0.1)
        time.sleep(1.0)  # into the show
        wav = tmp_path / "heard.wav"
        rec = subprocess.run(
            ["jack_rec", "-f", str(wav), "-d", "2", "-b", "16", "oneiric:output_1",
             "oneiric:output_2"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert rec.returncode == 0, rec.stderr
        out, err = live.communicate(timeout=60)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err[-2000:]
    assert f"sound: jack at {RATE} Hz" in err and "no sound device" not in err, err
    assert "played" in out
    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, RATE)
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2) / 32768.0
    assert len(x) >= RATE, "at least a second was recorded"
    rms = np.sqrt((x**2).mean(axis=0))
    assert (rms > 0.005).all(), f"the recording is near silent: {rms}"
    assert np.abs(x).max() < 1.0, "and not clipped"


def test_live_without_a_jack_server_says_so_and_plays_on(monkeypatch, tmp_path):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"oneiric-none-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    env = headless_env()
    cmd = [*LIVE, "--size", "64x36", "--duration", "0.5", "--no-watch", "--audio", "jack"]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    notice = [x for x in run.stderr.splitlines() if "no sound device" in x]
    assert len(notice) == 1 and "JACK server running?" in notice[0], run.stderr[-2000:]
    assert "played" in run.stdout


QUIET_SET = """[set]
duration = 60.0
fps = 30
size = [32, 18]
seed = 3
[[dreamers]]
count = 8
stages = [[0, "N2"]]
shader = "tide"
patch = "drone"
"""  # eight dreamers for the controller's eight strips, and no cues moving them


def test_a_controller_over_jack_midi_drives_the_show_and_gets_its_leds(
    jack, gl, monkeypatch, tmp_path
):
    """The real rtmidi path: python-rtmidi's JACK API, the rig's own port code, a
    'controller' that is another JACK client (virtual ports named nanoKONTROL2)."""
    from engine.clock import FrameClock
    from engine.live import Live
    from engine.midi.controller import MidiController
    from engine.render import load_set
    from engine.show import Show

    (tmp_path / "quiet.toml").write_text(QUIET_SET)

    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    system = mido.Backend(JACK_MIDI, load=False)
    knobs = system.open_output("nanoKONTROL2", virtual=True)  # what it sends
    leds = system.open_input("nanoKONTROL2", virtual=True)  # what it is sent
    show = Show(load_set(tmp_path / "quiet.toml"), gl, audio=False)
    live = Live(show, clock=FrameClock(30), watch=False)
    try:
        live.midi = MidiController("nanoKONTROL2", "korg-nanokontrol2")
        assert live.midi.input.name is not None and "nanoKONTROL2" in live.midi.input.name

        def settle(until) -> None:
            deadline = time.monotonic() + 5
            while not until() and time.monotonic() < deadline:
                live.step()
                time.sleep(0.01)

        received: list[mido.Message] = []

        def lit(value: int) -> bool:
            received.extend(leds.iter_pending())
            want = mido.Message("control_change", control=50, value=value)
            return want in received

        settle(lambda: lit(0))  # connecting sends the whole state: M3 dark
        knobs.send(mido.Message("control_change", control=50, value=127))  # M3 pressed
        knobs.send(mido.Message("control_change", control=50, value=0))  # and released
        settle(lambda: show.params.get("/dreamer/3/mute") == 1.0)
        assert show.params.get("/dreamer/3/mute") == 1.0
        received.clear()
        settle(lambda: lit(127))
        assert lit(127), received  # its LED lights
        knobs.send(mido.Message("control_change", control=0, value=0))  # fader 1: takeover
        knobs.send(mido.Message("control_change", control=0, value=127))
        knobs.send(mido.Message("control_change", control=0, value=64))
        settle(lambda: abs(show.params.target("/dreamer/1/weight")[0] - 64 / 127) < 1e-6)
        assert show.params.target("/dreamer/1/weight")[0] == pytest.approx(64 / 127)
    finally:
        live.close()
        show.close()
        knobs.close()
        leds.close()


def test_live_record_keeps_the_sound_that_played_in_step_with_the_picture(jack, tmp_path):
    out = tmp_path / "night.mp4"
    env = headless_env()
    cmd = [*LIVE, "--size", "96x54", "--duration", "4", "--no-watch", "--audio", "jack"]
    run = subprocess.run(
        [*cmd, "--record", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "sound: jack" in run.stderr
    frames, _, _, sound = probe(out)  # the sound at the file's rate: JACK's
    seconds = len(sound) / RATE
    assert 3.5 <= frames / 30 <= 4.6, frames  # the picture covers the wall-clock show
    assert abs(seconds - frames / 30) < 0.25, (seconds, frames)  # and the sound with it
    assert np.sqrt((sound**2).mean()) > 0.005, "the recorded sound is near silent"
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"


def test_recording_repeats_frames_for_dropped_slots_and_times_the_wav(jack, gl, tmp_path):
    from engine.capture import Capture
    from engine.folders import SET_DIR
    from engine.render import load_set
    from engine.show import Show

    show = Show(
        load_set(SET_DIR / "ritual.toml"), gl, size=(32, 18), audio_mode="realtime",
        audio_driver="jack",
    )  # fmt: skip
    out = tmp_path / "r.mp4"
    rec = Capture(out, show)
    try:
        assert rec.realtime and show.audio is not None and show.audio.driver == "jack"
        image = np.zeros((18, 32, 3), np.uint8)
        written = []
        for t in (0.0, 1 / 30, 5 / 30, 6 / 30, 6.4 / 30):  # a frame ran over 3 slots
            show._now = 10.0 + t  # the show's clock when the frame was drawn
            rec.write(image)
            written.append(rec.movie.frames)
        assert written == [1, 2, 6, 7, 7], "slots 2-4 repeat frame 2; an early one is skipped"
        assert rec.repeated == 3
        time.sleep(0.5)
        wav = rec.wav
        assert wav is not None and wav.exists()
    finally:
        rec.close()
        show.close()
    assert not wav.exists(), "the sound file is merged and removed"
    assert rec.shortfall == 0.0  # 0.5 s of sound for 7 frames (0.23 s) of picture
    frames, _, _, sound = probe(out)
    assert frames == 7
    assert abs(len(sound) / RATE - 7 / 30) < 0.03, "the sound is cut where the picture ends"
    # wav_seconds reads any RIFF/WAVE: one written here, 16-bit, 0.25 s
    plain = tmp_path / "plain.wav"
    with wave.open(str(plain), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(4 * RATE // 4))
    assert wav_seconds(plain) == 0.25
    assert wav_seconds(tmp_path / "missing.wav") == 0.0


def test_the_live_engine_plays_in_a_process_of_its_own(jack, tmp_path):
    """pyo's callback takes the GIL: a live show's realtime engine is a child process,
    so the frame loop cannot starve it. Patch errors still come back with their line."""
    from engine.audio.graph import PatchError
    from engine.audio.remote import RemoteAudio
    from engine.folders import PATCH_DIR

    patches = tmp_path / "patches"
    shutil.copytree(PATCH_DIR, patches, ignore=shutil.ignore_patterns("mappings"))
    drone = patches / "drone.py"
    good = drone.read_text()
    audio = RemoteAudio(driver="jack", patch_dir=patches, sr=44100, fps=30)
    try:
        assert audio.pid != os.getpid() and audio.sr == RATE and audio.driver == "jack"
        audio.add_voice("1", "drone")
        for _ in range(20):  # a frame's controls, sent once a frame
            audio.set("1", "alpha", 0.6, 0.03)
            audio.set_gain("1", 0.8, 0.03)
            audio.set_master("volume", 0.9, 0.03)
            audio.commit()
            time.sleep(1 / 30)
        assert "oneiric:output_1" in jack_ports(jack)
        drone.write_text(good + "\nraise RuntimeError('broken on purpose')\n")
        with pytest.raises(PatchError) as info:
            audio.reload_patch("drone")
        assert info.value.path == drone and info.value.line == good.count("\n") + 2
        assert "broken on purpose" in info.value.detail
        drone.write_text(good)
        assert audio.reload_patch("drone") == ["1"], "fixed, it takes over"
        wav = tmp_path / "heard.wav"
        audio.start_recording(wav)
        time.sleep(0.5)
        assert audio.stop_recording() == wav
    finally:
        audio.close()
    assert 0.4 <= wav_seconds(wav) <= 0.7
    assert "oneiric:" not in jack_ports(jack), "closing leaves the graph"


def test_the_sound_process_goes_when_the_show_dies(jack):
    show = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, time\n"
         "from engine.audio.remote import RemoteAudio\n"
         "a = RemoteAudio(driver='jack')\n"
         "print('sound process', a.pid, flush=True)\n"
         "time.sleep(60)\n"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    try:
        assert show.stdout is not None
        line = ""
        while not line.startswith("sound process"):  # pyo prints its notices here too
            line = show.stdout.readline()
            assert line, "the show ended early"
        child = int(line.split()[-1])
        assert "oneiric:output_1" in jack_ports(jack)
        show.kill()  # as the show's process would die: no close(), no atexit
        show.wait(timeout=10)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{child}").exists(), "the sound process outlived the show"
        assert "oneiric:" not in jack_ports(jack)
    finally:
        if show.poll() is None:
            show.kill()


ALSA_JACK = next(iter(Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_jack.so")), None)
ASOUND = """pcm_type.jack {{
    lib "{lib}"
}}
pcm.!default {{
    type jack
    playback_ports {{
        0 system:playback_1
        1 system:playback_2
    }}
    capture_ports {{
        0 system:capture_1
        1 system:capture_2
    }}
}}
"""  # ALSA's default device routed into JACK (libasound2-plugins): a paced device


def feeding_the_speakers(server: str) -> list[str]:
    """The ports of other clients connected to system:playback_1."""
    lines = jack_ports(server, "-c").splitlines()
    return [a for a, b in itertools.pairwise(lines)
            if b.strip() == "system:playback_1" and not a.startswith((" ", "system:"))]  # fmt: skip


@pytest.mark.skipif(ALSA_JACK is None, reason="ALSA's JACK plugin (libasound2-plugins) is missing")
def test_live_plays_through_portaudio_on_an_alsa_device(jack, tmp_path):
    """The PortAudio path (what a laptop's sound card uses): PortAudio opens ALSA's
    default device, which ALSA's JACK plugin carries into the JACK graph."""
    conf = tmp_path / "asound.conf"
    conf.write_text(ASOUND.format(lib=ALSA_JACK))
    env = headless_env()
    env["ALSA_CONFIG_PATH"] = str(conf)
    out = tmp_path / "night.mp4"
    cmd = [*LIVE, "--size", "96x54", "--duration", "3", "--no-watch", "--audio", "portaudio"]
    live = subprocess.Popen(
        [*cmd, "--record", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not feeding_the_speakers(jack):
            assert live.poll() is None, live.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "nothing from the rig reached the speakers"
            time.sleep(0.1)
        _, err = live.communicate(timeout=60)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err[-2000:]
    assert f"sound: portaudio at {RATE} Hz" in err and "no sound device" not in err, err[-2000:]
    frames, _, _, sound = probe(out)  # the sound at the file's rate: JACK's
    assert abs(len(sound) / RATE - frames / 30) < 0.25, "the device kept real time"
    assert np.sqrt((sound**2).mean()) > 0.005
