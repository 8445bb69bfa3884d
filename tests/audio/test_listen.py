"""A show that listens: a set's [audio_in] file drives params, layers and the tempo,
frame-exact offline, and its sound goes into the render as the set asks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from sounds import SHIPPED, SR, click_track, kick_hat_track

from engine.clock import FrameClock
from engine.folders import SET_DIR
from engine.listen_spec import AudioInSpecError, parse_device
from engine.render import RenderOptions, load_set, render
from engine.sets import SetError
from engine.show import Show

FPS = 30
SET = """
[set]
duration = {duration}
fps = 30
size = [160, 90]
seed = 4
{mapping}{audio_in}
[merge]
mode = "screen"
[[dreamers]]
count = 1
stages = [[0, "W"]]
shader = "{shader}"
patch = "drone"
"""


def write(tmp_path: Path, name: str = "s", *, duration=2.0, mapping="", shader="tide", **audio):
    table = ""
    if audio:
        items = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in audio.items())
        table = f"[audio_in]\n{items}\n".replace("True", "true").replace("False", "false")
    path = tmp_path / f"{name}.toml"
    mapping = f'mapping = "{mapping}"\n' if mapping else ""
    path.write_text(SET.format(duration=duration, mapping=mapping, audio_in=table, shader=shader))
    return load_set(path)


@pytest.fixture
def kicks(tmp_path) -> tuple[Path, np.ndarray]:
    x, times, _ = kick_hat_track(6.0)
    path = tmp_path / "kicks.wav"
    soundfile.write(path, x, SR, subtype="FLOAT")
    return path, times


def steps(show: Show, n: int):
    clock = FrameClock(show.fps)
    try:
        return [show.step(clock.tick()) for _ in range(n)]
    finally:
        show.close()


def test_two_renders_of_a_set_driven_by_a_file_give_identical_frames(tmp_path, kicks):
    spec = write(tmp_path, file="kicks.wav", mix="mix", mapping="listen")
    a = render(spec, None, RenderOptions(progress=False))
    b = render(spec, None, RenderOptions(progress=False))
    assert a.frame_hashes == b.frame_hashes and a.audio_hash == b.audio_hash
    assert len(set(a.frame_hashes)) > 30


def test_a_layer_bound_to_the_bass_pulses_on_the_kicks(tmp_path, gl, kicks):
    """patches/mappings/listen.py puts /audio/in/bass on the layer's weight; the frames'
    brightness rises after every kick and falls back before the next."""
    _, times = kicks
    spec = write(tmp_path, duration=4.0, mapping="listen", file="kicks.wav")
    show = Show(spec, gl, audio=False)
    frames = steps(show, 4 * FPS)
    light = np.array([f.image.mean() for f in frames])
    kick_frames = [int(t * FPS) for t in times if t < 3.8]
    for k in kick_frames:
        before, after = light[k - 1], light[k + 1 : k + 5].max()
        assert after > before * 1.3, (k, before, after)
        assert light[k + 12] < after * 0.8, "and falls back before the next kick"


def test_replace_gives_the_files_sound_none_the_rigs_and_mix_both(tmp_path, gl, kicks):
    path, _ = kicks
    file_sound = soundfile.read(path, dtype="float32", always_2d=True)[0]
    n = 20

    def sound(**audio) -> np.ndarray:
        spec = write(tmp_path, str(len(audio) and audio.get("mix")), **audio)
        return np.concatenate([f.audio for f in steps(Show(spec, gl), n)])

    rig = sound()
    replaced = sound(file="kicks.wav", mix="replace")
    stereo = np.repeat(file_sound, 2, axis=1)[: len(replaced)]
    np.testing.assert_array_equal(replaced, stereo)
    assert np.array_equal(sound(file="kicks.wav", mix="none"), rig)
    np.testing.assert_allclose(sound(file="kicks.wav", mix="mix"), rig + stereo, atol=1e-6)
    assert np.abs(rig).max() > 0.01 and np.abs(stereo).max() > 0.5


def test_the_tracked_beat_becomes_the_shows_tempo(tmp_path, gl):
    x, clicks = click_track(132.0, 8.0)
    soundfile.write(tmp_path / "clicks.flac", x, SR)
    show = Show(write(tmp_path, duration=8.0, file="clicks.flac", tempo=True), gl, audio=False)
    params = show.params
    assert params.spec("/tempo/source").label(params.get("/tempo/source")) == "audio"
    clock = FrameClock(FPS)
    phases = []
    try:
        for _ in range(8 * FPS):
            show.step(clock.tick())
            phases.append(params.get("/tempo/beat"))
        assert params.get("/tempo/bpm") == pytest.approx(132.0, abs=1.0)
        assert params.get("/audio/in/bpm") == pytest.approx(132.0, abs=1.0)
    finally:
        show.close()
    # in the last two seconds the show's beat wraps once per click, near the clicks
    wraps = [i / FPS for i in range(6 * FPS, 8 * FPS) if phases[i] < phases[i - 1]]
    assert len(wraps) == pytest.approx(2 * 132 / 60, abs=1)
    assert max(np.min(np.abs(clicks - w)) for w in wraps) < 2.0 / FPS


def test_audio_reactive_layers_hear_the_input(tmp_path, gl, kicks):
    """An ISF layer with an audioFFT input (spectrum_bloom) draws the file it hears:
    the same set over silence draws something else, while the rig's sound is the same."""
    soundfile.write(tmp_path / "quiet.wav", np.zeros(SR * 2, np.float32), SR)
    loud = steps(Show(write(tmp_path, "a", shader="spectrum_bloom", file="kicks.wav"), gl), 30)
    quiet = steps(Show(write(tmp_path, "b", shader="spectrum_bloom", file="quiet.wav"), gl), 30)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(loud, quiet, strict=True))
    differ = [i for i in range(30) if not np.array_equal(loud[i].image, quiet[i].image)]
    # the kicks start at 0.5 s (frame 15): the same picture until then, not after
    assert differ[0] == 15 and len(differ) >= 8, differ


