"""Re-rendering a recorded live session: the night again, at any size.

The session log holds the set's text, the sources of every shader, patch and
mapping as they were when the show started, each frame's tick, and every command
and live edit stamped with the frame it preceded. The replay rebuilds the show
from those texts in a scratch folder (so later edits of the files change nothing),
runs it on the recorded ticks, and applies the same commands and edits before the
same frames: at the same size it shows the same frames that were shown live.
The overlay is a monitor, not part of the show, and is not replayed.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine import commands, sessions, sets
from engine.audio.graph import PatchError
from engine.commands import COMMAND_ERRORS
from engine.folders import SHADER_DIR
from engine.live import LIVE_PARAMS
from engine.render import RenderOptions, RenderResult, load_set, render_show
from engine.session_format import SessionError
from engine.show import Folders, Show
from engine.sources.replayed import RecordedInputs
from engine.visuals.context import headless_context
from engine.visuals.shaders import ShaderError

log = logging.getLogger("oneiric.replay")
FOLDER_OF = {
    "shader": "shaders",
    "patch": "patches",
    "mapping": "mappings",
    "scene": "scenes",
    "effect": "shaders/fx",
}


def _write(folders: Path, change: sessions.SourceChange) -> Path:
    sub = FOLDER_OF.get(change.kind)
    target = folders / (sub or "") / Path(change.path).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(change.text or "")
    return target


def _apply_source(show: Show, path: Path, change: sessions.SourceChange) -> None:
    if change.kind == "shader":
        show.reload_shader(path, show.params.get("/live/crossfade"))
    elif change.kind == "effect":
        show.reload_effect(path)
    elif change.kind == "patch" and show.audio is not None:
        show.audio.reload_patch(path.stem)
        show.patch_reloaded(path.stem)
    elif change.kind == "mapping" and show.mapping is not None:
        show.mapping.load()
    elif change.kind == "set":
        show.reload_set(load_set(path, show.folders))


def _recorded(session: sessions.Session) -> RecordedInputs:
    setup = session.input_setup
    return RecordedInputs(
        endpoints=setup.get("endpoints", []),
        readers=setup.get("readers", {}),
        readings=session.readings,
    )


def _started(iso: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(iso).replace(tzinfo=None)
    except ValueError:
        return None


def replay(
    session_path: Path,
    output: Path | None,
    options: RenderOptions,
    *,
    frames: tuple[int, int] | None = None,
    sound_file: Path | None = None,
    on_frame: Callable[[], None] | None = None,
) -> RenderResult:
    """Re-render a session log (at `options.size`, else the recorded one; its fps and
    length are the session's). frames=(a, b): only frames a..b-1 are output, the ones
    before run as a warm-up (a chunk of a distributed render); the rest as render_show."""
    session = sessions.load(session_path)
    if not session.ticks:
        raise SessionError(session_path, 1, "the session has no frames")
    with tempfile.TemporaryDirectory(prefix="oneiric-replay-") as scratch:
        root = Path(scratch)
        folders = Folders(root / "shaders", root / "patches", root / "mappings", root / "scenes")
        for folder in (folders.shaders, folders.patches, folders.mappings, folders.scenes):
            folder.mkdir()
        for change in session.sources.get(0, []):  # the sources as the show started
            if change.ok and change.kind in FOLDER_OF:
                _write(root, change)
        if (SHADER_DIR / "images").is_dir():  # images ISF shaders import (not recorded)
            (folders.shaders / "images").symlink_to(SHADER_DIR / "images")
        set_path = root / Path(str(session.header.get("set_path", "set.toml"))).name
        set_path.write_text(session.set_text)
        spec = load_set(set_path, folders)
        ctx = headless_context()
        try:
            started = str(session.header.get("started", ""))
            show = Show(
                spec,
                ctx,
                size=options.size or session.size,
                fps=session.fps,
                audio=options.audio,
                folders=folders,
                start_date=_started(started),
                recorded=_recorded(session),
            )
        except BaseException:
            ctx.release()
            raise
        for spec_ in LIVE_PARAMS:
            show.params.register(spec_)
        starting = {id(c) for c in session.sources.get(0, [])}

        def before(frame: int) -> None:
            for change in session.sources.get(frame, []):
                if id(change) in starting or not change.ok:
                    continue  # errors changed nothing live either
                path = _write(root, change) if change.kind in FOLDER_OF else set_path
                if change.kind == "set":
                    path.write_text(change.text or "")
                if change.kind == "scene":
                    continue  # the scene as it was: the command that follows reads it
                try:
                    _apply_source(show, path, change)
                except (ShaderError, PatchError, sets.SetError) as exc:
                    log.warning(
                        "frame %d: %s did not apply in the replay: %s", frame, change.path, exc
                    )
            if show.inputs is not None:  # what the dreamers' apps sent, as routed live
                for event in session.inputs.get(frame, []):
                    show.inputs.queue.push(event)
            for event in session.events.get(frame, []):
                # what could not apply live was ignored there too
                with contextlib.suppress(*COMMAND_ERRORS):
                    commands.run(commands.Offline(show), event)

        start, end = frames or (0, len(session.ticks))
        return render_show(
            show,
            session.clock(),
            end,
            output,
            options,
            before=before,
            release=ctx,
            start=start,
            sound_file=sound_file,
            on_frame=on_frame,
        )
