"""The browser control surface in a real headless Chromium (Debian's, driven by
Playwright): a slider moves a param in the rig, a change over OSC moves the slider, the
plots update, a cue button fires its cue, the thumbnail shows, and it fits a phone.
Screenshots are kept in out/net/."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from netrig import open_rig
from pythonosc.udp_client import SimpleUDPClient

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium: apt-get install -y --no-install-recommends chromium (make system)",
)
SHOTS = Path(__file__).resolve().parents[2] / "out" / "net"
SLIDER = 'input[data-path="/merge/resonance"]'
EXPOSURE = 'input[data-path="/merge/exposure"]'


@pytest.fixture
def rig(tmp_path, gl):
    yield from open_rig(tmp_path, gl)


def browse(url: str, results: dict, want_osc: threading.Event, errors: list) -> None:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector(SLIDER, timeout=20000)
            # moving a slider: a real click at 80% along its track
            box = page.locator(SLIDER).bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
            results["slider"] = float(page.locator(SLIDER).input_value())
            want_osc.set()  # the rig now moves /merge/exposure over OSC
            page.wait_for_function(
                f"Number(document.querySelector('{EXPOSURE}').value) === 6", timeout=20000
            )
            results["exposure"] = float(page.locator(EXPOSURE).input_value())
            plot = '[data-dreamer="/dreamer/1"]'
            page.wait_for_selector(plot, timeout=10000)
            before = int(page.get_attribute(plot, "data-samples") or 0)
            page.wait_for_timeout(1500)
            results["samples"] = (before, int(page.get_attribute(plot, "data-samples") or 0))
            # one read: the width that made the wait return (a second read could race a frame)
            shown = page.wait_for_function("document.getElementById('thumb').naturalWidth")
            results["thumb"] = shown.json_value()
            value = "Number(document.querySelector('input[data-path=\"{}\"]').value)"
            page.click('button[data-cue="storm"]')  # the cue sets /merge/chaos to 0.8
            page.wait_for_function(value.format("/merge/chaos") + " === 0.8", timeout=10000)
            page.click('button[data-scene="calm"]')  # the scene: chaos 0, resonance 0.6
            page.wait_for_function(value.format("/merge/chaos") + " === 0", timeout=10000)
            results["calm"] = page.evaluate(value.format("/merge/resonance"))
            page.screenshot(path=str(SHOTS / "surface-desktop.png"), full_page=True)
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            ).new_page()
            phone.goto(url)
            phone.wait_for_selector(SLIDER, timeout=20000)
            phone.wait_for_function("document.getElementById('thumb').naturalWidth > 0")
            phone.wait_for_timeout(1500)
            phone.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            results["groups"] = phone.evaluate(
                "[...document.querySelectorAll('details')].map(d => d.dataset.group)"
            )
            results["phone_fits"] = phone.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth"
            )
            phone.screenshot(path=str(SHOTS / "surface-phone.png"), full_page=True)
        finally:
            browser.close()


def test_the_surface_in_headless_chromium(rig):
    SHOTS.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    errors: list = []
    want_osc = threading.Event()

    def run() -> None:
        try:
            browse(rig.server.url, results, want_osc, errors)
        except Exception as exc:  # reported by the test below, with the page's errors
            errors.append(repr(exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    params = rig.show.params
    sent = False
    deadline = time.monotonic() + 150
    while thread.is_alive() and time.monotonic() < deadline:
        rig.step()  # the show runs on this thread, as live runs it
        time.sleep(0.02)
        if want_osc.is_set() and not sent and params.target("/merge/resonance")[0] > 0.5:
            results["resonance"] = params.target("/merge/resonance")[0]
            _, info = rig.get("/", "HOST_INFO")
            SimpleUDPClient("127.0.0.1", info["OSC_PORT"]).send_message("/merge/exposure", 6.0)
            sent = True
    thread.join(5)
    print(f"screenshots: {SHOTS / 'surface-desktop.png'}, {SHOTS / 'surface-phone.png'}")
    assert not errors, errors
    assert 0.7 < results["slider"] < 0.9
    assert results["resonance"] == pytest.approx(results["slider"], abs=1e-3)
    assert results["exposure"] == 6.0
    before, after = results["samples"]
    assert after > before + 10, "the plots take the dreamers' features as they stream"
    assert results["thumb"] > 0
    assert results["calm"] == pytest.approx(0.6), "the calm scene's button loaded it"
    assert params.target("/merge/exposure") == pytest.approx((1.4,))
    assert results["phone_fits"], "no sideways scrolling on a phone"
    assert {"Merge", "Show", "Audio", "Effects", "Dreamer 1", "Dreamer 2"} <= set(results["groups"])
    assert (SHOTS / "surface-phone.png").stat().st_size > 10_000
