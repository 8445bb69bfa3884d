"""What the show hands the network each frame, on the show's own thread.

The network threads never touch the show: a param observer notes each change as it
happens (a set, a cue, a published feature), and once a frame `Feed.frame` hands the
batch, a new namespace when it changed, and now and then a small copy of the output
to a sink (the OSCQuery server), which takes it over to its own thread.

A dreamer is in the namespace while it is present: one whose source has not spoken yet
(an OSC app, a headband) or has fallen silent is left out, so clients see PATH_ADDED
when it joins and PATH_REMOVED when it leaves. Its params stay in the param space, so
cues and OSC still reach them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from engine.net.namespace import Method, command_methods, param_method, thumbnail_method
from engine.params import ParamSpace


class Showish(Protocol):
    """What the feed reads of a show (engine.show.Show)."""

    @property
    def params(self) -> ParamSpace: ...
    @property
    def dreamers(self) -> Sequence[Any]: ...
    @property
    def spec(self) -> Any: ...
    @property
    def folders(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Update:
    values: dict[str, tuple[float, ...]]  # what changed since the last frame (targets)
    methods: dict[str, Method] | None = None  # the whole namespace, when it changed
    thumbnail: np.ndarray | None = None  # (h, w, 3) uint8, a few times a second


class Feed:
    def __init__(
        self,
        show: Showish,
        sink: Callable[[Update], None],
        *,
        thumbnail_rate: float = 4.0,
        thumbnail_width: int = 192,
    ) -> None:
        self.show = show
        self.sink = sink
        self.thumbnail_rate = thumbnail_rate
        self.thumbnail_width = thumbnail_width
        self._changed: dict[str, tuple[float, ...]] = {}
        self._version = -1
        self._present: frozenset[str] = frozenset()
        self._next_thumbnail = 0.0
        show.params.observers.append(self._observe)

    def _observe(self, path: str, target: tuple[float, ...], fade: float) -> None:
        self._changed[path] = target

    def _present_dreamers(self) -> frozenset[str]:
        return frozenset(d.path for d in self.show.dreamers if d.presence > 0)

    def methods(self, present: frozenset[str]) -> dict[str, Method]:
        """The namespace now: params (absent dreamers left out), commands, thumbnail."""
        absent = tuple(d.path + "/" for d in self.show.dreamers if d.path not in present)
        out = {
            s.path: param_method(s)
            for s in self.show.params
            if not (absent and s.path.startswith(absent))
        }
        cues = [c.name for c in self.show.spec.cues if c.name]
        scenes = sorted(p.stem for p in self.show.folders.scenes.glob("*.toml"))
        for m in (*command_methods(cues, scenes), thumbnail_method()):
            out[m.path] = m
        return out

    def first(self) -> Update:
        """Everything, once: the namespace and every value (before the first frame)."""
        return self._update(None, force=True)

    def frame(self, frame: Any = None) -> None:
        """Once a frame, after the show stepped (Live's on_frame hands the frame)."""
        self.sink(self._update(frame))

    def _update(self, frame: Any, force: bool = False) -> Update:
        params = self.show.params
        changed, self._changed = self._changed, {}
        present = self._present_dreamers()
        methods = None
        if force or params.version != self._version or present != self._present:
            self._version, self._present = params.version, present
            methods = self.methods(present)
            changed = {p: params.target(p) for p in methods if methods[p].spec is not None}
        thumb = None
        image = getattr(frame, "image", None)
        now = time.monotonic()
        if image is not None and self.thumbnail_rate > 0 and now >= self._next_thumbnail:
            self._next_thumbnail = now + 1.0 / self.thumbnail_rate
            step = max(1, -(-image.shape[1] // self.thumbnail_width))
            thumb = np.ascontiguousarray(image[::step, ::step])
        return Update(changed, methods, thumb)

    def close(self) -> None:
        if self._observe in self.show.params.observers:
            self.show.params.observers.remove(self._observe)
