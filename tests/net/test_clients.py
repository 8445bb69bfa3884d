"""A real OSCQuery client, python-oscquery (the one on PyPI), finds the rig over mDNS,
reads HOST_INFO and the whole namespace, and sets a param over OSC at the port the
rig advertised."""

from __future__ import annotations

import time

import pytest
from netrig import open_rig, wait_for
from pythonosc.udp_client import SimpleUDPClient
from pythonoscquery.osc_query_browser import OSCQueryBrowser
from pythonoscquery.osc_query_client import OSCQueryClient
from pythonoscquery.shared.osc_access import OSCAccess

from engine.net.mdns import Advertiser


@pytest.fixture
def rig(tmp_path, gl):
    yield from open_rig(tmp_path, gl)


def _paths(node, out: dict) -> dict:
    out[node.full_path] = node
    for child in node.contents or []:
        _paths(child, out)
    return out


def test_python_oscquery_discovers_reads_the_namespace_and_sets(rig):
    rig.step(3)
    osc_at = (rig.osc.endpoint.host, rig.osc.endpoint.port)
    ad = Advertiser("Oneiric", (rig.server.host, rig.server.port), osc_at)
    browser = OSCQueryBrowser()
    try:
        assert ad.registered.wait(15), ad.error
        deadline = time.monotonic() + 15
        service = None
        while service is None and time.monotonic() < deadline:
            time.sleep(0.2)
            service = browser.find_service_by_name("Oneiric")
        assert service is not None, "the rig's _oscjson._tcp service, found by name"
        client = OSCQueryClient(service)
        info = client.get_host_info()
        assert info is not None and info.osc_port == rig.osc.endpoint.port
        assert info.osc_transport == "UDP" and info.extensions["LISTEN"]

        nodes = _paths(client.query_node("/"), {})  # every node parses: no method lacks VALUE
        for spec in rig.show.params:
            if spec.path.startswith("/dreamer/3/"):
                continue  # the OSC dreamer has not joined
            node = nodes[spec.path]
            assert node.access == OSCAccess({"r": 1, "w": 2, "rw": 3}[spec.access]), spec.path
        assert nodes["/merge/chaos"].value == [0.0]
        assert nodes["/cue/go"].access == OSCAccess.WRITEONLY_VALUE

        SimpleUDPClient(info.osc_ip, info.osc_port).send_message("/merge/chaos", 0.375)
        assert wait_for(rig, lambda: client.query_node("/merge/chaos").value == [0.375])
    finally:
        browser.zc.close()
        ad.close()
