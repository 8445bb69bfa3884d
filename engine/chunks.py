"""Chunked renders on Ray: a set or a recorded session split across worker processes,
joined without re-encoding the picture, with the sound in one piece.

Each chunk is one Ray task. Its worker builds the show from the same set (or session
log) and runs it on the deterministic frame clock from frame 0: frames before its chunk
are a warm-up (engine/pipeline.warm_up: signal rings, smoothing, cues, mapping, pyo's
state and the random streams advance as in a whole render; the GPU draws them too where
a picture carries state from frame to frame, such as a feedback effect, and is skipped
where none does). Its own frames go through the pipelined loop into a video-only MP4 of
their own, a separate encode and so a closed GOP starting on a keyframe, and their raw
samples into a file. The driver joins the videos with ffmpeg's concat demuxer and
`-c copy`, and encodes the joined samples to AAC once while muxing them in.

Why Ray rather than Dask: a chunk is a long task holding a GL context, best run in a
process of its own; Ray runs each task in a worker process, restarts a worker that dies
(a SIGKILL, an OOM kill) and runs its task again (`max_retries`), retries one that raised
(`retry_exceptions`), gives a small actor for the live frame count across workers, and
joins an existing cluster with `ray.init(address=...)`. Dask's distributed scheduler runs
tasks on worker threads by default and, for a task lost with its worker, re-runs it only
once it is deemed suspicious; Ray's model of "a task is a process" is the one we need.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine import sessions
from engine.pipeline import StageTimes
from engine.progress import Progress
from engine.render import RenderOptions, RenderResult, load_set, render
from engine.replay import replay
from engine.visuals.sinks import SinkError, ffmpeg_exe

ROOT = Path(__file__).resolve().parents[1]
OBJECT_STORE = 96 * 1024 * 1024  # chunks hand back hashes, not frames: keep it small


class ChunkError(RuntimeError):
    """A chunk failed on every try; the message names the chunk and its error."""


@dataclass(frozen=True)
class Job:
    """What to render, a set file or a recorded session, and how (the driver's progress
    bar shows when `options.progress`)."""

    set_path: Path | None = None
    session: Path | None = None
    options: RenderOptions = field(default_factory=RenderOptions)

    def frame_count(self) -> tuple[int, float, tuple[int, int]]:
        """(frames, fps, size) of the whole render."""
        size = self.options.size
        if self.session is not None:
            session = sessions.load(self.session)
            return len(session.ticks), session.fps, size or session.size
        assert self.set_path is not None
        spec = load_set(self.set_path)
        fps = self.options.fps or spec.fps
        duration = spec.duration if self.options.duration is None else self.options.duration
        return max(1, round(duration * fps)), fps, size or spec.size

    def run(
        self,
        video: Path,
        sound: Path | None,
        frames: tuple[int, int],
        on_frame: Callable[[], None],
    ) -> RenderResult:
        # a chunk draws no bar (the driver's counts them all), and writes no PNG frames
        # and feeds no options.outputs: its frames are a part of the show, out of turn
        options = replace(self.options, progress=False, frames_dir=None, outputs=())
        if self.session is not None:
            return replay(
                self.session, video, options, frames=frames, sound_file=sound, on_frame=on_frame
            )
        assert self.set_path is not None
        return render(
            load_set(self.set_path),
            video,
            options,
            frames=frames,
            sound_file=sound,
            on_frame=on_frame,
        )


@dataclass
class ChunkDone:
    index: int
    frames: tuple[int, int]
    video: Path
    sound: Path | None
    frame_hashes: list[str]
    audio_samples: int
    sample_rate: int
    stages: StageTimes
    wall: float
    pid: int
    attempt: int  # 1 on the first try


@dataclass
class ChunkedResult(RenderResult):
    """A RenderResult whose stages are summed over the chunks, with each chunk's own."""

    chunks: list[ChunkDone] = field(default_factory=list)
    attempts: dict[int, int] = field(default_factory=dict)
    joined: float = 0.0  # seconds the driver took to join the chunks


def split(n_frames: int, chunks: int) -> list[tuple[int, int]]:
    """Frames 0..n-1 in `chunks` runs as even as can be, none empty."""
    chunks = max(1, min(chunks, n_frames))
    edges = [round(k * n_frames / chunks) for k in range(chunks + 1)]
    return list(itertools.pairwise(edges))


def _tally_class() -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class Tally:
        """Frames done per chunk (a retried chunk starts again from 0), its worker's pid,
        and how many times each chunk was started."""

        def __init__(self) -> None:
            self.done: dict[int, int] = {}
            self.pids: dict[int, int] = {}
            self.attempts: dict[int, int] = {}

        def started(self, k: int, pid: int) -> int:
            self.done[k] = 0
            self.pids[k] = pid
            self.attempts[k] = self.attempts.get(k, 0) + 1
            return self.attempts[k]

        def report(self, k: int, n: int) -> None:
            self.done[k] = n

        def state(self) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
            return dict(self.done), dict(self.pids), dict(self.attempts)

    return Tally


def _chunk(job: Job, k: int, frames: tuple[int, int], folder: Path, tally: Any) -> ChunkDone:
    """One chunk, in a Ray worker."""
    import ray

    pid = os.getpid()
    attempt = int(ray.get(tally.started.remote(k, pid)))
    video = folder / f"chunk{k:04d}.mp4"
    sound = folder / f"chunk{k:04d}.f32" if job.options.audio else None
    done = 0

    def on_frame() -> None:
        nonlocal done
        done += 1
        if done % 4 == 0:
            tally.report.remote(k, done)

    t0 = time.perf_counter()
    result = job.run(video, sound, frames, on_frame)
    ray.get(tally.report.remote(k, done))
    return ChunkDone(
        k,
        frames,
        video,
        sound,
        result.frame_hashes,
        result.audio_samples,
        result.sample_rate,
        result.stages,
        time.perf_counter() - t0,
        pid,
        attempt,
    )


