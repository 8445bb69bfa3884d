"""The simulated dreamer: determinism, stage spectra, heart, breath, entrainment."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from engine.sources.hypnogram import STAGES, Hypnogram
from engine.sources.simulate import RATES, SimulatedDreamer, _bank

FS = RATES["eeg"]
BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 12.0), "sigma": (12.0, 15.0)}
BANDS["beta"] = (15.0, 30.0)
MIXED = Hypnogram.from_pairs([(0, "W"), (6, "N1"), (14, "N2"), (30, "N3"), (50, "REM")])


def pure(stage: str) -> Hypnogram:
    return Hypnogram((0.0,), (stage,))


def run(seed: int, hyp: Hypnogram, seconds: float, **kw: float) -> dict[str, np.ndarray]:
    return SimulatedDreamer(seed, hyp, **kw).read(seconds)


# --- determinism -------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    a, b, c = run(7, MIXED, 60.0), run(7, MIXED, 60.0), run(8, MIXED, 60.0)
    for k in RATES:
        assert a[k].tobytes() == b[k].tobytes()
        assert np.corrcoef(a[k], c[k])[0, 1] < 0.5, k


def test_output_does_not_depend_on_how_reads_are_chunked() -> None:
    whole = run(3, MIXED, 2.0)
    d = SimulatedDreamer(3, MIXED)
    first, second = d.read(1.0), d.read(2.0)
    for k in RATES:
        assert np.array_equal(np.concatenate([first[k], second[k]]), whole[k])
    d = SimulatedDreamer(3, MIXED)
    ends = [0.0, 0.013, 0.013, 0.5, 0.77, 1.3, 2.0, 1.0, 31.7, 60.0]
    parts = [d.read(t) for t in ends]
    whole = run(3, MIXED, 60.0)
    for k in RATES:
        assert np.array_equal(np.concatenate([p[k] for p in parts]), whole[k])


def test_read_returns_exactly_the_samples_before_t_end() -> None:
    d = SimulatedDreamer(1, pure("N2"))
    assert {k: len(v) for k, v in d.read(1.0).items()} == {"eeg": 256, "ecg": 256, "resp": 32}
    assert all(len(v) == 0 for v in d.read(1.0).values())
    # samples 256..258 (t = 1.0 .. 1.0078) are < 1.01; resp sample 32 (t = 1.0) too
    assert {k: len(v) for k, v in d.read(1.01).items()} == {"eeg": 3, "ecg": 3, "resp": 1}


def test_block_must_hold_whole_samples() -> None:
    with pytest.raises(ValueError, match="whole samples"):
        SimulatedDreamer(0, MIXED, block=0.1)
    assert len(SimulatedDreamer(0, MIXED, block=0.5).read(1.0)["resp"]) == 32


def test_coupling_with_zero_strength_changes_nothing() -> None:
    d, ref = SimulatedDreamer(5, MIXED), run(5, MIXED, 20.0)
    parts = []
    for k in range(1, 81):
        d.couple(0.0, 1.234 * k)
        parts.append(d.read(k * 0.25)["resp"])
    assert np.array_equal(np.concatenate(parts), ref["resp"])


def test_filter_bank_matches_lfilter_with_carried_state() -> None:
    bank = _bank(64)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((len(bank.filters), 64 * 40))
    state, out = np.zeros(bank.shape), []
    for i in range(40):
        y, state = bank.step(state, u[:, 64 * i : 64 * (i + 1)])
        out.append(y)
    got = np.concatenate(out, axis=1)
    for i, (b, a) in enumerate(bank.filters):
        want = signal.lfilter(b, a, u[i])
        # state-space rounding differs from lfilter's by < 1e-5 of the (unit) rms
        assert np.abs(got[i] - want).max() < 1e-5
        assert 0.3 < np.std(want) < 3.0  # normalised to about unit rms


def test_signals_are_continuous_across_blocks() -> None:
    """State and events carry over block edges: no jumps at multiples of the block."""
    for stage in STAGES:
        x = run(11, pure(stage), 60.0)
        for k, per_block in (("eeg", 64), ("ecg", 64), ("resp", 8)):
            jump = np.abs(np.diff(x[k]))
            at_edge = np.zeros(jump.size, bool)
            at_edge[per_block - 1 :: per_block] = True
            assert jump[at_edge].mean() < 1.2 * jump[~at_edge].mean(), (stage, k)
            if k == "eeg":  # an event cut at a block edge would leave a big step there
                assert jump[at_edge].max() < 1.2 * jump[~at_edge].max(), stage


# --- EEG spectra ---------------------------------------------------------------------


def shares(eeg: np.ndarray) -> tuple[dict[str, float], float]:
    """Band shares of the 0.5-30 Hz power, and that power (uV^2)."""
    f, p = signal.welch(eeg, fs=FS, nperseg=1024)
    total = p[(f >= 0.5) & (f < 30.0)].sum()
    out = {b: float(p[(f >= lo) & (f < hi)].sum() / total) for b, (lo, hi) in BANDS.items()}
    return out, float(total * (f[1] - f[0]))


@pytest.fixture(scope="module")
def spectra() -> dict[int, dict[str, tuple[dict[str, float], float]]]:
    return {s: {g: shares(run(s, pure(g), 60.0)["eeg"]) for g in STAGES} for s in (0, 1)}


@pytest.mark.parametrize("seed", [0, 1])
def test_stage_spectra(spectra: dict, seed: int) -> None:
    sp = spectra[seed]
    sh = {g: sp[g][0] for g in STAGES}
    power = {g: sp[g][1] for g in STAGES}
    # W: posterior alpha is the top band
    assert max(sh["W"], key=sh["W"].__getitem__) == "alpha"
    assert sh["W"]["alpha"] > 0.5
    # N1: alpha fades, theta takes over
    assert sh["N1"]["alpha"] < 0.5 * sh["W"]["alpha"]
    assert sh["N1"]["theta"] > 2 * sh["W"]["theta"]
    # N2: spindles raise the sigma share above the other sleep stages
    for other in ("N1", "N3", "REM"):
        assert sh["N2"]["sigma"] > sh[other]["sigma"], other
    # N3: delta dominates and the EEG is much bigger than awake
    assert max(sh["N3"], key=sh["N3"].__getitem__) == "delta"
    assert sh["N3"]["delta"] > 0.8
    assert power["N3"] > 2.5 * power["W"]
    assert sh["N3"]["delta"] > sh["N2"]["delta"] > sh["W"]["delta"]
    # REM: low-voltage mixed theta, little alpha
    assert sh["REM"]["theta"] > 2 * sh["N3"]["theta"]
    assert sh["REM"]["alpha"] < 0.3 * sh["W"]["alpha"]
    assert power["REM"] < 0.3 * power["N3"]


def test_k_complexes_appear_in_n2_only() -> None:
    sos = signal.butter(2, [0.3, 4.0], "bandpass", fs=FS, output="sos")
    per_min = {}
    for stage, minutes in (("W", 2), ("N2", 5), ("REM", 2)):
        slow = signal.sosfiltfilt(sos, run(2, pure(stage), 60.0 * minutes)["eeg"])
        peaks, _ = signal.find_peaks(-slow, height=80.0, distance=int(FS))
        per_min[stage] = len(peaks) / minutes
    assert 0.5 <= per_min["N2"] <= 4.0  # 1-3 per minute
    assert per_min["W"] == per_min["REM"] == 0.0


# --- heart ---------------------------------------------------------------------------


def beats(ecg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R peak indices and RR intervals (s)."""
    peaks, _ = signal.find_peaks(ecg, height=0.5, distance=int(0.33 * FS))
    return peaks, np.diff(peaks) / FS


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_heart_rate_is_physiological_and_variable(seed: int) -> None:
    ecg = run(seed, pure("N2"), 120.0)["ecg"]
    peaks, rr = beats(ecg)
    assert 50.0 <= 60.0 / rr.mean() <= 80.0
    assert rr.std() > 0.01
    assert 0.8 < np.median(ecg[peaks]) < 1.3  # R ~ 1 mV
    assert rr.min() > 0.5 and rr.max() < 1.5  # no missed or doubled beats


