"""Stream a recording over UDP OSC the way a real app would (Mind Monitor, EmotiBit, OpenBCI).

`send(recording, as_format, to)` turns a recording's channels into that app's messages
(FORMATS.md in the shared data folder) and paces them against `time.perf_counter`:
every packet has a due time counted from the start (never from the previous packet),
so a late wake-up is caught up at once and the stream never drifts.

- mind-monitor: /muse/eeg, 4 floats (TP9 AF7 AF8 TP10) per sample at 256 Hz (EEG
  resampled with resample_poly; a mono channel is copied to the 4 electrodes), plus
  /muse/elements/{delta..gamma}_absolute, 1 float ("Average" setting) in Bels at 10 Hz
  from the last 256 samples. The Muse is unipolar (0..1682.8 uV): a zero-centred
  recording is shifted to the middle of that span, like the headband's own offset.
- emotibit: /EmotiBit/0/PPG:RED, PPG:IR and PPG:GRN, as the Oscilloscope's default
  output settings send them (each LED its own stream; RED and GRN are the recording's
  pulse at the gains and offsets those LEDs read), and EDA when there is one; 25 Hz
  (EDA 15 Hz), a few samples per message, one message per "packet".
- openbci: /openbci/time-series-raw/ch{i}, i from 0, 250 Hz, N samples per message; a
  recording with fewer EEG channels than `channels` (a Cyton sends 8) is copied across.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import re
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from engine.features.dsp import BANDS, welch_bands
from engine.sources.osc import Endpoint
from engine.sources.recordings import Channel, Recording, RecordingError, load

FORMATS = ("mind-monitor", "emotibit", "openbci")
MUSE_RATE = 256.0
MUSE_SPAN = 1682.815  # the Muse ADC's span in microvolts
MUSE_BANDS = ("delta", "theta", "alpha", "beta", "gamma")
BAND_EVERY = 0.1  # s: Mind Monitor updates its elements at about 10 Hz
BAND_WINDOW = 256  # samples
EMOTIBIT_PPG_RATE = 25.0
EMOTIBIT_EDA_RATE = 15.0
EMOTIBIT_PER_MESSAGE = 3  # samples per packet
OPENBCI_RATE = 250.0
OPENBCI_PER_MESSAGE = 10  # samples per message per channel (25 messages/s/channel)
OPENBCI_MAX_CHANNELS = 16
_SCALE_TO_UV = {"uv": 1.0, "µv": 1.0, "mv": 1e3, "v": 1e6}
_EEG_NAME = re.compile(r"eeg|^(fp|af|fc|ft|cp|tp|po|[fctpo])(z|\d)")

Packet = tuple[float, bytes]  # (recording seconds when due, datagram)


@dataclass(frozen=True, slots=True)
class SendStats:
    messages: int  # OSC messages (= datagrams: these apps do not bundle)
    seconds: float  # wall-clock seconds spent sending
    bytes: int = 0
    late_max: float = 0.0  # the latest a packet left after its due time, s


# ---------------------------------------------------------------- OSC encoding


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def osc_message(address: str, floats: np.ndarray | list[float]) -> bytes:
    """One OSC message of float32 arguments (the only type these streams use)."""
    n = len(floats)
    return (
        _pad(address.encode("ascii"))
        + _pad(b"," + b"f" * n)
        + struct.pack(f">{n}f", *np.asarray(floats, dtype=np.float64).tolist())
    )


# ---------------------------------------------------------------- picking and resampling


def _clean(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    ok = np.isfinite(a)
    if ok.all() or not ok.any():
        return np.nan_to_num(a)
    idx = np.arange(len(a))
    return np.interp(idx, idx[ok], a[ok])


def _resample(ch: Channel, rate: float, seconds: float | None) -> np.ndarray:
    """The channel at `rate` (finite throughout), only as much as `seconds` needs."""
    x = ch.data
    if seconds is not None:
        x = x[: math.ceil((seconds + 1.0) * ch.fs)]  # a margin for the filter's edge
    x = _clean(x)
    if ch.fs != rate:
        ratio = Fraction(rate / ch.fs).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator)
    n = len(x) if seconds is None else min(len(x), round(seconds * rate))
    return np.asarray(x[:n], dtype=np.float64)


def _uv(ch: Channel) -> float:
    return _SCALE_TO_UV.get(ch.unit.strip().lower(), 1.0)


def _pick(rec: Recording, *words: str) -> list[Channel]:
    return [c for k, c in rec.channels.items() if any(w in k for w in words)]


def _eeg(rec: Recording) -> list[Channel]:
    return [c for k, c in rec.channels.items() if _EEG_NAME.search(k)]


# ---------------------------------------------------------------- packet streams


def _mind_monitor(
    rec: Recording, seconds: float | None, channels: int | None = None
) -> tuple[list[Iterator[Packet]], float]:
    chans = _eeg(rec)[:4]
    if not chans:
        raise RecordingError(f"{rec.path}: no EEG channel to send as Mind Monitor")
    data = [_resample(c, MUSE_RATE, seconds) * _uv(c) for c in chans]
    n = min(len(d) for d in data)
    block = np.stack([d[:n] for d in data], axis=1)
    if block.shape[1] < 4:  # mono (or fewer than 4): copy to the 4 electrodes
        block = block[:, np.arange(4) % block.shape[1]]
    raw = np.concatenate([c.data * _uv(c) for c in chans])
    if n and not (np.nanmin(raw) >= 0.0 and np.nanmax(raw) <= MUSE_SPAN):
        block = block - block.mean(axis=0) + MUSE_SPAN / 2  # zero-centred: the Muse's offset
    block = np.clip(block, 0.0, MUSE_SPAN)

    def eeg() -> Iterator[Packet]:
        for i in range(n):
            yield i / MUSE_RATE, osc_message("/muse/eeg", block[i])

    beta = [i for i, b in enumerate(BANDS) if b in ("sigma", "beta")]
    rows = [[list(BANDS).index(b)] for b in ("delta", "theta", "alpha")]
    rows += [beta, [list(BANDS).index("gamma")]]

    def bands() -> Iterator[Packet]:
        step = round(BAND_EVERY * MUSE_RATE)
        for end in range(BAND_WINDOW, n + 1, step):
            t = (end - 1) / MUSE_RATE  # with the window's last sample
            win = block[end - BAND_WINDOW : end]
            power = np.stack([welch_bands(win[:, c], MUSE_RATE, BAND_WINDOW) for c in range(4)])
            bels = np.log10(np.maximum([power[:, r].sum(axis=1) for r in rows], 1e-10))
            for name, per_electrode in zip(MUSE_BANDS, bels, strict=True):
                # "Average" setting: the electrodes' mean, in Bels
                yield t, osc_message(f"/muse/elements/{name}_absolute", [per_electrode.mean()])

    return [eeg(), bands()], n / MUSE_RATE


def _blocks(address: str, x: np.ndarray, rate: float, per: int) -> Iterator[Packet]:
    """Messages of `per` samples, each due when its last sample exists."""
    for i in range(0, len(x), per):
        chunk = x[i : i + per]
        yield (i + len(chunk) - 1) / rate, osc_message(address, chunk)


EMOTIBIT_LEDS = {"RED": (0.7, 0.2), "IR": (1.0, 0.0), "GRN": (1.6, -0.1)}  # gain, offset


def _emotibit(
    rec: Recording, seconds: float | None, channels: int | None = None
) -> tuple[list[Iterator[Packet]], float]:
    ppg = _pick(rec, "ppg", "pleth")
    eda = _pick(rec, "eda", "gsr")
    if not ppg and not eda:
        raise RecordingError(f"{rec.path}: no PPG or EDA channel to send as EmotiBit")
    streams = []
    length = 0.0
    per = EMOTIBIT_PER_MESSAGE
    if ppg:
        x = _resample(ppg[0], EMOTIBIT_PPG_RATE, seconds)
        spread = float(np.std(x)) or 1.0
        for led, (gain, offset) in EMOTIBIT_LEDS.items():
            y = gain * x + offset * spread
            streams.append(_blocks(f"/EmotiBit/0/PPG:{led}", y, EMOTIBIT_PPG_RATE, per))
        length = max(length, len(x) / EMOTIBIT_PPG_RATE)
    if eda:
        x = _resample(eda[0], EMOTIBIT_EDA_RATE, seconds)
        streams.append(_blocks("/EmotiBit/0/EDA", x, EMOTIBIT_EDA_RATE, per))
        length = max(length, len(x) / EMOTIBIT_EDA_RATE)
    return streams, length


def _openbci(
    rec: Recording, seconds: float | None, channels: int | None = None
) -> tuple[list[Iterator[Packet]], float]:
    chans = _eeg(rec) or list(rec.channels.values())  # no EEG: every channel as ExG
    if not chans:
        raise RecordingError(f"{rec.path}: no channels to send as OpenBCI")
    if channels is not None:  # a Cyton's 8 (or a Daisy's 16) from fewer: copied across
        chans = [chans[i % len(chans)] for i in range(min(channels, OPENBCI_MAX_CHANNELS))]
    streams = []
    length = 0.0
    for i, ch in enumerate(chans[:OPENBCI_MAX_CHANNELS]):
        x = _resample(ch, OPENBCI_RATE, seconds) * _uv(ch)
        address = f"/openbci/time-series-raw/ch{i}"
        streams.append(_blocks(address, x, OPENBCI_RATE, OPENBCI_PER_MESSAGE))
        length = max(length, len(x) / OPENBCI_RATE)
    return streams, length


_BUILDERS = {"mind-monitor": _mind_monitor, "emotibit": _emotibit, "openbci": _openbci}


def packets(
    recording: Recording | str | Path,
    as_format: str,
    *,
    duration: float | None = None,
    loop: bool = False,
    channels: int | None = None,
) -> Iterator[Packet]:
    """Every datagram with its due time in recording seconds, in time order (lazy).
    `channels`: how many EEG channels an OpenBCI stream has (copies of the file's)."""
    if as_format not in _BUILDERS:
        raise ValueError(f"unknown format {as_format!r}; one of {', '.join(FORMATS)}")
    rec = recording if isinstance(recording, Recording) else load(recording)
    if duration is not None and duration <= 0:
        return iter(())
    one_pass = None if loop else duration
    _streams, length = _BUILDERS[as_format](rec, one_pass, channels)
    if length <= 0:
        return iter(())

    def gen() -> Iterator[Packet]:
        for k in itertools.count():
            streams = _streams if k == 0 else _BUILDERS[as_format](rec, one_pass, channels)[0]
            offset = k * length
            for t, data in heapq.merge(*streams, key=lambda p: p[0]):
                t += offset
                if duration is not None and t >= duration:
                    return
                yield t, data
            if not loop:
                return

    return gen()


# ---------------------------------------------------------------- sending


def send(
    recording_path: str | Path | Recording,
    as_format: str,
    to: Endpoint,
    *,
    speed: float = 1.0,
    duration: float | None = None,
    loop: bool = False,
    channels: int | None = None,
) -> SendStats:
    """Stream `recording_path` to `to` in `as_format`, in real time (x `speed`).

    `duration` is in recording seconds (2 s at speed 4 takes 0.5 s). Every packet is
    due at start + t / speed; the sender sleeps until then and sends whatever is due,
    so lateness never accumulates. Stops at the end (or never with `loop` and no
    `duration`: interrupt it).
    """
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    stream = packets(recording_path, as_format, duration=duration, loop=loop, channels=channels)
    messages = sent_bytes = 0
    late_max = 0.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    address = (to.host, to.port)
    start = time.perf_counter()
    try:
        for t, data in stream:
            due = start + t / speed
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
                now = time.perf_counter()
            late_max = max(late_max, now - due)
            sock.sendto(data, address)
            messages += 1
            sent_bytes += len(data)
    finally:
        sock.close()
    return SendStats(messages, time.perf_counter() - start, sent_bytes, late_max)


# ---------------------------------------------------------------- command line


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`performance.py send RECORDING --as FMT --to HOST:PORT [--speed --duration --loop]`."""
    p = subparsers.add_parser(
        "send", help="stream a recording over OSC as Mind Monitor, EmotiBit or OpenBCI would"
    )
    p.add_argument("recording", help="a recording file (txt, npz, EDF, WFDB record)")
    p.add_argument("--as", dest="as_format", choices=FORMATS, required=True, help="app format")
    p.add_argument("--to", default="127.0.0.1:5000", help="HOST:PORT or PORT (default %(default)s)")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    p.add_argument("--duration", type=float, default=None, help="recording seconds to send")
    p.add_argument("--loop", action="store_true", help="start over at the end")
    p.add_argument(
        "--channels", type=int, default=None, help="OpenBCI: EEG channels to send (Cyton: 8)"
    )
    p.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    try:
        to = Endpoint.parse(args.to)
        print(f"sending {args.recording} as {args.as_format} to {to.host}:{to.port}", flush=True)
        stats = send(
            args.recording,
            args.as_format,
            to,
            speed=args.speed,
            duration=args.duration,
            loop=args.loop,
            channels=args.channels,
        )
    except KeyboardInterrupt:
        print("stopped")
        return 0
    except (RecordingError, ValueError, OSError) as exc:
        print(f"send: {exc}")
        return 2
    rate = stats.messages / stats.seconds if stats.seconds > 0 else 0.0
    print(f"sent {stats.messages} messages in {stats.seconds:.2f} s ({rate:.0f}/s)")
    return 0


__all__ = ["FORMATS", "SendStats", "add_parser", "osc_message", "packets", "run_cli", "send"]
