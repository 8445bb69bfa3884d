#!/usr/bin/env python3
"""Oneiric: the command line. Wires the parts together and nothing else."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="performance.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render a set offline to a video with sound")
    r.add_argument("set", type=Path, help="a set file, e.g. presets/sets/demo.toml")
    r.add_argument("-o", "--output", type=Path, help="the MP4 to write (H.264 + AAC)")
    r.add_argument("--size", type=_size, help="WIDTHxHEIGHT, e.g. 1920x1080 (default: the set's)")
    r.add_argument("--fps", type=_positive, help="frames per second (default: the set's)")
    r.add_argument("--duration", type=_positive, help="render only the first SECONDS")
    r.add_argument("--frames", type=Path, metavar="DIR", help="also write PNG frames to DIR")
    r.add_argument("--no-audio", action="store_true", help="video only")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def cmd_render(args: argparse.Namespace) -> int:
    from engine.render import load_set, render

    if args.output is None and args.frames is None:
        args.output = Path("out") / f"{args.set.stem}.mp4"
    spec = load_set(args.set)
    result = render(
        spec,
        args.output,
        size=args.size,
        fps=args.fps,
        duration=args.duration,
        frames_dir=args.frames,
        audio=not args.no_audio,
        progress=not args.quiet,
    )
    print(result.summary())
    if result.output is not None:
        print(result.output)
    return 0


def main(argv: list[str] | None = None) -> int:
    from engine.audio.engine import PatchError
    from engine.sets import SetError
    from engine.visuals.context import GLUnavailable
    from engine.visuals.shaders import ShaderError
    from engine.visuals.sinks import SinkError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "render":
            return cmd_render(args)
    except SetError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
