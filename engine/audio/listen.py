"""Audio input: the sound of the room, a mixer's line out, or a file, as the rig hears it.

Three inputs, one shape: `read(until)` hands the frame loop the mono samples that
arrived since its last call, never blocking.

- :class:`FileInput` decodes the whole file at open (soundfile: WAV, FLAC, MP3, AIFF,
  OGG; ffmpeg for anything else) at the show's sample rate, and is read by the show's
  clock: frame n gets the samples up to the end of its slot, so an offline render
  hears exactly the same samples every time. It also gives its stereo sound, block by
  block, to be mixed into the rig's output.
- :class:`JackInput` is a JACK client (`oneiric-in`, port `input_1`) whose process
  callback copies each period into a bounded queue; :class:`PortAudioInput` does the
  same from PortAudio's input callback (sounddevice). Their callbacks only copy.

:class:`Listener` ties an input to the analysis and publishes `/audio/in/*`.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.audio.analysis import Analysis, Heard, audio_in_params
from engine.clock import Tick
from engine.listen_spec import AudioInSpec
from engine.params import ParamSpace
from engine.sources.replayed import RecordedInputs

log = logging.getLogger(__name__)
QUEUE_SECONDS = 2.0  # a live input keeps at most this much unread sound
CLIENT = "oneiric-in"
READER = -1  # the audio input's reader index in a session log (dreamers count from 0)
Tap = Callable[[int, int, dict[str, np.ndarray]], None]


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


class Listener:
    """An input, its analysis, and the `/audio/in/*` params, stepped once a frame."""

    def __init__(
        self,
        spec: AudioInSpec,
        params: ParamSpace,
        *,
        sr: int,
        fps: float,
        recorded: RecordedInput | None = None,
    ) -> None:
        self.spec = spec
        self.params = params
        self.fps = fps
        for p in audio_in_params(spec.bands):  # there even when the device is not
            params.register(p)
        self.input: AudioInput | None = recorded
        self.notice = ""
        self._tap: Callable[[int, np.ndarray], None] | None = None
        self._reads = 0
        try:
            if recorded is None:
                self.input = open_input(spec, sr)
        except ListenError as exc:
            if spec.file is not None:
                raise  # a set's file is checked at load; one that will not decode is fatal
            self.notice = f"audio in: {exc}; /audio/in/* stay at rest"
            log.warning("%s", self.notice)
        self.analysis = Analysis(self.input.sr if self.input else sr, spec.bands)
        self.heard: Heard | None = None
        if spec.tempo:
            params.set("/tempo/source", "audio", jump=True)

    @classmethod
    def of(
        cls,
        spec: AudioInSpec | None,
        params: ParamSpace,
        *,
        sr: int,
        fps: float,
        recorded: RecordedInputs | None = None,
    ) -> Listener | None:
        """A listener for a set's `[audio_in]`; None for a set without one. In a replay
        (`recorded`), what the session log kept: a live device's reads come back as
        they were heard, a file (read by the clock, the same again) is opened again."""
        if recorded is not None and READER in recorded.readers:
            setup = recorded.readers[READER]
            spec = _spec_of(setup)
            if spec.live:
                rate = setup.get("sr")
                rate = int(rate) if isinstance(rate, (int, float)) and rate > 0 else sr
                got = RecordedInput(rate, recorded.readings.get(READER, {}))
                return cls(spec, params, sr=sr, fps=fps, recorded=got)
        elif recorded is not None and spec is not None and spec.live:
            spec = replace(spec, device="")  # a session without the device's reads
            listener = cls(spec, params, sr=sr, fps=fps, recorded=RecordedInput(sr, {}))
            listener.notice = "audio in: the session log has no reads of the device"
            return listener
        return None if spec is None else cls(spec, params, sr=sr, fps=fps)

    def reader(self) -> dict[int, dict[str, object]]:
        """How it was set up, for a session log (files by their full path)."""
        spec, found = self.spec, self.input
        setup: dict[str, object] = {
            "audio_in": {
                "file": str(spec.file.resolve()) if spec.file else "",
                "device": spec.device,
                "mix": spec.mix,
                "gain": spec.gain,
                "bands": spec.bands,
                "tempo": spec.tempo,
                "loop": spec.loop,
            },
            "sr": found.sr if found is not None else 0,
        }
        return {READER: setup}

    def tap_reads(self, tap: Tap) -> None:
        """Hand every read of a live device to `tap` (a session log keeps them)."""
        if self.spec.live:
            self._tap = lambda n, mono: tap(READER, n, {"mono": mono})

    @property
    def source(self) -> str:
        """What it listens to, in words."""
        found = self.input
        if isinstance(found, FileInput):
            return f"{found.path.name} ({found.seconds:.1f} s, mix: {self.spec.mix})"
        if isinstance(found, JackInput):
            return f"jack {found.port.name} at {found.sr} Hz"
        if isinstance(found, PortAudioInput):
            return f"portaudio {found.name} at {found.sr} Hz"
        return "nothing"

    @property
    def file(self) -> FileInput | None:
        return self.input if isinstance(self.input, FileInput) else None

    def step(self, tick: Tick) -> np.ndarray | None:
        """Hear this frame's samples and publish what was heard; returns the samples (None
        without an input)."""
        if self.input is None:
            return None
        mono = self.input.read(tick.time + 1.0 / self.fps)
        if self._tap is not None:
            self._tap(self._reads, mono)
        self._reads += 1
        self.heard = self.analysis.feed(mono)
        for path, value in self.heard.values().items():
            self.params.publish(path, value)
        return mono

    def mix(self, block: np.ndarray) -> np.ndarray:
        """The rig's output block with the file's sound in it, as the set asks."""
        source = self.file
        if source is None or self.spec.mix == "none":
            return block
        sound = source.block(len(block))
        if block.shape[1] != 2:
            sound = np.repeat(sound.mean(axis=1, keepdims=True), block.shape[1], axis=1)
        return sound if self.spec.mix == "replace" else block + sound

    def fields(self) -> dict[str, float]:
        """What layer shaders get of it (the `audio_*` fields)."""
        h = self.heard
        if h is None or self.input is None:
            return dict.fromkeys(AUDIO_FIELDS, 0.0)
        return {
            "audio_rms": h.rms,
            "audio_bass": h.bands["bass"],
            "audio_mid": h.bands["mid"],
            "audio_high": h.bands["high"],
            "audio_onset": float(h.onset),
        }

    def close(self) -> None:
        if self.input is not None:
            self.input.close()
            self.input = None


AUDIO_FIELDS = ("audio_rms", "audio_bass", "audio_mid", "audio_high", "audio_onset")


def _spec_of(setup: Mapping[str, object]) -> AudioInSpec:
    """The AudioInSpec a session log's reader line describes."""
    raw = setup.get("audio_in")
    if not isinstance(raw, dict):
        raise ListenError(f"the session's audio input is not described: {setup!r}")
    file = str(raw.get("file", ""))
    return AudioInSpec(
        file=Path(file) if file else None,
        device=str(raw.get("device", "")),
        mix=raw.get("mix", "none"),
        gain=float(raw.get("gain", 1.0)),
        bands=int(raw.get("bands", 16)),
        tempo=bool(raw.get("tempo", False)),
        loop=bool(raw.get("loop", False)),
    )
