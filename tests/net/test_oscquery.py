"""OSCQuery as a client written from the proposal sees it: every param with its type and
range over HTTP, single nodes and attributes, HOST_INFO, OSC to the advertised port,
LISTEN over the WebSocket, PATH_ADDED and PATH_REMOVED as the namespace changes."""

from __future__ import annotations

import socket
import time

import pytest
from netrig import WsClient, open_rig, wait_for
from pythonosc.udp_client import SimpleUDPClient

from engine.net.namespace import osc_type, wire_value


@pytest.fixture
def rig(tmp_path, gl):
    yield from open_rig(tmp_path, gl)


def methods_of(node: dict, out: dict | None = None) -> dict:
    out = {} if out is None else out
    if "TYPE" in node:
        out[node["FULL_PATH"]] = node
    for child in node.get("CONTENTS", {}).values():
        methods_of(child, out)
    return out


def test_every_param_is_there_with_its_type_range_and_value(rig):
    rig.step(3)
    time.sleep(0.2)
    status, root = rig.get("/")
    assert status == 200 and root["FULL_PATH"] == "/"
    methods = methods_of(root)
    params = rig.show.params
    present = [s for s in params if not s.path.startswith("/dreamer/3/")]
    assert len(present) > 60
    isf = [s for s in present if "/layer/" in s.path]
    assert isf, "the ISF layer's INPUTS are params, and so in the namespace"
    assert any(s.path.startswith("/master/fx/") for s in present), "effects' INPUTS too"
    for spec in present:
        m = methods[spec.path]
        assert m["TYPE"] == osc_type(spec)
        assert m["ACCESS"] == {"r": 1, "w": 2, "rw": 3}[spec.access]
        if spec.kind == "enum":
            assert m["RANGE"] == [{"VALS": list(spec.choices)}]
        elif spec.kind != "bool":
            assert m["RANGE"][0]["MIN"] == spec.min and m["RANGE"][0]["MAX"] == spec.max
            assert m["CLIPMODE"] == [spec.clip] * spec.size
        if spec.size == 1:
            assert m["VALUE"] == [wire_value(spec, params.target(spec.path))], spec.path
    assert not any(p.startswith("/dreamer/3/") for p in methods), "not joined yet"
    assert methods["/scene/load"]["RANGE"] == [{"VALS": ["calm", "storm"]}]
    assert methods["/cue/go"]["OVERLOADS"][0]["RANGE"] == [{"VALS": ["storm"]}]
    assert methods["/dreamer/1/stage"]["TYPE"] == "s"


def test_single_nodes_attributes_and_host_info(rig):
    rig.step(2)
    time.sleep(0.2)
    status, node = rig.get("/merge/chaos")
    assert status == 200 and node["FULL_PATH"] == "/merge/chaos" and node["TYPE"] == "f"
    assert node["RANGE"] == [{"MIN": 0.0, "MAX": 1.0}] and node["ACCESS"] == 3
    assert rig.get("/merge/chaos", "VALUE") == (200, {"VALUE": [0.0]})
    assert rig.get("/merge/exposure", "RANGE") == (200, {"RANGE": [{"MIN": 0.0, "MAX": 8.0}]})
    assert rig.get("/dreamer/1/heart", "UNIT") == (200, {"UNIT": ["bpm"]})
    status, merge = rig.get("/merge")
    assert status == 200 and "chaos" in merge["CONTENTS"] and "TYPE" not in merge
    assert rig.get("/merge", "TYPE") == (200, {})  # a container has no type
    assert rig.get("/merge", "VALUE")[0] == 204
    assert rig.get("/cue/go", "VALUE")[0] == 204  # write-only
    assert rig.get("/nowhere")[0] == 404
    assert rig.get("/merge/chaos", "GABBAGABBAHEY")[0] == 400
    status, info = rig.get("/merge/chaos", "HOST_INFO")
    assert status == 200 and info["OSC_PORT"] == rig.osc.endpoint.port
    assert info["OSC_TRANSPORT"] == "UDP" and info["EXTENSIONS"]["LISTEN"] is True
    assert info["EXTENSIONS"]["PATH_ADDED"] is True


