#!/usr/bin/env python3
"""The soak and fault suite: the live show, headless, under everything at once.

For `--minutes` (10 by default; `make soak`) the show plays on the wall clock with its
sound in a process of its own through a JACK server of ours (dummy driver), while:

- three OSC senders throw random control messages at it (params in and out of range,
  NaN, wrong types, unknown addresses, commands) and raw garbage datagrams;
- two dreamers stream Mind Monitor OSC from real recordings (`performance.py send`, each
  its own process), paused now and then (SIGSTOP/SIGCONT): they drop out and return;
- a MIDI controller (a JACK MIDI client) turns the nanoKONTROL2's knobs;
- a layer shader, a patch and the mapping script are edited every few seconds, one
  edit in four broken;
- the sound process is SIGKILLed at 35% of the run and the shader warm-up worker at 65%.

It records every frame's time, the process's memory, late and dropped frames, each
voice's level twice a second, and every error, and fails on a stall (a frame over
STALL_S), memory growing by more than 5% (the median of the last tenth against that of
the second tenth), a black frame, or a silent buffer (every voice at zero while the
sound process is up; the seconds it takes to come back after its kill are reported and
must stay under RECOVER_S). Results: report.md, report.json and memory.png in --out.

Usage: .venv/bin/python bench/soak.py [--minutes 10] [--out out/soak]
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from soak_rig import (  # noqa: E402
    JACK_MIDI,
    MIDI_PORT,
    Chaos,
    free_port,
    scratch_rig,
    start_jack,
)

STALL_S = 1.0  # a frame that takes longer stalls the show
RECOVER_S = 10.0  # the sound must be back this soon after its process is killed
GROWTH = 0.05
BLACK = 4  # a frame whose brightest pixel is below this is black
SILENT = 1e-5  # every voice's RMS below this is a silent buffer


@dataclass
class Soak:
    seconds: float
    frames: int = 0
    frame_ms: list[float] = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)  # (s, MiB)
    levels: list[tuple[float, float]] = field(default_factory=list)  # (s, loudest voice)
    black: int = 0
    silent: int = 0
    stalls: int = 0
    late: int = 0
    dropped: int = 0
    osc_sent: int = 0
    garbage_sent: int = 0
    midi_sent: int = 0
    edits: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    swaps: int = 0
    dropouts: int = 0
    faults: list[str] = field(default_factory=list)
    sound_back_s: float | None = None
    revivals: int = 0
    ignored: int = 0
    osc_counts: dict[str, int] = field(default_factory=dict)
    crashed: str = ""
    failures: list[str] = field(default_factory=list)

    def percentiles(self) -> dict[str, float]:
        ms = np.array(self.frame_ms or [0.0])
        return {f"p{q}": float(np.percentile(ms, q)) for q in (50, 90, 99, 99.9)} | {
            "max": float(ms.max())
        }

    def growth(self) -> float:
        mem = np.array([m for _, m in self.memory])
        if len(mem) < 20:
            return 0.0
        n = len(mem)
        base = float(np.median(mem[n // 10 : n // 5]))
        end = float(np.median(mem[-max(1, n // 10) :]))
        return end / base - 1.0

    def judge(self) -> list[str]:
        out = []
        if self.crashed:
            out.append(f"the show stopped: {self.crashed}")
        if self.stalls:
            out.append(f"{self.stalls} stalls (frames over {STALL_S:g} s)")
        if self.growth() > GROWTH:
            out.append(f"memory grew {self.growth():.1%} (over {GROWTH:.0%})")
        if self.black:
            out.append(f"{self.black} black frames")
        if self.silent:
            out.append(f"{self.silent} silent buffers")
        if self.sound_back_s is None or self.sound_back_s > RECOVER_S:
            out.append(f"the sound did not come back within {RECOVER_S:g} s of its kill")
        self.failures = out
        return out


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(minutes: float, out: Path, size: tuple[int, int] = (320, 180), fps: int = 20) -> Soak:
    from engine.audio.remote import RemoteAudio
    from engine.clock import RealtimeClock
    from engine.live import Live
    from engine.midi.controller import MidiController
    from engine.midi.ports import MidiUnavailable
    from engine.render import load_set
    from engine.show import Folders, Frame, Show
    from engine.sources.osc import Endpoint, OscReceiver
    from engine.visuals.context import headless_context

    seconds = minutes * 60
    soak = Soak(seconds)
    server = f"oneiric-soak-{os.getpid()}"
    os.environ.update(JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1", MIDO_BACKEND=JACK_MIDI)
    jack = start_jack(server)
    scratch = Path(tempfile.mkdtemp(prefix="oneiric-soak-"))
    control, data = free_port(), free_port()
    set_path = scratch_rig(scratch, size, fps, data)
    folders = Folders(*(scratch / s for s in ("shaders", "patches", "mappings", "scenes")))
    ctx = headless_context()
    show = Show(
        load_set(set_path, folders),
        ctx,
        folders=folders,
        audio_mode="realtime",
        audio_driver="jack",
    )
    live = Live(show, clock=RealtimeClock(show.fps))
    chaos = Chaos(soak, scratch, control, data, seed=5)
    receiver = OscReceiver(Endpoint("127.0.0.1", control), live.commands.push)
    t0 = time.perf_counter()
    state = {"last": t0, "levels": t0, "killed_sound": 0.0, "killed_warmer": False}

    def watch(frame: Frame) -> None:
        now = time.perf_counter()
        ms = (now - state["last"]) * 1000
        state["last"] = now
        soak.frames += 1
        soak.frame_ms.append(ms)
        if ms > STALL_S * 1000 and soak.frames > 2:
            soak.stalls += 1
        if int(frame.image.max()) < BLACK:
            soak.black += 1
        s = now - t0
        audio = show.audio
        if now - state["levels"] >= 0.5:
            state["levels"] = now
            soak.memory.append((s, rss_mib()))
            levels = audio.levels() if audio is not None else {}
            loudest = max(levels.values(), default=0.0)
            soak.levels.append((s, loudest))
            if levels and loudest < SILENT:
                soak.silent += 1
            if state["killed_sound"] and soak.sound_back_s is None and loudest >= SILENT:
                soak.sound_back_s = s - state["killed_sound"]
        # realtime sound plays in a child process (RemoteAudio): that process is killed
        pid = audio.pid if isinstance(audio, RemoteAudio) else None
        if not state["killed_sound"] and s >= 0.35 * seconds and pid is not None:
            os.kill(pid, signal.SIGKILL)
            state["killed_sound"] = s
            soak.faults.append(f"{s:.1f} s: SIGKILL the sound process (pid {pid})")
        if not state["killed_warmer"] and s >= 0.65 * seconds:
            pid = live.warmer._process.pid
            os.kill(pid, signal.SIGKILL)
            state["killed_warmer"] = True
            soak.faults.append(f"{s:.1f} s: SIGKILL the shader warm-up worker (pid {pid})")

    live.on_frame = watch

    class Errors(logging.Handler):  # every error the live loop reports (its deque keeps 32)
        def emit(self, record: logging.LogRecord) -> None:
            first = record.args[0] if isinstance(record.args, tuple) and record.args else None
            kind = getattr(first, "kind", None)
            if isinstance(kind, str):
                soak.errors[kind] = soak.errors.get(kind, 0) + 1

    errors = Errors()
    logging.getLogger("oneiric.live").addHandler(errors)
    try:
        if os.environ.get("SOAK_MIDI", "1") == "1":
            try:
                # a virtual port (live --midi-virtual): the controller connects to it
                live.midi = MidiController(MIDI_PORT, "korg-nanokontrol2", virtual=True)
            except MidiUnavailable as exc:
                soak.faults.append(f"no MIDI: {exc}")
        chaos.start(dreamers=len(show.dreamers))
        live.run(seconds)
    except Exception as exc:  # the one thing a soak must never see
        soak.crashed = f"{type(exc).__name__}: {exc}"
    finally:
        chaos.close()
        receiver.close()
        soak.late, soak.dropped = live.stats.late, live.stats.dropped
        soak.swaps = len(live.swaps)
        logging.getLogger("oneiric.live").removeHandler(errors)
        soak.ignored = sum(live.ignored.values())
        soak.osc_counts = dict(show.inputs.counts()) if show.inputs else {}
        soak.osc_counts["control received"] = receiver.received
        soak.osc_counts["control dropped"] = sum(receiver.dropped.values())
        if show.audio is not None:
            soak.revivals = getattr(show.audio, "revivals", 0)
        live.close()
        show.close()
        ctx.release()
        jack.terminate()
        try:
            jack.wait(timeout=10)
        except subprocess.TimeoutExpired:
            soak.faults.append("jackd did not stop when asked at the end")
            jack.kill()
            jack.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    soak.judge()
    write_report(soak, out)
    return soak


def write_report(soak: Soak, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    if soak.memory:
        t, m = zip(*soak.memory, strict=True)
        a.plot(t, m)
    a.set_ylabel("memory (MiB, RSS)")
    times = np.cumsum(soak.frame_ms) / 1000
    b.plot(times, soak.frame_ms, lw=0.5)
    b.set_ylabel("frame time (ms)")
    b.set_xlabel("seconds")
    for text in soak.faults:
        if " s: " in text:
            at = float(text.split(" s:")[0])
            for ax in (a, b):
                ax.axvline(at, color="r", lw=0.8)
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=90)
    plt.close(fig)
    summary = {k: v for k, v in asdict(soak).items() if k not in ("frame_ms", "memory", "levels")}
    summary |= {"frame_ms": soak.percentiles(), "memory_growth": soak.growth()}
    summary["memory_mib"] = soak.memory[:: max(1, len(soak.memory) // 100)]
    (out / "report.json").write_text(json.dumps(summary, indent=1))
    pct = soak.percentiles()
    lines = [
        f"# Soak: {soak.seconds / 60:g} minutes live, headless",
        "",
        f"Result: {'FAIL: ' + '; '.join(soak.failures) if soak.failures else 'pass'}",
        "",
        f"- frames: {soak.frames}; late {soak.late}, dropped {soak.dropped}; stalls {soak.stalls}",
        "- frame time (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in pct.items()),
        f"- memory: {soak.memory[0][1] if soak.memory else 0:.0f} MiB at the start, "
        f"{soak.memory[-1][1] if soak.memory else 0:.0f} MiB at the end; growth "
        f"{soak.growth():+.1%} (second tenth to last tenth); plot: memory.png",
        f"- black frames {soak.black}, silent buffers {soak.silent}",
        f"- sound back {soak.sound_back_s if soak.sound_back_s is not None else 'never'} s"
        f" after its kill; sound processes started again: {soak.revivals}",
        f"- OSC: {soak.osc_sent} control messages and {soak.garbage_sent} garbage datagrams sent;"
        f" {soak.ignored} commands ignored; counts: {soak.osc_counts}",
        f"- MIDI: {soak.midi_sent} messages; dreamer dropouts: {soak.dropouts}",
        f"- edits: {soak.edits}; shaders swapped in: {soak.swaps}; errors: {soak.errors}",
        *[f"- fault: {f}" for f in soak.faults],
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "soak")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stacks = (args.out / "stacks.txt").open("w")  # a library may point stderr elsewhere
    faulthandler.enable(stacks)  # a crash in a driver or in pyo says where
    faulthandler.register(signal.SIGUSR1, stacks)  # kill -USR1 PID: where is every thread?
    # a soak that hangs has stalled: every thread's stack, then out
    faulthandler.dump_traceback_later(args.minutes * 60 + 180, exit=True, file=stacks)
    soak = run(args.minutes, args.out)
    print((args.out / "report.md").read_text())
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())
