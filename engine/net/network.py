"""The network side of a live show, wired from the command line and the set.

`live --web [HOST:PORT]` starts the OSCQuery server (the browser surface on the same
port), advertises it over mDNS, and opens the OSC port it advertises (the same port
number over UDP, unless `--osc` names one); `--osc-out HOST:PORT` and the set's
`[[osc_out]]` tables send features out. Everything binds 127.0.0.1 unless told
otherwise.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from engine.events import Event
from engine.net.feed import Feed
from engine.net.mdns import Advertiser
from engine.net.oscout import OscOut
from engine.net.oscquery import OscQueryServer
from engine.net.policy import LOCAL_HOSTS, Access
from engine.osc_out_spec import OscOutSpec, parse_target
from engine.sources.osc import Endpoint, OscReceiver

log = logging.getLogger("oneiric.net")
WEB_DEFAULT = "127.0.0.1:8090"


class LiveRunner(Protocol):
    """What the network needs of the live runner (engine.live.Live)."""

    show: Any
    on_frame: Callable[[Any], None] | None

    def command(self, address: str, *args: object) -> None: ...


def _endpoint(text: str) -> str:
    try:
        Endpoint.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _target(text: str) -> str:
    try:
        parse_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web",
        nargs="?",
        const=WEB_DEFAULT,
        type=_endpoint,
        metavar="HOST:PORT",
        help=f"the OSCQuery server and the browser control surface (default {WEB_DEFAULT}); "
        "OSC over UDP on the same port number sets params",
    )
    parser.add_argument(
        "--allow-remote-set",
        action="store_true",
        help="let clients on other machines change the rig (they only read without it)",
    )
    parser.add_argument("--token", help="a shared secret remote clients must send (?token=)")
    parser.add_argument("--no-mdns", action="store_true", help="do not advertise over mDNS")
    parser.add_argument(
        "--osc-out",
        action="append",
        default=[],
        type=_target,
        metavar="HOST:PORT",
        help="send features over OSC to HOST:PORT (repeatable; see also [[osc_out]])",
    )
    parser.add_argument("--osc-out-rate", type=float, default=30.0, help="bundles a second")
    parser.add_argument(
        "--osc-out-send",
        action="append",
        default=[],
        metavar="PATTERN",
        help="what --osc-out sends (/dreamer/*/heart; repeatable; default: the features)",
    )


class Network:
    def __init__(
        self,
        live: LiveRunner,
        *,
        web: str | None = None,
        osc: Endpoint | None = None,
        osc_out: Sequence[OscOutSpec] = (),
        access: Access | None = None,
        mdns: bool = True,
    ) -> None:
        self.live = live
        self.access = access or Access()
        self.server: OscQueryServer | None = None
        self.feed: Feed | None = None
        self.receiver: OscReceiver | None = None
        self.advertiser: Advertiser | None = None
        self.outs = [OscOut(live.show.params, s.targets, rate=s.rate, send=s.send) for s in osc_out]
        self.error = ""
        if web is not None:
            try:
                self._start_web(Endpoint.parse(web), osc, mdns)
            except (OSError, ValueError) as exc:  # a port taken, a bad address: say so, play on
                self.error = str(exc)
                log.warning("no OSCQuery server: %s", exc)
                if self.receiver is not None:
                    self.receiver.close()
                    self.receiver = None
        inner = live.on_frame
        live.on_frame = lambda frame: self._frame(frame, inner)

    def _start_web(self, at: Endpoint, osc: Endpoint | None, mdns: bool) -> None:
        if osc is None:  # the advertised OSC port: the web port's number, over UDP
            allow = None if self.access.allow_remote_set else set(LOCAL_HOSTS)
            if self.access.token is not None:
                allow = set(LOCAL_HOSTS)  # UDP carries no token: remote sets come by WS
            self.receiver = OscReceiver(at, self._queue, allow=allow)
            osc = self.receiver.endpoint
        self.server = OscQueryServer(
            at.host, at.port, submit=self._submit, access=self.access, osc=osc
        )
        self.feed = Feed(self.live.show, self.server.post)
        self.server.post(self.feed.first())
        if mdns:
            where = (self.server.host, self.server.port)
            self.advertiser = Advertiser("Oneiric", where, (osc.host, osc.port))

    @classmethod
    def from_args(cls, live: LiveRunner, args: argparse.Namespace, osc: Endpoint | None) -> Network:
        outs = list(live.show.spec.osc_out)
        if args.osc_out:
            send = tuple(args.osc_out_send)
            outs.append(OscOutSpec(tuple(args.osc_out), args.osc_out_rate, send, "--osc-out"))
        access = Access(allow_remote_set=args.allow_remote_set, token=args.token)
        return cls(live, web=args.web, osc=osc, osc_out=outs, access=access, mdns=not args.no_mdns)

    def _queue(self, event: Event) -> None:
        self.live.command(event.address, *event.value)

    def _submit(self, address: str, args: tuple[object, ...]) -> None:
        self.live.command(address, *args)

    def _frame(self, frame: Any, inner: Callable[[Any], None] | None) -> None:
        if inner is not None:
            inner(frame)
        if self.feed is not None:
            self.feed.frame(frame)
        for out in self.outs:
            out.frame(frame)

    def report(self) -> list[str]:
        """What was said on the network, for the end of the show."""
        lines = []
        if self.server is not None:
            counts = dict(self.server.counts)
            lines.append(f"oscquery {self.server.url}: {counts}")
        if self.access.refused:
            lines.append(f"refused: {dict(self.access.refused)}")
        if self.receiver is not None and self.receiver.dropped:
            lines.append(f"osc {self.receiver.endpoint}: dropped {dict(self.receiver.dropped)}")
        for out in self.outs:
            where = ", ".join(f"{h}:{p}" for h, p in out.targets)
            errors = f", errors {dict(out.errors)}" if out.errors else ""
            lines.append(f"osc out {where}: {out.bundles} bundles, {out.messages} msgs{errors}")
        return lines

    def close(self) -> None:
        for out in self.outs:
            out.close()
        if self.advertiser is not None:
            self.advertiser.close()
        if self.server is not None:
            self.server.close()
        if self.receiver is not None:
            self.receiver.close()
        if self.feed is not None:
            self.feed.close()
