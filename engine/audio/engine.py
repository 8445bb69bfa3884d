"""The audio engine: a pyo server, one voice per dreamer from patches/, a master bus.

    voice (voices.py) ... ─┬─> bus (Sig of a Mix) -> master bus (master.py)
    voice ... ─────────────┘

Every control a patch reads is a SigTo the engine owns: the frame loop only moves ramps.

Manual mode (offline): `process_frame()` calls `server.process()` until exactly sr/fps
samples are computed and returns them. They are captured by a TableFill (pyo's circular
table writer) into a DataTable one frame long, read through numpy views of the table's
memory: after a whole frame the table holds exactly that frame, in order. Every voice
has such a tap too, for `levels()`. Realtime mode plays the same graph to a device.

New voices and masters are computed ahead of what reads them, and every object their
builds make is kept while they live (patching.py). Random objects are seeded from the
global seed (0 means the clock) plus per-class counters that are global to the process
and reset only by a server shutdown: a new server is booted, shut down and booted again
(server.py), so the same seed gives the same samples.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

from engine.audio.graph import PatchError, ramp_to
from engine.audio.master import MasterBus
from engine.audio.patching import Patches
from engine.audio.server import REALTIME_BLOCK, boot_server, frame_blocks
from engine.audio.voices import STANDARD_CONTROLS, XFADE, Voice, build_voice, voice_seed
from engine.folders import PATCH_DIR

log = logging.getLogger(__name__)

# the engine's attributes that hold pyo objects (or the server), dropped by close()
_GRAPH = ("_master", "_bus_mix", "_bus", "_voices_end", "_patches")


class AudioEngine:
    """Voices from patches/ into a master bus; lockstep frames offline, a device live."""

    def __init__(
        self,
        *,
        sr: int = 48000,
        nchnls: int = 2,
        fps: float = 30.0,
        seed: int = 0,
        mode: str = "manual",
        master: str = "master",
        patch_dir: Path = PATCH_DIR,
        block: int | None = None,
        driver: str | None = None,
    ) -> None:
        """`driver` (realtime): "portaudio" (the system's default device) or "jack" (a
        client named oneiric of the running JACK server, its outputs connected to the
        system's playback ports); default $PYO_SERVER_AUDIO, else portaudio."""
        if mode not in ("manual", "realtime"):
            raise ValueError(f"mode must be 'manual' or 'realtime', not {mode!r}")
        self.sr, self.nchnls, self.fps, self.seed, self.mode = sr, nchnls, fps, seed, mode
        self.patch_dir = Path(patch_dir)
        self.frame_samples, manual_block = frame_blocks(sr, fps)
        self.block = manual_block if mode == "manual" else (block or REALTIME_BLOCK)
        self.frames = 0  # frames processed (manual mode)
        self.ignored: Counter[str] = Counter()  # "key/control" of set() calls dropped
        self.nonfinite = 0  # frames that had NaN or inf in them (zeroed)
        self._voices: dict[str, Voice] = {}
        self._retiring: list[Voice] = []
        self._t0 = time.monotonic()
        self.recording: Path | None = None  # the WAV start_recording() is writing

        s, self.driver, rate = boot_server(
            sr=sr, nchnls=nchnls, block=self.block, seed=seed, mode=mode, driver=driver
        )
        if rate != sr:
            self.sr, self.frame_samples = rate, round(rate / fps)
        s.start()
        self._server: Any = s
        self._patches = Patches(s, self.patch_dir)
        try:
            s.setServer()
            zeros = [0.0] * nchnls
            self._voices_end = pyo.Sig(0.0).stop()  # marker: new voices go before it
            self._bus = pyo.Sig(zeros)
            self._bus_mix: Any = zeros
            self._master = MasterBus(self._patches, self._bus, master, nchnls, self.frame_samples)
        except BaseException:
            self.close()
            raise

    # building
    def _now(self) -> float:
        if self.mode == "manual":
            return self.frames * self.frame_samples / self.sr
        return time.monotonic() - self._t0

    def _playing(self) -> bool:
        return self.mode == "realtime" or self.frames > 0

    def _rebuild_bus(self) -> None:
        outs = [v.out for v in (*self._voices.values(), *self._retiring)]
        start = self._patches.streams()
        mix = pyo.Mix(outs, voices=self.nchnls) if outs else [0.0] * self.nchnls
        self._patches.adopt(start, self._voices_end)
        self._bus.setValue(mix)
        self._bus_mix = mix
        self._master.set("voices", len(self._voices), XFADE)

    def _reap(self) -> None:
        """Drop voices and masters whose fade-out is over."""
        now = self._now()
        gone = [v for v in self._retiring if v.ends <= now]
        if gone:
            self._retiring = [v for v in self._retiring if v.ends > now]
            self._rebuild_bus()
            for voice in gone:
                voice.drop()
        self._master.reap(now)

    # voices
    def add_voice(self, key: str, patch: str, controls: Mapping[str, float] | None = None) -> None:
        """Build a voice from patches/<patch>.py. An existing `key` is replaced with a
        crossfade, keeping its control values; if the patch fails (PatchError, naming
        the file and line), the old voice plays on."""
        self._reap()
        module = self._patches.module(patch)
        old = self._voices.get(key)
        values = {**STANDARD_CONTROLS, **module.CONTROLS}
        if old is not None:
            values.update((k, v) for k, (v, _) in old.sent.items() if k in values)
        values.update((k, float(v)) for k, v in (controls or {}).items() if k in values)
        start = self._patches.begin()
        voice = build_voice(
            self._patches,
            patch,
            module,
            values,
            seed=voice_seed(self.seed, key),
            level=old.sent["gain"][0] if old else 1.0,
            fade_in=self._playing(),
            nchnls=self.nchnls,
            samples=self.frame_samples,
        )
        self._patches.adopt(start, self._voices_end)
        if old is not None:
            self._retire(old)
        self._voices[key] = voice
        self._rebuild_bus()

    def _retire(self, voice: Voice) -> None:
        voice.gain.setTime(XFADE)
        voice.gain.setValue(0.0)
        voice.ends = self._now() + (XFADE + 0.02 if self._playing() else 0.0)
        self._retiring.append(voice)

    def remove_voice(self, key: str) -> None:
        """Fade a voice out, then drop it."""
        voice = self._voices.pop(key, None)
        if voice is not None:
            self._retire(voice)
            self._rebuild_bus()
            self._reap()

    def reload_patch(self, patch: str) -> list[str]:
        """Rebuild the voices that use `patch` (after an edit); PatchError keeps the old."""
        keys = [k for k, v in self._voices.items() if v.patch == patch]
        for key in keys:
            self.add_voice(key, patch)
        return keys

    @property
    def voices(self) -> dict[str, str]:
        """Voice key -> patch name."""
        return {k: v.patch for k, v in self._voices.items()}

    @property
    def streams(self) -> int:
        """How many pyo streams the server computes (a leak shows here)."""
        return self._patches.streams()

    def controls(self, key: str) -> dict[str, float]:
        """A voice's control targets (defaults until set), gain included."""
        return {k: v for k, (v, _) in self._voices[key].sent.items()}

    # control
    def set(self, key: str, control: str, value: float, ramp: float = 0.05) -> None:
        """Ramp a voice's control to `value` over `ramp` seconds. An unknown voice or
        control, or a value that is not finite, is ignored and counted in `ignored`."""
        voice = self._voices.get(key)
        if voice is None or not ramp_to(voice.controls, voice.sent, control, value, ramp):
            self._ignore(f"{key}/{control}")

    def set_gain(self, key: str, gain: float, ramp: float = 0.05) -> None:
        """Ramp a voice's level (0 mutes)."""
        voice = self._voices.get(key)
        sigs = {"gain": voice.gain} if voice is not None else {}
        if voice is None or not ramp_to(sigs, voice.sent, "gain", max(0.0, gain), ramp):
            self._ignore(f"{key}/gain")

    def set_master(self, control: str, value: float, ramp: float = 0.05) -> None:
        """Ramp a master bus control (those in the master patch's CONTROLS)."""
        if not self._master.set(control, value, ramp):
            self._ignore(f"master/{control}")

    def _ignore(self, what: str) -> None:
        if what not in self.ignored:
            log.warning("audio: ignoring %s (no such voice or control, or not finite)", what)
        self.ignored[what] += 1

    # the master bus
    @property
    def master_patch(self) -> str:
        """The master bus's patch (the one playing, or fading in)."""
        return self._master.patch

    def set_master_patch(self, name: str) -> None:
        """Crossfade to the master bus in patches/<name>.py (build(inputs, ctl));
        a PatchError keeps the old master playing."""
        self._reap()
        self._master.swap(name, self._now())

    # processing
    def process_frame(self) -> np.ndarray:
        """Advance exactly sr/fps samples (manual mode); (samples, nchnls) float32."""
        if self.mode != "manual" or self._server is None:
            raise RuntimeError("process_frame() needs an open engine in manual mode")
        for _ in range(self.frame_samples // self.block):
            self._server.process()
        self.frames += 1
        out = self._master.read()
        if not np.isfinite(out).all():
            self.nonfinite += 1
            out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
            self._recover()
        self._reap()
        return out

    def _recover(self) -> None:
        """NaN or inf reached the output (the frame is zeroed): it sticks in every filter
        and reverb it passes, so rebuild the voices that made it and the master."""
        log.error("audio: NaN or inf in frame %d: rebuilding", self.frames - 1)
        for voice in self._retiring:
            voice.ends = -math.inf
        self._reap()
        for key, voice in list(self._voices.items()):
            if not math.isfinite(voice.tap.rms()):
                log.error("audio: voice %s (%s) made NaN or inf: rebuilt", key, voice.patch)
                values = {k: v for k, (v, _) in voice.sent.items() if k != "gain"}
                level = voice.sent["gain"][0]
                del self._voices[key]
                self._rebuild_bus()
                voice.drop()
                try:
                    self.add_voice(key, voice.patch, values)
                    self.set_gain(key, level, XFADE)
                except PatchError as exc:
                    log.error("audio: voice %s lost: %s", key, exc)
        self._master.rebuild()

    def commit(self) -> None:
        """The frame's controls are all set (they apply at once here; a RemoteAudio
        sends them now)."""

    def start_recording(self, path: Path) -> None:
        """Realtime: write what plays (the master, after the clip) to a float WAV until
        :meth:`stop_recording`; pyo's server does it from the audio thread."""
        if self.mode != "realtime" or self._server is None:
            raise RuntimeError("start_recording() records a realtime engine's output")
        self._server.recordOptions(dur=-1, filename=str(path), fileformat=0, sampletype=3)
        self._server.recstart()
        self.recording = Path(path)

    def stop_recording(self, settle: float = 1.0) -> Path | None:
        """Stop and close the file; its path (None if nothing was recording). The audio
        thread closes the file at its next buffer: wait (up to `settle` s) until the
        file stops growing, so whoever reads it next reads all of it."""
        path, self.recording = self.recording, None
        if path is None or self._server is None:
            return None
        self._server.recstop()
        pause = 4 * self.block / self.sr
        deadline = time.monotonic() + settle
        size = -1
        while time.monotonic() < deadline:
            time.sleep(pause)
            now = path.stat().st_size if path.exists() else -1
            if now == size and now > 0:
                break
            size = now
        return path

    def levels(self) -> dict[str, float]:
        """RMS of each voice's signal (after its gain) over the last frame."""
        self._reap()
        return {k: v.tap.rms() for k, v in self._voices.items()}

    def close(self) -> None:
        """Stop and free the server; safe to call twice. Every pyo object goes first:
        one that outlives its server crashes the interpreter."""
        server = getattr(self, "_server", None)
        if server is None:
            return
        if self.recording is not None:
            self.recording = None
            with contextlib.suppress(Exception):
                server.recstop()
        self._server = None
        for voice in (*self._voices.values(), *self._retiring):
            voice.drop()
        self._voices.clear()
        self._retiring.clear()
        if "_master" in self.__dict__:
            self._master.close()
        self._patches.clear()  # a patch may hold pyo objects at module level
        for name in _GRAPH:
            self.__dict__.pop(name, None)
        gc.collect()
        if server.getIsBooted():
            if server.getIsStarted():
                server.stop()
            server.shutdown()
        del server
        gc.collect()

    def __enter__(self) -> AudioEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown anything goes
            self.close()