def test_the_params_are_there_read_only_and_follow_the_file(tmp_path, gl, kicks):
    show = Show(write(tmp_path, file="kicks.wav", bands=8), gl, audio=False)
    params = show.params
    assert params.spec("/audio/in/spectrum/8").access == "r"
    assert "/audio/in/spectrum/9" not in params
    with pytest.raises(ValueError, match="read-only"):
        params.set("/audio/in/bass", 0.5)
    clock = FrameClock(FPS)
    seen = []
    try:
        for _ in range(FPS * 2):
            show.step(clock.tick())
            seen.append((params.get("/audio/in/bass"), params.get("/audio/in/onset")))
    finally:
        show.close()
    bass = np.array(seen)
    assert bass[:, 0].max() > 0.8 and bass[:14, 0].max() == 0, "silent until the first kick"
    assert bass[:, 1].sum() >= 6, "onsets: kicks and hats"


def test_a_set_without_audio_in_has_no_listener(tmp_path, gl):
    show = Show(write(tmp_path), gl, audio=False)
    try:
        assert show.listen is None and "/audio/in/bass" not in show.params
    finally:
        show.close()


@pytest.mark.parametrize(
    ("table", "field", "message"),
    [
        ('file = "kicks.wav"\nmixx = "mix"', "audio_in.mixx", "unknown field"),
        ('file = "kicks.wav"\nmix = "blend"', "audio_in.mix", "mix, replace, none"),
        ('file = "nothere.wav"', "audio_in.file", "no such file"),
        ('file = "kicks.wav"\ndevice = "default"', "audio_in", "one of file"),
        ('device = "alsa:hw0"', "audio_in.device", "default, jack or jack:PORT"),
        ('file = "kicks.wav"\nbands = 0', "audio_in.bands", "1..64"),
        ('file = "kicks.wav"\ngain = "loud"', "audio_in.gain", "must be float"),
    ],
)
def test_a_bad_audio_in_table_names_its_field(tmp_path, kicks, table, field, message):
    path = tmp_path / "bad.toml"
    path.write_text(
        SET.format(duration=1.0, mapping="", audio_in=f"[audio_in]\n{table}\n", shader="tide")
    )
    with pytest.raises(SetError) as err:
        load_set(path)
    assert f"{field}: " in str(err.value) and message in str(err.value), str(err.value)


