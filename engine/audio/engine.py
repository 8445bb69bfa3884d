"""The audio engine: a pyo server, one voice per dreamer from patches/, a master bus.

    voice: patch build(ctl, seed) -> Mix to nchnls, * gain ─┐
    voice ... ──────────────────────────────────────────────┴─> bus (Sig of a Mix)
        -> master patch build(bus, ctl) -> InputFader (swaps masters) -> Clip(-1, 1)
        -> .out() (device, live) and a tap (offline frames)

Every control a patch reads is a SigTo the engine owns: the frame loop only moves ramps.

Manual mode (offline): `process_frame()` calls `server.process()` until exactly sr/fps
samples are computed and returns them. They are captured by a TableFill (pyo's circular
table writer) into a DataTable one frame long, read through numpy views of the table's
memory: after a whole frame the table holds exactly that frame, in order. Every voice
has such a tap too, for `levels()`. Realtime mode plays the same graph to a device.

Three pyo facts shape the code (checked on pyo 1.1.0):
- pyo computes streams in creation order, and a reader takes whatever its input computed
  last: an input created after its reader lags one buffer. New voices and masters are
  therefore moved ahead of the section that reads them (`_adopt`).
- A Python-side pyo object that is dropped may take memory its C objects still use (a
  table read by Pointer: a crash). The engine keeps every object a build creates
  (`_build`, which finds them without hooking pyo: `_made_by`) for as long as the
  voice lives, so patches need not hold references.
- Random objects are seeded from the global seed (0 means the clock) plus per-class
  counters that are global to the process and reset only by a server shutdown: a new
  server is booted, shut down and booted again, so the same seed gives the same samples.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import time
import types
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

from engine.audio.graph import PatchError, Tap, describe, load_patch, made_by, release
from engine.audio.server import REALTIME_BLOCK, boot_server, frame_blocks
from engine.folders import PATCH_DIR

log = logging.getLogger(__name__)

XFADE = 0.05  # seconds: voices added while playing, replaced or removed, and masters swapped
# the controls the rig drives on every voice; a patch's CONTROLS override the defaults
STANDARD_CONTROLS: dict[str, float] = {
    "amp": 0.5,
    "breath_phase": 0.0,
    "alpha": 0.3,
    "theta": 0.3,
    "delta": 0.2,
    "heart_bpm": 60.0,
    "arousal": 0.3,
    "pitch": 110.0,
}
# the engine's attributes that hold pyo objects
_GRAPH = (
    "_tap",
    "_final",
    "_fader",
    "_master_out",
    "_master_end",
    "_bus_mix",
    "_bus",
    "_voices_end",
)


@dataclass
class _Voice:
    patch: str
    controls: dict[str, Any]  # name -> pyo.SigTo
    gain: Any  # pyo.SigTo
    objs: list[Any]  # every pyo object the patch's build created
    out: Any  # pyo.Mix: the voice on nchnls channels, times gain
    tap: Tap  # of `out`, for levels()
    sent: dict[str, tuple[float, float]] = field(default_factory=dict)  # control -> value, ramp
    ends: float = math.inf  # engine time at which a retiring voice is dropped

    def drop(self) -> None:
        self.tap.close()
        release(self.objs)
        self.out = self.gain = None
        self.controls.clear()


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
        self._voices: dict[str, _Voice] = {}
        self._retiring: list[_Voice] = []
        self._modules: dict[str, tuple[bytes, types.ModuleType]] = {}
        self._master_controls: dict[str, Any] = {}
        self._master_sent: dict[str, tuple[float, float]] = {}
        self._masters: list[tuple[list[Any], float]] = []  # objects, drop time (inf: current)
        self._t0 = time.monotonic()
        self.recording: Path | None = None  # the WAV start_recording() is writing

        s, self.driver, rate = boot_server(
            sr=sr, nchnls=nchnls, block=self.block, seed=seed, mode=mode, driver=driver
        )
        if rate != sr:
            self.sr, self.frame_samples = rate, round(rate / fps)
        s.start()
        self._server: Any = s
        try:
            s.setServer()
            zeros = [0.0] * nchnls
            self._voices_end = pyo.Sig(0.0).stop()  # marker: new voices go before it
            self._bus = pyo.Sig(zeros)
            self._bus_mix: Any = zeros
            self._master_out = self._make_master(master)
            self._master_end = pyo.Sig(0.0).stop()  # marker: new masters go before it
            self._output(self._master_out)
            self.master_patch = master
        except BaseException:
            self.close()
            raise

    # building
    def _output(self, master: Any) -> None:
        """The end of the chain: a crossfader for master swaps, the clip, out and tap."""
        old_tap, old_final = self.__dict__.get("_tap"), self.__dict__.get("_final")
        self._fader = pyo.InputFader(master)
        self._final = pyo.Clip(self._fader, -1.0, 1.0).out()
        self._tap = Tap(self._final, self.frame_samples, self.nchnls)
        if old_tap is not None:
            old_tap.close()
        if old_final is not None:
            old_final.stop()

    def _adopt(self, start: int, marker: Any) -> None:
        """Move the streams created since index `start` to just before `marker`, so they
        are computed before what reads them. One slice assignment: atomic under the GIL,
        which pyo's audio thread holds while it computes a buffer."""
        streams = self._server.getStreams()
        at = streams.index(marker._base_objs[0]._getStream())
        if at < start:
            streams[at:] = streams[start:] + streams[at:start]

    def _build(self, name: str, build: Callable[..., Any], *args: Any) -> tuple[Any, list[Any]]:
        """Run a patch's build: its output and every pyo object it made. PatchError
        (with file and line) if it raises or returns something else."""
        objs: list[Any] = []
        try:
            with made_by(build) as objs:  # filled as it returns, even when it raises
                out = build(*args)
            if not isinstance(out, pyo.PyoObject):
                raise TypeError(f"build() returned {type(out).__name__}, not a PyoObject")
            return out, objs
        except Exception as exc:
            err = describe(name, (self.patch_dir / f"{name}.py").resolve(), exc)
        release(objs)
        gc.collect()  # half-built objects go now, not at some later collection
        raise err

    def _module(self, name: str) -> types.ModuleType:
        path = self.patch_dir / f"{name}.py"
        source = path.read_bytes() if path.is_file() else b""
        cached = self._modules.get(name)
        if cached is None or cached[0] != source:  # first use, or edited since
            self._server.setServer()
            cached = self._modules[name] = (source, load_patch(name, self.patch_dir))
        return cached[1]

    def _nstreams(self) -> int:
        return len(self._server.getStreams())

    def _now(self) -> float:
        if self.mode == "manual":
            return self.frames * self.frame_samples / self.sr
        return time.monotonic() - self._t0

    def _playing(self) -> bool:
        return self.mode == "realtime" or self.frames > 0

    def _rebuild_bus(self) -> None:
        outs = [v.out for v in (*self._voices.values(), *self._retiring)]
        start = self._nstreams()
        mix = pyo.Mix(outs, voices=self.nchnls) if outs else [0.0] * self.nchnls
        self._adopt(start, self._voices_end)
        self._bus.setValue(mix)
        self._bus_mix = mix
        self._ramp(self._master_controls, self._master_sent, "voices", len(self._voices), XFADE)

    def _reap(self) -> None:
        """Drop voices and masters whose fade-out is over."""
        now = self._now()
        gone = [v for v in self._retiring if v.ends <= now]
        if gone:
            self._retiring = [v for v in self._retiring if v.ends > now]
            self._rebuild_bus()
            for voice in gone:
                voice.drop()
        if any(ends <= now for _, ends in self._masters):
            for objs, ends in self._masters:
                if ends <= now:
                    release(objs)
            self._masters = [(objs, ends) for objs, ends in self._masters if objs]
            self._fader.setInput(self._master_out, 0.001)  # let go of the old input

    # voices
    def add_voice(self, key: str, patch: str, controls: Mapping[str, float] | None = None) -> None:
        """Build a voice from patches/<patch>.py. An existing `key` is replaced with a
        crossfade, keeping its control values; if the patch fails (PatchError, naming
        the file and line), the old voice plays on."""
        self._reap()
        module = self._module(patch)
        old = self._voices.get(key)
        values = {**STANDARD_CONTROLS, **module.CONTROLS}
        if old is not None:
            values.update((k, v) for k, (v, _) in old.sent.items() if k in values)
        values.update((k, float(v)) for k, v in (controls or {}).items() if k in values)
        self._server.setServer()
        start = self._nstreams()
        ctl = {k: pyo.SigTo(float(v), time=0.05, init=float(v)) for k, v in values.items()}
        seed = (self.seed * 1_000_003 + zlib.crc32(key.encode())) % 2_147_483_647
        try:
            sound, objs = self._build(patch, module.build, types.MappingProxyType(ctl), seed)
        except PatchError:
            release(list(ctl.values()))
            ctl.clear()  # the traceback keeps this frame: let the SigTos go
            raise
        level = old.sent["gain"][0] if old else 1.0
        gain = pyo.SigTo(level, time=XFADE, init=0.0 if self._playing() else level)
        out = pyo.Mix(sound, voices=self.nchnls, mul=gain)
        voice = _Voice(patch, ctl, gain, objs, out, Tap(out, self.frame_samples, self.nchnls))
        self._adopt(start, self._voices_end)
        voice.sent = {k: (float(v), 0.05) for k, v in values.items()}
        voice.sent["gain"] = (level, XFADE)
        if old is not None:
            self._retire(old)
        self._voices[key] = voice
        self._rebuild_bus()

    def _retire(self, voice: _Voice) -> None:
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
        return self._nstreams()

    def controls(self, key: str) -> dict[str, float]:
        """A voice's control targets (defaults until set), gain included."""
        return {k: v for k, (v, _) in self._voices[key].sent.items()}

    # control
    def _ramp(
        self, sigs: Mapping[str, Any], sent: dict[str, tuple[float, float]], name: str,
        value: float, ramp: float,
    ) -> bool:  # fmt: skip
        sig = sigs.get(name)
        value, ramp = float(value), max(0.0, float(ramp))
        if sig is None or not math.isfinite(value) or not math.isfinite(ramp):
            return False
        if sent.get(name) != (value, ramp):
            # straight to the C objects: SigTo's Python setters take 8 us a pair (about
            # 5 ms a frame for 64 voices), these 0.2
            for base in sig._base_objs:
                base.setTime(ramp)
                base.setValue(value)
            sig._time, sig._value = ramp, value
            sent[name] = (value, ramp)
        return True

    def set(self, key: str, control: str, value: float, ramp: float = 0.05) -> None:
        """Ramp a voice's control to `value` over `ramp` seconds. An unknown voice or
        control, or a value that is not finite, is ignored and counted in `ignored`."""
        voice = self._voices.get(key)
        if voice is None or not self._ramp(voice.controls, voice.sent, control, value, ramp):
            self._ignore(f"{key}/{control}")

    def set_gain(self, key: str, gain: float, ramp: float = 0.05) -> None:
        """Ramp a voice's level (0 mutes)."""
        voice = self._voices.get(key)
        sigs = {"gain": voice.gain} if voice is not None else {}
        if voice is None or not self._ramp(sigs, voice.sent, "gain", max(0.0, gain), ramp):
            self._ignore(f"{key}/gain")

    def set_master(self, control: str, value: float, ramp: float = 0.05) -> None:
        """Ramp a master bus control (those in the master patch's CONTROLS)."""
        if not self._ramp(self._master_controls, self._master_sent, control, value, ramp):
            self._ignore(f"master/{control}")

    def _ignore(self, what: str) -> None:
        if what not in self.ignored:
            log.warning("audio: ignoring %s (no such voice or control, or not finite)", what)
        self.ignored[what] += 1

    # the master bus
    def _make_master(self, name: str) -> Any:
        module = self._module(name)
        self._server.setServer()
        start = self._nstreams()
        for k, v in {**module.CONTROLS, "voices": float(len(self._voices))}.items():
            if k not in self._master_controls:  # new controls join, live values stay
                self._master_controls[k] = pyo.SigTo(float(v), time=0.05, init=float(v))
                self._master_sent[k] = (float(v), 0.05)
        ctl = types.MappingProxyType(self._master_controls)
        sound, objs = self._build(name, module.build, self._bus, ctl)
        out = pyo.Mix(sound, voices=self.nchnls)
        if hasattr(self, "_master_end"):
            self._adopt(start, self._master_end)
        self._masters.append(([*objs, out], math.inf))
        return out

    def set_master_patch(self, name: str) -> None:
        """Crossfade to the master bus in patches/<name>.py (build(inputs, ctl));
        a PatchError keeps the old master playing."""
        self._reap()
        old, self._masters = self._masters, []
        try:
            new = self._make_master(name)
        except PatchError:
            self._masters = old
            raise
        ends = self._now() + XFADE + 0.02
        self._masters += [(objs, min(t, ends)) for objs, t in old]
        self._fader.setInput(new, XFADE)
        self._master_out, self.master_patch = new, name

    # processing
    def process_frame(self) -> np.ndarray:
        """Advance exactly sr/fps samples (manual mode); (samples, nchnls) float32."""
        if self.mode != "manual" or self._server is None:
            raise RuntimeError("process_frame() needs an open engine in manual mode")
        for _ in range(self.frame_samples // self.block):
            self._server.process()
        self.frames += 1
        out = self._tap.read()
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
        for objs, _ in self._masters:
            release(objs)
        self._masters.clear()
        self._master_out = self._make_master(self.master_patch)
        self._output(self._master_out)

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
        for objs, _ in self._masters:
            release(objs)
        self._masters.clear()
        if "_tap" in self.__dict__:
            self._tap.close()
        for name in _GRAPH:
            self.__dict__.pop(name, None)
        self._master_controls.clear()
        self._modules.clear()  # a patch may hold pyo objects at module level
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
