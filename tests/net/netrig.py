"""A small live show with its OSCQuery server, for the network tests: two simulated
dreamers, one OSC dreamer (generic profile) who joins when it speaks, an ISF layer
(its INPUTS are params) and a cue."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine import sets
from engine.clock import FrameClock
from engine.live import Live
from engine.net.feed import Feed
from engine.net.oscquery import OscQueryServer
from engine.net.policy import Access
from engine.show import Show
from engine.sources.osc import Endpoint, OscReceiver

SET = """
master_fx = ["hue_shift"]

[set]
duration = 600.0
fps = 20
size = [160, 90]
seed = 2

[[dreamers]]
count = 2
stages = [[0, "W"]]
shader = ["aurora", "lucid_rings"]
patch = "drone"

[[dreamers]]
count = 1
source = "osc"
profile = "generic"
listen = "127.0.0.1:0"
timeout = 1.0
fade = 0.2
shader = "tide"
patch = "drone"

[[cues]]
name = "storm"
time = 500
set = { "/merge/chaos" = 0.8 }
"""


@dataclass
class Rig:
    live: Live
    show: Show
    server: OscQueryServer
    feed: Feed
    osc: OscReceiver

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.live.step()

    def get(self, path: str, query: str = "") -> tuple[int, object]:
        url = self.server.url.rstrip("/") + path + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read()
                return r.status, json.loads(body) if body else None
        except urllib.error.HTTPError as exc:
            return exc.code, None


def wait_for(rig: Rig, done: Callable[[], object], frames: int = 400) -> bool:
    """Step the show until `done()` (at most `frames` frames)."""
    for _ in range(frames):
        rig.step()
        time.sleep(0.005)  # the server's thread takes each frame's update
        if done():
            return True
    return False


def make_rig(tmp_path, gl, access: Access | None = None) -> Rig:
    path = tmp_path / "net.toml"
    path.write_text(SET)
    from engine.render import load_set

    spec = load_set(path)
    assert isinstance(spec, sets.SetSpec)
    show = Show(spec, gl, audio=False)
    live = Live(show, clock=FrameClock(spec.fps), watch=False)
    osc = OscReceiver(Endpoint("127.0.0.1", 0), live.commands.push)
    server = OscQueryServer(
        "127.0.0.1",
        0,
        submit=lambda a, args: live.command(a, *args),
        access=access,
        osc=osc.endpoint,
    )
    feed = Feed(show, server.post, thumbnail_rate=1000.0)
    server.post(feed.first())
    live.on_frame = feed.frame
    return Rig(live, show, server, feed, osc)


def open_rig(tmp_path, gl, access: Access | None = None) -> Iterator[Rig]:
    """The body of each test module's `rig` fixture (a conftest.py here would shadow
    tests/conftest.py, which other tests import as `conftest`)."""
    r = make_rig(tmp_path, gl, access)
    yield r
    close_rig(r)


def close_rig(r: Rig) -> None:
    r.server.close()
    r.osc.close()
    r.feed.close()
    r.live.close()
    r.show.close()


class WsClient:
    """A WebSocket client on a thread of its own (aiohttp), as any OSCQuery client is:
    JSON text commands out, OSC packets (python-osc parses them) and JSON in."""

    def __init__(self, url: str, local_host: str | None = None, origin: str | None = None) -> None:
        import asyncio
        import threading

        self.url = url.replace("http://", "ws://")
        self.local_host = local_host
        self.origin = origin  # the Origin header a browser page would send
        self.texts: list[dict] = []
        self.messages: list[tuple[float, str, tuple]] = []  # (arrived, address, args)
        self.packets = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ws = asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(10)

    async def _connect(self):
        import asyncio

        import aiohttp

        local = (self.local_host, 0) if self.local_host else None
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=local))
        ws = await self._session.ws_connect(self.url, origin=self.origin)
        self._reader = asyncio.ensure_future(self._read(ws))
        return ws

    async def _read(self, ws) -> None:
        import time

        import aiohttp
        from pythonosc.osc_packet import OscPacket

        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.texts.append(json.loads(msg.data))
            elif msg.type == aiohttp.WSMsgType.BINARY:
                self.packets += 1
                now = time.monotonic()
                for timed in OscPacket(msg.data).messages:
                    self.messages.append((now, timed.message.address, tuple(timed.message.params)))

    def _run(self, coro) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    def command(self, command: str, data: str) -> None:
        self._run(self._ws.send_str(json.dumps({"COMMAND": command, "DATA": data})))

    def send_osc(self, address: str, *args: object) -> None:
        from pythonosc.osc_message_builder import OscMessageBuilder

        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        self._run(self._ws.send_bytes(b.build().dgram))

    def values(self, address: str) -> list[tuple]:
        return [args for _, a, args in self.messages if a == address]

    def close(self) -> None:
        async def shut():
            await self._ws.close()
            await self._session.close()

        self._run(shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