def test_a_live_device_that_is_not_there_gives_one_notice_and_the_show_goes_on(
    tmp_path, gl, monkeypatch
):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "oneiric-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    show = Show(write(tmp_path, device="jack"), gl, audio=False)
    try:
        assert show.listen is not None and "no JACK server" in show.listen.notice
        clock = FrameClock(FPS)
        for _ in range(3):
            show.step(clock.tick())
        assert show.params.get("/audio/in/bass") == 0.0
    finally:
        show.close()


def test_files_decode_whatever_their_format_and_rate(tmp_path):
    """MP3 (through ffmpeg where libsndfile lacks it), FLAC at 22.05 kHz, pyo's AIFF:
    each decoded to stereo at the show's rate."""
    from imageio_ffmpeg import get_ffmpeg_exe

    from engine.audio.inputs import decode

    x, _ = click_track(120.0, 2.0)
    wav = tmp_path / "c.wav"
    soundfile.write(wav, x, SR)
    mp3 = tmp_path / "c.mp3"
    cmd = [get_ffmpeg_exe(), "-v", "error", "-i", str(wav), "-b:a", "192k", str(mp3)]
    subprocess.run(cmd, check=True)
    sound = decode(mp3, SR)
    assert sound.shape[1] == 2 and abs(len(sound) - len(x)) < 0.06 * SR  # an MP3 pads
    shipped = decode(SHIPPED, SR)
    assert len(shipped) == 8 * SR
    regenerated = kick_hat_track(8.0, sr=22050)[0]
    back = soundfile.read(SHIPPED, dtype="float32")[0]
    np.testing.assert_allclose(back, regenerated, atol=1 / 32768 + 1e-6)  # 16-bit


def test_audio_in_on_the_command_line():
    assert parse_device("jack:system:capture_1").device == "jack:system:capture_1"
    assert parse_device("default").device == "default"
    assert parse_device(str(SHIPPED)).file == SHIPPED
    with pytest.raises(AudioInSpecError, match="neither a device"):
        parse_device("nothere.wav")


def test_the_shipped_listen_set_pulses_and_keeps_the_demo_deaf(gl):
    spec = load_set(SET_DIR / "listen.toml")
    assert spec.audio_in is not None and spec.audio_in.file is not None
    assert spec.audio_in.file.stat().st_size < 1_000_000
    assert load_set(SET_DIR / "demo.toml").audio_in is None


def test_rig_layers_read_the_audio_fields(tmp_path, gl, kicks):
    """A rig-dialect layer gets `audio_bass` and `audio_onset` as globals: red with the
    bass, green on onsets, and nothing in a set without [audio_in]."""
    from engine import sets
    from engine.folders import Folders

    folders = Folders(shaders=tmp_path / "shaders")
    folders.shaders.mkdir()
    (folders.shaders / "bassy.glsl").write_text(
        "vec4 layer(vec2 uv) { return vec4(audio_bass, audio_onset, 0.0, 1.0); }\n"
    )

    def run(name: str, audio_in: str) -> np.ndarray:
        path = tmp_path / f"{name}.toml"
        path.write_text(SET.format(duration=2.0, mapping="", audio_in=audio_in, shader="bassy"))
        spec = sets.load(path, shaders={"bassy"}, patches={"drone"})
        show = Show(spec, gl, folders=folders, audio=False)
        return np.array([f.image.reshape(-1, 3).mean(axis=0) for f in steps(show, 2 * FPS)])

    heard = run("heard", '[audio_in]\nfile = "kicks.wav"\n')
    deaf = run("deaf", "")
    assert deaf[:, :2].max() == 0
    red, green = heard[:, 0], heard[:, 1]
    assert red[:15].max() == 0 and red[15] > 150, "dark until the first kick at 0.5 s"
    lit = np.flatnonzero(green > 100)
    assert len(lit) >= 6 and 15 <= lit[0] <= 16, lit  # kicks and hats, from the first kick


