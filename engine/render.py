"""Offline rendering: the show on a frame clock, into a file.

The output is written beside its final name and renamed only when complete, so
an interrupted render never leaves a truncated file where a finished one should
be. Frame and audio hashes are kept so renders can be compared bit for bit. The
frame loop is pipelined (engine/pipeline.py); each render reports its stages' times.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import moderngl
import numpy as np

from engine import commands, sets
from engine.audio.graph import available_patches
from engine.clock import Clock, FrameClock
from engine.mapping import available_mappings
from engine.output_spec import OutputSpec
from engine.pipeline import Output, StageTimes, pipelined, serial
from engine.progress import Progress
from engine.show import Folders, Show
from engine.visuals.context import headless_context
from engine.visuals.outputs import Outputs
from engine.visuals.shaders import available_layers
from engine.visuals.sinks import MovieWriter, PngSink, RawAudio


class FrameSink(Protocol):
    def write(self, image: np.ndarray) -> None: ...


@dataclass(frozen=True)
class RenderOptions:
    """How to render, as `performance.py render` was asked: built once from the command
    line and passed whole to render(), replay() and a chunked render's Job, so a new
    option is added here and where it is read, not forwarded by hand at every hop.

    None means the set's own (size, fps, duration). A replay reads only size, frames_dir,
    audio, progress, crf and pipeline: it runs on the session's recorded fps and frames,
    with its recorded inputs in place of a MIDI file or outputs."""

    size: tuple[int, int] | None = None
    fps: float | None = None
    duration: float | None = None  # seconds of show from its start
    frames_dir: Path | None = None  # PNG frames too
    audio: bool = True
    progress: bool = True  # a progress bar on stderr
    midi: Path | None = None  # a recorded controller performance played in
    controller: str | Path = "korg-nanokontrol2"  # the bindings `midi` plays through
    outputs: tuple[OutputSpec, ...] = ()  # besides the set's own
    crf: int = 18  # x264's quality; 0 encodes losslessly
    pipeline: bool = True  # False: the serial loop (for comparison)


@dataclass
class RenderResult:
    output: Path | None
    frames: int
    size: tuple[int, int]
    fps: float
    duration: float  # seconds of show
    wall: float  # seconds it took
    frame_hashes: list[str] = field(default_factory=list)
    audio_hash: str = ""
    audio_samples: int = 0
    stages: StageTimes = field(default_factory=StageTimes)
    sample_rate: int = 48000

    @property
    def speed(self) -> float:
        """Show seconds per wall second (1.0 = real time)."""
        return self.duration / self.wall if self.wall > 0 else float("inf")

    def summary(self) -> str:
        w, h = self.size
        where = f" -> {self.output}" if self.output else ""
        return (
            f"rendered {self.frames} frames ({self.duration:.2f} s at {w}x{h}, {self.fps:g} fps)"
            f" in {self.wall:.1f} s: {self.speed:.2f}x real time{where}"
        )


def load_set(path: Path | str, folders: Folders | None = None) -> sets.SetSpec:
    """Read a set, checking its shader, patch and mapping names against `folders`."""
    folders = folders or Folders()
    return sets.load(
        path,
        shaders=set(available_layers(folders.shaders)),
        patches=set(available_patches(folders.patches)),
        mappings=set(available_mappings(folders.mappings)),
    )


def render(
    spec: sets.SetSpec,
    output: Path | None,
    options: RenderOptions,
    *,
    frames: tuple[int, int] | None = None,
    sound_file: Path | None = None,
    on_frame: Callable[[], None] | None = None,
) -> RenderResult:
    """Render a set to `output` (MP4, H.264 + AAC) and/or a folder of PNG frames; with
    `options.midi`, a recorded controller performance plays through its controller's
    bindings; `options.outputs` (and the set's own) get every frame too, waiting for
    their readers. `frames=(a, b)`: only frames a..b-1 are output, the ones before run
    as a warm-up (a chunk of a distributed render); see render_show for the rest."""
    fps = options.fps or spec.fps
    duration = spec.duration if options.duration is None else options.duration
    ctx = headless_context()
    try:
        show = Show(spec, ctx, size=options.size, fps=fps, audio=options.audio)
    except BaseException:
        ctx.release()
        raise
    before = None
    if options.midi is not None:
        from engine.midi.apply import midi_file_feeder

        target = commands.Offline(show)
        before = midi_file_feeder(
            show, options.midi, options.controller, fps, lambda e: commands.run(target, e)
        )
    start, end = frames or (0, max(1, round(duration * fps)))
    outs = Outputs([*spec.outputs, *options.outputs], show.size, fps, lossless=True)
    try:
        return render_show(
            show,
            FrameClock(fps),
            end,
            output,
            options,
            before=before,
            release=ctx,
            sinks=[outs],
            start=start,
            sound_file=sound_file,
            on_frame=on_frame,
        )
    finally:
        outs.close()


def render_show(
    show: Show,
    clock: Clock,
    n_frames: int,
    output: Path | None,
    options: RenderOptions,
    *,
    before: Callable[[int], None] | None = None,
    release: moderngl.Context | None = None,
    sinks: Sequence[FrameSink] = (),
    start: int = 0,
    sound_file: Path | None = None,
    on_frame: Callable[[], None] | None = None,
) -> RenderResult:
    """Step a show `n_frames` times into the sinks; `before(frame)` runs before each
    step (a replay applies what was recorded there). Closes the show (and `release`).
    Of `options` it reads frames_dir, progress, crf and pipeline: the show was built
    with the rest.

    Frames before `start` run as a warm-up and are not output. `sound_file`: the sound
    goes there as raw float32 (interleaved) and the movie is video only (a chunk's
    sound, joined by the driver). `on_frame()` runs after each output frame."""
    fps = show.fps
    result = RenderResult(output, n_frames - start, show.size, fps, 0.0, 0.0)
    result.sample_rate = show.spec.sample_rate
    audio_hash = hashlib.blake2b(digest_size=16)
    t0 = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            movie = None
            if output is not None:
                muxed = show.audio is not None and sound_file is None
                rate = show.spec.sample_rate if muxed else None
                movie = stack.enter_context(
                    MovieWriter(output, show.size, fps, sample_rate=rate, crf=options.crf)
                )
            raw = None
            if sound_file is not None:
                raw = RawAudio(sound_file, show.spec.sample_rate, 2)
                stack.callback(raw.close)
            pngs = None
            if options.frames_dir is not None:
                pngs = PngSink(options.frames_dir, show.size, fps)
                stack.callback(pngs.abort)
            bar = Progress(n_frames - start, show.spec.title[:30], enabled=options.progress)
            stack.callback(bar.close)

            def consume(frame: Output) -> None:
                result.frame_hashes.append(
                    hashlib.blake2b(frame.image.data, digest_size=16).hexdigest()
                )
                if movie is not None:
                    movie.write(frame.image)
                if pngs is not None:
                    pngs.write(frame.image)
                for sink in sinks:
                    sink.write(frame.image)
                if frame.audio is not None:
                    audio_hash.update(frame.audio.tobytes())
                    result.audio_samples += len(frame.audio)
                    if movie is not None:
                        movie.audio(frame.audio)
                    if raw is not None:
                        raw.write(frame.audio)
                result.duration = frame.time + 1.0 / fps - start / fps

            def done() -> None:
                bar.update()
                if on_frame is not None:
                    on_frame()

            loop = pipelined if options.pipeline else serial
            result.stages = loop(
                show, clock, n_frames, consume, start=start, before=before, on_frame=done
            )
            t1 = time.perf_counter()
            if pngs is not None:
                pngs.close()
        result.stages.finish = time.perf_counter() - t1
        result.wall = time.perf_counter() - t0
    finally:
        show.close()
        if release is not None:
            release.release()
    result.audio_hash = audio_hash.hexdigest() if result.audio_samples else ""
    return result
