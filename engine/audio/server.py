"""The pyo server the audio engine runs on: booted for lockstep frames (manual) or a
sound device (PortAudio or JACK), seeded so the same seed gives the same samples."""

from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

log = logging.getLogger("engine.audio.engine")

MAX_BLOCK = 2048  # largest pyo buffer in manual mode
REALTIME_BLOCK = 256
DRIVERS = ("portaudio", "jack")
JACK_NAME = "oneiric"  # the JACK client's name


class AudioError(RuntimeError):
    """The pyo server could not boot (no sound device, bad settings)."""


def frame_blocks(sr: int, fps: float) -> tuple[int, int]:
    """(samples per frame, pyo buffer size): the buffer divides the frame exactly."""
    n = sr / fps
    if n < 1 or abs(n - round(n)) > 1e-9 * n:
        raise ValueError(f"sr/fps must be a whole number of samples, got {sr}/{fps} = {n:g}")
    n = round(n)
    return n, max(d for d in range(1, min(n, MAX_BLOCK) + 1) if n % d == 0)


def boot_server(
    *, sr: int, nchnls: int, block: int, seed: int, mode: str, driver: str | None
) -> tuple[Any, str, int]:
    """A booted pyo server, the driver it runs ("manual" offline) and its rate (JACK
    runs at its own: the engine measures frames in it). AudioError when it cannot boot."""
    if driver is None:
        driver = os.environ.get("PYO_SERVER_AUDIO", "portaudio")
    if driver == "pa":
        driver = "portaudio"
    if mode == "realtime" and driver not in DRIVERS:
        raise ValueError(f"driver must be one of {', '.join(DRIVERS)}, not {driver!r}")
    audio = "manual" if mode == "manual" else driver
    if audio == "portaudio" and pyo.pa_get_default_output() < 0:
        # pyo 1.1 segfaults in boot() when portaudio has no output device
        raise AudioError("no audio output device (portaudio lists none)")
    s = pyo.Server(
        sr=sr, nchnls=nchnls, buffersize=block, duplex=0, audio=audio, jackname=JACK_NAME
    )
    s.setVerbosity(1 | 4)  # errors and warnings
    s.setGlobalSeed(1 + seed % 2_147_483_646)
    s.boot()
    if s.getIsBooted():
        s.shutdown()  # resets the random counters (see the module doc)
        s.boot()
    if not s.getIsBooted():
        why = " (is a JACK server running?)" if audio == "jack" else ""
        raise AudioError(f"pyo server did not boot (audio={audio!r}, sr={sr}){why}")
    rate = int(s.getSamplingRate()) if mode == "realtime" else sr
    if rate != sr:
        log.info("audio: %s runs at %d Hz (the set asks for %d)", audio, rate, sr)
    return s, audio, rate