def test_shadertoy_layers_hear_the_input_on_their_audio_channel(tmp_path, gl, kicks):
    """dream_tunnel reads iChannel0 (audio): over the kicks it throbs; over silence not."""
    soundfile.write(tmp_path / "quiet.wav", np.zeros(SR * 2, np.float32), SR)
    spec = write(tmp_path, "a", shader="dream_tunnel", file="kicks.wav", duration=1.0)
    loud = steps(Show(spec, gl, audio=False), 20)
    spec = write(tmp_path, "b", shader="dream_tunnel", file="quiet.wav", duration=1.0)
    quiet = steps(Show(spec, gl, audio=False), 20)
    same = [np.array_equal(a.image, b.image) for a, b in zip(loud, quiet, strict=True)]
    assert all(same[:15]) and not any(same[15:18]), same


def test_live_audio_in_a_file_follows_the_wall_clock(tmp_path):
    """`live --audio-in FILE` (rehearsal): the console reads the music's tempo (132 BPM,
    not the param's default 120)."""
    import time

    from conftest import LIVE, ROOT, headless_env

    music = tmp_path / "rehearsal.wav"
    soundfile.write(music, kick_hat_track(10.0, 132.0)[0], SR)
    cmd = [*LIVE, "--size", "64x36", "--duration", "11", "--no-watch", "--audio", "off"]
    live = subprocess.Popen(
        [*cmd, "--audio-in", str(music), "--repl"],
        cwd=ROOT, env=headless_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(8.0)
        assert live.stdin is not None
        live.stdin.write("get /audio/in/bpm\n")
        live.stdin.flush()
        out, err = live.communicate(timeout=60)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err[-2000:]
    assert "audio in: rehearsal.wav (10.0 s, mix: none)" in err, err[-2000:]
    got = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    assert float(got["/audio/in/bpm"].split()[0]) == pytest.approx(132.0, abs=1.0), out


def test_live_audio_in_neither_device_nor_file_is_one_line_and_exit_2():
    from conftest import LIVE, ROOT, headless_env

    cmd = [*LIVE, "--headless", "--duration", "1", "--audio-in", "nothere.wav"]
    proc = subprocess.run(cmd, cwd=ROOT, env=headless_env(), capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --audio-in: 'nothere.wav' is neither a device (default, jack, jack:PORT) nor a file"
    ]


def test_a_rendered_movie_carries_the_files_sound(tmp_path, kicks):
    """Through the real encoder: with mix = "replace" the MP4's soundtrack (AAC) is the
    file's kicks, where they are in the file."""
    from conftest import probe

    path, times = kicks
    out = tmp_path / "night.mp4"
    render(write(tmp_path, file="kicks.wav", mix="replace"), out, RenderOptions(progress=False))
    frames, _, _, sound = probe(out)
    assert frames == 2 * FPS
    x = soundfile.read(path, dtype="float32")[0][: 2 * SR]
    n = min(len(x), len(sound))
    env = [np.abs(a[: n // 480 * 480]).reshape(-1, 480).max(axis=1) for a in (x, sound[:n, 0])]
    assert np.corrcoef(env[0], env[1])[0, 1] > 0.95
    loud = np.flatnonzero(env[1] > 0.3) * 480 / SR
    assert abs(loud[0] - times[0]) < 0.03, "the first kick where the file has it"
