"""Recorded biosignals from disk: BioSPPy/YASA text, npz, EDF/EDF+, WFDB, hypnograms.

`load(path)` gives a `Recording` of named channels, each with its own rate (WFDB and
EDF records may mix rates). Samples a file flags as invalid stay NaN: the loader is
faithful to the file and the feature code copes with gaps. Every failure is a
`RecordingError` naming the file.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("oneiric.recordings")
STAGES = ("W", "N1", "N2", "N3", "REM")
EPOCH_S = 30.0
# WFDB beat annotation codes (rhythm, noise and comment markers like + ~ | " are not beats).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
_WFDB_SUFFIXES = {".hea", ".dat", ".mat", ".atr", ".qrs", ".ecg"}
_RATE_KEYS = ("fs", "sf", "sfreq", "sampling_rate", "srate", "rate")
_NAME_KEYS = ("chan", "chans", "ch_names", "channels", "names", "labels")
# Letters and numbers (YASA convention 0..4) to stages; None marks an unscored epoch.
_STAGE_WORDS: dict[str, str | None] = {
    "w": "W", "wake": "W", "0": "W", "n1": "N1", "1": "N1", "n2": "N2", "2": "N2",
    "n3": "N3", "n4": "N3", "3": "N3", "r": "REM", "rem": "REM", "4": "REM",
    "-1": None, "-2": None, "art": None, "uns": None, "?": None, "m": None,
}  # fmt: skip


# The labels each rig signal goes by in real files (recordings lowercase a name and join
# its words with "_"; a label matches one of those words), most telling first.
SIGNAL_LABELS: dict[str, tuple[str, ...]] = {
    "ecg": ("ecg", "ekg", "ii", "mlii", "i", "mcl1", "v", "v1", "v2", "v5", "iii", "avr"),
    "ppg": ("ppg", "pleth", "bvp", "pulse", "spo2_pleth"),
    "resp": (
        "resp", "rsp", "respiration", "breath", "breathing", "rip", "thorax", "thor",
        "chest", "abdomen", "abdo", "abd", "airflow", "flow", "nasal", "thermistor",
    ),
    "eeg": (
        "eeg", "fpz", "cz", "c3", "c4", "pz", "oz", "o1", "o2", "fz", "f3", "f4", "fp1",
        "fp2", "af7", "af8", "tp9", "tp10", "m1", "m2",
    ),
    "eog": ("eog", "loc", "roc", "e1", "e2", "heog", "veog", "horizontal"),
}  # fmt: skip
# words in a file's name that say what its one column is
_FILE_WORDS = {
    "resp": ("resp", "rsp", "respiration", "breath", "breathing", "rip", "thorax", "abdomen",
             "airflow"),
    "ppg": ("ppg", "pleth", "bvp"),
    "ecg": ("ecg", "ekg"),
    "eog": ("eog",),
    "eeg": ("eeg",),
}  # fmt: skip
# other signals a file may hold that the rig does not read (named so a warning can say so)
OTHER_KINDS = ("emg", "eda", "gsr", "abp", "spo2", "temp", "acc", "hr")


def label(name: str) -> str:
    """A channel name as recordings store it: lowercase, non-alphanumerics to '_'."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_") or "ch"


