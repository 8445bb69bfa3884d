"""What a set asks of the audio input: its `[audio_in]` table, checked.

    [audio_in]
    file = "music/kicks.wav"   # WAV, FLAC, MP3, AIFF... relative to the set
    mix = "mix"                # the file's sound in the output: "mix", "replace" or "none"
    # device = "default"       # live: PortAudio's default input, or "jack" / "jack:PORT"
    gain = 1.0                 # applied before analysis and mixing
    bands = 16                 # the N-band spectrum, /audio/in/spectrum/1..N
    tempo = true               # the tracked beat is the show's tempo (/tempo/source audio)
    loop = false               # a file starts over at its end (else silence)

A set with no `[audio_in]` table has no audio input. `parse_device` reads the same
choice from a command line (`live --audio-in DEVICE|FILE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MixMode = Literal["mix", "replace", "none"]
MIX_MODES: tuple[MixMode, ...] = ("mix", "replace", "none")
MAX_BANDS = 64


class AudioInSpecError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


@dataclass(frozen=True, slots=True)
class AudioInSpec:
    file: Path | None = None  # a sound file (offline renders, rehearsal)
    device: str = ""  # "default" (PortAudio), "jack" or "jack:PORT"; "" with a file
    mix: MixMode = "none"
    gain: float = 1.0
    bands: int = 16
    tempo: bool = False
    loop: bool = False

    @property
    def live(self) -> bool:
        return self.file is None


def parse_device(text: str, base: Path | None = None) -> AudioInSpec:
    """`--audio-in` on a command line: "default", "jack", "jack:PORT", or a file."""
    if text == "default" or text == "jack" or text.startswith("jack:"):
        return AudioInSpec(device=text)
    path = Path(text) if base is None or Path(text).is_absolute() else base / text
    if not path.is_file():
        raise AudioInSpecError(
            "--audio-in", f"{text!r} is neither a device (default, jack, jack:PORT) nor a file"
        )
    return AudioInSpec(file=path)


def parse_audio_in(data: object, set_dir: Path, where: str = "audio_in") -> AudioInSpec | None:
    """The `[audio_in]` table of a set (None when absent)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise AudioInSpecError(where, f"must be a table, got {type(data).__name__}")
    known = {"file", "device", "mix", "gain", "bands", "tempo", "loop"}
    for key in sorted(set(data) - known):
        raise AudioInSpecError(f"{where}.{key}", "unknown field (a typo?)")

    def get(key: str, kind: type, default: Any) -> Any:
        value = data.get(key, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise AudioInSpecError(f"{where}.{key}", f"must be {kind.__name__}, got {value!r}")
        return value

    file, device = get("file", str, ""), get("device", str, "")
    if bool(file) == bool(device):
        raise AudioInSpecError(where, "needs one of file = PATH or device = NAME")
    path = None
    if file:
        path = Path(file) if Path(file).is_absolute() else set_dir / file
        if not path.is_file():
            raise AudioInSpecError(f"{where}.file", f"no such file: {path}")
    elif not (device in ("default", "jack") or device.startswith("jack:")):
        raise AudioInSpecError(f"{where}.device", "must be default, jack or jack:PORT")
    mix = get("mix", str, "none")
    if mix not in MIX_MODES:
        raise AudioInSpecError(f"{where}.mix", f"must be one of {', '.join(MIX_MODES)}")
    gain = get("gain", float, 1.0)
    if not 0.0 <= gain <= 16.0:
        raise AudioInSpecError(f"{where}.gain", "must be 0..16")
    bands = get("bands", int, 16)
    if not 1 <= bands <= MAX_BANDS:
        raise AudioInSpecError(f"{where}.bands", f"must be 1..{MAX_BANDS}")
    return AudioInSpec(
        file=path,
        device=device,
        mix=mix,
        gain=gain,
        bands=bands,
        tempo=get("tempo", bool, False),
        loop=get("loop", bool, False),
    )
