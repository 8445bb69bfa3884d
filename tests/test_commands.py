"""Commands in one table: scenes by plain name only, the old name kept with a notice,
and a scene's text in the session log so an edit after the show changes no replay."""

from __future__ import annotations

import hashlib
import logging

import pytest
from conftest import ROOT

from engine import commands, record, sets
from engine.clock import RealtimeClock
from engine.events import Event
from engine.folders import Folders
from engine.live import Live
from engine.render import RenderOptions, load_set
from engine.replay import replay
from engine.show import Show

SET = """
[set]
duration = 60.0
fps = 20
size = [64, 36]
seed = 2
[[dreamers]]
count = 2
stages = [[0, "W"], [2, "N2"]]
shader = "aurora"
patch = "drone"
"""


def event(address: str, *value: object) -> Event:
    return Event(0.0, "test", address, value)


@pytest.fixture
def show(gl):
    spec = load_set(ROOT / "presets" / "sets" / "ritual.toml")
    s = Show(spec, gl, size=(32, 18), audio=False)
    yield s
    s.close()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/b", "..", ".hidden"])
def test_a_scene_is_a_plain_name_inside_the_rigs_folder(show, name):
    with pytest.raises(ValueError, match="not a plain name"):
        commands.run(commands.Offline(show), event("/scene/load", name))


def test_the_old_name_still_loads_a_scene_and_says_so(show, caplog):
    with caplog.at_level(logging.WARNING, "oneiric.commands"):
        commands.run(commands.Offline(show), event("/preset/load", "storm"))
    assert "/scene/load" in caplog.text
    show.params.update(10.0)
    assert show.params.get("/merge/chaos") > 0.1  # storm's chaos


def test_live_only_commands_say_why_offline(show):
    for address, args in (("/tempo/tap", ()), ("/midi/learn", ("/merge/chaos",))):
        with pytest.raises(KeyError):
            commands.run(commands.Offline(show), event(address, *args))


def test_every_command_is_in_one_table():
    assert {"/cue/go", "/scene/load", "/preset/load", "/midi/learn", "/tempo/tap"} <= set(
        commands.COMMANDS
    )
    assert commands.COMMANDS["/cue/go"].impulse and not commands.COMMANDS["/scene/load"].impulse


def test_a_scene_edited_after_the_show_replays_as_it_was(tmp_path, gl):
    root = ROOT
    folders = Folders(root / "shaders", root / "patches", root / "patches" / "mappings",
                      tmp_path / "scenes")  # fmt: skip
    folders.scenes.mkdir()
    scene = folders.scenes / "dusk.toml"
    scene.write_text('fade = 0.5\n[values]\n"/merge/chaos" = 0.8\n"/dreamer/*/hue" = 0.1\n')
    set_path = tmp_path / "night.toml"
    set_path.write_text(SET)
    spec = sets.load(set_path, shaders={"aurora"}, patches={"drone"}, mappings=set())
    show = Show(spec, gl, folders=folders)
    log_path = tmp_path / "night.oneiric"
    writer = record.SessionWriter(log_path, set_path=set_path, set_text=SET, seed=2, fps=20,
                                  size=(64, 36))  # fmt: skip
    live = Live(show, clock=RealtimeClock(20), session=writer, watch=False)
    hashes = []
    try:
        for i in range(40):
            if i == 5:
                live.command("/scene/load", "dusk")
            hashes.append(hashlib.blake2b(live.step().image.data, digest_size=16).hexdigest())
    finally:
        live.close()
        writer.close()
        show.close()
    assert show.params.target("/merge/chaos") == (0.8,)
    scene.write_text('[values]\n"/merge/chaos" = 0.0\n')  # edited after the night
    assert replay(log_path, None, RenderOptions(progress=False)).frame_hashes == hashes
