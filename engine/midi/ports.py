"""MIDI ports: list them, open one by name or part of a name, survive unplugging.

The real backend is mido's rtmidi backend, held as a :class:`mido.Backend` object
(never by rewriting mido's module globals). Where there is no MIDI system (no ALSA
sequencer, or python-rtmidi not installed) every call raises :class:`MidiUnavailable`
with one clear message, and the caller carries on without MIDI.

:class:`MidiInput` is what the frame loop holds: :meth:`MidiInput.drain` never blocks,
and every ~2 s it re-scans the port names so a controller that was unplugged and
plugged back in is reopened without anyone noticing (hot-plug).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Protocol

import mido

log = logging.getLogger(__name__)

RESCAN = 2.0  # seconds between port-name scans while polling
_NO_MIDI = "no MIDI system ({why}): MIDI is off; the rest of the rig runs"
NO_ALSA = _NO_MIDI.format(why="ALSA sequencer not available")
NO_RTMIDI = _NO_MIDI.format(why="python-rtmidi is not installed")
NO_JACK = _NO_MIDI.format(why="JACK server not running")
DEFAULT_BACKEND = "mido.backends.rtmidi"  # ALSA on Linux, CoreMIDI, WinMM


class MidiUnavailable(RuntimeError):
    """There is no MIDI system on this machine; MIDI is off, nothing else is."""


class PortNotFound(LookupError):
    """No port name matches what was asked for."""


class InPort(Protocol):
    name: str

    def iter_pending(self) -> Iterator[mido.Message]: ...

    def close(self) -> None: ...


class OutPort(Protocol):
    name: str

    def send(self, msg: mido.Message) -> None: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """What ports need from a MIDI backend: mido's rtmidi backend, or a test's stand-in."""

    def get_input_names(self) -> list[str]: ...

    def get_output_names(self) -> list[str]: ...

    def open_input(self, name: str) -> InPort: ...

    def open_output(self, name: str) -> OutPort: ...


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Hide ALSA's own C-level lines ("open /dev/snd/seq failed") so the user reads one
    notice, ours. A process-wide fd swap, held only for the few ms a backend call takes."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest capture, no real fd
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class RtMidiBackend:
    """mido's rtmidi backend with "no MIDI system" turned into :class:`MidiUnavailable`.

    python-rtmidi raises ``rtmidi.SystemError`` (an ``OSError``) when it cannot create
    an ALSA sequencer client; a missing python-rtmidi raises ``ImportError``."""

    def __init__(self, name: str | None = None) -> None:
        """`name`: a mido backend, default $MIDO_BACKEND (mido's own variable), else
        rtmidi's system API; "mido.backends.rtmidi/UNIX_JACK" uses JACK MIDI."""
        name = name or os.environ.get("MIDO_BACKEND") or DEFAULT_BACKEND
        self._mido = mido.Backend(name, load=False)
        self._down = NO_JACK if name.endswith("/UNIX_JACK") else NO_ALSA

    def _system(self, call: Callable[[], list[str]]) -> list[str]:
        try:
            with _quiet_stderr():
                return list(call())
        except ImportError:
            raise MidiUnavailable(NO_RTMIDI) from None
        except OSError:
            raise MidiUnavailable(self._down) from None

    def get_input_names(self) -> list[str]:
        return self._system(self._mido.get_input_names)

    def get_output_names(self) -> list[str]:
        return self._system(self._mido.get_output_names)

    def open_input(self, name: str) -> InPort:
        self.get_input_names()  # raises MidiUnavailable first, so OSError below is the port
        port: InPort = self._mido.open_input(name)
        return port

    def open_virtual(self, name: str) -> tuple[InPort, OutPort]:
        """A virtual in/out pair other software can connect to (where the system has
        them: ALSA and CoreMIDI do, Windows' MME does not)."""
        self.get_input_names()
        try:
            with _quiet_stderr():
                return self._mido.open_input(name, virtual=True), self._mido.open_output(
                    name, virtual=True
                )
        except (OSError, NotImplementedError) as exc:
            raise MidiUnavailable(f"no virtual MIDI ports here ({exc})") from None

    def open_output(self, name: str) -> OutPort:
        self.get_output_names()
        port: OutPort = self._mido.open_output(name)
        return port


def resolve(names: Sequence[str], wanted: str) -> str | None:
    """The port called exactly `wanted`, else the first whose name contains it
    (case-insensitive): "nanoKONTROL2" finds "nanoKONTROL2:nanoKONTROL2 _ CTRL 24:0"."""
    if wanted in names:
        return wanted
    low = wanted.lower()
    return next((n for n in names if low in n.lower()), None)


def input_names(backend: Backend | None = None) -> list[str]:
    return (backend or RtMidiBackend()).get_input_names()


def output_names(backend: Backend | None = None) -> list[str]:
    return (backend or RtMidiBackend()).get_output_names()


def open_output(wanted: str, backend: Backend | None = None) -> OutPort:
    """Open an output (for LED / motor-fader feedback) by exact name or substring."""
    be = backend or RtMidiBackend()
    name = resolve(be.get_output_names(), wanted)
    if name is None:
        raise PortNotFound(f"no MIDI output matches {wanted!r}")
    return be.open_output(name)


class MidiInput:
    """One controller's input, by exact name or substring, reopened when it comes back.

    A port that is absent at start is not an error: it opens when it appears. Only a
    missing MIDI system raises (:class:`MidiUnavailable`, from the constructor)."""

    def __init__(
        self,
        wanted: str,
        backend: Backend | None = None,
        *,
        rescan: float = RESCAN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wanted = wanted
        self.backend: Backend = backend or RtMidiBackend()
        self.rescan = rescan
        self.clock = clock
        self.port: InPort | None = None
        self._next_scan = -float("inf")
        self.poll()

    @property
    def connected(self) -> bool:
        return self.port is not None

    @property
    def name(self) -> str | None:
        return self.port.name if self.port is not None else None

    def poll(self) -> bool:
        """Re-scan port names (at most every `rescan` s): drop a port that is gone, open
        one that (re)appeared. Returns whether the connection changed."""
        now = self.clock()
        if now < self._next_scan:
            return False
        first = self._next_scan == -float("inf")
        self._next_scan = now + self.rescan
        try:
            names = self.backend.get_input_names()
        except MidiUnavailable as exc:
            if first:  # no MIDI system at all: the caller says so, once
                raise
            # later, a hiccup of the MIDI system (a busy JACK server): the show goes on
            log.warning("MIDI rescan failed (%s); trying again in %g s", exc, self.rescan)
            return False
        if self.port is not None:
            if self.port.name in names:
                return False
            log.warning("MIDI input %r went away; will reopen it when it is back", self.port.name)
            self._drop()
            return True
        name = resolve(names, self.wanted)
        if name is None:
            return False
        try:
            self.port = self.backend.open_input(name)
        except OSError as e:  # listed a moment ago, gone or busy now: try again next scan
            log.warning("MIDI input %r did not open (%s)", name, e)
            return False
        log.info("MIDI input %r open", name)
        return True

    def drain(self) -> list[mido.Message]:
        """Every message waiting now, without blocking (once per frame); polls first."""
        self.poll()
        if self.port is None:
            return []
        try:
            return list(self.port.iter_pending())
        except OSError as e:  # the device vanished under us
            log.warning("MIDI input %r failed (%s); will reopen it", self.port.name, e)
            self._drop()
            return []

    def _drop(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            with suppress(OSError):
                port.close()

    def close(self) -> None:
        self._drop()


def connect(wanted: str, backend: Backend | None = None) -> MidiInput | None:
    """A :class:`MidiInput`, or None with the one notice logged when there is no MIDI."""
    try:
        return MidiInput(wanted, backend)
    except MidiUnavailable as e:
        log.warning("%s", e)
        return None
