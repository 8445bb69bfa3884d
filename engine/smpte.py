"""SMPTE timecode: HH:MM:SS:FF at 24, 25, 29.97 drop-frame or 30 frames a second, and
what a set says about following one (`[timecode]`).

29.97 drop-frame counts 30 labels a second but skips frame labels 00 and 01 at the
start of every minute except each tenth, so its labels keep to the wall clock
(01:00:00;00 is 3600 s less 3.6 ms). A set's timecode table:

    [timecode]
    source = "mtc"          # MIDI Time Code from a MIDI port
    port = "Ableton"        # the port: its name or part of it
    offset = "01:00:00:00"  # the timecode at which the show's cue time is 0
    freewheel = 0.2         # seconds the cue time runs on through a dropout
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RATES = {"24": 24.0, "25": 25.0, "29.97df": 30000 / 1001, "30": 30.0}
MTC_RATES = ("24", "25", "29.97df", "30")  # MTC's rate code 0..3 in this order
_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;.](\d{2})$")
SOURCES = ("mtc",)
_KEYS = {"source", "port", "offset", "freewheel"}


@dataclass(frozen=True, slots=True)
class Timecode:
    hours: int
    minutes: int
    seconds: int
    frames: int
    rate: str = "30"  # one of RATES

    @property
    def drop(self) -> bool:
        return self.rate == "29.97df"

    @property
    def nominal(self) -> int:
        """Frame labels a second: 24, 25 or 30."""
        return round(RATES[self.rate]) if not self.drop else 30

    def frame_number(self) -> int:
        """Frames since 00:00:00:00 (drop-frame labels that are skipped not counted)."""
        minutes = 60 * self.hours + self.minutes
        n = (60 * minutes + self.seconds) * self.nominal + self.frames
        if self.drop:
            n -= 2 * (minutes - minutes // 10)
        return n

    def to_seconds(self) -> float:
        return self.frame_number() / RATES[self.rate]

    @classmethod
    def from_frame_number(cls, n: int, rate: str = "30") -> Timecode:
        nominal = 30 if rate == "29.97df" else round(RATES[rate])
        if rate == "29.97df":  # put back the labels skipped before frame n
            per_ten, per_minute = 17982, 1798  # frames in ten minutes, in a dropping minute
            tens, rest = divmod(n, per_ten)
            n += 18 * tens + (2 * ((rest - 2) // per_minute) if rest >= 2 else 0)
        f = n % nominal
        s = n // nominal
        return cls(s // 3600 % 24, s // 60 % 60, s % 60, f, rate)

    @classmethod
    def from_seconds(cls, seconds: float, rate: str = "30") -> Timecode:
        return cls.from_frame_number(round(seconds * RATES[rate]), rate)

    @classmethod
    def parse(cls, text: str, rate: str = "30") -> Timecode:
        """'01:00:00:00' (or with ';' before the frames, as drop-frame is written)."""
        m = _TC.match(text.strip())
        if m is None:
            raise ValueError(f"timecode must look like 01:00:00:00, got {text!r}")
        h, mi, s, f = (int(x) for x in m.groups())
        tc = cls(h, mi, s, f, rate)
        if mi > 59 or s > 59 or f >= tc.nominal or h > 23:
            raise ValueError(f"timecode {text!r} is out of range at {rate} fps")
        return tc

    def __str__(self) -> str:
        sep = ";" if self.drop else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{sep}{self.frames:02d}"


@dataclass(frozen=True, slots=True)
class TimecodeSpec:
    source: str  # one of SOURCES
    port: str
    offset: str = "00:00:00:00"  # parsed at the incoming rate
    freewheel: float = 0.2

    def offset_seconds(self, rate: str) -> float:
        return Timecode.parse(self.offset, rate).to_seconds()


def parse_timecode(raw: object, where: str = "timecode") -> TimecodeSpec:
    """A set's `[timecode]` table; raises ValueError naming the field."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a table ([timecode])")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown field (a typo?)")
    source = raw.get("source", "mtc")
    if source not in SOURCES:
        raise ValueError(
            f"{where}.source: {source!r} is not known (one of {', '.join(SOURCES)};"
            " LTC has no well-kept Python decoder to build on)"
        )
    port = raw.get("port")
    if not isinstance(port, str) or not port:
        raise ValueError(f"{where}.port: the MIDI port the timecode comes in on (name or part)")
    offset = raw.get("offset", "00:00:00:00")
    freewheel = raw.get("freewheel", 0.2)
    if not isinstance(offset, str):
        raise ValueError(f'{where}.offset: must be a timecode string, e.g. "01:00:00:00"')
    try:
        Timecode.parse(offset)
    except ValueError as exc:
        raise ValueError(f"{where}.offset: {exc}") from None
    if isinstance(freewheel, bool) or not isinstance(freewheel, (int, float)) or freewheel < 0:
        raise ValueError(f"{where}.freewheel: must be a number of seconds, 0 or more")
    return TimecodeSpec(source, port, offset, float(freewheel))
