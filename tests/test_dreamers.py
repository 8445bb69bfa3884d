"""A dreamer: its rings keep the newest window of each signal, it is analysed on a fixed
schedule, smooths what it measured into read-only params (/dreamer/N/*), fades with its
source's presence, runs its own clock at its speed, and drives its layer raw or
enhanced. Inputs are the seeded simulator, real recordings and the live sources' own
classes; the frame loop is the show's (params advance, pull, analyse at 10 Hz, step)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import DATA, needs_data

from engine.clock import FrameClock
from engine.dreamer_params import BANDS, FEATURE_OUTPUTS, LAYER_OUTPUTS
from engine.dreamers import (
    ANALYSIS_RATE,
    PENTATONIC,
    ROOT_HZ,
    WINDOWS,
    Dreamer,
    Ring,
    Source,
)
from engine.features import beat_pulse, combine_bands
from engine.params import ParamError, ParamSpace
from engine.render import load_set
from engine.show import Show
from engine.sources.hypnogram import STAGES, Hypnogram
from engine.sources.network import NetworkSource
from engine.sources.playback import Playback
from engine.sources.profiles import SignalPolicy, SignalUpdate
from engine.sources.recordings import load
from engine.sources.replayed import ReplayedSource
from engine.sources.simulate import SimulatedDreamer
from engine.visuals.layers import SIGNAL_WIDTH

FPS = 30
OUTPUTS = [(name, top) for name, top, *_ in (*FEATURE_OUTPUTS, *LAYER_OUTPUTS)]


def sleeper(seed: int = 3, stage: str = "N2") -> SimulatedDreamer:
    """A simulated sleeper breathing 12 a minute with a heart at 60 (in N2)."""
    return SimulatedDreamer(seed, Hypnogram((0.0,), (stage,)), breath_rate=12.0, heart_rate=60.0)


def dreamer(
    source: Source,
    *,
    index: int = 0,
    count: int = 1,
    seed: int = 3,
    drive: str = "features",
    enhance: bool = False,
    fade: float = 2.0,
    params: ParamSpace | None = None,
) -> Dreamer:
    return Dreamer(
        index, seed=seed, source=source, shader="tide", patch="drone", drive=drive,
        enhance=enhance, params=ParamSpace() if params is None else params, count=count,
        fade=fade,
    )  # fmt: skip


def frames(
    d: Dreamer, seconds: float, *, start: int = 0, analyse: bool = True
) -> list[dict[str, float]]:
    """Run the show's frame loop over one dreamer at FPS; each frame's published params."""
    every = round(FPS / ANALYSIS_RATE)
    out = []
    for f in range(start, start + round(seconds * FPS)):
        t, dt = f / FPS, (1 / FPS if f else 0.0)
        d.params.update(dt)
        d.pull(t)
        if analyse and f % every == 0:
            d.analyse(t)
        d.step(t, dt)
        out.append({name: d.param(name) for name, _ in OUTPUTS})
    return out


def series(rows: list[dict[str, float]], name: str) -> np.ndarray:
    return np.array([r[name] for r in rows])


# --- rings --------------------------------------------------------------------------------


def test_a_ring_keeps_the_newest_samples_across_wraps():
    ring = Ring(5)
    assert ring.filled == 0 and len(ring.last()) == 0
    given = np.arange(40.0)
    for i in range(0, 39, 3):  # 3 at a time: the buffer wraps several times
        ring.extend(given[i : i + 3])
        n = min(i + 3, 39)
        assert ring.filled == min(5, n) and ring.total == n
        np.testing.assert_array_equal(ring.last(), given[max(0, n - 5) : n])
    np.testing.assert_array_equal(ring.last(2), [37.0, 38.0])
    assert len(ring.last(99)) == 5
    ring.extend(given[:12])  # a block longer than the ring: its newest samples
    np.testing.assert_array_equal(ring.last(), given[7:12])
    assert ring.total == 51
    ring.extend(np.zeros(0))
    np.testing.assert_array_equal(ring.last(), given[7:12])


def test_the_rings_hold_each_signals_analysis_window_of_what_the_source_gave():
    d = dreamer(sleeper())
    got: dict[str, list[np.ndarray]] = {k: [] for k in d.rings}
    d.on_read = lambda n, block: [got[k].append(x) for k, x in block.items()]
    frames(d, 35.0, analyse=False)
    assert d.reads == 35 * FPS
    for name, ring in d.rings.items():
        given = np.concatenate(got[name])
        assert ring.size == int(WINDOWS[name] * d.rates[name]) == ring.filled
        assert ring.total == len(given)
        np.testing.assert_array_equal(ring.last(), given[-ring.size :])


# --- analysis and smoothing ---------------------------------------------------------------


def test_a_show_analyses_each_dreamer_every_tenth_of_a_second_staggered(gl, tmp_path):
    """The schedule is the show's: one dreamer's analysis a frame, not all at once."""
    path = tmp_path / "three.toml"
    path.write_text(
        f"[set]\nduration = 2.0\nfps = {FPS}\nsize = [16, 16]\nseed = 3\n"
        '[[dreamers]]\ncount = 3\nstages = [[0, "N2"]]\nshader = "tide"\npatch = "drone"\n'
    )
    show = Show(load_set(path), gl, audio=False)
    try:
        clock, analysed = FrameClock(FPS), []  # per frame: which dreamers were analysed
        seen = [d.features for d in show.dreamers]
        for _ in range(FPS):
            show.step(clock.tick())
            now = [d.features for d in show.dreamers]
            analysed.append(
                [i for i, (a, b) in enumerate(zip(seen, now, strict=True)) if a is not b]
            )
            seen = now
    finally:
        show.close()
    every = round(FPS / ANALYSIS_RATE)
    assert all(len(on_frame) == 1 for on_frame in analysed), analysed  # one a frame
    for i in range(3):
        ours = [f / FPS for f, on_frame in enumerate(analysed) if i in on_frame]
        assert len(ours) == ANALYSIS_RATE  # a second of show: ten analyses each
        np.testing.assert_allclose(np.diff(ours), 1 / ANALYSIS_RATE)
        assert ours[0] == ((-i) % every) / FPS  # staggered: dreamer i a frame after i-1


def test_published_values_follow_the_features_with_a_04_s_time_constant():
    d = dreamer(sleeper())
    d.pull(8.0)
    d.analyse(8.0)
    measured = d.features
    assert 0 < measured.delta < 1 and measured.heart_bpm > 0
    d.step(8.0, 1 / FPS)  # one frame of a running show: a fraction of the way
    first = d.param("delta")
    assert first == pytest.approx(measured.delta * (1 - math.exp(-1 / FPS / 0.4)))
    for f in range(1, 12):  # 0.4 s in all: 1 - 1/e of the way, whatever the feature
        d.step(8.0 + f / FPS, 1 / FPS)
    for name, feature in (("delta", measured.delta), ("heart", measured.heart_bpm)):
        assert d.param(name) == pytest.approx(feature * (1 - math.exp(-1.0)), rel=1e-9)
    assert d.param("depth") == pytest.approx(1 - d.param("arousal"))
    d.step(8.5, 0.0)  # a show's first frame (dt 0) lands on the features at once
    assert d.param("delta") == pytest.approx(measured.delta)


def test_features_are_read_only_params_finite_and_in_range():
    params = ParamSpace()
    d = dreamer(sleeper(), params=params)
    rows = frames(d, 20.0)
    for name, top in OUTPUTS:
        spec = params.spec(f"/dreamer/1/{name}")
        assert spec.access == "r" and spec.doc, name
        values = series(rows, name)
        assert np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= top, name
        with pytest.raises(ParamError, match="read-only"):
            params.set(f"/dreamer/1/{name}", 0.5)
    last = rows[-1]
    assert sum(last[b] for b in BANDS) == pytest.approx(1.0, abs=1e-3)
    assert last["heart"] == pytest.approx(60.0, abs=6.0)  # the sleeper's own rates
    assert last["breath_rate"] == pytest.approx(12.0, abs=1.5)
    assert last["quality"] > 0.5 and last["presence"] == 1.0
    breath = series(rows[-10 * FPS :], "breath")  # once the belt has been analysed
    assert breath.min() < 0.2 and breath.max() > 0.8


@needs_data
def test_a_recording_without_eeg_publishes_its_heart_and_breath_and_no_bands():
    """PhysioNet v102s (ECG, pleth, respiration, 250 Hz): a real person's ~100 bpm."""
    d = dreamer(Playback(DATA / "biosignals" / "wfdb" / "v102s"))
    assert set(d.rings) == {"ecg", "resp", "ppg"}
    rows = frames(d, 35.0)
    last = rows[-1]
    assert 90 < last["heart"] < 115 and 5 < last["breath_rate"] < 30
    assert [last[b] for b in BANDS] == [0.0] * 6
    assert d.problem is None and d.stage is None
    assert all(math.isfinite(v) for r in rows for v in r.values())
    rows_eeg, ecg, resp = d.signal_rows()
    assert rows_eeg.shape == (SIGNAL_WIDTH,) and not rows_eeg.any()  # no EEG: a flat row
    assert np.ptp(ecg) > 0.5 and np.abs(resp).max() <= 1.0
    assert d.audio_controls()["heart_bpm"] == pytest.approx(last["heart"])