def test_osc_to_the_advertised_port_sets_params(rig):
    _, info = rig.get("/", "HOST_INFO")
    client = SimpleUDPClient(info["OSC_IP"], info["OSC_PORT"])
    client.send_message("/merge/chaos", 0.625)
    client.send_message("/dreamer/1/blend", "screen")
    assert wait_for(rig, lambda: rig.show.params.target("/merge/chaos") == (0.625,))
    assert wait_for(rig, lambda: rig.get("/merge/chaos", "VALUE")[1] == {"VALUE": [0.625]})
    assert rig.get("/dreamer/1/blend", "VALUE")[1] == {"VALUE": ["screen"]}


def test_listen_streams_a_changing_value_and_ignore_stops_it(rig):
    ws = WsClient(rig.server.url)
    try:
        ws.command("LISTEN", "/dreamer/1/breath")
        ws.command("LISTEN", "/merge/chaos")
        time.sleep(0.1)
        assert wait_for(rig, lambda: len(ws.values("/dreamer/1/breath")) >= 20)
        got = [v[0] for v in ws.values("/dreamer/1/breath")]
        assert len(set(got)) > 10, "a value that changes, streamed as it changes"
        assert abs(got[-1] - rig.show.params.get("/dreamer/1/breath")) < 0.05
        ws.send_osc("/merge/chaos", 0.25)  # a set over the WebSocket, echoed to listeners
        assert wait_for(rig, lambda: (0.25,) in ws.values("/merge/chaos"))
        assert not ws.values("/dreamer/2/breath"), "only what was asked for"
        ws.command("IGNORE", "/dreamer/1/breath")
        time.sleep(0.1)
        rig.step(3)
        time.sleep(0.2)
        n = len(ws.values("/dreamer/1/breath"))
        rig.step(10)
        time.sleep(0.2)
        assert len(ws.values("/dreamer/1/breath")) == n
    finally:
        ws.close()


def test_path_added_when_a_dreamer_joins_and_removed_when_it_leaves(rig):
    ws = WsClient(rig.server.url)
    sender = SimpleUDPClient("127.0.0.1", rig.show.inputs.endpoints[0].port)
    try:
        assert rig.get("/dreamer/3")[0] == 404

        def speak_and_check():
            sender.send_message("/dreamer/7/resp", 0.1)
            return {"COMMAND": "PATH_ADDED", "DATA": "/dreamer/3"} in ws.texts

        assert wait_for(rig, speak_and_check)
        status, node = rig.get("/dreamer/3")
        assert status == 200 and "heart" in node["CONTENTS"]
        # silent for its timeout (1 s) and fade (0.2 s) of show time: it leaves
        assert wait_for(rig, lambda: {"COMMAND": "PATH_REMOVED", "DATA": "/dreamer/3"} in ws.texts)
        assert rig.get("/dreamer/3")[0] == 404
    finally:
        ws.close()


def test_path_added_when_a_reloaded_shader_gains_an_input(rig, tmp_path):
    from engine.folders import SHADER_DIR

    text = (SHADER_DIR / "lucid_rings.fs").read_text()
    extra = '{"NAME": "glimmer", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 2.0},'
    edited = text.replace('"INPUTS": [', '"INPUTS": [' + extra, 1)
    assert edited != text
    path = tmp_path / "lucid_rings.fs"
    path.write_text(edited)
    ws = WsClient(rig.server.url)
    try:
        rig.step()
        rig.show.reload_shader(path, 0.0)
        added = {"COMMAND": "PATH_ADDED", "DATA": "/dreamer/2/layer/glimmer"}
        assert wait_for(rig, lambda: added in ws.texts, frames=50)
        assert rig.get("/dreamer/2/layer/glimmer", "RANGE")[1] == {
            "RANGE": [{"MIN": 0.0, "MAX": 2.0}]
        }
    finally:
        ws.close()


def test_an_impulse_sent_as_nil_fires_the_next_cue(rig):
    from pythonosc.osc_message_builder import OscMessageBuilder

    _, info = rig.get("/", "HOST_INFO")
    assert rig.get("/cue/go", "TYPE") == (200, {"TYPE": "N"})
    message = OscMessageBuilder("/cue/go")
    message.add_arg(None)  # N, as the namespace says
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(message.build().dgram, (info["OSC_IP"], info["OSC_PORT"]))
    assert wait_for(rig, lambda: rig.show.params.target("/merge/chaos") == (0.8,))
    assert not rig.live.ignored
