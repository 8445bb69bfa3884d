"""mDNS/DNS-SD: the OSCQuery server as `_oscjson._tcp` and its OSC port as `_osc._udp`,
through zeroconf, on the interface the server is bound to (loopback by default).

Registering probes the network for a second or two, so it happens on a thread of its
own; a network without multicast gives one notice and the rig plays on.
"""

from __future__ import annotations

import logging
import socket
import threading

from zeroconf import IPVersion, ServiceInfo, Zeroconf

log = logging.getLogger("oneiric.net")
OSCJSON = "_oscjson._tcp.local."
OSC = "_osc._udp.local."
ANY = ("0.0.0.0", "::", "")


def _addresses(host: str) -> list[str]:
    if host not in ANY:
        return [host]
    import ifaddr

    return [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("169.254.")
    ]


class Advertiser:
    def __init__(
        self, name: str, http: tuple[str, int], osc: tuple[str, int] | None = None
    ) -> None:
        self.name = name
        self.error = ""
        host = http[0]
        self.interfaces = _addresses(host)
        self.registered = threading.Event()
        self._zc: Zeroconf | None = None
        label = f"{name} on {socket.gethostname()}:{http[1]}"
        server = f"{socket.gethostname()}-oneiric-{http[1]}.local."
        self.infos = [ServiceInfo(OSCJSON, f"{label}.{OSCJSON}", port=http[1], server=server,
                                  parsed_addresses=self.interfaces, properties={})]  # fmt: skip
        if osc is not None:
            addresses = _addresses(osc[0])
            self.infos.append(ServiceInfo(OSC, f"{label}.{OSC}", port=osc[1], server=server,
                                          parsed_addresses=addresses, properties={}))  # fmt: skip
        self._thread = threading.Thread(target=self._register, name="oneiric-mdns", daemon=True)
        self._thread.start()

    def _register(self) -> None:
        try:
            self._zc = Zeroconf(interfaces=self.interfaces, ip_version=IPVersion.V4Only)
            for info in self.infos:
                self._zc.register_service(info)
        except (OSError, ValueError, RuntimeError) as exc:  # no multicast, a name taken
            self.error = str(exc)
            log.warning("mDNS: not advertised (%s); clients can still connect by address", exc)
            return
        self.registered.set()
        log.info("mDNS: %s", ", ".join(i.name for i in self.infos))

    def close(self) -> None:
        self._thread.join(timeout=5.0)
        if self._zc is not None:
            try:
                self._zc.unregister_all_services()
            finally:
                self._zc.close()
            self._zc = None
