"""What a set or the command line says about video outputs: `KIND:TARGET[@WxH]`.

    ndi:Oneiric              an NDI source named Oneiric on the LAN
    v4l2:/dev/video10        a v4l2loopback camera (v4l2: alone takes the first one)
    pipe:/tmp/oneiric.raw    the frame stream into a named pipe (made if missing)
    pipe:|ffplay -i -        ... or into the stdin of a command
    shm:oneiric@640x360      a shared-memory ring of frames, at its own size

In a set, `[[outputs]]` tables say the same: `to = "shm:oneiric"`, and optionally
`size = [640, 360]` and `format = "rgba"` (the frame stream's pixels; RGB by default).
Only the shape is checked here; devices and runtimes are tried when the show opens them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.set_table import table_list

KINDS = ("ndi", "v4l2", "pipe", "shm")
FORMATS = ("rgb", "rgba")
_SIZE = re.compile(r"@(\d+)x(\d+)$")
_KEYS = {"to", "size", "format"}
MAX_SIDE = 16384


@dataclass(frozen=True, slots=True)
class OutputSpec:
    kind: str  # one of KINDS
    target: str  # NDI name, device path, pipe path or "|command", shared-memory name
    size: tuple[int, int] | None = None  # None: the show's size
    format: str = "rgb"  # the frame stream's pixels (pipe, shm)

    def __str__(self) -> str:
        size = f"@{self.size[0]}x{self.size[1]}" if self.size else ""
        return f"{self.kind}:{self.target}{size}"


def parse_output(text: str, size: tuple[int, int] | None = None, fmt: str = "rgb") -> OutputSpec:
    """`ndi:NAME`, `v4l2:DEVICE`, `pipe:PATH`, `pipe:|COMMAND`, `shm:NAME`, each with an
    optional `@WxH`; raises ValueError with a readable message."""
    kind, colon, target = text.partition(":")
    if not colon or kind not in KINDS:
        raise ValueError(
            f"output {text!r}: must be KIND:TARGET[@WxH] with KIND one of {', '.join(KINDS)}"
        )
    if (m := _SIZE.search(target)) is not None:
        if size is not None:
            raise ValueError(f"output {text!r}: a size in the name and a size beside it")
        size = (int(m[1]), int(m[2]))
        target = target[: m.start()]
    if size is not None and not all(2 <= s <= MAX_SIDE and s % 2 == 0 for s in size):
        raise ValueError(f"output {text!r}: each side must be even, 2..{MAX_SIDE} pixels")
    if fmt not in FORMATS:
        raise ValueError(f"output {text!r}: format must be one of {', '.join(FORMATS)}")
    if kind == "ndi":
        target = target or "Oneiric"
    elif kind in ("pipe", "shm") and not target.strip("|"):
        raise ValueError(f"output {text!r}: {kind} needs a {'path' if kind == 'pipe' else 'name'}")
    if kind == "shm" and "/" in target:
        raise ValueError(f"output {text!r}: a shared-memory name has no '/'")
    return OutputSpec(kind, target, size, fmt)


def parse_outputs(raw: object, where: str = "outputs") -> tuple[OutputSpec, ...]:
    """A set's `[[outputs]]` tables; raises ValueError naming the field."""
    out = []
    for at, item in table_list(raw, where, _KEYS, kind="outputs", example='{ to = "ndi:Oneiric" }'):
        to, size, fmt = item.get("to"), item.get("size"), item.get("format", "rgb")
        if not isinstance(to, str):
            raise ValueError(f'{at}.to: missing or not a string (e.g. "shm:oneiric")')
        if size is not None and not (
            isinstance(size, list) and len(size) == 2 and all(type(s) is int for s in size)
        ):
            raise ValueError(f"{at}.size: must be [width, height] in pixels")
        try:
            out.append(parse_output(to, tuple(size) if size else None, str(fmt)))
        except ValueError as exc:
            raise ValueError(f"{at}: {exc}") from None
    return tuple(out)