def connect(workers: int, cluster: str | None = None, env: dict[str, str] | None = None) -> bool:
    """Start a local Ray instance of `workers` CPUs (or join `cluster`), its workers'
    environment plus `env` (LP_NUM_THREADS=1: one llvmpipe thread each); True if this
    call started it (and so should shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    env = {"PYTHONPATH": str(ROOT), "PYO_GUI_WX": "0", **(env or {})}
    if cluster:  # the nodes must see the same paths (a shared folder), code included
        ray.init(address=cluster, log_to_driver=False, runtime_env={"env_vars": env})
    else:
        ray.init(
            num_cpus=workers,
            object_store_memory=OBJECT_STORE,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env},
        )
    return True


def join(chunks: list[ChunkDone], output: Path) -> str:
    """The chunks' videos end to end (stream copy) and their samples, in order, as one
    AAC track: written beside `output`, renamed onto it when complete. Returns the
    joined samples' hash."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}{output.suffix}")
    folder = chunks[0].video.parent
    listing = folder / "chunks.txt"
    listing.write_text("".join(f"file '{c.video.resolve()}'\n" for c in chunks))
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "concat", "-safe", "0", "-i", str(listing)]
    audio_hash = hashlib.blake2b(digest_size=16)
    sounds = [c.sound for c in chunks if c.sound is not None]
    if sounds:
        joined = folder / "sound.f32"
        with joined.open("wb") as out:
            for path in sounds:
                data = path.read_bytes()
                audio_hash.update(data)
                out.write(data)
        rate = str(chunks[0].sample_rate)
        cmd += ["-f", "f32le", "-ar", rate, "-ac", "2", "-i", str(joined)]
        cmd += ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "192k"]
    cmd += ["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", str(partial)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SinkError(f"ffmpeg could not join the chunks: {done.stderr.strip()[-500:]}")
    os.replace(partial, output)
    return audio_hash.hexdigest() if sounds else ""


def _summed(chunks: list[ChunkDone]) -> StageTimes:
    total = StageTimes()
    for c in chunks:
        for f in fields(StageTimes):
            setattr(total, f.name, getattr(total, f.name) + getattr(c.stages, f.name))
    return total


def render_chunked(
    job: Job,
    output: Path | None,
    *,
    workers: int = 2,
    chunks: int | None = None,
    cluster: str | None = None,
    retries: int = 2,
    watch: Callable[[dict[int, int], dict[int, int], dict[int, int]], None] | None = None,
    worker_env: dict[str, str] | None = None,
) -> ChunkedResult:
    """Render `job` in `chunks` (default: one per worker) on Ray and join them into
    `output`. Each chunk is tried 1 + `retries` times. `watch(done, pids, attempts)` is
    called each time the driver polls (about 4 times a second)."""
    import ray

    n_frames, fps, size = job.frame_count()
    runs = split(n_frames, chunks or workers)
    t0 = time.perf_counter()  # Ray's start counts: it is part of the job
    owned = connect(workers, cluster, worker_env)
    try:
        tally = _tally_class().remote()
        task = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=True)(_chunk)
        with tempfile.TemporaryDirectory(prefix="oneiric-chunks-", dir=_scratch(output)) as tmp:
            folder = Path(tmp)
            refs = [task.remote(job, k, run, folder, tally) for k, run in enumerate(runs)]
            name = (job.set_path or job.session or Path("render")).stem
            bar = Progress(n_frames, f"{name} x{workers}", enabled=job.options.progress)
            pending = list(refs)
            try:
                while pending:
                    _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.25)
                    done, pids, tries = ray.get(tally.state.remote())
                    bar.set(sum(done.values()))
                    if watch is not None:
                        watch(done, pids, tries)
                try:
                    parts: list[ChunkDone] = ray.get(refs)
                except ray.exceptions.RayError as exc:
                    raise ChunkError(f"a chunk failed after {1 + retries} tries: {exc}") from exc
                bar.set(n_frames)
            finally:
                bar.close()
            t1 = time.perf_counter()
            audio_hash = join(parts, output) if output is not None else ""
            if output is None and job.options.audio:
                audio_hash = _hash_sounds(parts)
            joined = time.perf_counter() - t1
    finally:
        if owned:
            ray.shutdown()
    result = ChunkedResult(output, n_frames, size, fps, n_frames / fps, 0.0)
    result.frame_hashes = [h for c in parts for h in c.frame_hashes]
    result.audio_samples = sum(c.audio_samples for c in parts)
    result.audio_hash = audio_hash if result.audio_samples else ""
    result.stages = _summed(parts)
    result.chunks, result.joined = parts, joined
    result.attempts = {c.index: c.attempt for c in parts}
    result.wall = time.perf_counter() - t0
    return result


def _hash_sounds(parts: list[ChunkDone]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for c in parts:
        if c.sound is not None:
            h.update(c.sound.read_bytes())
    return h.hexdigest()


def _scratch(output: Path | None) -> str | None:
    """Chunks are written beside the output (the same disk the join copies onto)."""
    if output is None:
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    return str(output.parent)
