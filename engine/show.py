"""The show: one frame loop shared by live playing and offline rendering.

`Show.step(tick)` fires due cues, advances params, pulls signals, updates
features, renders the layers and the merge, and advances the audio by exactly one
frame. Whether ticks come from the wall clock or a frame clock, and whether the
image goes to a window or a file, is the runner's business, not the show's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import moderngl
import numpy as np

from engine.audio.engine import AudioEngine
from engine.clock import Tick
from engine.dreamers import GROUP_PARAMS, Dreamer
from engine.features import resonance
from engine.params import ParamError, ParamSpace, ParamSpec
from engine.sets import Cue, SetError, SetSpec
from engine.sources.simulate import Hypnogram
from engine.visuals.layers import FIELD_NAMES, Draw, LayerStack
from engine.visuals.merge import BLEND_NAMES, Merge, slot_table
from engine.visuals.shaders import LayerSource, find_layer, warm

PREROLL = 12.0  # seconds of signal generated before the show starts, so features are ready
ANALYSIS_RATE = 10.0  # feature analyses per second per dreamer

MERGE_PARAMS = (
    ParamSpec("/merge/mode", BLEND_NAMES.index("dream"), kind="enum", choices=BLEND_NAMES),
    ParamSpec("/merge/resonance", 0.3, smooth=0.3, doc="how much the layers fuse"),
    ParamSpec("/merge/follow", 0.0, smooth=0.5, doc="fuse as much as the group is in sync"),
    ParamSpec("/merge/chaos", 0.0, smooth=0.05, doc="the malfunction: layers tear"),
    ParamSpec("/merge/state", 0.5, smooth=0.5, doc="weight dreamers by sleep depth"),
    ParamSpec("/merge/exposure", 2.0, 0.0, 8.0, smooth=0.2, doc="brightness of dream layers"),
)
MASTER_PARAMS = (
    ParamSpec("/master/volume", 0.8, smooth=0.05, doc="master level"),
    ParamSpec("/master/reverb", 0.35, smooth=0.2, doc="reverb mix"),
)


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    time: float
    image: np.ndarray  # (h, w, 3) uint8, top row first
    audio: np.ndarray | None  # (samples, channels) float32


def dreamer_seed(set_seed: int, index: int) -> int:
    return int(np.random.SeedSequence([set_seed, index]).generate_state(1)[0])


class Show:
    def __init__(
        self,
        spec: SetSpec,
        ctx: moderngl.Context,
        *,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        audio: bool = True,
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self.size = size or spec.size
        self.fps = fps or spec.fps
        self.params = ParamSpace()
        for p in (*MERGE_PARAMS, *MASTER_PARAMS, *GROUP_PARAMS):
            self.params.register(p)
        self.dreamers = self._make_dreamers()
        self._apply_values(spec)
        self._check_cues(spec.cues)
        self._cues = list(spec.cues)
        self._next_cue = 0
        self.resonance = 0.0  # the group's measured breath synchrony, 0..1
        self._group_phase = 0.0
        self._analysis_every = max(1, round(self.fps / ANALYSIS_RATE))

        scale = spec.layer_scale
        w, h = self.size
        self.layer_size = (max(1, round(w * scale)), max(1, round(h * scale)))
        self.layers = LayerStack(ctx, self.layer_size, len(self.dreamers))
        self.merge = Merge(ctx, self.size)
        self._programs: dict[str, moderngl.Program] = {}
        self._uses_signals: set[str] = set()
        self._draws = self._build_draws()

        self.audio: AudioEngine | None = None
        if audio:
            self.audio = AudioEngine(
                sr=spec.sample_rate, fps=self.fps, seed=spec.seed, mode="manual"
            )
            for d in self.dreamers:
                self.audio.add_voice(d.path, d.patch)

        for d in self.dreamers:
            d.pull(0.0)
            d.analyse(0.0)

    # building
    def _make_dreamers(self) -> list[Dreamer]:
        total = self.spec.dreamer_count
        dreamers: list[Dreamer] = []
        for group in self.spec.dreamers:
            for j in range(group.count):
                i = len(dreamers)
                shift = PREROLL + j * group.stagger
                first = group.stages[0][1]
                pairs = [(0.0, first)] + [(t + shift, s) for t, s in group.stages if t > 0]
                d = Dreamer(
                    i,
                    seed=dreamer_seed(self.spec.seed, i),
                    hypnogram=replace(Hypnogram.from_pairs(pairs), transition=group.transition),
                    shader=group.shaders[j % len(group.shaders)],
                    patch=group.patches[j % len(group.patches)],
                    drive=group.drive,
                    enhance=group.enhance,
                    params=self.params,
                    count=total,
                    time_offset=PREROLL,
                )
                for key, value in group.params.items():
                    self._set_checked(f"{d.path}/{key}", value, f"{group.where}.params.{key}")
                dreamers.append(d)
        return dreamers

    def _set_checked(self, path: str, value: object, where: str, fade: float = 0.0) -> None:
        try:
            self.params.set(path, value, fade)
        except ParamError as exc:
            raise SetError(self.spec.path, where, str(exc)) from None

    def _apply_values(self, spec: SetSpec) -> None:
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

    def _build_draws(self) -> list[Draw]:
        """One instanced draw per shader; dreamer i stays in layer i (its merge slot)."""
        names = sorted({d.shader for d in self.dreamers})
        order: list[int] = []
        draws = []
        for name in names:
            layers = [d.layer for d in self.dreamers if d.shader == name]
            draws.append(Draw(self.program(name), len(order), len(layers)))
            order += layers
        self.layers.set_order(np.array(order))
        return draws

    def program(self, name: str) -> moderngl.Program:
        prog = self._programs.get(name)
        if prog is None:
            source = LayerSource.load(find_layer(name))
            prog = source.compile(self.ctx)
            warm(self.ctx, prog, self.layers.fbo)
            self._programs[name] = prog
            if "signal(" in source.code:
                self._uses_signals.add(name)
        return prog

    # running
    def fire_due_cues(self, t: float) -> list[Cue]:
        fired = []
        while self._next_cue < len(self._cues) and self._cues[self._next_cue].time <= t:
            cue = self._cues[self._next_cue]
            for pattern, value in cue.changes.items():
                self.params.set(pattern, value, cue.fade)
            fired.append(cue)
            self._next_cue += 1
        return fired

    def step(self, tick: Tick) -> Frame:
        t, dt = tick.time, tick.dt
        self.fire_due_cues(t)
        self.params.update(dt)
        get = self.params.get

        # the group's breath: a shared oscillator the simulated dreamers can be pulled toward
        self._group_phase += 2 * math.pi * get("/group/breath_rate") / 60.0 * dt
        entrain = get("/group/entrain")
        for i, d in enumerate(self.dreamers):
            d.source.couple(entrain, self._group_phase)
            d.pull(t)
            if (tick.frame + i) % self._analysis_every == 0:
                d.analyse(t)
            d.step(t, dt)
        measured = resonance(np.array([d.breath_phase(t) for d in self.dreamers]))
        k = 1.0 - math.exp(-dt / 1.0) if dt > 0 else 1.0
        self.resonance += (measured - self.resonance) * k

        image = self._render(t, dt, tick.frame)
        audio = self._sound() if self.audio is not None else None
        return Frame(tick.frame, t, image, audio)

    def weights(self) -> np.ndarray:
        """Each dreamer's share of the merge now: weight, mute and sleep state."""
        state = self.params.get("/merge/state")
        out = np.empty(len(self.dreamers))
        for i, d in enumerate(self.dreamers):
            depth = d.values["depth"]
            out[i] = d.param("weight") * (1 - d.param("mute")) * (1 - state + state * depth)
        return out

    def _render(self, t: float, dt: float, frame: int) -> np.ndarray:
        n = len(self.dreamers)
        weights = self.weights()
        rows = np.zeros((n, len(FIELD_NAMES)), np.float32)
        signals = np.zeros((n * 3, self.layers.signals.width), np.float32)
        for d, w in zip(self.dreamers, weights, strict=True):
            d.values["weight"] = float(w)
            rows[d.layer] = [d.values[f] for f in FIELD_NAMES]
            if d.shader in self._uses_signals:
                signals[d.layer * 3 : d.layer * 3 + 3] = d.signal_rows()
        data = np.zeros((n, self.layers.data.width * 4), np.float32)
        data[:, : rows.shape[1]] = rows
        self.layers.upload(data, signals)
        self.layers.render(self._draws, time=t, dt=dt, frame=frame)

        default_mode = int(self.params.get("/merge/mode"))
        modes = [
            default_mode if d.param("blend") == 0 else int(d.param("blend")) - 1
            for d in self.dreamers
        ]
        table = slot_table(weights, modes, [d.home for d in self.dreamers])
        get = self.params.get
        fuse = get("/merge/resonance") + (self.resonance - get("/merge/resonance")) * get(
            "/merge/follow"
        )
        self.merge.render(
            self.layers.texture,
            table,
            resonance=fuse,
            chaos=get("/merge/chaos"),
            time=t,
            exposure=get("/merge/exposure"),
        )
        return self.merge.read()

    def _sound(self) -> np.ndarray:
        assert self.audio is not None
        ramp = 1.0 / self.fps
        for d in self.dreamers:
            for name, value in d.audio_controls().items():
                self.audio.set(d.path, name, value, ramp)
            gain = d.param("volume") * d.param("weight") * (1 - d.param("mute"))
            self.audio.set_gain(d.path, gain, ramp)
        self.audio.set_master("volume", self.params.get("/master/volume"), ramp)
        self.audio.set_master("reverb", self.params.get("/master/reverb"), ramp)
        return self.audio.process_frame()

    def close(self) -> None:
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        self.layers.release()
        self.merge.release()
        for prog in self._programs.values():
            prog.release()
