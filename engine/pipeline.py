"""The offline frame loop, pipelined: drawing never waits for readback or encoding.

Each frame the show's state advances and its GPU work is submitted (`Show.advance`);
the picture is then copied into one of a ring of pixel buffers (glReadPixels into a
PBO returns without waiting) and mapped `depth - 1` frames later, when the GPU has long
finished it. Mapped frames go through a bounded queue to an encoder thread that hashes
them, pipes them to ffmpeg (a process of its own) and writes their sound; hashing and
pipe writes release the GIL. Audio is computed in lockstep on the show's thread: its
controls come from that frame's state, so it cannot run ahead (it costs about 1 ms a
frame for a dozen voices). Features are analysed in the show's step, staggered across
dreamers, while the GPU still draws the previous frame.

Every run reports where its time went (:class:`StageTimes`), and the GPU's own time
per frame from GL timer queries, against the wall time per frame.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import moderngl
import numpy as np

from engine.clock import Clock, Tick
from engine.show import Show

NO_RESULT = 2**32 - 1  # what a timer query reads before the driver has a result


@dataclass(frozen=True, slots=True)
class Output:
    """A finished frame on its way to the sinks."""

    index: int
    time: float
    image: np.ndarray  # (h, w, 3) uint8, top row first
    audio: np.ndarray | None


Consume = Callable[[Output], None]


@dataclass
class StageTimes:
    """Seconds spent in each stage of a render; `gpu` is the GL timer's sum."""

    warm_up: float = 0.0  # frames run before the first output (a chunk's history)
    show: float = 0.0  # show thread: inputs, signals, features, params, GL submission, audio
    readback: float = 0.0  # show thread: queuing readbacks, mapping finished ones
    handoff: float = 0.0  # show thread: waiting for room in the encoder's queue
    encode: float = 0.0  # encoder thread: hashes, frames to ffmpeg, sound to its file
    finish: float = 0.0  # after the last frame: ffmpeg's flush, muxing, renaming
    loop: float = 0.0  # wall time from the first output frame to the last one handed over
    gpu: float = 0.0
    frames: int = 0
    gpu_frames: int = 0  # frames with a timer result

    @property
    def wall_per_frame(self) -> float:
        return self.loop / self.frames if self.frames else 0.0

    @property
    def gpu_per_frame(self) -> float:
        return self.gpu / self.gpu_frames if self.gpu_frames else 0.0

    def summary(self) -> str:
        ms = 1000.0
        ratio = self.wall_per_frame / self.gpu_per_frame if self.gpu_per_frame else 0.0
        return (
            f"stages: warm-up {self.warm_up:.1f} s, show {self.show:.1f} s, "
            f"readback {self.readback:.2f} s, handoff {self.handoff:.2f} s, "
            f"encode {self.encode:.1f} s (own thread), finish {self.finish:.1f} s; "
            f"per frame: wall {self.wall_per_frame * ms:.1f} ms, "
            f"GPU {self.gpu_per_frame * ms:.1f} ms ({ratio:.2f}x)"
        )


