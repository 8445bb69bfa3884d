"""Audio inputs: the sound of the room, a mixer's line out, or a file, as samples.

One shape for all: `read(until)` hands the frame loop the mono samples that arrived
since its last call, never blocking.

- :class:`FileInput` decodes the whole file at open (soundfile: WAV, FLAC, MP3, AIFF,
  OGG; ffmpeg for anything else) at the show's sample rate, and is read by the show's
  clock: frame n gets the samples up to the end of its slot, so an offline render
  hears exactly the same samples every time. It also gives its stereo sound, block by
  block, to be mixed into the rig's output.
- :class:`JackInput` is a JACK client (`oneiric-in`, port `input_1`) whose process
  callback copies each period into a bounded queue; :class:`PortAudioInput` does the
  same from PortAudio's input callback (sounddevice). Their callbacks only copy.
- :class:`RecordedInput` gives back what a session log kept of a live input.
"""

from __future__ import annotations

import collections
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.listen_spec import AudioInSpec

QUEUE_SECONDS = 2.0  # a live input keeps at most this much unread sound
CLIENT = "oneiric-in"


class ListenError(RuntimeError):
    """An input that cannot be opened: a file that won't decode, no such device."""


class AudioInput(Protocol):
    sr: int

    def read(self, until: float) -> np.ndarray: ...

    def close(self) -> None: ...


def decode(path: Path, sr: int) -> np.ndarray:
    """A sound file as float32 (samples, 2) at `sr`."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        data, rate = _ffmpeg_decode(path, sr), sr
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    data = data[:, :2]
    if rate != sr:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate), sr)
        data = resample_poly(data, sr // g, int(rate) // g, axis=0).astype(np.float32)
    return np.ascontiguousarray(data)


def _ffmpeg_decode(path: Path, sr: int) -> np.ndarray:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path)]
    cmd += ["-f", "f32le", "-ac", "2", "-ar", str(sr), "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=600)
    if proc.returncode != 0 or not proc.stdout:
        why = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ListenError(f"{path}: cannot decode ({why[-1] if why else 'no audio'})")
    return np.frombuffer(proc.stdout, np.float32).reshape(-1, 2).copy()


class FileInput:
    """A file read by the show's clock: deterministic, frame for frame."""

    def __init__(self, path: Path, sr: int, *, gain: float = 1.0, loop: bool = False) -> None:
        self.sr = sr
        self.path = path
        self.sound = decode(path, sr) * np.float32(gain)
        self.loop = loop
        self._cursor = 0  # next sample for the analysis
        self._mix_cursor = 0  # next sample for the output

    @property
    def seconds(self) -> float:
        return len(self.sound) / self.sr

    def _take(self, start: int, n: int) -> np.ndarray:
        total = len(self.sound)
        if self.loop and total:
            return self.sound[np.arange(start, start + n) % total]
        out = np.zeros((n, 2), np.float32)
        part = self.sound[start : start + n]
        out[: len(part)] = part
        return out

    def read(self, until: float) -> np.ndarray:
        end = max(self._cursor, round(until * self.sr))
        block = self._take(self._cursor, end - self._cursor)
        self._cursor = end
        return block.mean(axis=1)

    def block(self, n: int) -> np.ndarray:
        """The next `n` samples of the file for the output, (n, 2)."""
        out = self._take(self._mix_cursor, n)
        self._mix_cursor += n
        return out

    def close(self) -> None:
        pass


class _Queue:
    """Blocks from a callback thread to the frame loop; the oldest go when it is full."""

    def __init__(self, limit: int) -> None:
        self._blocks: collections.deque[np.ndarray] = collections.deque()
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()
        self.dropped = 0

    def put(self, block: np.ndarray) -> None:
        with self._lock:
            self._blocks.append(block)
            self._size += len(block)
            while self._size > self._limit and len(self._blocks) > 1:
                self._size -= len(self._blocks.popleft())
                self.dropped += 1

    def drain(self) -> np.ndarray:
        with self._lock:
            blocks, self._blocks, self._size = list(self._blocks), collections.deque(), 0
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


class JackInput:
    """An input port in the JACK graph; `connect` names a port to take sound from."""

    def __init__(self, connect: str = "", *, gain: float = 1.0, name: str = CLIENT) -> None:
        try:
            import jack
        except OSError as exc:  # JACK-Client is there, libjack is not
            raise ListenError(f"JACK is missing ({exc})") from None
        try:
            self.client = jack.Client(name, no_start_server=True)
        except jack.JackError as exc:
            raise ListenError(f"no JACK server to listen on ({exc})") from None
        self.sr = int(self.client.samplerate)
        self._queue = _Queue(int(QUEUE_SECONDS * self.sr))
        self.port = self.client.inports.register("input_1")
        g = np.float32(gain)

        @self.client.set_process_callback
        def process(frames: int) -> None:
            self._queue.put(self.port.get_array() * g)  # a copy: JACK reuses its buffer

        self.xruns = 0  # periods JACK missed (the graph ran late): sound lost

        @self.client.set_xrun_callback
        def xrun(delay: float) -> None:
            self.xruns += 1

        self.client.activate()
        if connect:
            try:
                self.client.connect(connect, self.port)
            except jack.JackError as exc:
                self.close()
                raise ListenError(f"cannot take sound from JACK port {connect!r} ({exc})") from None

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def read(self, until: float) -> np.ndarray:
        return self._queue.drain()

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


class PortAudioInput:
    """The system's default input device (or a named one), through PortAudio."""

    def __init__(self, device: str | None = None, *, gain: float = 1.0) -> None:
        try:
            import sounddevice
        except OSError as exc:  # the library is there, PortAudio is not
            raise ListenError(f"PortAudio is missing ({exc})") from None
        g = np.float32(gain)

        def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            self._queue.put(indata.mean(axis=1) * g)

        try:
            info = sounddevice.query_devices(device, "input")
            self.sr = int(info["default_samplerate"])
            self.name = str(info["name"])
            self._queue = _Queue(int(QUEUE_SECONDS * self.sr))
            self.stream = sounddevice.InputStream(
                device=device, channels=1, samplerate=self.sr, callback=callback, dtype="float32"
            )
            self.stream.start()
        except (sounddevice.PortAudioError, ValueError) as exc:
            raise ListenError(f"no audio input device ({exc})") from None

    def read(self, until: float) -> np.ndarray:
        return self._queue.drain()

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


class RecordedInput:
    """A live input as a session log kept it: read n gives what live read n heard."""

    def __init__(self, sr: int, readings: Mapping[int, Mapping[str, np.ndarray]]) -> None:
        self.sr = sr
        self._readings = readings
        self._n = 0

    def read(self, until: float) -> np.ndarray:
        got = self._readings.get(self._n, {}).get("mono", ())
        self._n += 1
        return np.asarray(got, np.float32)

    def close(self) -> None:
        """Nothing to let go of."""


def open_input(spec: AudioInSpec, sr: int) -> AudioInput:
    if spec.file is not None:
        return FileInput(spec.file, sr, gain=spec.gain, loop=spec.loop)
    if spec.device == "jack" or spec.device.startswith("jack:"):
        return JackInput(spec.device[5:], gain=spec.gain)
    return PortAudioInput(None if spec.device == "default" else spec.device, gain=spec.gain)
