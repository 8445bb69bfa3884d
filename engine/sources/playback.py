"""A recording played back as a live source, with the interface of SimulatedDreamer.

`Playback(path_or_recording).read(t_end)` returns the samples of each mapped rig
signal ("eeg", "ecg", "resp", "ppg", "eog") whose time is < t_end and that were not
returned before, each at its channel's own rate (multi-rate WFDB records stay
multi-rate). Sample k of a signal is at source time k / fs, which is file time
`start + k / fs`. Whatever the chunking of the calls, the concatenated output is
exactly the file's samples (NaN marks of invalid samples included). With `loop`, each
channel wraps around its own length without a gap or a repeated sample; without it,
a channel stops at its end and later reads give empty arrays.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from engine.sources.recordings import SIGNAL_LABELS, Recording, RecordingError, label, load

log = logging.getLogger("oneiric.playback")

SIGNALS = ("eeg", "ecg", "resp", "ppg", "eog")

_TOKENS = SIGNAL_LABELS


def channel_map(channels: list[str], named: Mapping[str, str]) -> dict[str, str]:
    """The set's names for some signals (as the file labels them: "RSP", "Resp chest"),
    and guesses from the names of the other channels for the rest."""
    fixed = {sig: label(ch) for sig, ch in named.items()}
    rest = [c for c in channels if c not in fixed.values()]
    guessed = {s: c for s, c in guess_channel_map(rest).items() if s not in fixed}
    return {**guessed, **fixed}


def guess_channel_map(channels: list[str]) -> dict[str, str]:
    """Rig signal -> channel, from channel names: for each signal the channel whose name
    holds its most telling token (ties: the first channel); each channel used once.
    "ecg_ii", "ii", "mlii", "mcl1" -> ecg; "pleth", "ppg_pleth" -> ppg; "resp" -> resp;
    "eeg", "eeg_fpz_cz", "c3" -> eeg; "eog", "loc" -> eog."""
    used: set[str] = set()
    out: dict[str, str] = {}
    # EOG and EEG before ECG: "eog_e1_m2" must not become EEG for its "m2".
    for sig in ("ppg", "resp", "eog", "eeg", "ecg"):
        best: tuple[int, int, str] | None = None
        for pos, name in enumerate(channels):
            if name in used:
                continue
            toks = re.split(r"[^0-9a-z]+", name.lower())
            ranks = [_TOKENS[sig].index(t) for t in toks if t in _TOKENS[sig]]
            if ranks and (best is None or (min(ranks), pos) < best[:2]):
                best = (min(ranks), pos, name)
        if best is not None:
            out[sig] = best[2]
            used.add(best[2])
    return {sig: out[sig] for sig in SIGNALS if sig in out}


class Playback:
    """Plays `recording` (a Recording or a path for recordings.load) as a source."""

    def __init__(
        self,
        recording: Recording | str | Path,
        channel_map: Mapping[str, str] | None = None,
        *,
        loop: bool = False,
        start: float = 0.0,
    ) -> None:
        rec = recording if isinstance(recording, Recording) else load(recording)
        self.recording, self.loop, self.start = rec, bool(loop), float(start)
        names = list(rec.channels)
        if channel_map is None:
            cmap = guess_channel_map(names)
            if not cmap:
                raise RecordingError(
                    f"{rec.path}: no channel name looks like {'/'.join(SIGNALS)} "
                    f"(channels: {names}); pass channel_map"
                )
        else:
            cmap = dict(channel_map)
        for sig, ch in cmap.items():
            if sig not in SIGNALS:
                raise RecordingError(
                    f"{rec.path}: channel_map names unknown signal {sig!r} "
                    f"(for channel {ch!r}); signals are {SIGNALS}"
                )
            if ch not in rec.channels:
                raise RecordingError(
                    f"{rec.path}: no channel {ch!r} for signal {sig!r} (channels: {names})"
                )
        if not (math.isfinite(self.start) and self.start >= 0):
            raise RecordingError(f"{rec.path}: start must be a finite time >= 0, not {start}")
        if not self.loop and self.start >= rec.duration:
            raise RecordingError(
                f"{rec.path}: start {self.start:g} s is past the end ({rec.duration:g} s)"
            )
        self.channel_map = cmap
        for ch in names:
            if ch not in cmap.values():  # say so: a channel the rig cannot place is lost
                log.warning(
                    "%s: channel %r is not used (it looks like none of %s; a set's"
                    " channels table can name it)",
                    rec.path,
                    ch,
                    "/".join(SIGNALS),
                )
        self.unused = [ch for ch in names if ch not in cmap.values()]
        self._chans = {sig: rec.channels[ch] for sig, ch in cmap.items()}
        for sig, c in self._chans.items():
            if len(c.data) == 0:
                raise RecordingError(f"{rec.path}: channel {c.name!r} for {sig!r} is empty")
        self._offset = {sig: round(self.start * c.fs) for sig, c in self._chans.items()}
        self._given = dict.fromkeys(self._chans, 0)  # samples returned per signal

    @property
    def rates(self) -> dict[str, float]:
        """Samples per second of each mapped signal."""
        return {sig: c.fs for sig, c in self._chans.items()}

    @property
    def duration(self) -> float:
        """Seconds of playback before the first channel ends (inf when looping)."""
        if self.loop:
            return math.inf
        return min(c.duration for c in self._chans.values()) - self.start

    @property
    def finished(self) -> bool:
        """True once every channel has played to its end (never when looping)."""
        return not self.loop and all(
            self._offset[s] + self._given[s] >= len(c.data) for s, c in self._chans.items()
        )

    def seam(self, sig: str) -> int | None:
        """Where the latest loop seam of a signal is: the index, counted in samples
        given by `read`, of the file's first sample played again; None before any."""
        if not self.loop or sig not in self._chans:
            return None
        n, given = len(self._chans[sig].data), self._given[sig]
        k = given - (self._offset[sig] + given) % n
        return k if k > 0 else None

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        """New samples of each mapped signal with source time < t_end (copies)."""
        out: dict[str, np.ndarray] = {}
        for sig, c in self._chans.items():
            n, off, given = len(c.data), self._offset[sig], self._given[sig]
            # ceil with a hair of tolerance: a t_end computed as k / fs must not let
            # sample k (time == t_end) through on a rounding error.
            if math.isfinite(t_end):
                need = max(math.ceil(t_end * c.fs - 1e-9), given)
            else:  # +inf: the rest of the file (nothing more when looping); NaN/-inf: none
                need = n - off if t_end > 0 and not self.loop else given
            if not self.loop:
                need = min(need, n - off)
            a, b = off + given, off + need
            if self.loop and b > a:
                idx = np.arange(a, b) % n
                out[sig] = c.data[idx]
            else:
                out[sig] = c.data[a:b].copy()
            self._given[sig] = need
        return out
