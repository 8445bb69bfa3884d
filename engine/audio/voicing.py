"""A show's sound: its audio engine (a sound device, played from a process of its own,
or computed frame by frame), each patch's own controls as params, and every frame's
controls sent to the voices and the master bus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.audio.controls import ENGINE_DRIVEN, MASTER_DRIVEN, control_specs, own_controls
from engine.audio.engine import AudioEngine
from engine.audio.graph import PatchError, load_patch
from engine.audio.remote import RemoteAudio
from engine.audio.server import AudioError
from engine.params import ParamSpace


class Voiced(Protocol):
    """What the sound needs of a dreamer (engine.dreamers.Dreamer)."""

    path: str
    patch: str
    presence: float

    def param(self, name: str) -> float: ...

    def audio_controls(self) -> Mapping[str, float]: ...


class ShowSound:
    def __init__(
        self,
        params: ParamSpace,
        dreamers: Sequence[Voiced],
        patch_dir: Path,
        *,
        sr: int,
        fps: float,
        seed: int,
    ) -> None:
        self.params, self.dreamers, self.patch_dir = params, dreamers, patch_dir
        self.sr, self.fps, self.seed = sr, fps, seed
        self.engine: AudioEngine | RemoteAudio | None = None
        self.notice = ""  # why the sound is computed and not played, when it is
        self._voice_controls: dict[str, list[str]] = {}  # patch -> its own controls
        self._master_controls: list[str] = []

    def register_controls(self, only: str | None = None) -> None:
        """Each patch's own controls (beyond what the show drives) as params:
        /dreamer/N/voice/NAME, and /master/NAME for the master bus. Called again for a
        patch when it reloads, so a control it adds shows up."""
        patches = sorted({d.patch for d in self.dreamers} | {"master"})
        for name in patches if only is None else [only]:
            try:
                module = load_patch(name, self.patch_dir)
            except PatchError:
                continue  # the audio engine reports it; there is nothing to register
            if name == "master":
                specs = control_specs(module, "/master", MASTER_DRIVEN)
                self._master_controls = [s.path.rsplit("/", 1)[1] for s in specs]
                for spec in specs:
                    self.params.register(spec)
                continue
            self._voice_controls[name] = list(own_controls(module, ENGINE_DRIVEN))
            for d in self.dreamers:
                if d.patch == name:
                    for spec in control_specs(module, f"{d.path}/voice", ENGINE_DRIVEN):
                        self.params.register(spec)

    def open(self, mode: str, driver: str) -> None:
        """The engine, with a voice for every dreamer. mode "auto": a sound device if
        there is one, else computed without playing. `driver`: "portaudio", "jack", or
        "auto" (PortAudio's default device, then a running JACK server)."""
        options: dict[str, Any] = {"sr": self.sr, "fps": self.fps, "seed": self.seed}
        options["patch_dir"] = self.patch_dir
        self.engine = None
        if mode in ("auto", "realtime"):
            trying = driver == "auto"
            failed = []
            for name in ("portaudio", "jack") if trying else (driver,):
                try:  # its own process: its callback never waits on our GIL
                    self.engine = RemoteAudio(driver=name, jack_autostart=not trying, **options)
                    break
                except AudioError as exc:
                    failed.append(str(exc))
            if self.engine is None and mode == "realtime":
                raise AudioError("; ".join(failed))
            if self.engine is None:
                self.notice = (
                    f"no sound device ({'; '.join(failed)}): audio is computed, not played"
                )
        if self.engine is None:
            self.engine = AudioEngine(mode="manual", **options)
        for d in self.dreamers:
            self.engine.add_voice(d.path, d.patch)

    def frame(self) -> np.ndarray | None:
        """Send this frame's controls; the frame's samples when they are computed here
        (manual mode), None when a sound device plays them."""
        audio = self.engine
        assert audio is not None
        ramp = 1.0 / self.fps
        get = self.params.get
        for d in self.dreamers:
            for name, value in d.audio_controls().items():
                audio.set(d.path, name, value, ramp)
            gain = d.param("volume") * d.param("weight") * (1 - d.param("mute")) * d.presence
            audio.set_gain(d.path, gain, ramp)
            for name in self._voice_controls.get(d.patch, ()):
                audio.set(d.path, name, get(f"{d.path}/voice/{name}"), ramp)
        for name in self._master_controls:
            audio.set_master(name, get(f"/master/{name}"), ramp)
        audio.set_master("volume", get("/master/volume"), ramp)
        audio.set_master("reverb", get("/master/reverb"), ramp)
        audio.commit()
        if not isinstance(audio, AudioEngine) or audio.mode != "manual":
            return None  # a sound device plays it; nothing comes back per frame
        return audio.process_frame()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
