"""The frame stream: the show's pictures, raw, for other processes (a pipe or shared memory).

On a pipe (a named pipe, or a child process's stdin) each frame is a 32-byte header
followed by its pixels, top row first, no padding:

    offset size  field
    0      4     magic b"ONRF"
    4      1     version (1)
    5      1     format: 0 = RGB (3 bytes a pixel), 1 = RGBA (4 bytes)
    6      2     reserved (0)
    8      4     width  (little-endian uint32)
    12     4     height (uint32)
    16     8     frame number, from 0 (uint64)
    24     8     show time of the frame in seconds (float64; NaN where unknown)
    32     w*h*3 or w*h*4 bytes of pixels

Shared memory (``multiprocessing.shared_memory``, named as given) holds a ring of the
latest few frames. The block starts with a 32-byte ring header:

    0  4 magic b"ONRS"   4  1 version (1)   5 1 format   6 2 flags (1 = the writer is open)
    8  4 width   12 4 height   16 4 slots   20 4 slot size in bytes   24 8 frames written

and slot i sits at 32 + i * slot size: an 8-byte sequence number (2n+1 while frame n is
being written, 2n+2 once it is complete), then that frame's 32-byte header and pixels.
Frame n goes into slot n % slots. A reader copies a slot and keeps it only if its
sequence number was even and unchanged across the copy (a seqlock), so it never returns
a torn frame; a reader that falls behind by more than the ring skips frames.

Only the standard library and numpy are needed to read either: :func:`read_frames`
(a pipe) and :class:`ShmReader` (shared memory) are what another process imports.
"""

from __future__ import annotations

import math
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory
from typing import BinaryIO

import numpy as np

MAGIC = b"ONRF"
RING_MAGIC = b"ONRS"
VERSION = 1
FORMATS = {"rgb": 0, "rgba": 1}
CHANNELS = {0: 3, 1: 4}
HEADER = struct.Struct("<4sBBHIIQd")  # 32 bytes
RING = struct.Struct("<4sBBHIIIIQ")  # 32 bytes
SEQ = struct.Struct("<Q")
OPEN = 1
MAX_SIDE = 16384


class StreamError(ValueError):
    """Bytes that are not a frame stream (wrong magic, version or format)."""


