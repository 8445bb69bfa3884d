"""The OSCQuery server: the namespace over HTTP, values over a WebSocket, on one port.

An aiohttp server runs its own asyncio loop on a daemon thread. GET of a path answers
the node and everything under it as JSON; `?VALUE`, `?RANGE`... one attribute;
`?HOST_INFO` the server (its EXTENSIONS, and the OSC port that takes the same paths);
`?HTML` (or a browser asking for `/`) the control surface in engine/net/web. On the
same port a WebSocket takes LISTEN and IGNORE (JSON text) and OSC packets (binary),
and streams what changes to the paths each client listens to, a bundle a frame, plus
PATH_ADDED and PATH_REMOVED when the namespace changes.

The server never touches the show: the show's thread posts a `feed.Update` once a frame
(`post`, thread-safe), and what clients send is checked (engine.net.policy) and handed
to `submit`, which queues it for the frame loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from engine.net import osc_wire
from engine.net.feed import Update
from engine.net.namespace import (
    ATTRIBUTES,
    EXTENSIONS,
    THUMBNAIL,
    Method,
    build_tree,
    find,
    node_json,
    tree_changes,
    wire_value,
)
from engine.net.policy import Access
from engine.sources.osc import Endpoint, decode

log = logging.getLogger("oneiric.net")
WEB_DIR = Path(__file__).resolve().parent / "web"
CLIENT_QUEUE = 64  # packets waiting for a slow client before its oldest are dropped
Submit = Callable[[str, tuple[object, ...]], None]


class _Client:
    def __init__(
        self, ws: web.WebSocketResponse, host: str, token: str | None, origin: str = ""
    ) -> None:
        self.ws, self.host, self.token = ws, host, token
        self.origin = origin  # a page of another origin that opened it ("" if none)
        self.listening: set[str] = set()
        self.queue: asyncio.Queue[bytes | str] = asyncio.Queue(CLIENT_QUEUE)
        self.dropped = 0
        self.writer: asyncio.Task[None] | None = None

    def send(self, item: bytes | str) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1  # a client that cannot keep up loses packets, never the rig

    async def write(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, str):
                await self.ws.send_str(item)
            else:
                await self.ws.send_bytes(item)


class OscQueryServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        submit: Submit,
        access: Access | None = None,
        osc: Endpoint | None = None,
        name: str = "Oneiric",
    ) -> None:
        self.submit = submit
        self.access = access or Access()
        self.osc = osc  # the UDP port that takes the same paths (HOST_INFO's OSC_PORT)
        self.name = name
        self.counts: Counter[str] = Counter()
        self._methods: dict[str, Method] = {}
        self._tree = build_tree([])
        self._values: dict[str, tuple[Any, ...]] = {}  # the thumbnail's: (base64 JPEG,)
        # the latest thumbnail, JPEG-encoded only when a listener or a GET wants it
        self._thumbnail: Any = None
        self._thumbnail_jpeg: bytes | None = None
        self._clients: set[_Client] = set()
        self._listeners: dict[str, set[_Client]] = {}
        self._web = {p.name: p for p in WEB_DIR.iterdir() if p.is_file()}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.host, self.port = host, port
        self._thread = threading.Thread(target=self._run, name="oneiric-oscquery", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise OSError(f"OSCQuery server on {host}:{port}: {self._error}") from self._error

    # the server's thread
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._stop())
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.host, self.port = self._runner.addresses[0][:2]

    async def _stop(self) -> None:
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await client.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # from the show's thread
    def post(self, update: Update) -> None:
        """Hand over a frame's changes (thread-safe; returns at once)."""
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._apply, update)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # what the show posted
    def _apply(self, update: Update) -> None:
        if update.methods is not None:
            added, removed = tree_changes(self._methods, update.methods)
            self._methods = update.methods
            self._tree = build_tree(update.methods.values())
            for path in [p for p in self._listeners if p not in update.methods]:
                for client in self._listeners.pop(path):
                    client.listening.discard(path)
            for command, paths in (("PATH_REMOVED", removed), ("PATH_ADDED", added)):
                for path in paths:
                    text = json.dumps({"COMMAND": command, "DATA": path})
                    for client in self._clients:
                        client.send(text)
        self._values.update(update.values)
        packets: dict[_Client, list[bytes]] = {}
        for path, value in update.values.items():
            clients = self._listeners.get(path)
            method = self._methods.get(path)
            if not clients or method is None or method.spec is None:
                continue
            spec = method.spec
            args = [wire_value(spec, value)] if spec.size == 1 else list(value)
            data = osc_wire.message(path, args)
            for client in clients:
                packets.setdefault(client, []).append(data)
        if update.thumbnail is not None:
            self._thumbnail, self._thumbnail_jpeg = update.thumbnail, None
            self._values.pop(THUMBNAIL, None)
            if self._listeners.get(THUMBNAIL):
                data = osc_wire.message(THUMBNAIL, [self._jpeg()])
                for client in self._listeners[THUMBNAIL]:
                    packets.setdefault(client, []).append(data)
        for client, messages in packets.items():
            client.send(messages[0] if len(messages) == 1 else osc_wire.bundle(messages))
            self.counts["messages sent"] += len(messages)
            self.counts["packets sent"] += 1

    # HTTP
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        path = request.path
        query = request.query_string.split("&")[0].split("=")[0].upper()
        browser = "text/html" in request.headers.get("Accept", "")
        if query == "HTML" or (not query and path == "/" and browser):
            return self._static(path)
        if query == "HOST_INFO":
            return web.json_response(self.host_info(request))
        node = find(self._tree, path)
        if node is None:
            raise web.HTTPNotFound(text=f"no node at {path}")
        if query and query not in ATTRIBUTES:
            raise web.HTTPBadRequest(text=f"unknown attribute {query}")
        if query == "VALUE" and (node.method is None or not node.method.access & 1):
            return web.Response(status=204)  # nothing to read there
        if THUMBNAIL not in self._values and self._thumbnail is not None:
            self._values[THUMBNAIL] = (base64.b64encode(self._jpeg()).decode("ascii"),)
        full = node_json(node, self._values)
        if not query:
            return web.json_response(full)
        return web.json_response({query: full[query]} if query in full else {})

    def _jpeg(self) -> bytes:
        """The latest thumbnail as JPEG, encoded once."""
        if self._thumbnail_jpeg is None:
            self._thumbnail_jpeg = _jpeg(self._thumbnail)
        return self._thumbnail_jpeg

    def host_info(self, request: web.Request | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {"NAME": self.name, "EXTENSIONS": EXTENSIONS}
        if self.osc is not None:
            ip = self.osc.host
            if ip in ("0.0.0.0", "::") and request is not None:  # the address they reached
                ip = request.transport.get_extra_info("sockname")[0] if request.transport else ip
            info.update(OSC_IP=ip, OSC_PORT=self.osc.port, OSC_TRANSPORT="UDP")
        return info

    def _static(self, path: str) -> web.StreamResponse:
        name = path.strip("/") or "index.html"
        file = self._web.get(name)  # only the files shipped there: no path reaches outside
        if file is None:
            raise web.HTTPNotFound(text=f"no page {name}")
        return web.FileResponse(file, headers={"Cache-Control": "no-cache"})

    # WebSocket
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        auth = request.headers.get("Authorization", "")
        token = request.query.get("token") or auth.removeprefix("Bearer ").strip() or None
        origin = request.headers.get("Origin", "")
        if origin and urlsplit(origin).netloc == request.host:
            origin = ""  # the surface this server served
        client = _Client(ws, request.remote or "", token, origin)
        client.writer = asyncio.ensure_future(client.write())
        self._clients.add(client)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._command(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._osc_in(client, msg.data)
        finally:
            self._clients.discard(client)
            for path in client.listening:
                self._listeners.get(path, set()).discard(client)
            client.writer.cancel()
            self.counts["dropped for slow clients"] += client.dropped
        return ws

    def _command(self, client: _Client, text: str) -> None:
        try:
            msg = json.loads(text)
            command, path = msg["COMMAND"], msg.get("DATA")
        except (ValueError, KeyError, TypeError):
            self.counts["malformed"] += 1
            return
        if command == "LISTEN" and isinstance(path, str) and path in self._methods:
            client.listening.add(path)
            self._listeners.setdefault(path, set()).add(client)
        elif command == "IGNORE" and isinstance(path, str):
            client.listening.discard(path)
            self._listeners.get(path, set()).discard(client)
        else:
            self.counts["unknown commands"] += 1

    def _osc_in(self, client: _Client, data: bytes) -> None:
        events, problems = decode(data, f"ws:{client.host}", time.perf_counter())
        self.counts["malformed"] += len(problems)
        for event in events:
            self.change(client.host, client.token, event.address, event.value, client.origin)

    def change(
        self,
        host: str,
        token: str | None,
        address: str,
        args: tuple[object, ...],
        origin: str = "",
    ) -> bool:
        """A change a client asks for: checked, then queued for the frame loop."""
        reason = self.access.may_set(host, token, origin)
        method = self._methods.get(address)
        values = tuple(a for a in args if a is not None)  # N (nil) carries no value
        if reason is None and method is None:
            reason = "no such method"
        elif reason is None and method is not None and not method.access & 2:
            reason = "read-only: the show publishes it"
        elif reason is None and method is not None and method.file_arg:
            reason = self.access.check_file_name(values[0] if values else "")
        if reason is not None:
            self.access.refuse(reason, host, f"{address} {list(args)}")
            return False
        self.counts["sets"] += 1
        self.submit(address, values)
        return True


def _jpeg(image: Any) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=70)
    return out.getvalue()
