"""Who may change the rig over the network: everything is read-only from afar by default.

Local means the host's own addresses as a socket sees them, 127.0.0.1 and ::1; any
other address (the rest of 127/8 included: the tests speak from 127.0.0.2) is remote.
A WebSocket opened by a web page of another origin (any site in the VJ's browser can
reach 127.0.0.1) counts as remote too. A remote client may read the namespace and
listen to values; it may set params and
run commands only with `--allow-remote-set`, and, where a shared token is given, only
with that token. A name a client sends for a file (a scene) must be a plain name in the
rig's own folder. Every refusal is counted by reason and logged (at a bounded rate).
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from engine.folders import plain_name

log = logging.getLogger("oneiric.net")
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
LOG_EVERY = 5.0  # seconds between log lines of the same refusal


@dataclass
class Access:
    allow_remote_set: bool = False
    token: str | None = None
    local_hosts: frozenset[str] = LOCAL_HOSTS
    refused: Counter[str] = field(default_factory=Counter)
    _last_log: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def is_local(self, host: str) -> bool:
        return host in self.local_hosts

    def may_set(self, host: str, token: str | None, origin: str = "") -> str | None:
        """None if a client at `host` (with `token`) may change the rig, else why not.
        `origin` names a web page from elsewhere that opened the connection: a browser
        lets any page reach 127.0.0.1, so such a client counts as remote."""
        if self.is_local(host) and not origin:
            return None
        if not self.allow_remote_set:
            if origin:
                return f"a page from {origin}, read-only (start with --allow-remote-set)"
            return "remote client, read-only (start with --allow-remote-set)"
        if self.token is not None and not hmac.compare_digest(
            (token or "").encode(), self.token.encode()
        ):
            return "remote client without the shared token"
        return None

    def check_file_name(self, name: object) -> str | None:
        try:
            plain_name(str(name), "file name")
        except ValueError as exc:
            return str(exc)
        return None

    def refuse(self, reason: str, host: str, what: str) -> None:
        """Count and log one refusal (a line per reason every few seconds at most)."""
        with self._lock:
            self.refused[reason] += 1
            n = self.refused[reason]
            now = time.monotonic()
            due = now - self._last_log.get(reason, -math.inf) >= LOG_EVERY
            if due:
                self._last_log[reason] = now
        if due:
            log.warning("refused %s from %s: %s [%d so far]", what, host, reason, n)