class Readbacks:
    """A ring of `depth` pixel buffers and timer queries: frame i is read into slot
    i % depth and collected when the ring is full, depth - 1 frames later."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], depth: int = 3) -> None:
        if depth < 1:
            raise ValueError("a readback ring needs at least one buffer")
        w, h = size
        self.size = size
        self.depth = depth
        self.buffers = [ctx.buffer(reserve=w * h * 3) for _ in range(depth)]
        self.queries = [ctx.query(time=True) for _ in range(depth)]
        self._pending: deque[tuple[int, Tick, np.ndarray | None]] = deque()
        self._next = 0

    def query(self) -> moderngl.Query:
        """The timer for the frame about to be drawn (its slot is free by then)."""
        return self.queries[self._next]

    def push(self, fbo: moderngl.Framebuffer, tick: Tick, audio: np.ndarray | None) -> None:
        slot = self._next
        fbo.read_into(self.buffers[slot], components=3)
        self._pending.append((slot, tick, audio))
        self._next = (slot + 1) % self.depth

    def full(self) -> bool:
        return len(self._pending) >= self.depth

    def __len__(self) -> int:
        return len(self._pending)

    def pop(self) -> tuple[Output, float | None]:
        """The oldest frame, mapped, and its GPU seconds (None: no timer result)."""
        slot, tick, audio = self._pending.popleft()
        w, h = self.size
        image = np.frombuffer(self.buffers[slot].read(), np.uint8).reshape(h, w, 3)
        elapsed = self.queries[slot].elapsed
        gpu = elapsed / 1e9 if 0 < elapsed < NO_RESULT else None
        return Output(tick.frame, tick.time, image, audio), gpu

    def release(self) -> None:
        for buffer in self.buffers:  # moderngl 5 queries have no release: the context's
            buffer.release()


class Encoder:
    """The sinks on a thread of their own, fed through a bounded queue. An error in a sink
    is raised on the show's thread at the next hand-over (or at close)."""

    def __init__(self, consume: Consume, depth: int = 4) -> None:
        self._consume = consume
        self._queue: queue.Queue[Output | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.busy = 0.0
        self._thread = threading.Thread(target=self._run, name="oneiric-encoder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the show's thread never blocks on a dead sink
            t0 = time.perf_counter()
            try:
                self._consume(item)
            except BaseException as exc:  # handed to the show's thread
                self._error = exc
            self.busy += time.perf_counter() - t0

    def put(self, item: Output) -> float:
        """Hand a frame over; returns the seconds spent waiting for room."""
        self._check()
        t0 = time.perf_counter()
        self._queue.put(item)
        return time.perf_counter() - t0

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._check()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error


def warm_up(show: Show, clock: Clock, start: int, before: Callable[[int], None] | None) -> None:
    """Frames 0..start-1 without output: every state advances as in a full render (the
    GPU draws only where pictures carry state from frame to frame)."""
    for i in range(start):
        if before is not None:
            before(i)
        show.advance(clock.tick(), draw=False)


def pipelined(
    show: Show,
    clock: Clock,
    n_frames: int,
    consume: Consume,
    *,
    start: int = 0,
    before: Callable[[int], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    depth: int = 3,
) -> StageTimes:
    """Frames start..n_frames-1 to `consume` (called on the encoder thread, in order),
    frames before `start` run as a warm-up; `before(i)` runs before every frame."""
    times = StageTimes()
    t0 = time.perf_counter()
    warm_up(show, clock, start, before)
    times.warm_up = time.perf_counter() - t0
    ring = Readbacks(show.ctx, show.size, depth)
    encoder = Encoder(consume)

    def collect() -> None:
        t = time.perf_counter()
        out, gpu = ring.pop()
        times.readback += time.perf_counter() - t
        if gpu is not None:
            times.gpu += gpu
            times.gpu_frames += 1
        times.handoff += encoder.put(out)
        times.frames += 1
        if on_frame is not None:
            on_frame()

    try:
        t1 = time.perf_counter()
        for i in range(start, n_frames):
            if before is not None:
                before(i)
            t = time.perf_counter()
            tick = clock.tick()
            with ring.query():
                audio = show.advance(tick)
            t2 = time.perf_counter()
            times.show += t2 - t
            ring.push(show.merge.fbo, tick, audio)
            times.readback += time.perf_counter() - t2
            if ring.full():
                collect()
        while len(ring):
            collect()
        times.loop = time.perf_counter() - t1
        encoder.close()
    finally:
        ring.release()
    times.encode = encoder.busy
    return times


def serial(
    show: Show,
    clock: Clock,
    n_frames: int,
    consume: Consume,
    *,
    start: int = 0,
    before: Callable[[int], None] | None = None,
    on_frame: Callable[[], None] | None = None,
) -> StageTimes:
    """The same frames one after another on one thread (the render before the pipeline):
    for comparison, and the reference a pipelined render must match bit for bit."""
    times = StageTimes()
    t0 = time.perf_counter()
    warm_up(show, clock, start, before)
    times.warm_up = time.perf_counter() - t0
    query = show.ctx.query(time=True)  # moderngl 5 queries go with their context
    t1 = time.perf_counter()
    for i in range(start, n_frames):
        if before is not None:
            before(i)
        t = time.perf_counter()
        tick = clock.tick()
        with query:
            frame = show.step(tick)
        t2 = time.perf_counter()
        times.show += t2 - t
        elapsed = query.elapsed
        if 0 < elapsed < NO_RESULT:
            times.gpu += elapsed / 1e9
            times.gpu_frames += 1
        t3 = time.perf_counter()
        consume(Output(frame.index, frame.time, frame.image, frame.audio))
        times.encode += time.perf_counter() - t3
        times.frames += 1
        if on_frame is not None:
            on_frame()
    times.loop = time.perf_counter() - t1
    return times
