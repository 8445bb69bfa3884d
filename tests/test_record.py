"""The session log: what a live night writes is what a replay reads, to the bit, even
when the live process is killed mid-show."""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import Clock, Tick
from engine.events import Event
from engine.params import ParamSpace, ParamSpec
from engine.record import SessionWriter
from engine.session_format import FORMAT, VERSION, SessionError
from engine.sessions import ReplayClock, SourceChange, load

ROOT = Path(__file__).resolve().parents[1]
SET_TEXT = "[set]\nduration = 60.0\nfps = 60\nsize = [64, 36]\nseed = 7\n# ünïcode\n"


def writer(path: Path, **kw: object) -> SessionWriter:
    args: dict[str, object] = dict(
        set_path=Path("sets/night.toml"), set_text=SET_TEXT, seed=7, fps=60.0, size=(64, 36)
    )
    args.update(kw)
    return SessionWriter(path, **args)  # type: ignore[arg-type]


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(a: object, b: object) -> bool:
    """Equal, floats to the bit (NaN: any NaN), types included."""
    if isinstance(a, float):
        return isinstance(b, float) and ((math.isnan(a) and math.isnan(b)) or bits(a) == bits(b))
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, tuple):
        return (
            isinstance(b, tuple)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


def same_event(a: Event, b: Event) -> bool:
    return (
        same(a.time, b.time)
        and a.source == b.source
        and a.address == b.address
        and same(a.value, b.value)
    )


def irregular_ticks(n: int, seed: int = 1) -> list[Tick]:
    rng = random.Random(seed)
    ticks, t = [], 0.0
    for i in range(n):
        dt = 0.0 if i == 0 else 1 / 60 + rng.gauss(0, 0.004)
        t += dt
        ticks.append(Tick(i, t, dt))
    return ticks


# round trip
def test_a_session_reads_back_as_written_to_the_bit(tmp_path):
    path = tmp_path / "night.oneiric"
    ticks = irregular_ticks(120)
    params = {
        3: [("/merge/chaos", (0.1 + 0.2,), 2.5), ("/dreamer/0/tint", (0.1, -0.0, 1e-310), 0.0)],
        50: [("/merge/mode", (3.0,), 0.0)],
    }
    block = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    events = {
        3: [
            Event(12.345678901234567, "osc:127.0.0.1:9000", "/merge/chaos", (0.3, 1, "go")),
            Event(12.4, "midi:nanoKONTROL2", "/cc", (True, None, b"\x00\xff\x10", (1, (2.5,)))),
        ],
        77: [Event(13.0, "osc:muse", "/muse/eeg", (math.nan, math.inf, -math.inf, 2**70))],
        80: [Event(13.1, "sensor", "/dreamer/1/eeg", (block, np.int16(-3), np.float64(0.7)))],
    }
    sources = {
        10: [SourceChange("shader", "shaders/aurora.glsl", 'void main() {}\n// "quoted"\n')],
        11: [
            SourceChange("patch", "patches/drone.py", None, "drone.py:3: NameError: x"),
            SourceChange("mapping", "patches/mappings/m.py", "def update(rig):\n\tpass\n"),
        ],
    }
    with writer(path) as w:
        for tick in ticks:
            for p, v, fade in params.get(tick.frame, []):
                w.param(tick.frame, p, v, fade)
            for ev in events.get(tick.frame, []):
                w.event(tick.frame, ev)
            for s in sources.get(tick.frame, []):
                w.source(tick.frame, s.kind, s.path, s.text, s.error)
            w.frame(tick)
        bytes_before_end = w.bytes

    s = load(path)
    assert not s.truncated and s.complete
    assert s.header["format"] == FORMAT and s.header["version"] == VERSION
    assert s.set_text == SET_TEXT and s.header["set_path"] == "sets/night.toml"
    assert (s.seed, s.fps, s.size) == (7, 60.0, (64, 36))
    assert s.header["rig"] and s.header["started"]
    assert [t.frame for t in s.ticks] == list(range(120))
    assert all(bits(a.time) == bits(b.time) for a, b in zip(s.ticks, ticks, strict=True))
    assert all(bits(a.dt) == bits(b.dt) for a, b in zip(s.ticks, ticks, strict=True))
    assert s.params.keys() == params.keys()
    for f, changes in params.items():
        got = s.params[f]
        assert [(p, fade) for p, _, fade in got] == [(p, fade) for p, _, fade in changes]
        assert all(same(a[1], b[1]) for a, b in zip(got, changes, strict=True))
    assert s.events.keys() == events.keys()
    for f, evs in events.items():
        assert len(s.events[f]) == len(evs)
        assert all(same_event(a, b) for a, b in zip(s.events[f], evs, strict=True))
    assert isinstance(s.events[80][0].value[1], np.int16)
    assert s.sources == sources
    assert not s.sources[11][0].ok and s.sources[11][1].ok
    assert path.stat().st_size > bytes_before_end  # the end line came after
    assert path.read_bytes().isascii()


def test_frame_lines_are_compact_json(tmp_path):
    path = tmp_path / "s.oneiric"
    with writer(path) as w:
        w.frame(Tick(12, 0.4012, 0.0334))
    lines = path.read_text().splitlines()
    assert lines[1] == '{"f":12,"t":0.4012,"dt":0.0334}'
    assert json.loads(lines[0])["format"] == FORMAT
    assert json.loads(lines[-1])["k"] == "end"


def test_param_observer_logs_changes_with_the_callers_frame(tmp_path):
    path = tmp_path / "s.oneiric"
    space = ParamSpace()
    space.register(ParamSpec("/a", 0.0))
    space.register(ParamSpec("/dreamer/0/point", (0.0, 0.0), size=2))
    frame = [5]
    with writer(path) as w:
        space.observers.append(w.observer(lambda: frame[0]))
        space.set("/a", 0.25, fade=1.5)
        frame[0] = 9
        space.set("/dreamer/0/point", (0.5, 2.0))  # clamped to 1.0 by the space
    assert load(path).params == {
        5: [("/a", (0.25,), 1.5)],
        9: [("/dreamer/0/point", (0.5, 1.0), 0.0)],
    }


# what the writer refuses
def test_the_writer_refuses_what_it_could_not_read_back(tmp_path):
    w = writer(tmp_path / "s.oneiric")
    with pytest.raises(ValueError, match="not finite"):
        w.param(1, "/a", (math.nan,), 0.0)
    with pytest.raises(ValueError, match="not finite"):
        w.param(1, "/a", (0.5,), math.inf)
    with pytest.raises(ValueError, match="not finite"):
        w.frame(Tick(0, math.nan, 0.0))
    with pytest.raises(ValueError, match="frame number"):
        w.param(-1, "/a", (0.5,), 0.0)
    with pytest.raises(TypeError, match="object"):
        w.event(1, Event(0.0, "osc", "/x", (object(),)))
    with pytest.raises(ValueError, match="kind"):
        w.source(1, "poem", "x.txt", "roses")
    with pytest.raises(ValueError, match="text or the error"):
        w.source(1, "shader", "x.glsl", None)
    w.frame(Tick(4, 0.1, 0.0))
    with pytest.raises(ValueError, match="after frame 4"):
        w.frame(Tick(4, 0.2, 0.1))
    w.close()
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.frame(Tick(5, 0.2, 0.1))
    with pytest.raises(FileExistsError):
        writer(tmp_path / "s.oneiric")  # last night's log is not overwritten
    s = load(tmp_path / "s.oneiric")
    assert s.params == {} and s.events == {} and [t.frame for t in s.ticks] == [4]


# crash safety
def test_lines_reach_the_os_within_the_flush_interval_without_more_writes(tmp_path):
    path = tmp_path / "s.oneiric"
    w = writer(path, flush_interval=0.05)
    header = path.stat().st_size
    assert header > 0  # the header is on disk at once
    w.frame(Tick(0, 0.0, 0.0))
    deadline = time.monotonic() + 1.0
    while path.stat().st_size == header and time.monotonic() < deadline:
        time.sleep(0.005)
    waited = 1.0 - (deadline - time.monotonic())
    assert path.stat().st_size > header and waited < 0.25
    w.close()


def test_writes_are_batched_until_the_interval_passes(tmp_path):
    path = tmp_path / "s.oneiric"
    with writer(path, flush_interval=30.0) as w:
        header = path.stat().st_size
        for tick in irregular_ticks(20):
            w.frame(tick)
        assert path.stat().st_size == header  # still in the process's buffer
        w.flush()
        assert len(path.read_bytes().splitlines()) == 21


CHILD = r"""
import sys, time
from pathlib import Path
from engine.clock import Tick
from engine.record import SessionWriter

path, mode = Path(sys.argv[1]), sys.argv[2]
w = SessionWriter(path, set_path=Path("night.toml"), set_text="[set]\n", seed=1, fps=60.0,
                  size=(64, 36))
print("ready", flush=True)
start = time.perf_counter()
last = 0.0
n = 0
while True:
    t = time.perf_counter() - start
    sys.stdout.write(f"{n} {time.monotonic()}\n")  # the side channel, before the log line
    sys.stdout.flush()
    w.frame(Tick(n, t, t - last if n else 0.0))
    if mode == "idle" and n == 29:
        print("idle", flush=True)
        time.sleep(60)
    n += 1
    last = t
    time.sleep(max(0.0, start + n / 60 - time.perf_counter()))
"""


def spawn(path: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def side_channel(proc: subprocess.Popen[str]) -> dict[int, float]:
    out, _ = proc.communicate(timeout=10)
    stamps = {}
    # a kill can cut the last line short: read whole "frame stamp" lines only
    for line in out.splitlines(keepends=True):
        m = re.fullmatch(r"(\d+) (\d+\.\d+(?:e[-+]?\d+)?)\n", line)
        if m:
            stamps[int(m[1])] = float(m[2])
    return stamps


def test_a_writer_killed_mid_show_loses_at_most_250_ms(tmp_path):
    """Three writers at 60 fps, each SIGKILLed at a random moment of its 1.5 s."""
    rng = random.Random()
    procs = [spawn(tmp_path / f"kill{i}.oneiric", "run") for i in range(3)]
    t0 = time.monotonic()
    plan = sorted((rng.uniform(0.2, 1.5), i) for i in range(3))
    killed_at = {}
    for at, i in plan:
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        os.kill(procs[i].pid, signal.SIGKILL)
        killed_at[i] = time.monotonic()
    for i, proc in enumerate(procs):
        stamps = side_channel(proc)
        assert proc.returncode == -signal.SIGKILL
        s = load(tmp_path / f"kill{i}.oneiric")
        assert not s.complete and s.ticks, "nothing reached the disk"
        last = s.ticks[-1].frame
        assert [t.frame for t in s.ticks] == list(range(last + 1))
        assert last in stamps  # printed before it was logged
        lost = killed_at[i] - stamps[last]
        assert 0 <= lost <= 0.25, f"the log ends {lost * 1000:.0f} ms before the kill"


def test_a_writer_that_goes_quiet_has_everything_on_disk(tmp_path):
    path = tmp_path / "idle.oneiric"
    proc = spawn(path, "idle")
    assert proc.stdout is not None
    while proc.stdout.readline().strip() != "idle":
        pass
    time.sleep(0.25)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    s = load(path)
    assert [t.frame for t in s.ticks] == list(range(30)) and not s.truncated


# reading damaged logs
def good_log(path: Path) -> list[bytes]:
    with writer(path) as w:
        for tick in irregular_ticks(5):
            w.param(tick.frame, "/a", (0.5,), 0.0)
            w.frame(tick)
    return path.read_bytes().splitlines(keepends=True)


def test_a_cut_last_line_is_dropped_and_reported(tmp_path):
    path = tmp_path / "s.oneiric"
    lines = good_log(path)[:-1]  # no end line: the writer was killed
    path.write_bytes(b"".join(lines) + b'{"f":5,"t":0.0834')
    s = load(path)
    assert s.truncated and not s.complete
    assert [t.frame for t in s.ticks] == [0, 1, 2, 3, 4]
    path.write_bytes(b"".join(lines) + b'{"f":5,"t":0.1,"dt":0.02}')  # whole but for its newline
    s = load(path)
    assert not s.truncated and s.ticks[-1] == Tick(5, 0.1, 0.02)


@pytest.mark.parametrize(
    "bad, message",
    [
        (b"{not json\n", "line 4|Expecting"),
        (b"\n", "Expecting value"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"f":9,"t":NaN,"dt":0.0}\n', "NaN is not JSON"),
        (b'{"f":1,"t":0.5}\n', "no 'dt'"),
        (b'{"f":0,"t":0.5,"dt":0.0}\n', "frame 0 after frame 0"),
        (b'{"k":"p","f":3,"p":"/a","v":["x"],"fade":0}\n', "list of numbers"),
        (b'{"k":"e","f":3,"t":0,"src":"o","a":"/x","v":[{"b64":"!"}]}\n', "base64"),
        (b'{"k":"s","f":3,"kind":"poem","path":"p","text":"t"}\n', "source kind"),
        (b'{"k":"zz","f":3}\n', "record kind"),
    ],
)
def test_a_bad_middle_line_names_its_line(tmp_path, bad, message):
    path = tmp_path / "s.oneiric"
    lines = good_log(path)
    lines.insert(3, bad)
    path.write_bytes(b"".join(lines))
    with pytest.raises(SessionError, match=message) as err:
        load(path)
    assert err.value.line == 4 and err.value.path == path
    assert str(err.value).startswith(f"{path}:4: ")


def test_a_line_after_the_end_is_an_error(tmp_path):
    path = tmp_path / "s.oneiric"
    lines = good_log(path)
    path.write_bytes(b"".join([*lines, lines[2]]))
    with pytest.raises(SessionError, match="after the end") as err:
        load(path)
    assert err.value.line == len(lines) + 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": "oneiric-set"}, "not an Oneiric session log"),
        ({"version": 2}, "version 2; this rig reads version 1"),
        ({"set_text": None}, "'set_text' should be a string"),
        ({"size": [64]}, "size should be"),
        ({"fps": 0}, "fps must be positive"),
    ],
)
def test_a_wrong_header_is_an_error(tmp_path, change, message):
    path = tmp_path / "s.oneiric"
    lines = good_log(path)
    header = {**json.loads(lines[0]), **change}
    path.write_bytes(json.dumps(header).encode() + b"\n" + b"".join(lines[1:]))
    with pytest.raises(SessionError, match=message) as err:
        load(path)
    assert err.value.line == 1


