"""Shadertoy shaders as the site exports them: the JSON of its API (`/api/v1/shaders/ID`,
what TouchDesigner's and KodeLife's importers fetch), `{"Shader": {"info", "renderpass"}}`,
or a bare `{"info", "renderpass"}`, or the first of `{"Shaders": [...]}`.

:func:`to_tabs` turns one into the multipass file that :mod:`engine.visuals.shadertoy`
reads: a `// ---- Name ----` header per render pass (Common, Buffer A-D, Image) and an
`// iChannelN: ...` line per input. Inputs are matched to passes by the ids their
outputs carry (the API's numbers or the site's strings alike); keyboard, buffers and
sound (music, a stream, the microphone: the rig's sound) map one to one. A texture is
looked for next to the file, under its own path (`media/a/<hash>.png`) or by its file
name; one not found, and what the rig does not draw (cubemaps, video, webcam, volumes,
a sound pass), leave that channel black with a notice, never a failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.visuals.shaders import ShaderError

SOUND = {"music", "musicstream", "mic"}
_BUFFER_NAME = re.compile(r"(?i)^buf(?:fer)?\s*([a-d])$")


@dataclass
class Converted:
    text: str  # the multipass file
    notices: list[str] = field(default_factory=list)
    # the file's line where each pass's code starts, to name errors by pass and line
    starts: list[tuple[int, str]] = field(default_factory=list)

    def where(self, line: int) -> tuple[str, int] | None:
        """(pass, line within its code) of a line of `text`; None before the first."""
        found = None
        for start, title in self.starts:
            if line >= start:
                found = (title, line - start + 1)
        return found


def is_export(text: str) -> bool:
    return '"renderpass"' in text


def _shader(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShaderError(path, exc.lineno, f"not valid JSON: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("Shaders"), list) and data["Shaders"]:
        data = data["Shaders"][0]
    if isinstance(data, dict) and isinstance(data.get("Shader"), dict):
        data = data["Shader"]
    if not isinstance(data, dict) or not isinstance(data.get("renderpass"), list):
        raise ShaderError(path, 1, "a Shadertoy export has a renderpass list (its API's JSON)")
    return data


def _title(rp: dict[str, Any]) -> str | None:
    kind = str(rp.get("type", "")).lower()
    name = str(rp.get("name", "")).strip()
    if kind == "image":
        return "Image"
    if kind == "common":
        return "Common"
    if kind == "buffer":
        m = _BUFFER_NAME.match(name)
        return f"Buffer {m[1].upper()}" if m else None
    return None  # sound, cubemap and what else the site adds: not drawn here


def _texture(path: Path, src: str) -> str | None:
    """The image file for a texture input's `src`, relative to the export's folder."""
    rel = src.lstrip("/")
    for candidate in (path.parent / rel, path.parent / Path(rel).name):
        if candidate.is_file() and not re.search(r"\s", rel):
            return candidate.relative_to(path.parent).as_posix()
    return None


def to_tabs(path: Path, text: str) -> Converted:
    shader = _shader(path, text)
    info: dict[str, Any] = shader["info"] if isinstance(shader.get("info"), dict) else {}
    out = Converted("")
    passes: list[tuple[str, dict[str, Any]]] = []
    titles: dict[str, str] = {}  # output id -> pass title
    for rp in shader["renderpass"]:
        if not isinstance(rp, dict):
            continue
        title = _title(rp)
        if title is None:
            out.notices.append(f"a {rp.get('type', '?')} pass ({rp.get('name', '')}): not drawn")
            continue
        if any(t == title for t, _ in passes):
            raise ShaderError(path, 0, f"a second {title} pass")
        passes.append((title, rp))
        for o in rp.get("outputs") or []:
            if isinstance(o, dict) and "id" in o:
                titles[str(o["id"])] = title
    if not any(t == "Image" for t, _ in passes):
        raise ShaderError(path, 0, "a Shadertoy export has an Image pass")
    lines = [f"// {info.get('name', path.stem)} by {info.get('username', '?')}"]
    for title, rp in passes:
        lines.append(f"// ---- {title} ----")
        for inp in rp.get("inputs") or []:
            directive = _channel(path, inp, titles, out.notices, title)
            if directive is not None:
                lines.append(directive)
        out.starts.append((len(lines) + 1, title))
        lines.extend(str(rp.get("code", "")).replace("\r\n", "\n").split("\n"))
    out.text = "\n".join(lines) + "\n"
    return out


def _channel(
    path: Path, inp: Any, titles: dict[str, str], notices: list[str], title: str
) -> str | None:
    if not isinstance(inp, dict) or not str(inp.get("channel", "")).isdigit():
        return None
    channel = int(inp["channel"])
    kind = str(inp.get("ctype") or inp.get("type") or "").lower()
    what: str | None = None
    if kind == "buffer":
        what = titles.get(str(inp.get("id")))
    elif kind == "keyboard":
        what = "keyboard"
    elif kind in SOUND:
        what = "audio"
    elif kind == "texture":
        src = str(inp.get("src") or inp.get("filepath") or "")
        what = _texture(path, src)
        if what is None:
            notices.append(f"{title} iChannel{channel}: texture {src} not found beside the file")
            return None
    if what is None:
        notices.append(f"{title} iChannel{channel}: a {kind or '?'} input is not drawn: black")
        return None
    return f"// iChannel{channel}: {what}"
