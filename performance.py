#!/usr/bin/env python3
"""Oneiric: the command line. Wires the parts together and nothing else."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine is imported when a command runs: the CLI starts fast
    from engine.render import RenderOptions

os.environ.setdefault("PYO_GUI_WX", "0")  # before anything imports pyo: no wxPython notice


def _size(text: str) -> tuple[int, int]:
    from engine.sets import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _output(text: str) -> object:
    from engine.output_spec import parse_output

    try:
        return parse_output(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


OUT_HELP = (
    "send the picture to other software too, each at its own size: ndi:NAME, v4l2:DEVICE,"
    " pipe:PATH, pipe:|COMMAND or shm:NAME, with @WxH; repeatable"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="performance.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render a set offline to a video with sound")
    r.add_argument("set", type=Path, nargs="?", help="a set file, e.g. presets/sets/demo.toml")
    r.add_argument("--replay", type=Path, metavar="FILE", help="re-render a recorded session")
    r.add_argument("-o", "--output", type=Path, help="the MP4 to write (H.264 + AAC)")
    r.add_argument("--size", type=_size, help="WIDTHxHEIGHT, e.g. 1920x1080 (default: the set's)")
    r.add_argument("--fps", type=_positive, help="frames per second (default: the set's)")
    r.add_argument("--duration", type=_positive, help="render only the first SECONDS")
    r.add_argument("--frames", type=Path, metavar="DIR", help="also write PNG frames to DIR")
    r.add_argument("--no-audio", action="store_true", help="video only")
    r.add_argument("--midi", type=Path, metavar="FILE.mid", help="play a MIDI file into the rig")
    r.add_argument(
        "--controller",
        default="korg-nanokontrol2",
        help="the controller map the MIDI file plays through (presets/controllers/NAME)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--out", type=_output, action="append", default=[], help=OUT_HELP)
    r.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="render in N chunks on Ray workers, joined without re-encoding (same frames)",
    )
    r.add_argument("--cluster", metavar="ADDRESS", help="render on an existing Ray cluster")

    from engine import send

    send.add_parser(sub)

    ln = sub.add_parser("learn", help="bind the next MIDI control moved to PARAM, and save it")
    ln.add_argument("param", help="a param path, e.g. /merge/chaos, or a command like /cue/go")
    ln.add_argument("--port", default="", help="the controller's MIDI port (name or part)")
    ln.add_argument("--controller", default="korg-nanokontrol2", help="the map to save into")
    ln.add_argument("--timeout", type=_positive, default=30.0, help="give up after SECONDS")

    sh = sub.add_parser("shaders", help="shader tools")
    shs = sh.add_subparsers(dest="shaders_command", required=True)
    ck = shs.add_parser("check", help="load and render shaders headless; report errors by line")
    ck.add_argument("paths", type=Path, nargs="+", help="shader files or folders")
    ck.add_argument("--json", action="store_true", help="machine-readable output")
    ck.add_argument("--frames", type=int, default=3, help="frames to render each")
    ck.add_argument("--sheet", type=Path, metavar="OUT.png", help="a contact sheet: a tile each")

    pa = sub.add_parser("params", help="list every param of a set: type, range, access, unit")
    pa.add_argument("set", type=Path, nargs="?", default=Path("presets/sets/demo.toml"))
    pa.add_argument("--json", action="store_true", help="machine-readable, one object each")
    pa.add_argument("pattern", nargs="?", default="", help="only paths matching (`*`: a segment)")
    lv = sub.add_parser("live", help="play a set live: a window, or headless without a display")
    lv.add_argument("set", type=Path, nargs="?", default=Path("presets/sets/demo.toml"))
    lv.add_argument("--headless", action="store_true", help="no window even with a display")
    lv.add_argument("--fullscreen", action="store_true")
    lv.add_argument("--monitor", type=int, default=0, help="which monitor for --fullscreen")
    lv.add_argument("--size", type=_size, help="WIDTHxHEIGHT of the rendering")
    lv.add_argument("--fps", type=_positive, help="target frames per second")
    lv.add_argument("--duration", type=_positive, help="stop after SECONDS")
    lv.add_argument("--record", type=Path, metavar="OUT.mp4", help="capture the output")
    lv.add_argument("--out", type=_output, action="append", default=[], help=OUT_HELP)
    lv.add_argument(
        "--record-session",
        type=Path,
        metavar="FILE",
        help="log every input and edit, to re-render the night later (render --replay)",
    )
    lv.add_argument("--no-watch", action="store_true", help="do not reload edited files")
    lv.add_argument("--repl", action="store_true", help="a console for one-off commands")
    lv.add_argument("--overlay", action="store_true", help="start with the overlay (Tab toggles)")
    lv.add_argument(
        "--audio",
        choices=("auto", "portaudio", "jack", "off"),
        default="auto",
        help="where the sound plays: the system's default device (portaudio), a running "
        "JACK server (client 'oneiric'), auto (the first that works), off (no sound); "
        "without a device it is computed, not played",
    )
    lv.add_argument("--midi", metavar="PORT", help="a MIDI controller (name or part of it)")
    lv.add_argument("--midi-clock-out", action="store_true", help="send MIDI clock to it")
    lv.add_argument(
        "--midi-virtual",
        action="store_true",
        help="create a virtual MIDI port named PORT for other software to connect to "
        "(ALSA, CoreMIDI), instead of opening a controller's",
    )

    lv.add_argument(
        "--controller",
        default="korg-nanokontrol2",
        help="its map in presets/controllers/ (learn saves into it; OSC /midi/learn PARAM)",
    )
    lv.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="where OSC dreamers' apps send (e.g. 0.0.0.0:5000 for phones on the LAN)",
    )
    lv.add_argument(
        "--audio-in",
        metavar="DEVICE|FILE",
        help="listen to the music: default (PortAudio's input), jack, jack:PORT, or a sound "
        "file; /audio/in/* follow it (instead of the set's [audio_in])",
    )
    lv.add_argument(
        "--controls",
        action="append",
        default=[],
        metavar="NAME",
        help="map OSC addresses onto params (presets/controls/NAME.toml); repeatable",
    )
    lv.add_argument(
        "--osc",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="control params by path over OSC (e.g. /merge/chaos 0.7); repeatable",
    )
    from engine.net.network import add_arguments

    add_arguments(lv)  # --web (OSCQuery and the browser surface), --osc-out, security
    return parser


def cmd_render(args: argparse.Namespace) -> int:
    from engine.render import RenderOptions, load_set, render

    source = args.replay or args.set
    if source is None or (args.replay and args.set):
        print("error: render needs a SET or --replay FILE (one of them)", file=sys.stderr)
        return 2
    if args.replay and args.out:
        print("error: --out goes with a SET; a replay renders to files only", file=sys.stderr)
        return 2
    if args.output is None and args.frames is None:
        args.output = Path("out") / f"{source.stem}.mp4"
    options = RenderOptions(
        size=args.size,
        fps=args.fps,
        duration=args.duration,
        frames_dir=args.frames,
        audio=not args.no_audio,
        progress=not args.quiet,
        midi=args.midi,
        controller=args.controller,
        outputs=tuple(args.out),
    )
    if args.workers or args.cluster:
        return _render_chunked(args, options)
    if args.replay:
        from engine.replay import replay

        result = replay(args.replay, args.output, options)
    else:
        result = render(load_set(args.set), args.output, options)
    print(result.summary())
    print(result.stages.summary())
    if result.output is not None:
        print(result.output)
    return 0


def _render_chunked(args: argparse.Namespace, options: RenderOptions) -> int:
    from engine.chunks import ChunkError, Job, render_chunked
    from engine.render import load_set

    if args.frames is not None:
        print("error: --frames (PNGs) is not available with --workers", file=sys.stderr)
        return 2
    if args.set is not None:
        load_set(args.set)  # a bad set is reported before any worker starts
    job = Job(set_path=args.set, session=args.replay, options=options)
    try:
        result = render_chunked(job, args.output, workers=args.workers or 2, cluster=args.cluster)
    except ChunkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    for c in result.chunks:
        a, b = c.frames
        print(
            f"  chunk {c.index}: frames {a}-{b - 1} in {c.wall:.1f} s (pid {c.pid}); "
            + c.stages.summary()
        )
    print(f"  joined in {result.joined:.1f} s; tries per chunk: {result.attempts}")
    print(result.output)
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    import signal
    import threading

    from engine.capture import Capture
    from engine.live import Live
    from engine.render import load_set
    from engine.show import Show
    from engine.visuals.context import headless_context
    from engine.window import Window, WindowUnavailable, display_available

    spec = load_set(args.set)
    if args.audio_in:
        import dataclasses

        from engine.listen_spec import AudioInSpecError, parse_device

        try:
            spec = dataclasses.replace(spec, audio_in=parse_device(args.audio_in))
        except AudioInSpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    window = None
    if not args.headless and display_available():
        try:
            window = Window(
                args.size or spec.size, fullscreen=args.fullscreen, monitor=args.monitor
            )
        except WindowUnavailable as exc:
            print(f"notice: no window ({exc}); running headless", file=sys.stderr)
    elif not args.headless:
        print("notice: no display: running headless", file=sys.stderr)
    ctx = window.ctx if window is not None else headless_context()
    import datetime

    started = datetime.datetime.now()  # ISF DATE and iDate see the real clock live
    show = Show(
        spec,
        ctx,
        size=args.size,
        fps=args.fps,
        audio=args.audio != "off",
        audio_mode="auto",
        audio_driver="auto" if args.audio == "off" else args.audio,
        start_date=started,
        listen=args.listen,
    )
    if show.inputs is not None:
        ports = ", ".join(f"{e.host}:{e.port}" for e in show.inputs.endpoints)
        print(f"listening for dreamers on {ports}", file=sys.stderr)
    if show.audio_notice:
        print(f"notice: {show.audio_notice}", file=sys.stderr)
    elif show.audio is not None:
        print(f"sound: {show.audio.driver} at {show.audio.sr} Hz", file=sys.stderr)
    if show.listen is not None:
        print(f"{show.listen.notice or 'audio in: ' + show.listen.source}", file=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    recording = Capture(args.record, show) if args.record else None
    session = None
    if args.record_session:
        from engine.record import SessionWriter

        session = SessionWriter(
            args.record_session,
            set_path=args.set,
            set_text=args.set.read_text(),
            seed=spec.seed,
            fps=show.fps,
            size=show.size,
            started=started,
        )

    def present(frame: object) -> None:
        if window is None:
            return
        window.present(show.merge.output)
        keys = window.poll()
        for code, down in window.key_changes():  # Shadertoy's keyboard channel sees them all
            live.command("/key/down" if down else "/key/up", code)
        for key in keys:
            if key in ("escape", "q"):
                stop.set()
            elif key == "space":
                live.command("/cue/go")
            elif key in ("tab", "o"):
                live.overlay_visible = not live.overlay_visible
        if window.closing:
            stop.set()

    live = Live(
        show,
        watch=not args.no_watch,
        sink=recording,
        audio_sink=recording.audio if recording else None,
        on_frame=present,
        overlay=args.overlay,
        session=session,
    )
    from engine.control_maps import load_controls

    live.controls = [load_controls(name, show.params) for name in args.controls]
    from engine.visuals.outputs import Outputs

    outputs = Outputs([*spec.outputs, *args.out], show.size, show.fps)
    live.sinks.append(outputs)
    if spec.timecode is not None:
        from engine.midi.ports import MidiUnavailable
        from engine.midi.timecode import TimecodeFollower

        try:
            live.timecode = TimecodeFollower(spec.timecode)
            print(f"cues follow MIDI Time Code on {spec.timecode.port!r}", file=sys.stderr)
        except MidiUnavailable as exc:
            print(f"notice: {exc}; the cues keep the show's own time", file=sys.stderr)
    if args.midi:
        from engine.midi.controller import MidiController
        from engine.midi.ports import MidiUnavailable

        try:
            live.midi = MidiController(
                args.midi,
                args.controller,
                clock_out=args.midi_clock_out,
                virtual=args.midi_virtual,
            )
            if args.midi_virtual:
                print(f"virtual MIDI port {args.midi!r} open", file=sys.stderr)
        except MidiUnavailable as exc:
            print(f"notice: {exc}", file=sys.stderr)
    if args.repl:
        from engine import repl

        repl.start(live, stop.set)
    from engine.sources.osc import Endpoint, OscReceiver

    receivers = [OscReceiver(Endpoint.parse(e), live.commands.push) for e in args.osc]
    for r in receivers:
        print(f"listening for OSC on {r.endpoint.host}:{r.endpoint.port}", file=sys.stderr)
    net = None
    if args.web or args.osc_out or spec.osc_out:
        from engine.net.network import Network

        net = Network.from_args(live, args, receivers[0].endpoint if receivers else None)
        if net.server is not None:
            print(f"OSCQuery and the control surface on {net.server.url}", file=sys.stderr)
    report: list[str] = []
    try:
        live.run(args.duration, stop=stop.is_set)
    finally:
        report = live.input_report()  # who sent what, and which dreamer each took
        if net is not None:
            report += net.report()
            net.close()
        for r in receivers:
            r.close()
        live.close()
        outputs.close()
        if live.timecode is not None:
            live.timecode.close()
        if session is not None:
            session.close()
        if recording is not None:
            recording.close()
        show.close()
        if window is not None:
            window.close()
    print(live.summary())
    for line in report:
        print(line)
    if recording is not None:
        if recording.repeated:
            print(
                f"recorded {recording.movie.frames} frames ({recording.repeated} repeated"
                " for the slots dropped frames left, in step with the sound)"
            )
        if recording.shortfall > 0.25:
            print(
                f"notice: the sound device fell behind (xruns): the recording's sound is"
                f" {recording.shortfall:.1f} s short of its picture",
                file=sys.stderr,
            )
        print(args.record)
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    import time

    from engine.midi.binding_files import controller_path
    from engine.midi.learn import Learner
    from engine.midi.ports import MidiInput, MidiUnavailable

    try:
        port = MidiInput(args.port)
    except MidiUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    learner = Learner()
    learner.arm(args.param)
    print(f"move a control to bind it to {args.param} ...", file=sys.stderr)
    end = time.monotonic() + args.timeout
    while time.monotonic() < end:
        for msg in port.drain():
            binding = learner.observe(msg, time.perf_counter())
            if binding is not None:
                path = controller_path(args.controller)
                learner.save(path)
                print(f"{args.param} <- {msg} (saved in {path})")
                return 0
        time.sleep(0.01)
    print("error: no control moved in time", file=sys.stderr)
    return 1


def cmd_shaders_check(args: argparse.Namespace) -> int:
    from engine.visuals.check import check, format_results, write_sheet

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {missing[0]}", file=sys.stderr)
        return 2
    results = check(args.paths, frames=args.frames)
    print(format_results(results, args.json))
    if args.sheet is not None:
        write_sheet(results, args.sheet)
        if not args.json:
            print(f"contact sheet: {args.sheet}")
    return 1 if any(not r.ok for r in results) else 0


def cmd_params(args: argparse.Namespace) -> int:
    import json

    from engine.commands import COMMANDS
    from engine.params import path_matches
    from engine.render import load_set
    from engine.show import Show
    from engine.visuals.context import headless_context

    spec = load_set(args.set)
    ctx = headless_context()
    show = Show(spec, ctx, audio=False)
    try:
        params = show.params
        paths = params.match(args.pattern) if args.pattern else [p.path for p in params]
        rows = [params.spec(p) for p in paths]
        # commands: write-only, an impulse (no value) or a name
        commands = [
            c for c in COMMANDS.values() if not args.pattern or path_matches(c.path, args.pattern)
        ]
        if args.json:
            out = [
                {
                    "path": p.path,
                    "type": p.kind,
                    "size": p.size,
                    "default": p.default,
                    "min": p.min,
                    "max": p.max,
                    "choices": list(p.choices),
                    "access": p.access,
                    "clip": p.clip,
                    "unit": p.unit,
                    "description": p.doc,
                    "value": params.get_vec(p.path),
                }
                for p in rows
            ]
            out += [
                {
                    "path": c.path,
                    "type": "impulse" if c.impulse else "string",
                    "args": list(c.args),
                    "access": "w",
                    "description": c.doc,
                    **({"alias_of": c.alias_of} if c.alias_of else {}),
                }
                for c in commands
            ]
            print(json.dumps(out, indent=1))
        else:
            for p in rows:
                span = "|".join(p.choices) if p.kind == "enum" else f"{p.min:g}..{p.max:g}"
                span += f" {p.unit}" if p.unit else ""
                print(f"{p.path:34} {p.kind:5} {span:18} {p.access:2}  {p.doc}")
            for c in commands:
                kind, takes = ("impulse", "") if c.impulse else ("string", " ".join(c.args))
                print(f"{c.path:34} {kind:7} {takes:16} w   {c.doc}")
    finally:
        show.close()
        ctx.release()
    return 0


def main(argv: list[str] | None = None) -> int:
    from engine.audio.graph import PatchError
    from engine.session_format import SessionError
    from engine.sets import SetError
    from engine.visuals.context import GLUnavailable
    from engine.visuals.shaders import ShaderError
    from engine.visuals.sinks import SinkError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "render":
            return cmd_render(args)
        if args.command == "live":
            return cmd_live(args)
        if args.command == "shaders":
            return cmd_shaders_check(args)
        if args.command == "learn":
            return cmd_learn(args)
        if args.command == "params":
            return cmd_params(args)
        if args.command == "send":
            return int(args.func(args))
    except (SetError, SessionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:
        print(f"error: {exc.filename} exists; not overwriting a session log", file=sys.stderr)
        return 2
    except (ShaderError, PatchError, GLUnavailable, SinkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
