"""A robust MIDI 1.0 byte-stream parser (mido's own parser skips running status).

Feed it whatever arrives (a serial port, a raw file, a fuzzer) in chunks of any
size; it returns complete :class:`mido.Message` objects and never raises. What it
copes with, and counts in ``counts`` (per occurrence):

- ``"running status"``: a channel message whose status byte was left out (it
  reuses the last channel status); mido builds it with the status filled in.
- real-time bytes (0xF8-0xFF) anywhere, even inside another message or a sysex:
  they are emitted at once and leave the message around them intact.
- ``"sysex"``: a complete F0 .. F7 system exclusive message.
- ``"stray sysex end"``: an F7 with no sysex open (dropped).
- ``"interrupted message"``: a message or sysex cut short by a new status byte
  (its bytes are dropped; the new status starts afresh).
- ``"stray data byte"``: a data byte with no status to belong to (no running
  status, e.g. after a system common message or at the start of a stream).
- ``"undefined status"``: F4, F5 (system common: they also cancel running
  status and cut a message short), F9, FD (real-time: ignored in place).
- ``"sysex overflow"``: a sysex longer than ``max_sysex`` bytes (dropped, with
  the rest of it up to its F7 or the next status byte).

Every byte fed is accounted for: ``used`` (bytes that went into emitted messages),
``dropped`` (bytes thrown away, for one of the reasons above) and ``pending``
(bytes of an unfinished message held for the next feed) always sum to the number
of bytes fed. A truncated message at the end of a feed is simply pending.
"""

from __future__ import annotations

from collections import Counter

import mido

# data bytes after a status byte
_CHANNEL_LEN = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
_COMMON_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}
_REALTIME = frozenset({0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF})
_UNDEFINED_REALTIME = frozenset({0xF9, 0xFD})
_UNDEFINED_COMMON = frozenset({0xF4, 0xF5})


class MidiParser:
    """Bytes in, mido messages out; state carries over between :meth:`feed` calls."""

    def __init__(self, max_sysex: int = 65536) -> None:
        self.max_sysex = max_sysex
        self.counts: Counter[str] = Counter()
        self.used = 0
        self.dropped = 0
        self.pending = 0
        self._running: int | None = None  # channel status that data bytes may reuse
        self._status: int | None = None  # status of the message being assembled
        self._own_status = False  # did that status byte arrive in the stream?
        self._data: list[int] = []
        self._need = 0
        self._sysex: list[int] | None = None  # open sysex payload
        self._skip_sysex = False  # an overflowed sysex: drop its bytes until it ends

    def feed(self, data: bytes | bytearray | memoryview) -> list[mido.Message]:
        out: list[mido.Message] = []
        for b in bytes(data):
            self._byte(b, out)
        return out

    def reset(self) -> None:
        """Forget any unfinished message (its pending bytes count as dropped)."""
        self._interrupt(count=False)
        self._running = None

    # internals
    def _emit(self, raw: list[int], out: list[mido.Message], consumed: int) -> None:
        try:
            out.append(mido.Message.from_bytes(raw))
        except (ValueError, TypeError, KeyError):  # pragma: no cover - mido rejected it
            self.counts["invalid message"] += 1
            self.dropped += consumed
            return
        self.used += consumed

    def _interrupt(self, count: bool = True) -> None:
        """Drop whatever is unfinished (a partial message or an open sysex)."""
        if self.pending and count:
            self.counts["interrupted message"] += 1
        self.dropped += self.pending
        self.pending = 0
        self._status = None
        self._data = []
        self._sysex = None
        self._skip_sysex = False

    def _byte(self, b: int, out: list[mido.Message]) -> None:
        if b >= 0xF8:  # real-time: anywhere, touches nothing else
            if b in _REALTIME:
                self._emit([b], out, 1)
            else:
                self.counts["undefined status"] += 1
                self.dropped += 1
            return
        if b == 0xF7:
            if self._sysex is not None or self._skip_sysex:
                consumed = self.pending + 1
                self.pending = 0
                if self._sysex is None:  # overflowed
                    self.dropped += consumed
                else:
                    self.counts["sysex"] += 1
                    self._emit([0xF0, *self._sysex, 0xF7], out, consumed)
                self._sysex = None
                self._skip_sysex = False
            else:
                self.counts["stray sysex end"] += 1
                self.dropped += 1
            return
        if b >= 0x80:  # a status byte ends anything unfinished
            self._interrupt()
            if b == 0xF0:
                self._running = None
                self._sysex = []
                self.pending = 1
            elif b < 0xF0:
                self._running = b
                self._start(b, own=True, out=out)
            elif b in _UNDEFINED_COMMON:
                self._running = None
                self.counts["undefined status"] += 1
                self.dropped += 1
            else:  # F1, F2, F3, F6: system common cancels running status
                self._running = None
                self._start(b, own=True, out=out)
            return
        # a data byte
        if self._sysex is not None or self._skip_sysex:
            self.pending += 1
            if self._sysex is not None:
                self._sysex.append(b)
                if len(self._sysex) > self.max_sysex:
                    self.counts["sysex overflow"] += 1
                    self._sysex = None
                    self._skip_sysex = True
            return
        if self._status is None:
            if self._running is None:
                self.counts["stray data byte"] += 1
                self.dropped += 1
                return
            self._start(self._running, own=False, out=out)
        self._data.append(b)
        self.pending += 1
        if len(self._data) == self._need:
            self._complete(out)

    def _start(self, status: int, own: bool, out: list[mido.Message]) -> None:
        self._status = status
        self._own_status = own
        self._data = []
        self._need = _CHANNEL_LEN[status >> 4] if status < 0xF0 else _COMMON_LEN[status]
        if own:
            self.pending += 1
        if self._need == 0:
            self._complete(out)

    def _complete(self, out: list[mido.Message]) -> None:
        assert self._status is not None
        if not self._own_status:
            self.counts["running status"] += 1
        consumed = self.pending
        self.pending = 0
        raw = [self._status, *self._data]
        self._status = None
        self._data = []
        self._emit(raw, out, consumed)