class RecordingError(ValueError):
    """A recording file that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    data: np.ndarray  # float64, 1-D
    fs: float  # samples per second
    unit: str = ""  # physical unit as the file states it; "" when unknown

    @property
    def duration(self) -> float:
        return len(self.data) / self.fs


@dataclass(frozen=True, slots=True)
class Annotation:
    onset: float  # seconds from the start of the recording
    duration: float
    text: str


@dataclass(frozen=True, slots=True)
class Recording:
    path: Path
    channels: dict[str, Channel] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()

    def __getitem__(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise RecordingError(
                f"{self.path}: no channel {name!r} in {list(self.channels)}"
            ) from None

    @property
    def duration(self) -> float:
        return max((c.duration for c in self.channels.values()), default=0.0)


def _unique_names(names: Iterable[str]) -> list[str]:
    """Lowercase, non-alphanumerics to '_', and a numeric suffix on repeats."""
    out: list[str] = []
    for raw in names:
        base = label(raw)
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}_{n}"
        out.append(name)
    return out


def _make(path: Path, names: list[str], arrays: list[np.ndarray], rates: list[float],
          units: list[str], annotations: tuple[Annotation, ...] = ()) -> Recording:  # fmt: skip
    chans = {}
    for name, data, fs, unit in zip(_unique_names(names), arrays, rates, units, strict=True):
        arr = np.asarray(data, dtype=np.float64).ravel()
        if not (np.isfinite(fs) and fs > 0):
            raise RecordingError(f"{path}: channel {name!r} has no valid sampling rate ({fs})")
        chans[name] = Channel(name, arr, float(fs), unit)
    return Recording(path, chans, annotations)


def _rate_from_name(path: Path) -> float | None:
    m = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)\s*hz", path.stem, re.IGNORECASE)
    return float(m.group(1)) if m else None


def _kind_from_name(path: Path) -> str:
    """'biosppy_eeg_ec' -> 'eeg', 'rsp' -> 'resp': the first signal kind the file name
    mentions by any of its labels, else 'eeg' (header-less single columns are EEG in
    YASA's files), with a warning: a set's `channels` table can say otherwise."""
    for tok in re.split(r"[^0-9a-z]+", path.stem.lower()):
        if tok in OTHER_KINDS:
            return tok
        for sig, words in _FILE_WORDS.items():
            if tok in words:
                return sig
    log.warning(
        "%s: its name says no signal (resp, ppg, ecg, eeg...): its columns are taken as EEG;"
        ' a set names them with channels = {resp = "eeg"}',
        path,
    )
    return "eeg"


def _load_text(path: Path) -> Recording:
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    header = [ln.lstrip("#").strip() for ln in lines if ln.startswith("#")]
    body = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    if not body:
        raise RecordingError(f"{path}: no samples")
    # A column of stage letters, or a file named like a hypnogram, is a hypnogram.
    letters = all(t.lower() in _STAGE_WORDS and not t.lstrip("-").isdigit() for t in body[:50])
    if letters or "hypno" in path.stem.lower():
        return Recording(path, {}, _stage_annotations(path, body))
    # BioSPPy writes "# Sampling Rate (Hz):= 1000.00"; plain "# Sampling Rate: 1000" works too.
    pairs = (h.partition(":=") if ":=" in h else h.partition(":") for h in header)
    meta = {k.strip().lower(): v.strip() for k, _, v in pairs}
    rate = next((v for k, v in meta.items() if k.startswith(("sampling rate", "fs"))), None)
    try:
        fs = float(rate.split()[0]) if rate else _rate_from_name(path)
    except (ValueError, IndexError):
        raise RecordingError(f"{path}: unreadable sampling rate {rate!r} in the header") from None
    if fs is None:
        raise RecordingError(f"{path}: no sampling rate in a '# Sampling Rate' header or the name")
    try:
        data = np.loadtxt(body, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise RecordingError(f"{path}: not numeric samples ({exc})") from None
    labels = meta.get("labels", "").split("\t")
    names = labels if len(labels) == data.shape[1] and data.shape[1] > 1 else None
    names = names or [_kind_from_name(path)] * data.shape[1]
    unit = "adc" if "resolution" in meta else ""  # BioSPPy 12-bit files hold raw ADC counts
    n = data.shape[1]
    return _make(path, names, list(data.T), [fs] * n, [unit] * n)


def _load_npz(path: Path) -> Recording:
    if not zipfile.is_zipfile(path):  # else numpy blames pickling, which misleads
        raise RecordingError(f"{path}: not an npz (zip) archive")
    with np.load(path, allow_pickle=False) as z:
        items = {k: z[k] for k in z.files}
    fs_key = next((k for k in _RATE_KEYS if k in items and items[k].size == 1), None)
    fs = float(items.pop(fs_key)) if fs_key else _rate_from_name(path)
    if fs is None:
        raise RecordingError(f"{path}: no rate key ({'/'.join(_RATE_KEYS)}) and no NNHz in name")
    name_key = next((k for k in _NAME_KEYS if k in items and items[k].dtype.kind in "US"), None)
    labels = [str(s) for s in items.pop(name_key).ravel()] if name_key else []
    names: list[str] = []
    arrays: list[np.ndarray] = []
    for key, arr in items.items():
        if arr.dtype.kind not in "fiu" or arr.ndim not in (1, 2) or arr.size < 2:
            continue
        if arr.ndim == 1:
            names.append(key)
            arrays.append(arr)
            continue
        # Rows are channels unless the labels (or the shape) say columns are.
        rows = arr if len(labels) == arr.shape[0] or arr.shape[0] <= arr.shape[1] else arr.T
        names += labels if len(labels) == rows.shape[0] else [f"{key}{i}" for i in range(len(rows))]
        arrays += list(rows)
    if not arrays:
        raise RecordingError(f"{path}: no numeric signal arrays (keys: {list(items)})")
    return _make(path, names, arrays, [fs] * len(arrays), [""] * len(arrays))


def _load_edf(path: Path) -> Recording:
    import edfio

    try:
        edf = edfio.read_edf(path)
        sigs = edf.signals
        notes = tuple(Annotation(a.onset, a.duration or 0.0, a.text) for a in edf.annotations)
    except Exception as exc:  # edfio raises several kinds on malformed headers
        raise RecordingError(f"{path}: not a readable EDF/EDF+ file ({exc})") from None
    return _make(path, [s.label for s in sigs], [s.data for s in sigs],
                 [s.sampling_frequency for s in sigs], [s.physical_dimension for s in sigs],
                 notes)  # fmt: skip


def _wfdb_base(path: Path) -> Path:
    return path.with_suffix("") if path.suffix.lower() in _WFDB_SUFFIXES else path


def _load_wfdb(path: Path) -> Recording:
    import wfdb

    base = _wfdb_base(path)
    try:
        # smooth_frames=False keeps each signal at its own rate (fs * samples per frame).
        rec = wfdb.rdrecord(str(base), smooth_frames=False)
    except Exception as exc:  # wfdb raises bare Exceptions, ValueErrors and OSErrors
        raise RecordingError(f"{path}: not a readable WFDB record ({exc})") from None
    sigs = rec.e_p_signal or []
    rates = [float(rec.fs) * spf for spf in rec.samps_per_frame]
    return _make(path, list(rec.sig_name), list(sigs), rates, list(rec.units))


def load(path: str | Path) -> Recording:
    """Read any supported recording; the format comes from the suffix (and contents)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _WFDB_SUFFIXES or (not p.exists() and p.with_suffix(".hea").exists()):
        if not _wfdb_base(p).with_suffix(".hea").exists():
            raise RecordingError(f"{p}: no WFDB header {_wfdb_base(p).with_suffix('.hea').name}")
        return _load_wfdb(p)
    if not p.is_file():
        raise RecordingError(f"{p}: no such file")
    if suffix == ".edf":
        return _load_edf(p)
    if suffix == ".npz":
        try:
            return _load_npz(p)
        except RecordingError:
            raise
        except Exception as exc:  # a damaged zip raises BadZipFile, OSError, ValueError...
            raise RecordingError(f"{p}: not a readable npz archive ({exc})") from None
    if suffix in {".txt", ".csv", ".tsv", ""}:
        return _load_text(p)
    raise RecordingError(f"{p}: unknown recording format {suffix!r}")


def load_annotations(path_base: str | Path, extension: str = "atr") -> tuple[np.ndarray, list[str]]:
    """WFDB annotations: (sample indices, symbols). Filter beats with BEAT_SYMBOLS."""
    import wfdb

    base = _wfdb_base(Path(path_base))
    try:
        ann = wfdb.rdann(str(base), extension)
    except Exception as exc:
        raise RecordingError(f"{base}.{extension}: not readable WFDB annotations ({exc})") from None
    return np.asarray(ann.sample, dtype=np.int64), list(ann.symbol or [])


def _stage_annotations(path: Path, tokens: list[str]) -> tuple[Annotation, ...]:
    notes = []
    for i, tok in enumerate(tokens):
        if tok.lower() not in _STAGE_WORDS:
            raise RecordingError(f"{path}: epoch {i + 1}: {tok!r} is not a sleep stage")
        stage = _STAGE_WORDS[tok.lower()]
        notes.append(Annotation(i * EPOCH_S, EPOCH_S, f"Sleep stage {stage or '?'}"))
    return tuple(notes)


def load_hypnogram(path: str | Path) -> list[str | None]:
    """30-s epochs as "W", "N1", "N2", "N3", "REM"; None where unscored (kept for timing).

    Reads text hypnograms (letters, or YASA numbers 0..4 = W, N1, N2, N3, REM) and
    Sleep-EDF annotation files ("Sleep stage 3" and "4" both -> N3, "?" -> None).
    Unscored epochs at the end are dropped.
    """
    rec = load(path)
    epochs: list[str | None] = []
    for note in rec.annotations:
        if not note.text.startswith("Sleep stage "):
            continue
        word = note.text.removeprefix("Sleep stage ").strip().lower()
        stage = _STAGE_WORDS.get({"4": "n4", "3": "n3", "2": "n2", "1": "n1"}.get(word, word))
        start, count = round(note.onset / EPOCH_S), round(note.duration / EPOCH_S)
        if len(epochs) < start + count:
            epochs += [None] * (start + count - len(epochs))
        epochs[start : start + count] = [stage] * count
    while epochs and epochs[-1] is None:
        epochs.pop()
    if not epochs:
        raise RecordingError(f"{path}: no sleep stages found")
    return epochs