@pytest.mark.parametrize("content", [b"", b'{"format":"oneiric-session","vers', b"tick\n"])
def test_a_log_without_a_header_is_an_error(tmp_path, content):
    path = tmp_path / "s.oneiric"
    path.write_bytes(content)
    with pytest.raises(SessionError) as err:
        load(path)
    assert err.value.line == 1


# replay
def test_the_replay_clock_gives_back_the_recorded_ticks(tmp_path):
    path = tmp_path / "s.oneiric"
    ticks = irregular_ticks(40, seed=3)
    with writer(path, fps=29.97) as w:
        for tick in ticks:
            w.frame(tick)
    clock = load(path).clock()
    c: Clock = clock  # it is a clock like the others
    assert c.fps == 29.97 and clock.frames == 40 and len(clock) == 40
    got = [c.tick() for _ in range(40)]
    assert got == ticks
    assert all(bits(a.time) == bits(b.time) for a, b in zip(got, ticks, strict=True))
    with pytest.raises(IndexError, match="40 frames"):
        c.tick()
    again = ReplayClock(ticks, 29.97)
    next(iter(again))
    assert again.position == 1 and list(again) == ticks[1:]


# properties
finite = st.floats(allow_nan=False, allow_infinity=False)
osc_atom = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and inf included: events carry them
    st.text(max_size=20),
    st.binary(max_size=20),
)
osc_value = st.recursive(
    osc_atom, lambda inner: st.lists(inner, max_size=4).map(tuple), max_leaves=10
)
param_change = st.tuples(
    st.integers(0, 10_000),
    st.from_regex(r"/[a-z0-9_]{1,8}(/[a-z0-9_]{1,8}){0,3}", fullmatch=True),
    st.lists(finite, min_size=1, max_size=4).map(tuple),
    st.floats(0, 1e6),
)
event = st.builds(
    Event,
    finite,
    st.text(max_size=30),
    st.text(max_size=30),
    st.lists(osc_value, max_size=6).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(
    params=st.lists(param_change, max_size=8),
    events=st.lists(st.tuples(st.integers(0, 10_000), event), max_size=8),
)
def test_params_and_events_round_trip(params, events):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.oneiric"
        with writer(path) as w:
            for f, p, v, fade in params:
                w.param(f, p, v, fade)
            for f, ev in events:
                w.event(f, ev)
        s = load(path)
    want_params: dict[int, list[tuple[str, tuple[float, ...], float]]] = {}
    for f, p, v, fade in params:
        want_params.setdefault(f, []).append((p, v, fade))
    assert s.params.keys() == want_params.keys()
    for f, changes in want_params.items():
        got = s.params[f]
        assert [p for p, _, _ in got] == [p for p, _, _ in changes]
        assert all(same(a[1], b[1]) and same(a[2], b[2]) for a, b in zip(got, changes, strict=True))
    want_events: dict[int, list[Event]] = {}
    for f, ev in events:
        want_events.setdefault(f, []).append(ev)
    assert s.events.keys() == want_events.keys()
    for f, evs in want_events.items():
        assert len(s.events[f]) == len(evs)
        assert all(same_event(a, b) for a, b in zip(s.events[f], evs, strict=True))


def test_an_unclosed_writer_keeps_its_lines_at_exit(tmp_path):
    path = tmp_path / "s.oneiric"
    script = (
        "import sys\nfrom pathlib import Path\nfrom engine.clock import Tick\n"
        "from engine.record import SessionWriter\n"
        "w = SessionWriter(Path(sys.argv[1]), set_path=Path('n.toml'), set_text='', seed=1,"
        " fps=60.0, size=(4, 4), flush_interval=30.0)\n"
        "for n in range(10):\n    w.frame(Tick(n, n / 60, 1 / 60 if n else 0.0))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, env=env, timeout=30)
    s = load(path)
    assert [t.frame for t in s.ticks] == list(range(10)) and not s.complete
