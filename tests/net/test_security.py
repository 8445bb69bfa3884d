"""Security by default: from a non-local address the rig is read-only unless asked, a
shared token guards remote control, file names stay inside the rig's folders, every
refusal is logged and counted, and nothing binds beyond 127.0.0.1 unless asked."""

from __future__ import annotations

import logging
import time
import urllib.request

import pytest
from netrig import WsClient, close_rig, make_rig
from pythonosc.udp_client import SimpleUDPClient

from engine.net.policy import Access


@pytest.fixture
def rig_with(tmp_path, gl):
    made = []

    def build(access: Access):
        r = make_rig(tmp_path, gl, access)
        made.append(r)
        return r

    yield build
    for r in made:
        close_rig(r)


def settle(rig, frames: int = 5) -> None:
    for _ in range(frames):
        time.sleep(0.05)
        rig.step()


def test_a_set_from_a_non_local_address_is_refused_and_logged(rig_with, caplog):
    rig = rig_with(Access())
    caplog.set_level(logging.WARNING, "oneiric.net")
    remote = WsClient(rig.server.url, local_host="127.0.0.2")  # a real socket from afar
    try:
        remote.command("LISTEN", "/merge/chaos")  # reading is allowed
        remote.send_osc("/merge/chaos", 0.9)
        remote.send_osc("/cue/go")
        settle(rig)
        assert rig.show.params.target("/merge/chaos") == (0.0,)
        assert (
            rig.server.access.refused["remote client, read-only (start with --allow-remote-set)"]
            == 2
        )
        assert any("refused /merge/chaos [0.89" in r.getMessage() for r in caplog.records)
        assert "127.0.0.2" in caplog.text
        local = WsClient(rig.server.url)
        local.send_osc("/merge/chaos", 0.5)
        settle(rig)
        assert rig.show.params.target("/merge/chaos") == (0.5,)
        time.sleep(0.1)
        assert (0.5,) in remote.values("/merge/chaos"), "a remote client still listens"
        local.close()
    finally:
        remote.close()


def test_a_page_from_another_origin_is_remote_even_on_this_machine(rig_with):
    rig = rig_with(Access())
    own = rig.server.url.rstrip("/")
    evil = WsClient(rig.server.url, origin="http://evil.example")
    served = WsClient(rig.server.url, origin=own)  # the surface this server served
    try:
        evil.send_osc("/merge/chaos", 0.875)
        settle(rig)
        assert rig.show.params.target("/merge/chaos") == (0.0,)
        reason = "a page from http://evil.example, read-only (start with --allow-remote-set)"
        assert rig.server.access.refused[reason] == 1
        served.send_osc("/merge/chaos", 0.625)
        settle(rig)
        assert rig.show.params.target("/merge/chaos") == (0.625,)
    finally:
        evil.close()
        served.close()


def test_allow_remote_set_and_the_shared_token(rig_with):
    rig = rig_with(Access(allow_remote_set=True, token="s3cret"))
    url = rig.server.url
    without = WsClient(url, local_host="127.0.0.2")
    wrong = WsClient(url + "?token=guess", local_host="127.0.0.2")
    right = WsClient(url + "?token=s3cret", local_host="127.0.0.2")
    try:
        without.send_osc("/merge/chaos", 0.3)
        wrong.send_osc("/merge/chaos", 0.4)
        settle(rig)
        assert rig.show.params.target("/merge/chaos") == (0.0,)
        assert rig.server.access.refused["remote client without the shared token"] == 2
        right.send_osc("/merge/chaos", 0.75)
        settle(rig)
        assert rig.show.params.target("/merge/chaos") == (0.75,)
    finally:
        for c in (without, wrong, right):
            c.close()


def test_file_names_stay_inside_the_rigs_folders(rig_with, caplog):
    rig = rig_with(Access())
    caplog.set_level(logging.WARNING)
    ws = WsClient(rig.server.url)
    try:
        ws.send_osc("/preset/load", "../../etc/passwd")
        ws.send_osc("/scene/load", "/etc/passwd")
        settle(rig)
        refused = {k: v for k, v in rig.server.access.refused.items() if "plain name" in k}
        assert sum(refused.values()) == 2, rig.server.access.refused
        assert "../../etc/passwd" in caplog.text
        ws.send_osc("/scene/load", "storm")  # a scene of the rig's own is fine
        settle(rig)
        assert rig.show.params.target("/merge/chaos") != (0.0,)
    finally:
        ws.close()
    # the OSC port refuses it too (the command table checks the name again)
    SimpleUDPClient("127.0.0.1", rig.osc.endpoint.port).send_message(
        "/scene/load", "../../etc/passwd"
    )
    settle(rig)
    assert rig.live.ignored["/scene/load"] == 1


def test_read_only_params_and_unknown_paths_are_refused(rig_with):
    rig = rig_with(Access())
    ws = WsClient(rig.server.url)
    try:
        ws.send_osc("/dreamer/1/heart", 200.0)
        ws.send_osc("/no/such/param", 1.0)
        settle(rig)
        refused = rig.server.access.refused
        assert refused["read-only: the show publishes it"] == 1
        assert refused["no such method"] == 1
    finally:
        ws.close()


def test_the_surface_serves_only_its_own_files(rig_with):
    rig = rig_with(Access())
    assert rig.server.host == "127.0.0.1"
    base = rig.server.url.rstrip("/")
    req = urllib.request.Request(base + "/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert b"<html" in r.read().lower()
    for bad in ("/../../etc/passwd?HTML", "/%2e%2e/%2e%2e/etc/passwd?HTML", "/etc/passwd?HTML"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + bad, timeout=5)
        assert err.value.code == 404
