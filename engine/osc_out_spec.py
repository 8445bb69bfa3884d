"""What a set says about OSC out: `[[osc_out]]` tables, one per group of targets.

    [[osc_out]]
    target = ["127.0.0.1:9000", "10.0.0.7:7000"]   # or one "HOST:PORT"
    rate = 30                                       # bundles a second, per target
    send = ["/dreamer/*/heart", "/dreamer/*/stage", "/group/resonance"]

`send` takes param paths and patterns (`*` for one segment); left out, it sends the
features a lighting desk or TouchDesigner follows (engine.net.oscout.DEFAULT_SEND:
each dreamer's band shares, heart and breath rate, quality and stage; the group's
resonance, beat and bpm). Only the shape is checked here; the patterns are matched
against the show's params when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.set_table import table_list

_KEYS = {"target", "rate", "send"}


@dataclass(frozen=True, slots=True)
class OscOutSpec:
    targets: tuple[str, ...]  # HOST:PORT each
    rate: float = 30.0
    send: tuple[str, ...] = ()  # () sends the default features
    where: str = ""


def parse_target(text: str) -> tuple[str, int]:
    """'127.0.0.1:9000' -> ('127.0.0.1', 9000); ValueError naming what is wrong."""
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a target is HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    return host, int(port)


def parse_osc_out(raw: object, where: str = "osc_out") -> tuple[OscOutSpec, ...]:
    """A set's `[[osc_out]]` list, or ValueError("<where>[i].key: what is wrong")."""
    out = []
    for at, item in table_list(raw, where, _KEYS, kind="osc_out"):
        targets = item.get("target")
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets:
            raise ValueError(f"{at}.target: HOST:PORT, or a list of them")
        for t in targets:
            try:
                parse_target(t)
            except ValueError as exc:
                raise ValueError(f"{at}.target: {exc}") from None
        rate = item.get("rate", 30.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1000:
            raise ValueError(f"{at}.rate: bundles a second, a number in 0..1000")
        send = item.get("send", [])
        if isinstance(send, str):
            send = [send]
        if not isinstance(send, list) or not all(
            isinstance(s, str) and s.startswith("/") for s in send
        ):
            raise ValueError(f"{at}.send: a list of param paths or patterns (/dreamer/*/heart)")
        out.append(OscOutSpec(tuple(targets), float(rate), tuple(send), at))
    return tuple(out)
