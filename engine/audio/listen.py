"""The audio input, heard: an input (engine.audio.inputs), its analysis
(engine.audio.analysis) and the `/audio/in/*` params, stepped once a frame by the show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.audio.analysis import Analysis, Heard, audio_in_params
from engine.audio.inputs import (
    AudioInput,
    FileInput,
    JackInput,
    ListenError,
    PortAudioInput,
    RecordedInput,
    open_input,
)
from engine.clock import Tick
from engine.listen_spec import AudioInSpec
from engine.params import ParamSpace
from engine.sources.replayed import RecordedInputs

log = logging.getLogger(__name__)
READER = -1  # the audio input's reader index in a session log (dreamers count from 0)
Tap = Callable[[int, int, dict[str, np.ndarray]], None]


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