@dataclass(frozen=True, slots=True)
class FrameHeader:
    width: int
    height: int
    format: int  # FORMATS' values
    frame: int
    time: float = math.nan

    @property
    def channels(self) -> int:
        return CHANNELS[self.format]

    @property
    def payload(self) -> int:
        return self.width * self.height * self.channels

    def pack(self) -> bytes:
        return HEADER.pack(
            MAGIC, VERSION, self.format, 0, self.width, self.height, self.frame, self.time
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> FrameHeader:
        magic, version, fmt, _, w, h, frame, t = HEADER.unpack(data)
        if magic != MAGIC:
            raise StreamError(f"not a frame stream (magic {bytes(magic)!r})")
        if version != VERSION or fmt not in CHANNELS:
            raise StreamError(f"frame stream version {version} format {fmt} is not known")
        return cls(w, h, fmt, frame, t)


def read_frames(stream: BinaryIO) -> Iterator[tuple[FrameHeader, np.ndarray]]:
    """Each frame on a byte stream (a pipe, a file) as (header, (h, w, channels) uint8),
    until the stream ends; a frame cut short by the end is not returned. A reader that
    joins mid-frame (a named pipe another reader left half read) skips to the next."""
    while True:
        head = _read_exactly(stream, HEADER.size)
        header = None
        while head is not None and (header := _header_in(head)) is None:
            at = head.find(MAGIC, 1)
            keep = head[at:] if at > 0 else head[-(len(MAGIC) - 1) :]
            more = _read_exactly(stream, HEADER.size - len(keep))
            head = None if more is None else keep + more
        if head is None or header is None:
            return
        data = _read_exactly(stream, header.payload)
        if data is None:
            return
        pixels = np.frombuffer(data, np.uint8)
        yield header, pixels.reshape(header.height, header.width, header.channels)


def _header_in(head: bytes) -> FrameHeader | None:
    try:
        header = FrameHeader.unpack(head)
    except StreamError:
        return None
    return header if 0 < header.width <= MAX_SIDE and 0 < header.height <= MAX_SIDE else None


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    parts, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _buffer(shm: shared_memory.SharedMemory) -> memoryview:
    buf = shm.buf
    assert buf is not None
    return buf


class ShmRing:
    """The writing end: a ring of `slots` frames in a named shared-memory block.

    A block left by a run that crashed is replaced. The block is unlinked on
    :meth:`close`; readers that still have it mapped see the writer's flag go down."""

    def __init__(self, name: str, size: tuple[int, int], fmt: str = "rgb", slots: int = 3):
        self.name = name
        self.width, self.height = size
        self.format = FORMATS[fmt]
        self.slots = slots
        self.slot_size = SEQ.size + HEADER.size + self.width * self.height * CHANNELS[self.format]
        total = RING.size + slots * self.slot_size
        try:
            self.shm = shared_memory.SharedMemory(name=name, create=True, size=total)
        except FileExistsError:  # left behind by a run that did not close
            stale = shared_memory.SharedMemory(name=name)
            stale.close()
            stale.unlink()
            self.shm = shared_memory.SharedMemory(name=name, create=True, size=total)
        self.buf = _buffer(self.shm)
        self.written = 0
        self._ring_header(OPEN)

    def _ring_header(self, flags: int) -> None:
        self.buf[: RING.size] = RING.pack(
            RING_MAGIC, VERSION, self.format, flags, self.width, self.height, self.slots,
            self.slot_size, self.written,
        )  # fmt: skip

    def write(self, pixels: np.ndarray, t: float = math.nan) -> None:
        """One frame, (h, w, channels) uint8 in the ring's size and format."""
        n = self.written
        at = RING.size + (n % self.slots) * self.slot_size
        buf = self.buf
        buf[at : at + SEQ.size] = SEQ.pack(2 * n + 1)
        header = FrameHeader(self.width, self.height, self.format, n, t)
        start = at + SEQ.size
        buf[start : start + HEADER.size] = header.pack()
        start += HEADER.size
        buf[start : start + header.payload] = np.ascontiguousarray(pixels, np.uint8).data.cast("B")
        buf[at : at + SEQ.size] = SEQ.pack(2 * n + 2)
        self.written = n + 1
        buf[24:32] = SEQ.pack(self.written)

    def close(self) -> None:
        self._ring_header(0)
        self.buf.release()
        self.shm.close()
        self.shm.unlink()


class ShmReader:
    """The reading end, for any process: attach by name, then take frames as they come.

    Raises FileNotFoundError where no such block exists (the show is not running)."""

    def __init__(self, name: str) -> None:
        self.shm = shared_memory.SharedMemory(name=name)
        self.buf = _buffer(self.shm)
        # Python < 3.13 would unlink the writer's block when this process exits
        resource_tracker.unregister(self.shm._name, "shared_memory")  # type: ignore[attr-defined]
        magic, version, fmt, _, w, h, slots, slot_size, _ = RING.unpack(self.buf[: RING.size])
        if magic != RING_MAGIC or version != VERSION:
            self.close()
            raise StreamError(f"shared memory {name!r} is not a frame ring")
        self.width, self.height, self.format = w, h, fmt
        self.slots, self.slot_size = slots, slot_size
        self.next = 0  # the frame number to look for

    @property
    def written(self) -> int:
        return int(SEQ.unpack(self.buf[24:32])[0])

    @property
    def writer_open(self) -> bool:
        return bool(RING.unpack(self.buf[: RING.size])[3] & OPEN)

    def frame(self, n: int) -> tuple[FrameHeader, np.ndarray] | None:
        """Frame n if the ring still holds it whole, else None."""
        at = RING.size + (n % self.slots) * self.slot_size
        buf = self.buf
        seq = SEQ.unpack(buf[at : at + SEQ.size])[0]
        if seq != 2 * n + 2:
            return None
        start = at + SEQ.size
        header = FrameHeader.unpack(bytes(buf[start : start + HEADER.size]))
        start += HEADER.size
        pixels = np.frombuffer(buf[start : start + header.payload], np.uint8).copy()
        if SEQ.unpack(buf[at : at + SEQ.size])[0] != seq:  # overwritten while copied
            return None
        return header, pixels.reshape(header.height, header.width, header.channels)

    def poll(self) -> list[tuple[FrameHeader, np.ndarray]]:
        """Every frame written since the last poll that the ring still holds, in order."""
        written = self.written
        first = max(self.next, written - self.slots)
        got = [f for n in range(first, written) if (f := self.frame(n)) is not None]
        self.next = written
        return got

    def frames(self, timeout: float = 5.0) -> Iterator[tuple[FrameHeader, np.ndarray]]:
        """Frames as they come, until the writer closes or none comes for `timeout` s."""
        last = time.monotonic()
        while True:
            still_open = self.writer_open  # read before polling: its last frames come too
            got = self.poll()
            yield from got
            now = time.monotonic()
            if got:
                last = now
            elif not still_open or now - last > timeout:
                return
            else:
                time.sleep(0.001)

    def close(self) -> None:
        self.buf.release()
        self.shm.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.visuals.framestream pipe PATH | shm NAME`: one line for each
    frame that comes (number, size, format, blake2b-128 of its pixels), to check an output."""
    import argparse
    import hashlib

    parser = argparse.ArgumentParser(prog="python -m engine.visuals.framestream")
    parser.add_argument("kind", choices=("pipe", "shm"))
    parser.add_argument("target", help="the named pipe's path, or the shared memory's name")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the show")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait
    if args.kind == "pipe":
        while not os.path.exists(args.target):  # the show makes the pipe when it starts
            if time.monotonic() > deadline:
                print(f"no pipe at {args.target}", flush=True)
                return 1
            time.sleep(0.01)
        with open(args.target, "rb") as stream:
            _print_frames(read_frames(stream), hashlib.blake2b)
        return 0
    while True:
        try:
            reader = ShmReader(args.target)
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                print(f"no frame ring named {args.target!r}", flush=True)
                return 1
            time.sleep(0.01)
    print(f"attached {reader.width}x{reader.height}", flush=True)
    try:
        _print_frames(reader.frames(timeout=args.wait), hashlib.blake2b)
    finally:
        reader.close()
    return 0


def _print_frames(frames: Iterator[tuple[FrameHeader, np.ndarray]], blake2b: type) -> None:
    for header, pixels in frames:
        digest = blake2b(pixels.data, digest_size=16).hexdigest()
        fmt = "rgba" if header.format else "rgb"
        print(f"{header.frame} {header.width}x{header.height} {fmt} {digest}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
