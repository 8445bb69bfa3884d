"""The soak's rig and its troubles: a scratch copy of the files a VJ edits, a JACK
server of its own, and every source of chaos (bench/soak.py drives them)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
DATA = Path(os.environ.get("ONEIRIC_DATA", ROOT.parent / "shared" / "data"))  # as the tests
EEG = DATA / "biosignals" / "physio" / "biosppy_eeg_ec.txt"

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
    if sent % 20 == 0:  # a count that survives a kill
        print(sent, flush=True)
print(sent)
"""


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the soak's process dies, however it dies."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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

    def __init__(self, soak: Any, root: Path, control: int, data: int, seed: int) -> None:
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

    def _thread(self, target: Callable[..., None], *args: object) -> None:
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
                bad: list[float | str] = [1e9, -1e9, float("nan"), float("inf"), "loud", True]
                client.send_message(path, rng.choice(bad))
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
        counts = [n for n in out.split() if n.isdigit()]
        if counts:
            self.soak.midi_sent = int(counts[-1])
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
