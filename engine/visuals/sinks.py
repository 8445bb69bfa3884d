"""Where frames go offline: an H.264 file (ffmpeg), a folder of PNGs, raw audio to mux.

ffmpeg comes from imageio-ffmpeg, which ships a static binary, so a render needs no
system ffmpeg. Each sink is a child process fed raw frames on stdin; its log goes
to a file (a full stderr pipe would deadlock it) and is quoted if it fails.
"""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import IO

import imageio_ffmpeg
import numpy as np


class SinkError(RuntimeError):
    pass


def wav_seconds(path: Path) -> float:
    """A RIFF/WAVE file's length from its fmt and data chunks (any sample format,
    float included, which the wave module does not read); 0.0 if it is not one."""
    try:
        data = path.read_bytes()
    except OSError:
        return 0.0
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0.0
    at, rate_bytes = 12, 0
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if kind == b"fmt ":
            rate_bytes = struct.unpack("<I", data[at + 16 : at + 20])[0]  # byte rate
        elif kind == b"data" and rate_bytes:
            return min(size, len(data) - at - 8) / rate_bytes
        at += 8 + size + (size & 1)
    return 0.0


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def rate(fps: float) -> str:
    """ffmpeg's exact frame rate: 29.97 -> 30000/1001."""
    f = Fraction(fps).limit_denominator(1001)
    return f"{f.numerator}/{f.denominator}"


class _FfmpegSink:
    def __init__(self, size: tuple[int, int], fps: float, output_args: list[str]) -> None:
        self.size = size
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  # lives as long as the process
        w, h = size
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", rate(fps)]
        cmd += ["-i", "-", *output_args]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._log)
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(np.ascontiguousarray(image).data)
        except BrokenPipeError:
            self.close()
        self.frames += 1

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0:
            self._log.seek(0)
            msg = self._log.read().decode(errors="replace").strip().splitlines()
            raise SinkError(f"ffmpeg failed ({code}): {' / '.join(msg[-3:]) or 'no message'}")

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()


class VideoSink(_FfmpegSink):
    """H.264 in yuv420p: what every player and projector laptop plays."""

    def __init__(
        self,
        path: Path,
        size: tuple[int, int],
        fps: float,
        *,
        preset: str = "veryfast",
        crf: int = 18,  # 0: lossless (decoded frames compare bit for bit)
    ) -> None:
        args = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        super().__init__(size, fps, [*args, "-f", "mp4", str(path)])


class PngSink(_FfmpegSink):
    def __init__(self, folder: Path, size: tuple[int, int], fps: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(size, fps, ["-c:v", "png", str(folder / "frame_%06d.png")])


class RawAudio:
    """Float32 interleaved samples streamed to a file, muxed once the video is done."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115  # closed in close()
        self.samples = 0

    def write(self, block: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
        self.samples += len(block)

    def close(self) -> None:
        self._file.close()


def mux(
    video: Path, audio: RawAudio | Path | None, output: Path, *, seconds: float | None = None
) -> None:
    """Video stream copied as is, audio (raw samples, or a sound file ffmpeg reads)
    encoded to AAC, index at the front for streaming. `seconds`: the sound is cut there
    (the picture's length), where it may run on past the last frame."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(video)]
    if isinstance(audio, RawAudio):
        cmd += ["-f", "f32le", "-ar", str(audio.sample_rate), "-ac", str(audio.channels)]
        cmd += ["-i", str(audio.path)]
    elif audio is not None:
        cmd += ["-i", str(audio)]
    if audio is not None:
        cmd += ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "192k"]
        if seconds is not None:
            cmd += ["-t", f"{seconds:.6f}"]
    cmd += ["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", str(output)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SinkError(f"ffmpeg could not mux {output}: {done.stderr.strip()[-500:]}")


class MovieWriter:
    """An MP4 (H.264 + AAC) written beside its final name and renamed onto it only when
    complete, so an interrupted render never leaves a truncated file behind."""

    def __init__(
        self,
        output: Path,
        size: tuple[int, int],
        fps: float,
        *,
        sample_rate: int | None = 48000,
        channels: int = 2,
        crf: int = 18,
    ) -> None:
        self.output = output
        output.parent.mkdir(parents=True, exist_ok=True)
        self._partial = output.with_name(f".{output.name}.partial-{os.getpid()}{output.suffix}")
        self._video_path = self._partial.with_suffix(".video.mp4")
        self.fps = fps
        self.video = VideoSink(self._video_path, size, fps, crf=crf)
        self.sound: RawAudio | None = None
        if sample_rate is not None:
            self.sound = RawAudio(self._partial.with_suffix(".audio.f32"), sample_rate, channels)
        self.frames = 0
        self.sound_file: Path | None = None  # a recorded sound file to mux instead

    def write(self, image: np.ndarray) -> None:
        self.video.write(image)
        self.frames += 1

    def audio(self, block: np.ndarray) -> None:
        if self.sound is not None:
            self.sound.write(block)

    def close(self) -> None:
        """Finish: encode, mux and rename into place."""
        try:
            self.video.close()
            if self.sound is not None:
                self.sound.close()
            sound: RawAudio | Path | None = (
                self.sound if self.sound and self.sound.samples else None
            )
            seconds = None
            if self.sound_file is not None and self.sound_file.exists():
                sound, seconds = self.sound_file, self.frames / self.fps
            mux(self._video_path, sound, self._partial, seconds=seconds)
            os.replace(self._partial, self.output)
        finally:
            self._cleanup()

    def abort(self) -> None:
        self.video.abort()
        if self.sound is not None:
            self.sound.close()
        self._cleanup()

    def _cleanup(self) -> None:
        for path in (self._partial, self._video_path):
            path.unlink(missing_ok=True)
        if self.sound is not None:
            self.sound.path.unlink(missing_ok=True)

    def __enter__(self) -> MovieWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
