"""`performance.py live --web --osc-out` as a person runs it: OSC to the advertised port
moves a param that OSC out sends on, and every socket it opens is on 127.0.0.1 (but the
mDNS responder's, which must hear multicast on port 5353)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from conftest import LIVE, ROOT, headless_env
from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient


def bound_addresses(pid: int) -> list[tuple[str, str, int]]:
    """(protocol, address, port) of every socket the process has bound, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for proto in ("tcp", "udp", "tcp6", "udp6"):
        for line in Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]:
            f = line.split()
            if f[9] not in inodes:
                continue
            hex_ip, hex_port = f[1].split(":")
            if len(hex_ip) == 8:
                ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_ip)[::-1])
            else:
                raw = b"".join(bytes.fromhex(hex_ip[i : i + 8])[::-1] for i in range(0, 32, 8))
                ip = socket.inet_ntop(socket.AF_INET6, raw)
            out.append((proto, ip, int(hex_port, 16)))
    return out


def test_live_web_and_osc_out_bind_only_loopback():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.5)
    port = sink.getsockname()[1]
    cmd = [*LIVE, "--size", "160x90", "--duration", "60", "--no-watch", "--audio", "off"]
    cmd += ["--web", "127.0.0.1:0", "--osc-out", f"127.0.0.1:{port}", "--osc-out-rate", "20"]
    cmd += ["--osc-out-send", "/merge/chaos", "--osc-out-send", "/dreamer/*/stage"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=headless_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            url = next((ln.split(" on ")[-1].strip() for ln in lines if "OSCQuery" in ln), None)
        assert url, "".join(lines)
        with urllib.request.urlopen(url + "?HOST_INFO", timeout=5) as r:
            info = json.load(r)
        SimpleUDPClient(info["OSC_IP"], info["OSC_PORT"]).send_message("/merge/chaos", 0.55)
        seen: dict[str, tuple] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                data = sink.recv(65535)
            except TimeoutError:
                continue
            seen.update({m.message.address: tuple(m.message.params)
                         for m in OscPacket(data).messages})  # fmt: skip
            if seen.get("/merge/chaos", (0,))[0] > 0.54:
                break
        assert seen["/merge/chaos"][0] == 0.55 or abs(seen["/merge/chaos"][0] - 0.55) < 0.01
        assert seen["/dreamer/1/stage"][0] in ("W", "N1", "N2", "N3", "REM")
        sockets = bound_addresses(proc.pid)
        assert any(p == "tcp" and port_ == int(url.rsplit(":", 1)[1].strip("/"))
                   for p, _, port_ in sockets)  # fmt: skip
        beyond = [s for s in sockets if s[1] not in ("127.0.0.1", "::1") and s[2] != 5353]
        assert not beyond, f"bound beyond loopback: {beyond}"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        sink.close()
    assert proc.returncode == 0, "".join(lines)
    assert f"osc out 127.0.0.1:{port}" in out and "oscquery http://127.0.0.1:" in out


def test_bad_addresses_on_the_command_line_say_what_is_wrong(capsys):
    import pytest

    from performance import build_parser

    parser = build_parser()
    ok = parser.parse_args(["live", "--web", "--osc-out", "127.0.0.1:9000"])
    assert ok.web == "127.0.0.1:8090" and ok.osc_out == ["127.0.0.1:9000"]
    assert not ok.allow_remote_set and ok.token is None
    for bad in (["--web", "presets/sets/demo.toml"], ["--osc-out", "9000"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["live", *bad])
        assert "HOST:PORT" in capsys.readouterr().err