def test_given_rates_are_honoured() -> None:
    x = run(4, pure("N2"), 120.0, heart_rate=60.0, breath_rate=12.0)
    _, rr = beats(x["ecg"])
    assert 57.0 < 60.0 / rr.mean() < 63.0
    peaks, _ = signal.find_peaks(x["resp"], distance=int(1.5 * 32), prominence=0.5)
    assert 11.0 < 60.0 * (len(peaks) - 1) / ((peaks[-1] - peaks[0]) / 32) < 13.0


def test_heart_speeds_up_on_inhale() -> None:
    x = run(0, pure("N2"), 300.0)
    peaks, rr = beats(x["ecg"])
    mid = (peaks[:-1] + peaks[1:]) // 2 // 8  # resp index at each RR midpoint
    rising = np.gradient(signal.savgol_filter(x["resp"], 33, 2))[mid] > 0
    assert (60 / rr[rising]).mean() > (60 / rr[~rising]).mean() + 1.0


def test_heart_is_slower_and_steadier_in_n3_than_in_rem() -> None:
    _, n3 = beats(run(6, pure("N3"), 180.0)["ecg"])
    _, rem = beats(run(6, pure("REM"), 180.0)["ecg"])
    assert n3.mean() > rem.mean()
    assert n3.std() < rem.std()


