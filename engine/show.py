"""The show: one frame loop shared by live playing and offline rendering.

`Show.step(tick)` fires due cues, advances params, pulls signals, updates
features, renders the layers and the merge, and advances the audio by exactly one
frame. Whether ticks come from the wall clock or a frame clock, and whether the
image goes to a window or a file, is the runner's business, not the show's.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import moderngl
import numpy as np

from engine.audio.controls import MASTER_PARAMS
from engine.audio.engine import AudioEngine
from engine.audio.listen import Listener
from engine.audio.remote import RemoteAudio
from engine.audio.voicing import ShowSound
from engine.cast import PREROLL, Cast
from engine.clock import Tick
from engine.dreamer_params import GROUP_PARAMS
from engine.dreamers import ANALYSIS_RATE, Dreamer
from engine.features import resonance
from engine.folders import Folders
from engine.mapping import DreamerView, Mapping, MappingFrame, find_mapping
from engine.midi.clock import TEMPO_PARAMS
from engine.params import ParamError, ParamSpace
from engine.sets import Cue, SetError, SetSpec
from engine.sources.network import Inputs
from engine.sources.replayed import RecordedInputs
from engine.sources.simulate import SimulatedDreamer
from engine.tempo import Tempo
from engine.visuals.dialect_base import DrawFrame
from engine.visuals.dialects import date_of
from engine.visuals.effects import EffectError
from engine.visuals.fields import FIELD_NAMES, field_paths
from engine.visuals.layers import LayerStack
from engine.visuals.merge import MERGE_PARAMS, UNIFORM_PARAMS, Merge, slot_table
from engine.visuals.overlay import Overlay, OverlayState
from engine.visuals.programs import Programs
from engine.visuals.shaders import LayerSource, ShaderError
from engine.visuals.show_effects import ShowEffects


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    time: float
    image: np.ndarray  # (h, w, 3) uint8, top row first
    audio: np.ndarray | None  # (samples, channels) float32


class Show:
    def __init__(
        self,
        spec: SetSpec,
        ctx: moderngl.Context,
        *,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        audio: bool = True,
        audio_mode: str = "manual",
        audio_driver: str = "auto",
        folders: Folders | None = None,
        start_date: datetime.datetime | None = None,
        listen: Sequence[str] = (),
        recorded: RecordedInputs | None = None,
    ) -> None:
        self.spec = spec
        self.recorded = recorded  # a replay: inputs come from a session log, not the world
        self.folders = folders or Folders()
        self.ctx = ctx
        self.size = size or spec.size
        self.fps = fps or spec.fps
        self.params = ParamSpace()
        for p in (*MERGE_PARAMS, *MASTER_PARAMS, *GROUP_PARAMS, *TEMPO_PARAMS):
            self.params.register(p)
        self.tempo = Tempo(self.params)  # the one writer of /tempo/bpm and /tempo/beat
        self.listen = Listener.of(
            spec.audio_in, self.params, sr=spec.sample_rate, fps=self.fps, recorded=recorded
        )
        self.cast = Cast(spec, self.params, listen=listen, recorded=recorded)
        self.dreamers = self.cast.dreamers
        self._cues = list(spec.cues)
        self._next_cue = 0
        self.cue_time: float | None = None  # where a timecode steers the cues; None: show time
        self.resonance = 0.0  # the group's measured breath synchrony, 0..1
        self.mapping = self._mapping(spec.mapping)
        self._group_phase = 0.0
        self._analysis_every = max(1, round(self.fps / ANALYSIS_RATE))

        scale = spec.layer_scale
        w, h = self.size
        self.layer_size = (max(1, round(w * scale)), max(1, round(h * scale)))
        self.layers = LayerStack(ctx, self.layer_size, len(self.dreamers))
        self.merge = Merge(ctx, self.size)
        self.overlay: Overlay | None = None  # the live runner sets these to show its overlay
        self.overlay_state: OverlayState | None = None
        self._last_mono: np.ndarray | None = None
        # shaders that read the date see the show's date: fixed offline, so renders repeat
        self.start_date = start_date or datetime.datetime(2026, 1, 1)
        self.programs = Programs(
            ctx, self.layers, self.dreamers, self.params, self.folders.shaders, self.layer_size
        )
        self.fx = self._build_effects(spec)  # ISF filters over layers and the merge
        self.programs.images, self.fx.wanted = self.fx.image, lambda: self.programs.sources
        self.keyboard = self.programs.keyboard  # Shadertoy's keyboard channel (/key/down)
        self._now = 0.0
        # values and cues are checked once every param exists (ISF inputs included)
        self.sound = ShowSound(
            self.params, self.dreamers, self.folders.patches,
            sr=spec.sample_rate, fps=self.fps, seed=spec.seed,
        )  # fmt: skip
        self.sound.register_controls()
        self._apply_values(spec)
        self._check_cues(spec.cues)
        if audio:
            self.sound.open(audio_mode, audio_driver)

        for d in self.dreamers:
            d.pull(0.0)
            d.analyse(0.0)

    # building
    @property
    def audio(self) -> AudioEngine | RemoteAudio | None:
        """The sound's engine (None without sound)."""
        return self.sound.engine

    @property
    def audio_notice(self) -> str:
        return self.sound.notice

    def patch_reloaded(self, name: str) -> None:
        self.sound.register_controls(name)

    def _mapping(self, name: str) -> Mapping | None:
        return Mapping(find_mapping(name, self.folders.mappings)) if name else None

    def tap_reads(self, tap: Callable[[int, int, dict[str, np.ndarray]], None]) -> None:
        """Hand every read of a live stream (LSL, BrainFlow, the audio input) to `tap`."""
        self.cast.tap_reads(tap)
        if self.listen is not None:
            self.listen.tap_reads(tap)

    def readers(self) -> dict[int, dict[str, object]]:
        return {**self.cast.readers(), **(self.listen.reader() if self.listen else {})}

    @property
    def inputs(self) -> Inputs | None:
        """The OSC ports and routing, when a group streams from apps."""
        return self.cast.inputs

    def _set_checked(self, path: str, value: object, where: str) -> None:
        try:
            self.params.set(path, value, jump=True)
        except ParamError as exc:
            raise SetError(self.spec.path, where, str(exc)) from None

    def _apply_values(self, spec: SetSpec) -> None:
        for group, members in zip(spec.dreamers, self.cast.members(spec), strict=False):
            for d in members:
                for key, value in group.params.items():
                    self._set_checked(f"{d.path}/{key}", value, f"{group.where}.params.{key}")
        for path, value in spec.values.items():
            self._set_checked(path, value, path.strip("/").replace("/", "."))

    def _check_cues(self, cues: Iterable[Cue]) -> None:
        for cue in cues:
            for pattern, value in cue.changes.items():
                where = f"{cue.where}.set.{pattern}"
                paths = self.params.match(pattern)
                if not paths:
                    raise SetError(self.spec.path, where, f"no param matches {pattern}")
                for p in paths:
                    try:
                        self.params.spec(p).coerce(value)
                    except ParamError as exc:
                        raise SetError(self.spec.path, where, str(exc)) from None

    def _build_effects(self, spec: SetSpec) -> ShowEffects:
        chains = [
            (d.path, d.layer, group.fx)
            for group, members in zip(spec.dreamers, self.cast.members(spec), strict=False)
            for d in members
        ]
        try:
            return ShowEffects(
                self.ctx,
                self.params,
                layer_size=self.layer_size,
                size=self.size,
                dreamers=chains,
                master=spec.master_fx,
                shader_dir=self.folders.shaders,
                set_dir=spec.path.resolve().parent,
                layer_count=len(self.dreamers),
            )
        except EffectError as exc:
            raise SetError(spec.path, exc.where, exc.message) from None

    def reload_effect(self, path: Path) -> list[ShaderError]:
        """An effect shader edited mid-show: compiled again where used; a broken one keeps
        the last good one running (its errors are returned)."""
        return self.fx.reload(path)

    @property
    def now(self) -> float:
        """Show time of the latest frame, seconds."""
        return self._now

    @property
    def shaders(self) -> list[str]:
        """The layer shaders this show uses, in every dialect."""
        return self.programs.shaders

    def reload_shader(self, path: Path, fade: float, source: LayerSource | None = None) -> None:
        """A new version of a layer shader, crossfaded in over `fade` seconds. ShaderError
        leaves the old one running."""
        self.programs.reload(path, fade, self._now, source)

    # running
    def fire_due_cues(self, t: float, fade: float | None = None) -> list[Cue]:
        fired = []
        while self._next_cue < len(self._cues) and self._cues[self._next_cue].time <= t:
            cue = self._cues[self._next_cue]
            for pattern, value in cue.changes.items():
                self.params.set(pattern, value, cue.fade if fade is None else fade)
            fired.append(cue)
            self._next_cue += 1
        return fired

    def seek_cues(self, t: float) -> list[Cue]:
        """A jump of the cue time (a timecode locate): the cues passed over apply at once,
        and going back the set's values return first, so the show is as the timeline has
        it there. The next cue to fire is the first after `t`."""
        if self._next_cue and self._cues[self._next_cue - 1].time > t:
            touched = {p for c in self._cues for pat in c.changes for p in self.params.match(pat)}
            self.params.reset(touched)
            self._apply_values(self.spec)
            self._next_cue = 0
        return self.fire_due_cues(t, fade=0.0)

    def go(self, name: str | None = None) -> Cue:
        """Fire a cue now, out of time (a GO button): the next pending one, or by name."""
        pending = self._cues[self._next_cue :]
        if name is not None:
            pending = [c for c in self._cues if c.name == name]
        if not pending:
            raise KeyError(f"no cue {name!r}" if name else "no cue left")
        cue = pending[0]
        for pattern, value in cue.changes.items():
            self.params.set(pattern, value, cue.fade)
        if name is None:
            self._next_cue += 1
        return cue

    def reload_set(self, spec: SetSpec) -> None:
        """Re-apply an edited set: its values, its cues still to come, its mapping.
        Dreamers, sizes and rates need a restart and are left as they are."""
        self._check_cues(spec.cues)
        self._apply_values(spec)
        self._cues = [c for c in spec.cues if c.time > self._now]
        self._next_cue = 0
        if spec.mapping != self.spec.mapping:
            self.mapping = self._mapping(spec.mapping)
        self.spec = replace(self.spec, values=spec.values, cues=spec.cues, mapping=spec.mapping)

    def step(self, tick: Tick) -> Frame:
        audio = self.advance(tick)
        return Frame(tick.frame, tick.time, self.merge.read(), audio)

    @property
    def carries_gpu_state(self) -> bool:
        """Whether a frame's picture depends on what earlier frames drew (effects'
        feedback and persistent buffers, ISF and Shadertoy passes)."""
        return bool(self.fx.chains() or self.programs.foreign)

    def advance(self, tick: Tick, *, draw: bool = True) -> np.ndarray | None:
        """One frame of the show, its picture left unread in merge.fbo (step reads it;
        the pipelined render reads it back asynchronously); returns the frame's audio.
        draw=False (a render chunk's warm-up) skips the GPU unless carries_gpu_state:
        all other state (signals, smoothing, cues, audio) advances exactly as in step."""
        t, dt = tick.time, tick.dt
        self._now = t
        heard = self.listen.step(tick) if self.listen is not None else None
        self._last_mono = self._last_mono if heard is None else heard  # layers hear the input
        self.fire_due_cues(t if self.cue_time is None else self.cue_time)
        if self.mapping is not None:
            self.mapping.run(self._mapping_frame(tick))
        self.params.update(dt)
        get = self.params.get
        if self.inputs is not None:
            self.inputs.drain(t + PREROLL)

        self.tempo.advance(dt, self.listen.heard if self.listen is not None else None)
        # the group's breath: a shared oscillator the simulated dreamers can be pulled toward
        self._group_phase += 2 * math.pi * get("/group/breath_rate") / 60.0 * dt
        entrain = get("/group/entrain")
        for i, d in enumerate(self.dreamers):
            if isinstance(d.source, SimulatedDreamer):  # real people breathe as they will
                d.source.couple(entrain, self._group_phase)
            d.pull(t)
            if (tick.frame + i) % self._analysis_every == 0:
                d.analyse(t)
            d.step(t, dt)
        measured = resonance(np.array([d.breath_phase(t) for d in self.dreamers]))
        k = 1.0 - math.exp(-dt / 1.0) if dt > 0 else 1.0
        self.resonance += (measured - self.resonance) * k
        self.params.publish("/group/resonance", self.resonance)

        self._render(t, dt, tick.frame, draw=draw or self.carries_gpu_state)
        return self._sound() if self.audio is not None else None

    def _mapping_frame(self, tick: Tick) -> MappingFrame:
        views = [DreamerView(d.id, d.path, self.layer_fields(d)) for d in self.dreamers]
        return MappingFrame(tick.time, tick.dt, tick.frame, views, self.resonance, self.params)

    def weights(self) -> np.ndarray:
        """Each dreamer's share of the merge now: weight, mute and sleep state."""
        state = self.params.get("/merge/state")
        out = np.empty(len(self.dreamers))
        for i, d in enumerate(self.dreamers):
            depth = d.depth
            out[i] = (
                d.param("weight") * (1 - d.param("mute")) * (1 - state + state * depth) * d.presence
            )
        return out

    def layer_fields(self, d: Dreamer) -> dict[str, float]:
        """What dreamer d's layer reads now, by field name (its row, from the params)."""
        return dict(zip(FIELD_NAMES, self.params.read(field_paths(d.path)), strict=True))

    def _render(self, t: float, dt: float, frame: int, *, draw: bool = True) -> None:
        n = len(self.dreamers)
        weights = self.weights()
        rows = np.zeros((n, len(FIELD_NAMES)), np.float32)
        signals = np.zeros((n * 3, self.layers.signals.width), np.float32)
        read, publish = self.params.read, self.params.publish
        for d, w in zip(self.dreamers, weights, strict=True):
            publish(f"{d.path}/share", float(w))
            rows[d.layer] = read(field_paths(d.path))  # the one route from a param to a layer
            if draw and self.programs.uses_signals(d.shader):
                signals[d.layer * 3 : d.layer * 3 + 3] = d.signal_rows()
        get = self.params.get
        fuse = get("/merge/resonance") + (self.resonance - get("/merge/resonance")) * get(
            "/merge/follow"
        )
        self.params.publish("/merge/fuse", fuse)  # drawn or not: every frame's state advances
        if not draw:
            return
        data = np.zeros((n, self.layers.data.width * 4), np.float32)
        data[:, : rows.shape[1]] = rows
        self.layers.upload(data, signals)
        date = date_of(self.start_date + datetime.timedelta(seconds=t))
        shown = DrawFrame(t, dt, frame, self._last_mono, date)
        self.programs.render(data, shown)
        self.fx.apply_layers(self.layers, shown, data)

        default_mode = int(self.params.get("/merge/mode"))
        modes = [
            default_mode if d.param("blend") == 0 else int(d.param("blend")) - 1
            for d in self.dreamers
        ]
        table = slot_table(weights, modes, [d.home for d in self.dreamers])
        values = {spec.path: get(spec.path) for spec in UNIFORM_PARAMS}
        self.merge.render(self.layers.texture, table, values, time=t)
        self.fx.apply_master(self.merge, shown)
        if self.overlay is not None and self.overlay_state is not None:
            self.overlay.draw(self.merge.fbo, self.overlay_state)

    def _sound(self) -> np.ndarray | None:
        block = self.sound.frame()
        if block is None:
            return None  # a sound device plays it
        if self.listen is not None:  # the input's sound mixed in (or instead), as the set says
            block = self.listen.mix(block)
        self._last_mono = block.mean(axis=1)  # what audio-reactive layers hear next frame
        return block

    def close(self) -> None:
        self.cast.close()
        if self.listen is not None:
            self.listen.close()
        self.sound.close()
        self.fx.release()
        self.layers.release()
        self.merge.release()
        if self.overlay is not None:
            self.overlay.release()
        self.programs.release()