@needs_data
def test_a_flat_electrode_keeps_the_last_good_bands_and_trusts_them_less():
    """Real N2 EEG (YASA, 200 Hz), then the electrode comes off: flat."""
    n2 = load(DATA / "biosignals" / "eeg" / "yasa_data_N2_spindles_15sec_200Hz.txt")["eeg"]
    flat = np.full(int(6 * n2.fs), float(n2.data[-1]))
    readings = {0: {"eeg": n2.data}, 1: {"eeg": flat}}
    d = dreamer(ReplayedSource({"eeg": n2.fs}, 1.0, readings))
    d.pull(15.0)
    d.analyse(15.0)
    good = d.features
    assert d.problem is None and good.quality > 0.5 and good.delta > 0
    d.pull(21.0)
    d.analyse(21.0)
    assert d.problem == "flat"
    assert d.features.bands == good.bands and d.features.quality == 0.0


# --- presence -----------------------------------------------------------------------------


def speaking(seconds: list[tuple[float, float]], silence: float) -> ReplayedSource:
    """A pulled live source (LSL, BrainFlow, as a session log replays it) that gives
    samples on the frames within the given spans and nothing otherwise."""
    sim, readings = sleeper(), {}
    for f in range(round(max(b for _, b in seconds) * FPS) + 1):
        block = sim.read(f / FPS)
        if any(a <= f / FPS < b for a, b in seconds):
            readings[f] = block
    return ReplayedSource({"eeg": 256.0, "ecg": 256.0, "resp": 32.0}, silence, readings)