# --- breathing -----------------------------------------------------------------------


def breaths(resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tops, _ = signal.find_peaks(resp, distance=int(1.5 * 32), prominence=0.5)
    troughs, _ = signal.find_peaks(-resp, distance=int(1.5 * 32), prominence=0.5)
    return tops, troughs


@pytest.mark.parametrize("seed", range(6))
def test_breathing_rate_is_8_to_16_per_minute(seed: int) -> None:
    tops, _ = breaths(run(seed, pure("N2"), 120.0)["resp"])
    rate = 60.0 * (len(tops) - 1) / ((tops[-1] - tops[0]) / 32)
    assert 8.0 <= rate <= 16.0


def test_inhale_is_shorter_than_exhale() -> None:
    resp = signal.savgol_filter(run(1, pure("N3"), 180.0)["resp"], 17, 2)
    tops, troughs = breaths(resp)
    rise = [tops[tops > t][0] - t for t in troughs if (tops > t).any()]
    fall = [troughs[troughs > t][0] - t for t in tops if (troughs > t).any()]
    assert np.mean(rise) < 0.85 * np.mean(fall)


def test_breathing_is_regular_in_n3_and_irregular_in_rem() -> None:
    def cv(stage: str) -> float:
        intervals = np.diff(breaths(run(9, pure(stage), 240.0)["resp"])[0])
        return float(intervals.std() / intervals.mean())

    assert cv("N3") < 0.5 * cv("REM")


# --- entrainment ---------------------------------------------------------------------


def order_parameters(strength: float, seconds: float = 90.0) -> tuple[np.ndarray, np.ndarray]:
    """Every 0.25 s: the Kuramoto order of 8 dreamers' breath phases, and how far their
    mean phase lags a 0.2 Hz group phase they are coupled to (radians)."""
    ds = [SimulatedDreamer(seed, MIXED) for seed in range(8)]
    order, lag = [], []
    for k in range(int(seconds / 0.25)):
        t = 0.25 * k
        for d in ds:
            d.couple(strength, 2 * math.pi * 0.2 * t)
            d.read(t + 0.25)
        z = np.mean(np.exp(1j * np.array([d.breath_phase for d in ds])))
        order.append(abs(z))
        lag.append(np.angle(np.exp(2j * math.pi * 0.2 * (t + 0.25)) / z))
    return np.array(order), np.array(lag)


def test_uncoupled_dreamers_breathe_out_of_step() -> None:
    assert order_parameters(0.0)[0].mean() < 0.5


def test_coupled_dreamers_fall_into_step_with_the_group() -> None:
    r, lag = order_parameters(1.0)
    minute = int(60 / 0.25)
    assert r[:minute].max() > 0.9  # within a minute
    assert r[minute:].min() > 0.9  # and stay in step
    assert np.abs(lag[minute:]).max() < 0.5  # with the group, not against it


def test_breath_phase_is_the_phase_of_the_belt() -> None:
    d = SimulatedDreamer(2, pure("N2"))
    phases, belt = [], []
    for k in range(1, 240):
        belt.append(d.read(k * 0.25)["resp"])
        phases.append(d.breath_phase)
    resp = np.concatenate(belt)
    # phase 0 is the end of exhale: belt near its minimum; pi/2.. inhale has ended
    at = np.array([resp[8 * (k + 1) - 1] for k in range(len(phases))])
    ph = np.array(phases)
    assert at[np.cos(ph) > 0.9].mean() < -0.5
    assert at[np.abs(ph - 0.4 * 2 * math.pi) < 0.3].mean() > 0.5


# --- hypnogram -----------------------------------------------------------------------


def test_mix_crossfades_around_a_boundary() -> None:
    h = Hypnogram.from_pairs([(0, "W"), (100, "N2")])
    assert h.mix(89.9) == {"W": 1.0, "N1": 0.0, "N2": 0.0, "N3": 0.0, "REM": 0.0}
    assert h.mix(100.0)["W"] == pytest.approx(0.5) and h.mix(100.0)["N2"] == pytest.approx(0.5)
    assert h.mix(110.1)["N2"] == 1.0
    w = [h.mix(t)["N2"] for t in np.linspace(90, 110, 41)]
    assert np.all(np.diff(w) > 0)
    assert h.stage_at(99.9) == "W" and h.stage_at(100.0) == "N2" and h.stage_at(-5) == "W"


@settings(max_examples=100, deadline=None)
@given(
    segments=st.lists(
        st.tuples(st.floats(0.5, 200.0), st.sampled_from(STAGES)), min_size=1, max_size=12
    ),
    transition=st.floats(0.0, 60.0),
    where=st.floats(-0.2, 1.2),
)
def test_mix_is_a_partition_of_unity(
    segments: list[tuple[float, str]], transition: float, where: float
) -> None:
    times = np.concatenate([[0.0], np.cumsum([s[0] for s in segments])[:-1]])
    h = Hypnogram(tuple(times), tuple(s[1] for s in segments), transition)
    t = where * (times[-1] + 10.0)
    m = h.mix(t)
    assert set(m) == set(STAGES)
    assert sum(m.values()) == pytest.approx(1.0, abs=1e-12)
    assert min(m.values()) >= -1e-12
    if all(abs(t - b) >= transition / 2 for b in times[1:]):
        assert m[h.stage_at(t)] == pytest.approx(1.0)


def test_hypnogram_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="map R to REM"):
        Hypnogram.from_epochs(["W", "R"])
    with pytest.raises(ValueError, match="increase"):
        Hypnogram.from_pairs([(0, "W"), (0, "N1")])
    with pytest.raises(ValueError):
        Hypnogram((), ())
    with pytest.raises(ValueError, match="transition"):
        Hypnogram((0.0,), ("W",), transition=-1.0)
    with pytest.raises(ValueError, match="positive"):
        SimulatedDreamer(0, MIXED, heart_rate=float("nan"))


def test_from_epochs_with_a_real_hypnogram(data_dir: Path) -> None:
    path = data_dir / "biosignals" / "eeg" / "yasa_sub-02_hypno_30s.txt"
    if not path.is_file():
        pytest.skip(f"real hypnogram not found at {path}")
    letters = path.read_text().split()
    stages = ["REM" if s == "R" else s for s in letters]
    h = Hypnogram.from_epochs(stages)
    assert len(h.times) == len(stages) and h.times[-1] == 30.0 * (len(stages) - 1)
    for i, s in enumerate(stages):
        assert h.stage_at(30.0 * i + 15.0) == s
        assert h.mix(30.0 * i + 15.0)[s] == pytest.approx(1.0)  # 15 s from each edge
    # a dreamer follows it: from the last minutes of N2 into N3, delta takes over
    n3 = stages.index("N3")
    d = SimulatedDreamer(0, Hypnogram.from_epochs(stages[n3 - 4 :]))
    light = shares(d.read(60.0)["eeg"])[0]["delta"]
    d.read(150.0)
    deep = shares(d.read(210.0)["eeg"])[0]["delta"]
    assert stages[n3 - 4 : n3] == ["N2"] * 4 and deep > light + 0.15
