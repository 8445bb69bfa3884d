"""One time base for events: an OSC arrival, a command and a MIDI binding are all
stamped in show seconds (they were perf_counter seconds from OSC and commands, and the
frame's show time from MIDI)."""

from __future__ import annotations

import time

from pythonosc.udp_client import SimpleUDPClient

from engine.clock import RealtimeClock
from engine.events import Event
from engine.live import Live
from engine.render import load_set
from engine.show import Show

SET = """
[set]
duration = 60.0
fps = 20
size = [64, 36]
seed = 3
[[dreamers]]
count = 1
source = "osc"
profile = "generic"
listen = "127.0.0.1:0"
shader = "aurora"
patch = "drone"
"""


def test_osc_arrivals_and_commands_carry_show_seconds(tmp_path, gl):
    set_path = tmp_path / "night.toml"
    set_path.write_text(SET)
    show = Show(load_set(set_path), gl, audio=False)
    assert show.inputs is not None
    seen: list[Event] = []
    show.inputs.tap = seen.append
    live = Live(show, clock=RealtimeClock(20), watch=False)
    try:
        live.command("/merge/chaos", 0.5)
        (command,) = live.commands.drain()
        assert 0.0 <= command.time <= live.clock.now() < 5.0
        port = show.inputs.endpoints[0].port
        SimpleUDPClient("127.0.0.1", port).send_message("/dreamer/1/eeg", [1.0, 2.0, 3.0, 4.0])
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            frame = live.step()
            time.sleep(0.02)
        assert seen, "the datagram never reached the show"
        arrived = seen[0].time
        # stamped on the show's clock: between its start and the frame that routed it
        assert 0.0 <= arrived <= frame.time + 1e-6
        assert frame.time - arrived < 1.0
    finally:
        live.close()
        show.close()
