"""`live --record`: the live output captured to an MP4 as it is shown.

Where the sound is computed per frame (no sound device), each shown frame carries its
own samples and both go to the file, frame by frame. Where it plays on a device, the
device's stream is what the audience heard: pyo's server writes it to a WAV from the
first frame on, and the video follows the wall clock (a frame that took longer than
its slot is repeated in the file for the slots it covered), so sound and picture stay
in step however many frames were dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.show import Show
from engine.visuals.sinks import MovieWriter, wav_seconds


class Capture:
    """Frames and sound of a live show."""

    def __init__(self, path: Path, show: Show) -> None:
        self.show = show
        audio = show.audio
        self.realtime = audio is not None and audio.mode == "realtime"
        rate = show.spec.sample_rate if audio is not None and not self.realtime else None
        self.movie = MovieWriter(path, show.size, show.fps, sample_rate=rate)
        self.wav = path.with_name(f".{path.name}.sound.wav") if self.realtime else None
        self.repeated = 0  # frames written again to cover dropped slots (realtime)
        self._t0 = 0.0  # show time of the first frame recorded
        self.shortfall = 0.0  # seconds of sound the device did not deliver (close())

    def write(self, image: np.ndarray) -> None:
        if not self.realtime:
            self.movie.write(image)
            return
        if self.movie.frames == 0 and self.wav is not None and self.show.audio is not None:
            self.show.audio.start_recording(self.wav)  # the sound from the first frame on
            self.movie.sound_file = self.wav
            self._t0 = self.show.now
        slot = round((self.show.now - self._t0) * self.show.fps)
        copies = slot - self.movie.frames + 1
        if copies <= 0 and self.movie.frames:
            return  # ahead of the clock (a frame early): its slot is already filled
        for _ in range(max(1, copies)):
            self.movie.write(image)
        self.repeated += max(0, copies - 1)

    def audio(self, block: np.ndarray) -> None:
        self.movie.audio(block)

    def close(self) -> None:
        """Finish the file; `shortfall` becomes the seconds of sound missing against the
        picture (the device fell behind: xruns)."""
        if self.show.audio is not None:
            self.show.audio.stop_recording()
        if self.wav is not None and self.movie.frames:
            picture = self.movie.frames / self.show.fps
            self.shortfall = max(0.0, picture - wav_seconds(self.wav))
        try:
            if self.movie.frames:
                self.movie.close()
            else:
                self.movie.abort()
        finally:
            if self.wav is not None:
                self.wav.unlink(missing_ok=True)