def test_presence_fades_in_and_out_over_fade_seconds_with_the_source():
    d = dreamer(speaking([(0.0, 3.0), (6.0, 9.0)], silence=0.5), fade=1.0)
    assert d.presence == 0.0  # a live source is absent until it speaks
    presence = series(frames(d, 9.0), "presence")
    step = 1 / FPS  # dt / fade
    assert presence[0] == 0.0  # the first frame (dt 0) does not move it
    np.testing.assert_allclose(np.diff(presence[: FPS + 1]), step)  # a straight ramp...
    assert presence[FPS - 1] < 1.0 and presence[FPS] == pytest.approx(1.0)  # ...`fade` s long
    assert presence[FPS + 1] == 1.0
    # the last samples come at 2.97 s; 0.5 s later the source is silent: it fades out
    silent = round((3.0 - 1 / FPS + 0.5) * FPS)
    assert np.all(presence[FPS + 1 : silent - 1] == 1.0)
    np.testing.assert_allclose(np.diff(presence[silent + 1 : silent + FPS]), -step)
    gone = np.flatnonzero(presence[silent:] == 0.0)[0] + silent
    assert gone - silent == pytest.approx(FPS, abs=2)  # fade seconds after the silence
    assert np.all(presence[gone : 6 * FPS] == 0.0)
    assert presence[6 * FPS + FPS + 1] == 1.0  # back a fade after it speaks again


