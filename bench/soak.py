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
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

STALL_S = 1.0  # a frame that takes longer stalls the show
RECOVER_S = 10.0  # the sound must be back this soon after its process is killed
GROWTH = 0.05
BLACK = 4  # a frame whose brightest pixel is below this is black
SILENT = 1e-5  # every voice's RMS below this is a silent buffer
JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
EEG = ROOT.parent / "shared" / "data" / "biosignals" / "physio" / "biosppy_eeg_ec.txt"

SET = """
[set]
title = "soak"
duration = 36000.0
fps = {fps}
size = [{w}, {h}]
seed = 11
mapping = "soak"

[[dreamers]]
count = 3
source = "simulate"
stages = [[0, "W"], [30, "N2"], [90, "REM"]]
shader = ["soak", "aurora", "tide"]
patch = ["soak", "drone"]

[[dreamers]]
count = 2
source = "osc"
profile = "mind-monitor"
listen = "127.0.0.1:{port}"
timeout = 1.5
fade = 1.0
shader = "soak"
patch = "soak"
"""
SHADER = (
    "vec4 layer(vec2 uv) {{\n"
    "    float r = length(uv - 0.5) * {scale:.2f};\n"
    "    return vec4(hsv2rgb(vec3(hue + {shift:.2f} + 0.1 * sin(t + r), 0.7,"
    " 0.5 + 0.5 * alpha)), 1.0);\n}}\n"
)
MAPPING = (
    "def update(rig):\n"
    "    for d in rig.dreamers:\n"
    "        rig.set(f'{{d.path}}/warp', 0.3 + {gain:.2f} * d.theta)\n"
)
BROKEN = {
    "shader": "vec4 layer(vec2 uv) {\n    return vec4(hue +, 1.0);\n}\n",
    "patch": "def voice(:\n",
    "mapping": "def update(rig):\n    rig.set('/merge/chaos', undefined_name)\n",
}
# what random OSC may touch: each path with a range that keeps the picture and the sound
# alive (mute, weights, volumes and exposure would legitimately darken or silence it)
CONTROLS = {
    "/merge/chaos": (0.0, 0.6),
    "/merge/resonance": (0.0, 1.0),
    "/merge/follow": (0.0, 1.0),
    "/merge/state": (0.0, 1.0),
    "/master/reverb": (0.0, 1.0),
    "/group/entrain": (0.0, 1.0),
    "/group/breath_rate": (4.0, 20.0),
    "/live/crossfade": (0.0, 1.0),
}
PER_DREAMER = {"hue": (0.0, 1.0), "warp": (0.0, 2.0), "speed": (0.2, 2.0)}
KNOBS = (16, 17, 19, 20, 21, 22)  # nanoKONTROL2: chaos, resonance, warp, entrain, reverb, follow
MIDI_PORT = "oneiric-soak"
MIDI_CONTROLLER = f"""
import random, select, sys, time
import mido
rng = random.Random(sys.argv[1])
system = mido.Backend({JACK_MIDI!r}, load=False)
deadline = time.monotonic() + 30
while not [n for n in system.get_output_names() if {MIDI_PORT!r} in n]:
    if time.monotonic() > deadline:
        sys.exit("the rig's MIDI port never appeared")
    time.sleep(0.2)
port = system.open_output([n for n in system.get_output_names() if {MIDI_PORT!r} in n][0])
sent = 0
while not select.select([sys.stdin], [], [], rng.uniform(0.01, 0.05))[0]:
    if rng.random() < 0.9:
        cc = rng.choice({KNOBS!r})
        msg = mido.Message("control_change", control=cc, value=rng.randrange(128))
    else:  # what the map does not bind
        msg = mido.Message("note_on", note=rng.randrange(128), velocity=64)
    port.send(msg)
    sent += 1
print(sent)
"""


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


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the soak's process dies, however it dies."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_jack(name: str) -> subprocess.Popen[str]:
    jackd = shutil.which("jackd")
    if jackd is None:
        raise SystemExit("soak: jackd is not installed (Debian jackd2; make system installs it)")
    cmd = [jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    deadline = time.monotonic() + 15
    while True:
        ports = subprocess.run(
            ["jack_lsp", "-s", name], capture_output=True, text=True, timeout=10
        ).stdout
        if "system:playback_1" in ports:
            return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                f"soak: jackd did not start: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.1)


def scratch_rig(root: Path, size: tuple[int, int], fps: int, port: int) -> Path:
    for sub in ("shaders", "patches", "mappings", "scenes"):
        (root / sub).mkdir()
    for name in ("aurora", "tide"):
        shutil.copy(ROOT / "shaders" / f"{name}.glsl", root / "shaders")
    (root / "shaders" / "soak.glsl").write_text(SHADER.format(scale=1.0, shift=0.0))
    for name in ("drone", "master"):
        shutil.copy(ROOT / "patches" / f"{name}.py", root / "patches")
    shutil.copy(ROOT / "patches" / "drone.py", root / "patches" / "soak.py")
    (root / "mappings" / "soak.py").write_text(MAPPING.format(gain=1.0))
    path = root / "soak.toml"
    path.write_text(SET.format(fps=fps, w=size[0], h=size[1], port=port))
    return path


class Chaos:
    """Every source of trouble, each on a thread (or process) of its own."""

    def __init__(self, soak: Soak, root: Path, control: int, data: int, seed: int) -> None:
        self.soak, self.root, self.control, self.data = soak, root, control, data
        self.stop = threading.Event()
        self.rng = random.Random(seed)
        self.threads: list[threading.Thread] = []
        self.senders: list[subprocess.Popen[bytes]] = []

    def start(self, dreamers: int) -> None:
        for k in range(3):
            self._thread(self._osc, k, dreamers)
        self._thread(self._edits)
        self._thread(self._midi)
        self._thread(self._dropouts)
        for _ in range(2):
            self.senders.append(self._sender())

    def _thread(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def _sender(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, str(ROOT / "performance.py"), "send", str(EEG)]
        cmd += ["--as", "mind-monitor", "--to", f"127.0.0.1:{self.data}", "--loop"]
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=die_with_parent,
        )

    def _osc(self, k: int, dreamers: int) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        rng = random.Random(self.rng.random() + k)
        client = SimpleUDPClient("127.0.0.1", self.control)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        paths = list(CONTROLS) + [
            f"/dreamer/{n}/{p}" for n in range(1, dreamers + 1) for p in PER_DREAMER
        ]
        while not self.stop.wait(rng.uniform(0.002, 0.02)):
            roll = rng.random()
            if roll < 0.7:
                path = rng.choice(paths)
                lo, hi = CONTROLS.get(path) or PER_DREAMER[path.rsplit("/", 1)[1]]
                args: list[object] = [rng.uniform(lo, hi)]
                if rng.random() < 0.3:
                    args.append(rng.uniform(0.0, 1.0))  # a fade
                client.send_message(path, args)
            elif roll < 0.8:  # out of range, NaN, inf, wrong type: clamped or refused
                path = rng.choice(paths)
                bad = rng.choice([1e9, -1e9, float("nan"), float("inf"), "loud", True])
                client.send_message(path, bad)
            elif roll < 0.9:  # an address no param has (a bounded set: a VJ's typos)
                client.send_message(f"/merge/chaoss{rng.randrange(20)}", rng.random())
            elif roll < 0.93:
                client.send_message("/cue/go", [])
            else:  # not OSC at all
                raw.sendto(rng.randbytes(rng.randrange(1, 64)), ("127.0.0.1", self.control))
                self.soak.garbage_sent += 1
                continue
            self.soak.osc_sent += 1
        raw.close()

    def _edit(self, kind: str, path: Path, good: str) -> None:
        broken = self.rng.random() < 0.25
        path.write_text(BROKEN[kind] if broken else good)
        key = f"{kind} {'broken' if broken else 'ok'}"
        self.soak.edits[key] = self.soak.edits.get(key, 0) + 1

    def _edits(self) -> None:
        drone = (ROOT / "patches" / "drone.py").read_text()
        n = 0
        while not self.stop.wait(self.rng.uniform(2.0, 4.0)):
            n += 1
            kind = ("shader", "patch", "mapping")[n % 3]
            if kind == "shader":
                text = SHADER.format(scale=self.rng.uniform(0.5, 2), shift=self.rng.random())
                self._edit(kind, self.root / "shaders" / "soak.glsl", text)
            elif kind == "patch":
                self._edit(kind, self.root / "patches" / "soak.py", f"{drone}\n# edit {n}\n")
            else:
                text = MAPPING.format(gain=self.rng.uniform(0.2, 1.5))
                self._edit(kind, self.root / "mappings" / "soak.py", text)

    def _midi(self) -> None:
        """The controller is another program (as on stage): a JACK MIDI client in a
        process of its own, turning the knobs until its stdin closes."""
        proc = subprocess.Popen(
            [sys.executable, "-c", MIDI_CONTROLLER, str(self.rng.random())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        self.stop.wait()
        try:
            out, _ = proc.communicate(input="", timeout=20)  # its stdin closes: it stops
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            self.soak.faults.append("the MIDI controller was stuck at the end (in JACK)")
        if out.strip().isdigit():
            self.soak.midi_sent = int(out.strip())
        else:
            self.soak.faults.append(f"MIDI controller: {out.strip()[-300:]}")

    def _dropouts(self) -> None:
        while not self.stop.wait(self.rng.uniform(4.0, 8.0)):
            sender = self.rng.choice(self.senders) if self.senders else None
            if sender is None or sender.poll() is not None:
                continue
            sender.send_signal(signal.SIGSTOP)  # the headband drops out...
            self.soak.dropouts += 1
            self.stop.wait(self.rng.uniform(2.5, 4.0))
            sender.send_signal(signal.SIGCONT)  # ...and comes back

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)
        for s in self.senders:
            s.send_signal(signal.SIGCONT)
            s.terminate()
            s.wait(timeout=10)


def run(minutes: float, out: Path, size: tuple[int, int] = (320, 180), fps: int = 20) -> Soak:
    from engine.clock import RealtimeClock
    from engine.live import Live
    from engine.midi.ports import MidiUnavailable
    from engine.midi.rig import MidiRig
    from engine.render import load_set
    from engine.show import Folders, Show
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

    def watch(frame) -> None:  # type: ignore[no-untyped-def]
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
            levels = audio.levels() if audio is not None else {}  # type: ignore[union-attr]
            loudest = max(levels.values(), default=0.0)
            soak.levels.append((s, loudest))
            if levels and loudest < SILENT:
                soak.silent += 1
            if state["killed_sound"] and soak.sound_back_s is None and loudest >= SILENT:
                soak.sound_back_s = s - state["killed_sound"]
        if not state["killed_sound"] and s >= 0.35 * seconds and audio is not None:
            os.kill(audio.pid, signal.SIGKILL)  # type: ignore[union-attr]
            state["killed_sound"] = s
            soak.faults.append(f"{s:.1f} s: SIGKILL the sound process (pid {audio.pid})")  # type: ignore[union-attr]
        if not state["killed_warmer"] and s >= 0.65 * seconds:
            pid = live.warmer._process.pid
            os.kill(pid, signal.SIGKILL)
            state["killed_warmer"] = True
            soak.faults.append(f"{s:.1f} s: SIGKILL the shader warm-up worker (pid {pid})")

    live.on_frame = watch
    try:
        if os.environ.get("SOAK_MIDI", "1") == "1":
            try:
                # a virtual port (live --midi-virtual): the controller connects to it
                live.midi = MidiRig(MIDI_PORT, "korg-nanokontrol2", virtual=True)
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
        for err in live.errors:
            soak.errors[err.kind] = soak.errors.get(err.kind, 0) + 1
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
