"""A BrainFlow board as a dreamer's source (OpenBCI, Muse, Neurosity, ..., or the
synthetic board, which needs no hardware).

`BrainFlowSource(board_id, params)` prepares the board's session and starts its stream;
`read(t_end)` drains what the board has buffered since the last read, without
blocking, into the rig's signals: "eeg" (the board's EEG channels averaged, or the
first), "ecg" and "ppg" where the board has such channels. Each signal comes at the
sampling rate of the board preset that carries it (a Muse streams EEG at 256 Hz in
its default preset and PPG at 64 Hz in its ancillary one). Like the network's
sources, `read` ignores t_end: a live board has no past to seek in, only what came.

BrainFlow reports EEG and ECG in microvolts; the rig's ECG is in millivolts (the
simulator's scale), so ECG is divided by 1000. ExG boards list the same rows as EEG,
ECG, EMG and EOG (the synthetic board, OpenBCI): which one a row carries depends on
where the electrode sits, so a row that is also an EEG channel is never taken as ECG
by default; pass `channels={"ecg": [row]}` to say which row is on the chest.

A board that stops answering mid-show (a headband's Bluetooth drops, the dongle is
pulled, the SDK loses the session) is a drop-out, not a crash: `read` logs it once,
gives nothing (so the dreamer's presence fades), and tries to open the session again
every `RETRY_SECONDS` until the board is back.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brainflow.board_shim import (
    BoardIds,
    BoardShim,
    BrainFlowError,
    BrainFlowInputParams,
)

SIGNALS = ("eeg", "ecg", "ppg")  # what a BrainFlow board can give a dreamer
_DESCR_KEYS = {"eeg": "eeg_channels", "ecg": "ecg_channels", "ppg": "ppg_channels"}
_SCALE = {"ecg": 1e-3}  # BrainFlow's uV -> the rig's mV
BUFFER_SECONDS = 60.0  # the board's ring buffer, should reads stall
RETRY_SECONDS = 2.0  # how often a board that dropped out is asked to come back
log = logging.getLogger("oneiric.brainflow")


class BrainFlowSourceError(RuntimeError):
    pass


def _board_value(board_id: BoardIds | int) -> int:
    return int(board_id.value if isinstance(board_id, BoardIds) else board_id)


def board_layout(
    board_id: BoardIds | int, signals: Sequence[str] = SIGNALS
) -> dict[str, tuple[int, list[int], float]]:
    """Rig signal -> (preset, data rows, sampling rate) for what `board_id` carries,
    from BrainFlow's board description (no session needed). ECG rows that are also EEG
    rows are left out (see the module doc)."""
    bid = _board_value(board_id)
    try:
        presets = sorted(int(p) for p in BoardShim.get_board_presets(bid))
    except BrainFlowError as e:
        raise BrainFlowSourceError(f"BrainFlow does not know board {board_id!r}: {e}") from e
    out: dict[str, tuple[int, list[int], float]] = {}
    eeg_rows: set[int] = set()
    for preset in presets:
        descr = BoardShim.get_board_descr(bid, preset)
        eeg_rows |= set(descr.get("eeg_channels", []))
    for sig in signals:
        if sig not in _DESCR_KEYS:
            raise BrainFlowSourceError(f"unknown signal {sig!r}; a board can give {SIGNALS}")
        for preset in presets:
            descr = BoardShim.get_board_descr(bid, preset)
            rows = [int(r) for r in descr.get(_DESCR_KEYS[sig], [])]
            if sig == "ecg":
                rows = [r for r in rows if r not in eeg_rows]
            if rows:
                out[sig] = (preset, rows, float(descr["sampling_rate"]))
                break
    return out


class BrainFlowSource:
    """One BrainFlow board streaming into a dreamer (see the module doc).

    `channels` overrides the rows a signal reads ({"ecg": [3]}; rows of the default
    preset unless the signal's preset says otherwise); `reduce` is "mean" (every row
    of a signal averaged: the dreamer's one EEG derivation) or "first". `config` holds
    board commands sent after the session is prepared (a Muse's "p61" turns PPG on).
    `present(t)` is true while samples arrived within `silence` seconds of show time t.
    """

    def __init__(
        self,
        board_id: BoardIds | int = BoardIds.SYNTHETIC_BOARD,
        params: BrainFlowInputParams | None = None,
        *,
        signals: Sequence[str] = SIGNALS,
        channels: Mapping[str, Sequence[int]] | None = None,
        reduce: str = "mean",
        config: Sequence[str] = (),
        silence: float = 3.0,
    ) -> None:
        if reduce not in ("mean", "first"):
            raise BrainFlowSourceError(f"reduce must be 'mean' or 'first', not {reduce!r}")
        self.board_id = _board_value(board_id)
        self.reduce, self.silence = reduce, float(silence)
        layout = board_layout(self.board_id, signals)
        for sig, rows in (channels or {}).items():
            if sig not in SIGNALS:
                raise BrainFlowSourceError(f"channels names unknown signal {sig!r} ({SIGNALS})")
            preset = layout[sig][0] if sig in layout else 0
            fs = float(BoardShim.get_sampling_rate(self.board_id, preset))
            layout[sig] = (preset, [int(r) for r in rows], fs)
        if not layout:
            raise BrainFlowSourceError(
                f"board {self.board_id} has no {'/'.join(signals)} channels; pass channels"
            )
        self.layout = layout
        self.rates = {sig: fs for sig, (_, _, fs) in layout.items()}
        self.quality: float | None = None
        self.bands: dict[str, float] | None = None
        self.last_seen = -math.inf  # show time of the last read that brought samples
        self.board = BoardShim(self.board_id, params or BrainFlowInputParams())
        self.config = tuple(config)
        self._open = self._streaming = False
        self.dropouts = 0  # times the board stopped answering
        self._retry_at: float | None = None  # monotonic time of the next reconnect, if lost
        try:
            self._start()
        except BrainFlowError as e:
            self.close()
            raise BrainFlowSourceError(
                f"BrainFlow board {self.board_id} could not start streaming: {e}"
            ) from e

    def _start(self) -> None:
        self.board.prepare_session()
        self._open = True
        for command in self.config:
            self.board.config_board(command)
        self.board.start_stream(int(BUFFER_SECONDS * max(self.rates.values())))
        self._streaming = True

    def _lost(self, error: BrainFlowError) -> None:
        """The board stopped answering: let the session go, try again in a while."""
        self.dropouts += 1
        log.warning(
            "BrainFlow board %s stopped answering (%s): its dreamer fades out; "
            "reconnecting every %g s",
            self.board_id,
            error,
            RETRY_SECONDS,
        )
        self._release()
        self._retry_at = time.monotonic() + RETRY_SECONDS

    def _reconnect(self) -> bool:
        assert self._retry_at is not None
        if time.monotonic() < self._retry_at:
            return False
        try:
            self._start()
        except BrainFlowError:
            self._release()
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return False
        log.warning("BrainFlow board %s is back", self.board_id)
        self._retry_at = None
        return True

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        """Everything the board buffered since the last read, per signal (never blocks);
        nothing while the board is closed or has dropped out."""
        if self._retry_at is not None and not self._reconnect():
            return {}
        if not self._open:
            return {}
        data: dict[int, np.ndarray] = {}
        try:
            for preset in {p for p, _, _ in self.layout.values()}:
                data[preset] = np.asarray(self.board.get_board_data(preset=preset))
        except BrainFlowError as e:
            self._lost(e)
            return {}
        out: dict[str, np.ndarray] = {}
        for sig, (preset, rows, _) in self.layout.items():
            block = data[preset]
            if block.ndim != 2 or block.shape[1] == 0:
                out[sig] = np.zeros(0)
                continue
            picked = block[rows] if self.reduce == "mean" else block[rows[:1]]
            x = picked.mean(axis=0) * _SCALE.get(sig, 1.0)
            out[sig] = x.astype(np.float64, copy=False)
        if any(len(x) for x in out.values()) and math.isfinite(t_end):
            self.last_seen = t_end
        return out

    def present(self, t: float) -> bool:
        """Did samples arrive within `silence` seconds of show time t?"""
        return t - self.last_seen <= self.silence

    def close(self) -> None:
        """Stop the stream and release the board (safe to call twice)."""
        self._retry_at = None
        self._release()

    def _release(self) -> None:
        if self._streaming:
            self._streaming = False
            with contextlib.suppress(BrainFlowError):
                self.board.stop_stream()
        if self._open:
            self._open = False
            with contextlib.suppress(BrainFlowError):
                self.board.release_session()

    def __enter__(self) -> BrainFlowSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
