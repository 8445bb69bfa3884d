"""The cast: a set's dreamers and the sources that feed them.

For each dreamer group of a set it makes the dreamers (their seeds, hypnograms, shaders
and patches) and each one's source: the simulator, a recording, an OSC app through a
profile (the group's ports and routing in `Inputs`), a BrainFlow board or an LSL stream,
or, in a replay, what a session log kept of them (engine.sources.replayed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.dreamers import Dreamer, Source
from engine.params import ParamSpace
from engine.set_dreamers import DreamerGroup
from engine.sets import SetSpec
from engine.sources.hypnogram import Hypnogram
from engine.sources.network import Inputs, NetworkSource
from engine.sources.osc import Endpoint
from engine.sources.playback import Playback, channel_map
from engine.sources.profile_files import load_profile
from engine.sources.recordings import load as load_recording
from engine.sources.replayed import RecordedInputs, ReplayedSource
from engine.sources.simulate import SimulatedDreamer

PULLED = ("lsl", "brainflow")  # sources the show reads from outside: logged read by read
PREROLL = 12.0  # seconds of signal generated before the show starts, so features are ready


def dreamer_seed(set_seed: int, index: int) -> int:
    return int(np.random.SeedSequence([set_seed, index]).generate_state(1)[0])


class Cast:
    """The dreamers of a set, built with their sources."""

    def __init__(
        self,
        spec: SetSpec,
        params: ParamSpace,
        *,
        listen: Sequence[str] = (),
        recorded: RecordedInputs | None = None,
    ) -> None:
        self.spec = spec
        self.params = params
        self.listen = tuple(listen)  # overrides every OSC group's ports (live --listen)
        self.recorded = recorded  # a replay: inputs come from a session log, not the world
        self.inputs: Inputs | None = None  # OSC ports, when a group streams from apps
        self._closers: list[Any] = []  # hardware sessions and inlets to let go of
        # reads of live streams (LSL, BrainFlow) before a session log is there to take them
        self._early_reads: list[tuple[int, int, dict[str, np.ndarray]]] = []
        self._read_tap: Callable[[int, int, dict[str, np.ndarray]], None] | None = None
        self.dreamers = self._make_dreamers()

    def _make_dreamers(self) -> list[Dreamer]:
        total = self.spec.dreamer_count
        dreamers: list[Dreamer] = []
        for group in self.spec.dreamers:
            for j in range(group.count):
                i = len(dreamers)
                shift = PREROLL + j * group.stagger
                first = group.stages[0][1]
                pairs = [(0.0, first)] + [(t + shift, s) for t, s in group.stages if t > 0]
                seed = dreamer_seed(self.spec.seed, i)
                d = Dreamer(
                    i,
                    seed=seed,
                    source=self._source(group, seed, pairs, i),
                    fade=group.fade,
                    shader=group.shaders[j % len(group.shaders)],
                    patch=group.patches[j % len(group.patches)],
                    drive=group.drive,
                    enhance=group.enhance,
                    params=self.params,
                    count=total,
                    time_offset=PREROLL,
                )
                if isinstance(d.source, NetworkSource):
                    d.source.dreamer = d.path
                if group.source in PULLED:
                    d.on_read = functools.partial(self._took_read, i)
                dreamers.append(d)
            if group.source == "osc":
                if self.inputs is None:
                    self.inputs = Inputs(open_ports=self.recorded is None)
                members = [d.source for d in dreamers[-group.count :]]
                listen = self.listen or group.listen
                if self.recorded is not None:  # the ports as they were bound live
                    k = len(self.inputs.group_endpoints())
                    listen = (
                        tuple(self.recorded.endpoints[k])
                        if k < len(self.recorded.endpoints)
                        else ()
                    )
                self.inputs.add_group(
                    [Endpoint.parse(e) for e in listen],
                    group.profile,
                    [m for m in members if isinstance(m, NetworkSource)],
                    group.keys,
                    allow=set(group.allow) or None,
                )
        return dreamers

    def members(self, spec: SetSpec) -> list[list[Dreamer]]:
        """The dreamers of each group of the set, in order."""
        out, first = [], 0
        for group in spec.dreamers:
            out.append(self.dreamers[first : first + group.count])
            first += group.count
        return out

    def _took_read(self, index: int, n: int, samples: dict[str, np.ndarray]) -> None:
        if self._read_tap is not None:
            self._read_tap(index, n, samples)
        elif any(len(x) for x in samples.values()):
            self._early_reads.append((index, n, samples))

    def tap_reads(self, tap: Callable[[int, int, dict[str, np.ndarray]], None]) -> None:
        """Hand every read of a live stream (LSL, BrainFlow) to `tap`: (dreamer index,
        read number, samples); the reads made while the show was built come first."""
        self._read_tap = tap
        for index, n, samples in self._early_reads:
            tap(index, n, samples)
        self._early_reads.clear()

    def readers(self) -> dict[int, dict[str, object]]:
        """Each live-stream dreamer's rates and silence timeout, for a session log."""
        groups = [g for g in self.spec.dreamers for _ in range(g.count)]
        return {
            d.index: {"rates": dict(d.rates), "silence": groups[d.index].timeout}
            for d in self.dreamers
            if groups[d.index].source in PULLED
        }

    def _source(
        self, group: DreamerGroup, seed: int, pairs: list[tuple[float, str]], index: int
    ) -> Source:
        if group.source in PULLED and self.recorded is not None:
            reader = self.recorded.readers.get(index, {})
            rates = reader.get("rates", {})
            return ReplayedSource(
                rates if isinstance(rates, dict) else {},
                float(reader.get("silence", group.timeout)),  # type: ignore[arg-type]
                self.recorded.readings.get(index, {}),
            )
        if group.source == "osc":
            return NetworkSource(
                self._profile_rates(group.profile),
                timeout=group.timeout,
                signals=load_profile(group.profile).signals,
            )
        if group.source == "recording":
            assert group.recording is not None
            if not group.channels:
                return Playback(group.recording, loop=True, start=group.start)
            rec = load_recording(group.recording)
            cmap = channel_map(list(rec.channels), group.channels)
            return Playback(rec, cmap, loop=True, start=group.start)
        if group.source == "brainflow":
            from brainflow.board_shim import BoardIds

            from engine.sources.brainflow_source import BrainFlowSource

            board = BoardIds[f"{group.board.upper()}_BOARD"]
            source: Source = BrainFlowSource(board, silence=group.timeout)
            self._closers.append(source)
            return source
        if group.source == "lsl":
            from engine.sources.lsl import LslSource

            lsl = LslSource(
                group.stream_type, name=group.stream_name or None, silence=group.timeout
            )
            self._closers.append(lsl)
            return lsl
        return SimulatedDreamer(
            seed, replace(Hypnogram.from_pairs(pairs), transition=group.transition)
        )

    @staticmethod
    def _profile_rates(profile: str) -> dict[str, float]:
        rates = {"eeg": 256.0, "ecg": 256.0, "resp": 32.0, "ppg": 64.0}
        for rule in load_profile(profile).rules:
            if rule.kind == "samples" and rule.rate and rule.signal in rates:
                rates[rule.signal] = float(rule.rate)
        return rates

    def close(self) -> None:
        for source in self._closers:
            source.close()
        self._closers.clear()
        if self.inputs is not None:
            self.inputs.close()
            self.inputs = None
