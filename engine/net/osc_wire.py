"""OSC 1.0 messages and bundles as bytes, written for speed.

OSC out and the OSCQuery WebSocket send tens of thousands of small messages a second
(64 dreamers' features at 30 Hz); python-osc's builder takes about seven times as long
for the same bytes (bench/bench_oscquery.py). Reading stays with python-osc
(engine.sources.osc.decode), and the tests parse every packet written here with it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence

IMMEDIATELY = b"\x00\x00\x00\x00\x00\x00\x00\x01"  # the timetag that means "now"
Arg = float | int | str | bool | bytes
_address_cache: dict[str, bytes] = {}


def _padded(raw: bytes) -> bytes:
    """An OSC string: NUL-terminated, padded to a multiple of four bytes."""
    return raw + b"\0" * (4 - len(raw) % 4)


def _address(address: str) -> bytes:
    cached = _address_cache.get(address)
    if cached is None:
        if len(_address_cache) > 100_000:  # a namespace that keeps changing: start over
            _address_cache.clear()
        cached = _address_cache[address] = _padded(address.encode())
    return cached


def message(address: str, args: Sequence[Arg]) -> bytes:
    """One OSC message: floats as f, ints as i, str as s, bool as T/F, bytes as a blob."""
    tags = [","]
    data = []
    for a in args:
        if a is True or a is False:
            tags.append("T" if a else "F")
        elif isinstance(a, float):
            tags.append("f")
            data.append(struct.pack(">f", a))
        elif isinstance(a, int):
            tags.append("i")
            data.append(struct.pack(">i", a))
        elif isinstance(a, str):
            tags.append("s")
            data.append(_padded(a.encode()))
        elif isinstance(a, bytes):
            tags.append("b")
            data.append(struct.pack(">i", len(a)) + a + b"\0" * (-len(a) % 4))
        else:
            raise TypeError(f"no OSC type for {type(a).__name__}")
    return _address(address) + _padded("".join(tags).encode()) + b"".join(data)


def bundle(messages: Iterable[bytes], timetag: bytes = IMMEDIATELY) -> bytes:
    parts = [b"#bundle\0", timetag]
    for m in messages:
        parts.append(struct.pack(">i", len(m)))
        parts.append(m)
    return b"".join(parts)


def bundles(messages: Sequence[bytes], max_bytes: int = 8192) -> Iterator[bytes]:
    """The messages in as few bundles as keep each under `max_bytes` (a datagram)."""
    chunk: list[bytes] = []
    size = 16
    for m in messages:
        if chunk and size + 4 + len(m) > max_bytes:
            yield bundle(chunk)
            chunk, size = [], 16
        chunk.append(m)
        size += 4 + len(m)
    if chunk:
        yield bundle(chunk)
