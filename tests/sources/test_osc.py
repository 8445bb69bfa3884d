"""OSC control over real UDP on loopback: params move, bad datagrams are counted."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.udp_client import SimpleUDPClient

from engine.events import EventQueue
from engine.sources.osc import Endpoint, OscReceiver


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@pytest.fixture
def receiver():
    queue = EventQueue()
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push)
    yield rx, queue
    rx.close()


def test_messages_become_timestamped_events(receiver):
    rx, queue = receiver
    client = SimpleUDPClient("127.0.0.1", rx.endpoint.port)
    before = time.perf_counter()
    client.send_message("/merge/chaos", 0.7)
    client.send_message("/dreamer/3/hue", [0.25, 1.0])
    wait_for(lambda: len(queue) == 2)
    a, b = queue.drain()
    assert (a.address, a.value) == ("/merge/chaos", (pytest.approx(0.7),))
    assert b.value == (0.25, 1.0) and a.source == f"osc:127.0.0.1:{rx.endpoint.port}"
    assert before <= a.time <= time.perf_counter()


def test_bad_datagrams_are_counted_and_the_thread_lives_on(receiver):
    rx, queue = receiver
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", rx.endpoint.port)
    sock.sendto(b"\x00\x01garbage", target)  # not OSC at all
    sock.sendto(b"/a\x00\x00,s\x00\x00abc", target)  # a string never terminated
    sock.sendto(b"muse/eeg\x00\x00\x00\x00,f\x00\x00\x00\x00\x00\x00", target)  # no slash
    SimpleUDPClient(*target).send_message("/ok", 1)
    wait_for(lambda: rx.received == 4)
    assert rx.dropped["malformed datagram"] == 2
    assert rx.dropped["address without a leading slash"] == 1
    assert [e.address for e in queue.drain()] == ["/ok"]


def test_allowlist_keeps_strangers_out():
    queue = EventQueue()
    rx = OscReceiver(Endpoint("127.0.0.1", 0), queue.push, allow={"10.9.9.9"})
    try:
        SimpleUDPClient("127.0.0.1", rx.endpoint.port).send_message("/merge/chaos", 1.0)
        wait_for(lambda: rx.received == 1)
        assert rx.dropped["sender not allowed"] == 1 and len(queue) == 0
    finally:
        rx.close()


def test_endpoint_parsing():
    assert Endpoint.parse("9000") == Endpoint("127.0.0.1", 9000)
    assert Endpoint.parse("0.0.0.0:5000") == Endpoint("0.0.0.0", 5000)
    with pytest.raises(ValueError, match="HOST:PORT"):
        Endpoint.parse("nowhere")


# ---------------------------------------------------------------- the pure decoder


def test_decode_a_literal_message_and_a_bundle():
    from engine.sources.osc import decode

    message = b"/muse/eeg\0\0\0,ff\0" + b"\x3f\x80\x00\x00" + b"\x40\x00\x00\x00"
    events, problems = decode(message, "osc:1.2.3.4:5000", 7.5)
    assert problems == []
    assert [(e.address, e.value, e.source, e.time) for e in events] == [
        ("/muse/eeg", (1.0, 2.0), "osc:1.2.3.4:5000", 7.5)
    ]
    inner = b"/a\0\0,i\0\0\0\0\0\x2a"
    bundle = b"#bundle\0" + b"\0" * 7 + b"\x01" + (len(inner)).to_bytes(4, "big") + inner
    events, problems = decode(bundle * 1, "osc:h:1", 0.0)
    assert [(e.address, e.value) for e in events] == [("/a", (42,))]


def test_decode_names_each_problem():
    from engine.sources.osc import decode

    assert decode(b"muse/eeg\0\0\0\0,f\0\0\0\0\0\0", "s", 0)[1] == [
        ("address without a leading slash", "muse/eeg")
    ]
    assert decode(b"/x\0", "s", 0)[1][0][0] == "malformed datagram"
    assert decode(b"#bundle\0" + b"\0" * 8, "s", 0)[1] == [("empty bundle", "")]
