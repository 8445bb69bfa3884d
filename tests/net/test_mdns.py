"""The OSCQuery and OSC services, advertised over mDNS, as a zeroconf browser on the
loopback interface sees them."""

from __future__ import annotations

import time

import pytest
from netrig import open_rig
from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

from engine.net.mdns import OSC, OSCJSON, Advertiser


@pytest.fixture
def rig(tmp_path, gl):
    yield from open_rig(tmp_path, gl)


class Seen(ServiceListener):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.add(name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.add(name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.discard(name)


def test_a_zeroconf_browser_on_loopback_sees_both_services(rig):
    osc_at = (rig.osc.endpoint.host, rig.osc.endpoint.port)
    ad = Advertiser("Oneiric", (rig.server.host, rig.server.port), osc_at)
    browser_zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        assert ad.interfaces == ["127.0.0.1"], "loopback only, as the server is bound"
        assert ad.registered.wait(15), ad.error
        seen = {OSCJSON: Seen(), OSC: Seen()}
        browsers = [ServiceBrowser(browser_zc, t, listener) for t, listener in seen.items()]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(s.names for s in seen.values()):
            time.sleep(0.1)
        [name] = [n for n in seen[OSCJSON].names if f":{rig.server.port}." in n]
        info = browser_zc.get_service_info(OSCJSON, name, timeout=3000)
        assert info is not None and info.port == rig.server.port
        assert info.parsed_addresses() == ["127.0.0.1"]
        [osc_name] = [n for n in seen[OSC].names if f":{rig.server.port}." in n]
        osc = browser_zc.get_service_info(OSC, osc_name, timeout=3000)
        assert osc is not None and osc.port == rig.osc.endpoint.port
        # what the service points at answers as OSCQuery
        status, info_json = rig.get("/", "HOST_INFO")
        assert status == 200 and info_json["OSC_PORT"] == osc.port
        for b in browsers:
            b.cancel()
    finally:
        browser_zc.close()
        ad.close()