def test_a_source_without_presence_is_always_there_and_fade_0_cuts():
    d = dreamer(sleeper())
    assert d.presence == 1.0 and series(frames(d, 0.5), "presence").min() == 1.0
    cut = dreamer(speaking([(0.0, 1.0)], silence=0.2), fade=0.0)
    presence = series(frames(cut, 2.0), "presence")
    assert set(presence[1:]) == {0.0, 1.0} and presence[1] == 1.0 and presence[-1] == 0.0


# --- the dreamer's clock ------------------------------------------------------------------


def test_time_integrates_speed_so_a_speed_change_never_jumps_it():
    params = ParamSpace()
    d = dreamer(sleeper(), seed=500, params=params)
    start = d.time
    assert start == pytest.approx(500 / 997 * 60)  # dreamers start at different moments
    # published from the start: a mapping reads them before the first frame's step
    assert (d.param("time"), d.param("seed")) == (pytest.approx(start), 0.5)
    before = series(frames(d, 1.0, analyse=False), "time")
    assert before[-1] == pytest.approx(start + (FPS - 1) / FPS)  # speed 1: show seconds
    assert d.param("seed") == 0.5  # its own variation, from the same seed
    params.set("/dreamer/1/speed", 4.0)  # smoothed over 0.3 s: the rate eases up
    speeds, times = [], []
    for f in range(FPS, 2 * FPS):
        params.update(1 / FPS)
        speeds.append(d.param("speed"))
        d.step(f / FPS, 1 / FPS)
        times.append(d.time)
    steps = np.diff([before[-1], *times])
    np.testing.assert_allclose(steps, np.array(speeds) / FPS)  # dt x the speed of the frame
    assert steps[0] < 2 / FPS and np.all(np.diff(steps) > 0) and steps[-1] < 4 / FPS + 1e-9
    assert d.time == params.get("/dreamer/1/time")
    params.set("/dreamer/1/speed", 0.0, jump=True)
    held = d.time
    frames(d, 0.5, start=2 * FPS, analyse=False)
    assert d.time == held  # speed 0 holds the picture


# --- raw and features drive ---------------------------------------------------------------


def test_raw_drive_gives_the_layer_the_signals_features_drive_the_measures():
    raw, feat = dreamer(sleeper(), drive="raw"), dreamer(sleeper(), drive="features")
    ecg: list[float] = []
    belt: list[float] = []
    raw.on_read = lambda n, block: (
        ecg.append(float(block["ecg"].max(initial=0.0))),
        belt.append(float(block["resp"].mean()) if len(block["resp"]) else math.nan),
    )
    r, f = frames(raw, 20.0)[2 * FPS :], frames(feat, 20.0)[2 * FPS :]
    ecg_now, belt_now = np.array(ecg[2 * FPS :]), np.array(belt[2 * FPS :])
    # raw: the beat is the ECG itself, the breath the belt itself
    assert np.corrcoef(ecg_now, series(r, "beat"))[0, 1] > 0.8
    assert np.corrcoef(ecg_now, series(f, "beat"))[0, 1] < 0.5
    ok = np.isfinite(belt_now)
    assert np.corrcoef(belt_now[ok], series(r, "breath")[ok])[0, 1] > 0.95
    # features: the beat is a pulse from the last detected heartbeat
    assert [x["beat"] for x in f] == [beat_pulse(x["beat_age"]) for x in f]
    # the measures themselves are the same in both drives
    for name in ("heart", "breath_rate", "delta", "alpha"):
        assert r[-1][name] == f[-1][name], name


