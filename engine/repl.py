"""A console that talks to the running rig: one-off commands between songs.

    set /merge/chaos 0.7 [fade]    set a param (vectors as 0.1,0.2,0.3; enums by name)
    get /merge/chaos               print a value (features too: get /dreamer/1/heart)
    params [pattern]               list params (`*` matches one path segment)
    senders                        who is streaming, which dreamer each took, counters
    go [cue]                       fire the next cue now, or the one named
    load calm                      apply a scene from presets/scenes/
    errors                         what went wrong lately, with file and line
    quit                           stop the show

The console runs on its own thread and only queues commands: the frame loop
applies them between frames, like any other input.
"""

from __future__ import annotations

import shlex
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from engine.live import Live
from engine.params import ParamError


def parse_value(text: str) -> object:
    """'0.7' -> 0.7, '0.1,0.2' -> (0.1, 0.2), 'dream' -> 'dream'."""
    if "," in text:
        return tuple(float(x) for x in text.split(","))
    try:
        return float(text)
    except ValueError:
        return text


def execute(live: Live, line: str, out: TextIO, stop: Callable[[], None]) -> None:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        print(f"? {exc}", file=out)
        return
    if not words:
        return
    cmd, args = words[0].lower(), words[1:]
    params = live.show.params
    try:
        if cmd == "set" and len(args) in (2, 3):
            paths = params.match(args[0]) or [params.spec(args[0]).path]  # unknown: loudly
            if not any(params.spec(p).writable for p in paths):
                raise ParamError(f"{args[0]} is read-only: the show publishes it")
            live.command(args[0], parse_value(args[1]), *(float(a) for a in args[2:]))
        elif cmd == "get" and len(args) == 1:
            for path in params.match(args[0]) or [params.spec(args[0]).path]:
                print(f"{path} = {params.describe(path)}", file=out)
        elif cmd == "params":
            for spec in params:
                if not args or spec.path in params.match(args[0]):
                    mark = "" if spec.writable else "  (read-only)"
                    line = f"{spec.path} = {params.describe(spec.path)}  {spec.doc}{mark}"
                    print(line, file=out)
        elif cmd == "senders":
            for line in live.input_report():
                print(line, file=out)
        elif cmd == "go":
            live.command("/cue/go", *args)
        elif cmd == "load" and len(args) == 1:
            live.command("/scene/load", args[0])
        elif cmd == "errors":
            for err in live.errors:
                print(err, file=out)
        elif cmd in ("quit", "exit"):
            stop()
        else:
            print(__doc__.split("\n\n")[1], file=out)
    except (ParamError, ValueError) as exc:
        print(f"? {exc}", file=out)


def start(live: Live, stop: Callable[[], None], stream: TextIO = sys.stdin) -> threading.Thread:
    def loop() -> None:
        print("oneiric> type `help` for commands", file=sys.stdout, flush=True)
        for line in stream:
            execute(live, line, sys.stdout, stop)
        stop()  # end of input ends the show, like quit

    thread = threading.Thread(target=loop, name="oneiric-repl", daemon=True)
    thread.start()
    return thread
