"""`live --record`: the live output captured to an MP4 as it is shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.show import Show
from engine.visuals.sinks import MovieWriter


class Recording:
    """Frames and (where the audio is computed per frame) sound of a live show."""

    def __init__(self, path: Path, show: Show) -> None:
        manual = show.audio is not None and show.audio.mode == "manual"
        rate = show.spec.sample_rate if manual else None
        self.movie = MovieWriter(path, show.size, show.fps, sample_rate=rate)

    def write(self, image: np.ndarray) -> None:
        self.movie.write(image)

    def audio(self, block: np.ndarray) -> None:
        self.movie.audio(block)

    def close(self) -> None:
        if self.movie.frames:
            self.movie.close()
        else:
            self.movie.abort()