def test_enhance_stretches_band_shares_against_their_own_range_in_features_drive_only():
    """A quiet sleeper's small band shares still move the layer: each band is placed in
    its own recent range (0..1) instead of being a share of the whole."""
    plain = frames(dreamer(sleeper()), 40.0)[-20 * FPS :]
    raw = frames(dreamer(sleeper(), drive="raw", enhance=True), 40.0)[-20 * FPS :]
    enhanced = frames(dreamer(sleeper(), enhance=True), 40.0)[-20 * FPS :]
    for b in BANDS:
        np.testing.assert_array_equal(series(raw, b), series(plain, b))  # raw: nothing added
        stretched = series(enhanced, b)
        assert stretched.min() > 0.0 and stretched.max() < 1.0
    for b in ("beta", "gamma"):  # N2's smallest shares: a few % of the power at most
        assert series(plain, b).max() < 0.05
        assert np.ptp(series(enhanced, b)) > 0.5, b  # ...spread over half the range
    assert sum(enhanced[-1][b] for b in BANDS) > 1.5  # positions, no longer shares


# --- several electrodes, stage, place -----------------------------------------------------


@needs_data
@pytest.mark.parametrize("how", ["mean", "median"])
def test_several_electrodes_combine_as_the_source_says(how):
    """A headset's electrodes as a NetworkSource hands them over (aligned columns), the
    profile's combine naming how their band shares join: real eyes-closed EEG, 3 pieces."""
    ec = load(DATA / "biosignals" / "physio" / "biosppy_eeg_ec.txt")["eeg"]
    fs, n = ec.fs, int(12 * ec.fs)
    columns = np.stack([ec.data[k * n : (k + 1) * n] for k in range(3)], axis=1)
    source = NetworkSource({"eeg": fs}, signals={"eeg": SignalPolicy(combine=how)})
    names = ("TP9", "AF7", "AF8")
    source.push(SignalUpdate("muse", "eeg", "samples", columns, fs, 12.0, names), 12.0)
    d = dreamer(source)
    d.pull(12.0)
    d.analyse(12.0)
    window = columns[-int(WINDOWS["eeg"] * fs) :]
    want = combine_bands(list(window.T), fs, how)
    other = combine_bands(list(window.T), fs, "median" if how == "mean" else "mean")
    assert want is not None and other is not None
    assert len(d.eeg_channels) == 3 and d.eeg_combine == how
    assert d.features.bands == pytest.approx(want, abs=1e-9)
    assert abs(d.features.alpha - other["alpha"]) > 1e-3  # the combine made a difference
    # the dreamer's one EEG ring (the scope, the stager) holds the electrodes' mean
    np.testing.assert_allclose(d.rings["eeg"].last(), window.mean(axis=1))


def test_the_stage_param_is_the_4_s_guess_until_the_first_epoch_is_scored():
    d = dreamer(sleeper(stage="N3"))
    frames(d, 20.0)
    assert d.stage is None and d.features.stage
    assert d.param("stage") == STAGES.index(d.features.stage)
    frames(d, 12.0, start=20 * FPS)
    assert d.stage is not None
    assert d.params.describe("/dreamer/1/stage") == d.stage.stage


def test_a_crowd_spreads_over_hues_pitches_and_places():
    params, source = ParamSpace(), sleeper()
    crowd = [dreamer(source, index=i, count=12, seed=i, params=params) for i in range(12)]
    pitches = [d.param("pitch") for d in crowd]
    assert pitches == pytest.approx([ROOT_HZ * 2 ** (s / 12) for s in PENTATONIC])
    hues = sorted(d.param("hue") for d in crowd)
    assert min(np.diff(hues)) > 0.02  # golden-ratio steps: no two alike
    homes = np.array([d.home for d in crowd])
    assert np.all((homes > 0.05) & (homes < 0.95))
    gaps = np.linalg.norm(homes[:, None] - homes[None], axis=-1)[np.triu_indices(12, 1)]
    assert gaps.min() > 0.05
    assert [d.path for d in crowd] == [f"/dreamer/{i}" for i in range(1, 13)]
