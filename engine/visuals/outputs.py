"""Video outputs beside the window and the files: other software takes the picture live.

- ``ndi:NAME``: an NDI source on the LAN (cyndilib, which ships NDI's runtime);
- ``v4l2:DEVICE``: a v4l2loopback camera (pyvirtualcam) that OBS, Zoom and browsers open;
- ``pipe:PATH`` / ``pipe:|COMMAND``: the frame stream (engine.visuals.framestream) into a
  named pipe, made if missing and reopened for each new reader, or into a command's stdin;
- ``shm:NAME``: the frame stream as a shared-memory ring that any process can read.

:class:`Outputs` holds several at once, each at its own size (scaled with Pillow,
once per size and frame). An output that cannot open, or fails while the show runs,
is dropped with one message and the show goes on. Live (``lossless=False``) a slow
pipe reader never stalls the show: frames it did not take in time are dropped and
counted. Offline (``lossless=True``) every frame is written, waiting for the reader.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import stat
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
from PIL import Image

from engine.output_spec import OutputSpec
from engine.visuals.framestream import FORMATS, FrameHeader, ShmRing

log = logging.getLogger("oneiric.outputs")
V4L2_HINT = (
    "load the kernel module where the machine allows it (not inside a container):"
    " sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=Oneiric exclusive_caps=1"
)


class OutputUnavailable(RuntimeError):
    """An output that cannot open here (no device, no runtime): one line saying why."""


class Output(Protocol):
    size: tuple[int, int]
    channels: int  # what write() takes: 3 (RGB) or 4 (RGBA)

    def open(self) -> None: ...
    def write(self, pixels: np.ndarray, frame: int) -> None: ...
    def close(self) -> None: ...


class PipeOutput:
    """The frame stream into a named pipe or a command's stdin, from a writer thread, so
    the show never waits on the reader (unless `lossless`)."""

    def __init__(self, spec: OutputSpec, size: tuple[int, int], lossless: bool) -> None:
        self.spec, self.size, self.lossless = spec, size, lossless
        self.format = FORMATS[spec.format]
        self.channels = 4 if spec.format == "rgba" else 3
        self.command = spec.target[1:].strip() if spec.target.startswith("|") else ""
        self.path = Path(spec.target)
        self.dropped = 0  # frames a slow (or absent) reader did not take in time
        self.readers = 0  # readers that opened the pipe
        self.error: BaseException | None = None
        self._made = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._queue: deque[tuple[np.ndarray, int]] = deque()
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"output {spec}", daemon=True)

    def open(self) -> None:
        if self.command:
            try:
                argv = shlex.split(self.command)
                self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
            except (OSError, ValueError) as exc:
                raise OutputUnavailable(f"cannot run {self.command!r}: {exc}") from None
            self._file = self._proc.stdin
        elif not self.path.exists():
            try:
                os.mkfifo(self.path)
            except OSError as exc:
                raise OutputUnavailable(f"cannot make a named pipe there: {exc}") from None
            self._made = True
        elif not stat.S_ISFIFO(self.path.stat().st_mode):
            raise OutputUnavailable("exists and is not a named pipe (not overwriting it)")
        self._thread.start()

    def write(self, pixels: np.ndarray, frame: int) -> None:
        if self.error is not None:
            raise self.error
        with self._cond:
            room = lambda: len(self._queue) < 2 or self.error is not None  # noqa: E731
            if self.lossless and not self._cond.wait_for(room, timeout=2.0):
                log.warning("output %s: waiting for a reader to take the frames", self.spec)
                self._cond.wait_for(room)
            elif len(self._queue) >= 2:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((pixels, frame))
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            while not self._stop or self._file is not None:
                if self._file is None:  # open at once, so a reader's open returns at once
                    self._file = open(self.path, "wb")  # noqa: SIM115  # blocks for a reader
                    self.readers += 1
                with self._cond:
                    self._cond.wait_for(lambda: self._queue or self._stop)
                    if not self._queue or (self._stop and not self.lossless):
                        return
                    pixels, frame = self._queue.popleft()
                    self._cond.notify_all()
                h, w = pixels.shape[:2]
                try:
                    self._file.write(FrameHeader(w, h, self.format, frame).pack())
                    self._file.write(pixels.data)
                    self._file.flush()
                except BrokenPipeError:
                    self._reader_gone()
        except BaseException as exc:  # reaches the frame loop, which drops this output
            self.error = exc
            with self._cond:
                self._cond.notify_all()

    def _reader_gone(self) -> None:
        file, self._file = self._file, None
        with contextlib.suppress(OSError):
            if file is not None:
                file.close()
        if self.command:
            raise OutputUnavailable(f"{self.command!r} exited")
        log.info("output %s: its reader went away; waiting for the next", self.spec)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            if not self.lossless:
                self._queue.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and not self.command and self._file is None:
            with contextlib.suppress(OSError):  # release a writer still waiting for a reader
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                self._thread.join(timeout=1.0)
                os.close(fd)
        self._thread.join(timeout=None if self.lossless else 5.0)
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._proc is not None:
            self._proc.wait(timeout=30)
        if self._made:
            self.path.unlink(missing_ok=True)


class ShmOutput:
    def __init__(self, spec: OutputSpec, size: tuple[int, int]) -> None:
        self.spec, self.size = spec, size
        self.channels = 4 if spec.format == "rgba" else 3
        self.ring: ShmRing | None = None

    def open(self) -> None:
        try:
            self.ring = ShmRing(self.spec.target, self.size, self.spec.format)
        except OSError as exc:
            raise OutputUnavailable(f"no shared memory: {exc}") from None

    def write(self, pixels: np.ndarray, frame: int) -> None:
        assert self.ring is not None
        self.ring.write(pixels)

    def close(self) -> None:
        if self.ring is not None:
            self.ring.close()


class VirtualCamOutput:
    """A camera other software opens: v4l2loopback through pyvirtualcam (RGB in; it
    converts to what the device takes)."""

    def __init__(self, spec: OutputSpec, size: tuple[int, int], fps: float) -> None:
        self.spec, self.size, self.fps = spec, size, fps
        self.channels = 3
        self.camera: Any = None

    def open(self) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise OutputUnavailable("pyvirtualcam is not installed") from None
        device = self.spec.target or None
        if device is not None and not Path(device).exists():
            raise OutputUnavailable(f"no device {device} ({V4L2_HINT})")
        w, h = self.size
        try:
            self.camera = pyvirtualcam.Camera(
                w, h, self.fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device,
                backend="v4l2loopback",
            )  # fmt: skip
        except RuntimeError as exc:
            raise OutputUnavailable(f"{exc} ({V4L2_HINT})") from None
        log.info("output %s: camera %s", self.spec, self.camera.device)

    def write(self, pixels: np.ndarray, frame: int) -> None:
        self.camera.send(pixels)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()


class NdiOutput:
    """An NDI source (cyndilib ships NDI's runtime). NDI compresses (SpeedHQ), so what a
    receiver gets is close to the frame, not byte-exact."""

    def __init__(self, spec: OutputSpec, size: tuple[int, int], fps: float) -> None:
        self.spec, self.size, self.fps = spec, size, fps
        self.channels = 4
        self.sender: Any = None

    def open(self) -> None:
        try:
            from cyndilib.sender import Sender
            from cyndilib.video_frame import VideoSendFrame
            from cyndilib.wrapper.ndi_structs import FourCC
        except (ImportError, OSError) as exc:
            raise OutputUnavailable(
                f"no NDI runtime ({exc}); pip install 'cyndilib>=0.1.3,<0.2' ships one"
            ) from None
        frame = VideoSendFrame()
        frame.set_resolution(*self.size)
        frame.set_frame_rate(Fraction(self.fps).limit_denominator(1001))
        frame.set_fourcc(FourCC.RGBA)
        self.sender = Sender(self.spec.target, clock_video=False)
        self.sender.set_video_frame(frame)
        self.sender.open()
        log.info("output %s: NDI source %r", self.spec, self.sender.name)

    def write(self, pixels: np.ndarray, frame: int) -> None:
        # async: NDI compresses in its own thread, so the frame loop only copies (~0.6 ms
        # at 720p, where a synchronous send waits ~5 ms for the compression)
        if not pixels.flags.writeable:  # cyndilib takes only a writable buffer
            pixels = pixels.copy()
        if not self.sender.write_video_async(pixels.reshape(-1)):
            raise OutputUnavailable("NDI did not take the frame")

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()


def make_output(spec: OutputSpec, size: tuple[int, int], fps: float, lossless: bool) -> Output:
    size = spec.size or size
    if spec.kind == "pipe":
        return PipeOutput(spec, size, lossless)
    if spec.kind == "shm":
        return ShmOutput(spec, size)
    if spec.kind == "v4l2":
        return VirtualCamOutput(spec, size, fps)
    return NdiOutput(spec, size, fps)


def fit(image: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """The frame at `size` with 3 or 4 channels: shrunk by whole factors as the mean of
    each box of pixels (4x faster than resampling), else bilinear (area-aware). Pillow
    does both, and adds the alpha in half the time numpy takes."""
    h, w = image.shape[:2]
    sw, sh = size
    if (w, h) == size and channels == 3:
        return np.ascontiguousarray(image)
    picture = Image.fromarray(image)
    if (w, h) != size and w % sw == 0 and h % sh == 0:
        picture = picture.reduce((w // sw, h // sh))
    elif (w, h) != size:
        picture = picture.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(picture.convert("RGBA") if channels == 4 else picture)


class Outputs:
    """Several outputs fed the same frames (a FrameSink: `write(image)`)."""

    def __init__(
        self,
        specs: Sequence[OutputSpec],
        size: tuple[int, int],
        fps: float,
        *,
        lossless: bool = False,
    ) -> None:
        self.open: dict[OutputSpec, Output] = {}
        self.notices: list[str] = []  # one line for each output that could not open or failed
        self.frames = 0
        for spec in specs:
            out = make_output(spec, size, fps, lossless)
            try:
                out.open()
            except Exception as exc:  # any failure: this output is off, nothing else
                self._notice(spec, exc)
                continue
            self.open[spec] = out
            log.info("output %s open at %dx%d", spec, *out.size)

    def _notice(self, spec: OutputSpec, exc: BaseException) -> None:
        why = str(exc) if isinstance(exc, OutputUnavailable) else f"{type(exc).__name__}: {exc}"
        line = f"output {spec}: {why}; the show goes on without it"
        self.notices.append(line)
        log.warning("notice: %s", line)

    def write(self, image: np.ndarray) -> None:
        scaled: dict[tuple[tuple[int, int], int], np.ndarray] = {}
        for spec, out in list(self.open.items()):
            key = (out.size, out.channels)
            try:
                if key not in scaled:
                    scaled[key] = fit(image, out.size, out.channels)
                out.write(scaled[key], self.frames)
            except Exception as exc:  # a failing output is dropped; the show goes on
                del self.open[spec]
                self._notice(spec, exc)
                with contextlib.suppress(Exception):
                    out.close()
        self.frames += 1

    def close(self) -> None:
        for spec, out in self.open.items():
            try:
                out.close()
            except Exception as exc:
                log.warning("output %s did not close cleanly: %s", spec, exc)
        self.open.clear()
