"""A Lab Streaming Layer stream as a dreamer's source.

`LslSource(stream_type="EEG")` (or `name="..."`) resolves one stream on the network
within `timeout` seconds, opens an inlet, and `read(t_end)` pulls whatever arrived
since the last read without blocking. Channels map to rig signals by the channel
types in the stream's description (<channels><channel><type>), else by the stream's
own type: an EEG stream's channels are averaged into the dreamer's one "eeg"
derivation; ECG, PPG and respiration streams likewise. ECG in microvolts (by the
channel's <unit>) is scaled to the rig's millivolts. Like the network's sources,
`read` ignores t_end: a live stream has no past to seek in, only what came.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pylsl

SIGNALS = ("eeg", "ecg", "ppg", "resp")
# LSL type names (lowercased; XDF's conventions and what devices send) -> rig signal
TYPES = {
    "eeg": "eeg",
    "exg": "eeg",
    "ecg": "ecg",
    "ekg": "ecg",
    "ppg": "ppg",
    "pleth": "ppg",
    "bvp": "ppg",
    "resp": "resp",
    "respiration": "resp",
    "breath": "resp",
}
_MICRO = ("microvolts", "microvolt", "uv", "µv")
CHUNK = 4096  # samples per pull_chunk call; read loops until the inlet is empty


class LslSourceError(RuntimeError):
    pass


def _channel_descr(info: Any) -> list[tuple[str, str, str]]:
    """(label, type, unit) of each channel in the stream's description (may be [])."""
    out = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append((ch.child_value("label"), ch.child_value("type"), ch.child_value("unit")))
        ch = ch.next_sibling()
    return out


class LslSource:
    """One LSL stream feeding a dreamer (see the module doc).

    Pick the stream by `stream_type` and/or `name` (both: it must match both).
    `channels` overrides the mapping ({"eeg": [0, 1], "ecg": [4]}, channel indices);
    `rate` gives a rate to a stream that declares none (irregular). `present(t)` is
    true while samples arrived within `silence` seconds of show time t.
    """

    def __init__(
        self,
        stream_type: str | None = "EEG",
        *,
        name: str | None = None,
        timeout: float = 2.0,
        channels: Mapping[str, Sequence[int]] | None = None,
        rate: float | None = None,
        silence: float = 3.0,
    ) -> None:
        if stream_type is None and name is None:
            raise LslSourceError("LslSource needs a stream_type or a name to look for")
        wanted = " and ".join(
            f"{k}='{v}'" for k, v in (("name", name), ("type", stream_type)) if v is not None
        )
        self.wanted, self.silence = wanted, float(silence)
        if name is not None and stream_type is not None:
            found = pylsl.resolve_bypred(wanted, 1, timeout)
        elif name is not None:
            found = pylsl.resolve_byprop("name", name, 1, timeout)
        else:
            found = pylsl.resolve_byprop("type", stream_type, 1, timeout)
        if not found:
            raise LslSourceError(f"no LSL stream with {wanted} found within {timeout:g} s")
        self.inlet = pylsl.StreamInlet(found[0], max_buflen=60)
        try:
            self.inlet.open_stream(timeout)
            info = self.inlet.info(timeout)
        except Exception as e:  # pylsl raises its own TimeoutError / LostError
            self.inlet.close_stream()
            raise LslSourceError(f"LSL stream with {wanted} did not open: {e}") from e
        self.info = info
        self.name, self.type = info.name(), info.type()
        fs = float(rate) if rate else float(info.nominal_srate())
        if not fs > 0:
            raise LslSourceError(
                f"LSL stream {self.name!r} has an irregular rate; pass rate= to read it"
            )
        if info.channel_format() == pylsl.cf_string:
            raise LslSourceError(f"LSL stream {self.name!r} carries strings, not samples")
        n = int(info.channel_count())
        descr = _channel_descr(info)
        if channels is not None:
            for sig, idx in channels.items():
                bad = [i for i in idx if not 0 <= i < n]
                if sig not in SIGNALS or bad or not idx:
                    raise LslSourceError(
                        f"channels[{sig!r}] = {list(idx)}: signals are {SIGNALS}, "
                        f"indices 0..{n - 1} of stream {self.name!r}"
                    )
            mapping = {sig: [int(i) for i in idx] for sig, idx in channels.items()}
        else:
            mapping = {}
            default = TYPES.get(self.type.strip().lower())
            for i in range(n):
                ctype = descr[i][1].strip().lower() if i < len(descr) else ""
                target = TYPES.get(ctype) if ctype else default
                if target is not None:
                    mapping.setdefault(target, []).append(i)
        if not mapping:
            types = sorted({d[1] for d in descr if d[1]})
            raise LslSourceError(
                f"LSL stream {self.name!r} (type {self.type!r}, channel types {types}) "
                f"has no channel that is {'/'.join(SIGNALS)}; pass channels="
            )
        self.channels = {sig: mapping[sig] for sig in SIGNALS if sig in mapping}
        self._scale = {
            sig: 1e-3
            if sig == "ecg"
            and descr
            and all(i < len(descr) and descr[i][2].strip().lower() in _MICRO for i in idx)
            else 1.0
            for sig, idx in self.channels.items()
        }
        self.rates = dict.fromkeys(self.channels, fs)
        self.quality: float | None = None
        self.bands: dict[str, float] | None = None
        self.last_seen = -math.inf  # show time of the last read that brought samples

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        """Everything that arrived since the last read, per signal (never blocks)."""
        if self.inlet is None:
            return {}
        blocks = []
        while True:
            samples, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=CHUNK, as_numpy=True)
            if len(stamps) == 0:
                break
            blocks.append(np.asarray(samples, dtype=np.float64).reshape(len(stamps), -1))
            if len(stamps) < CHUNK:
                break
        if not blocks:
            return {sig: np.zeros(0) for sig in self.channels}
        data = np.concatenate(blocks)
        if math.isfinite(t_end):
            self.last_seen = t_end
        return {
            sig: data[:, idx].mean(axis=1) * self._scale[sig] for sig, idx in self.channels.items()
        }

    def present(self, t: float) -> bool:
        """Did samples arrive within `silence` seconds of show time t?"""
        return t - self.last_seen <= self.silence

    def close(self) -> None:
        """Close the inlet (safe to call twice)."""
        if self.inlet is not None:
            self.inlet.close_stream()
            self.inlet = None

    def __enter__(self) -> LslSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
