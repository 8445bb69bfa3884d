"""The VJ overlay: where it draws, what it leaves alone, which way up its text is, its cost.

Frames are read back as drawn: with flip=True the target stores its top row first, so
row 0 of a readback is the top of the picture. `pytest -s` prints the overlay's cost,
and the 720p snapshot lands in out/overlay.png for a look.
"""

from __future__ import annotations

import statistics
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.visuals.overlay import (
    BAR,
    BAR_H,
    ERROR,
    LINE,
    MARGIN,
    PAD,
    STATUS,
    WEIGHT,
    Overlay,
    OverlayState,
)
from engine.visuals.text import (
    ADV,
    GLYPH_H,
    GLYPHS,
    LINES_PER_ERROR,
    error_lines,
    font_atlas,
    to_ascii,
    wrap,
)

HD = (1280, 720)
OUT = Path(__file__).resolve().parents[2] / "out"
ERRORS = (
    "shaders/ember.glsl:3: syntax error, unexpected IDENTIFIER, expecting ',' or ';'",
    "patches/drone.py:41: NameError: name 'Sine' is not defined",
    "shaders/tide.glsl:12: 'brightnes' undeclared",
)
F = [  # the font's F, which no flip or mirror leaves unchanged
    "#####.",
    "#.....",
    "#.....",
    "####..",
    "#.....",
    "#.....",
    "#.....",
    "......",
]


def dreamers(n: int, seed: int = 1) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(seed)
    return [(i, float(rng.uniform()), float(rng.uniform())) for i in range(n)]


def show_state(n: int = 64, errors: tuple[str, ...] = ERRORS, status: str = "live") -> OverlayState:
    return OverlayState(59.94, 16.68, 3, 1, dreamers(n), errors, status)


class Target:
    """An RGBA8 framebuffer like the merge output, filled with one colour."""

    def __init__(self, gl, size=HD, grey: float = 0.0, alpha: float = 1.0) -> None:
        self.tex = gl.texture(size, 4)
        self.fbo = gl.framebuffer(color_attachments=[self.tex])
        self.fbo.clear(grey, grey, grey, alpha)
        self.size = size

    def read(self) -> np.ndarray:
        w, h = self.size
        return np.frombuffer(self.fbo.read(components=4), np.uint8).reshape(h, w, 4).copy()

    def release(self) -> None:
        self.fbo.release()
        self.tex.release()


@pytest.fixture
def target(gl):
    made: list[Target] = []

    def make(size=HD, grey: float = 0.0, alpha: float = 1.0) -> Target:
        made.append(Target(gl, size, grey, alpha))
        return made[-1]

    yield make
    for t in made:
        t.release()


@pytest.fixture(scope="module")
def overlay(gl):
    ov = Overlay(gl, HD)
    yield ov
    ov.release()


def drawn(overlay: Overlay, target: Target, state: OverlayState, flip: bool = True) -> np.ndarray:
    overlay.draw(target.fbo, state, flip=flip)
    return target.read()


def coverage(quads: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the pixels under any quad."""
    w, h = size
    mask = np.zeros((h, w), bool)
    for (x, y), (qw, qh) in zip(quads["pos"].astype(int), quads["size"].astype(int), strict=True):
        mask[y : y + qh, x : x + qw] = True
    return mask


def boxes(quads: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The translucent background boxes (x, y, w, h): drawn first, before any glyph or bar."""
    big = (quads["glyph"] < 0) & (quads["size"][:, 1] > GLYPH_H)
    return [tuple(int(v) for v in (*q["pos"], *q["size"])) for q in quads[big]]


def write_png(path: Path, image: np.ndarray) -> None:
    h, w, c = image.shape
    raw = b"".join(b"\0" + image[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, {3: 2, 4: 6}[c], 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def test_font_is_complete_and_distinct():
    atlas = font_atlas() > 0
    cells = atlas.reshape(GLYPH_H, GLYPHS, ADV).transpose(1, 0, 2)  # (glyph, row, column)
    assert not cells[0].any(), "space is blank"
    assert all(cells[i].any() for i in range(1, GLYPHS)), "every printable glyph has ink"
    assert not cells[:, :, ADV - 1].any(), "the sixth column is the gap between glyphs"
    assert len({c.tobytes() for c in cells}) == GLYPHS, "no two glyphs alike"
    f = cells[ord("F") - 32]
    assert ["".join("#" if v else "." for v in row) for row in f] == F


def test_draws_only_in_its_boxes_on_black(gl, overlay, target):
    t = target(grey=0.0, alpha=0.5)  # alpha below 1: a blend that wrote it would show
    before = t.read()
    state = show_state()
    after = drawn(overlay, t, state)
    changed = (after != before).any(axis=2)
    covered = coverage(overlay.instances(state), HD)
    assert changed.any()
    assert not (changed & ~covered).any(), "pixels changed outside the overlay's quads"
    (ix, iy, iw, ih), (ex, ey, ew, eh) = sorted(boxes(overlay.instances(state)), key=lambda b: b[1])
    assert (ix, iy) == (MARGIN, MARGIN) and ey + eh == HD[1] - MARGIN
    assert changed[iy : iy + ih, ix : ix + iw].sum() > 500, "the info box has text and bars"
    assert changed[ey : ey + eh, ex : ex + ew].sum() > 500, "the error box has text"
    assert not changed[iy + ih : ey, :].any(), "between the boxes nothing changes"
    assert not changed[:, max(ix + iw, ex + ew) :].any(), "right of the boxes nothing changes"
    assert (after[..., 3] == before[..., 3]).all(), "the target's alpha is left alone"


def test_boxes_cover_exactly_their_rects_on_grey(overlay, target):
    t = target(grey=0.5)
    before = t.read()
    state = show_state()
    changed = (drawn(overlay, t, state) != before).any(axis=2)
    found = boxes(overlay.instances(state))
    assert len(found) == 2
    want = np.zeros_like(changed)
    for x, y, w, h in found:
        want[y : y + h, x : x + w] = True
    assert (changed == want).all(), "a translucent box darkens every pixel under it, no others"


def test_errors_are_red(overlay, target):
    state = OverlayState(60.0, 16.7, 0, 0, [], ERRORS[-1:])  # dropped > 0 would be red too
    image = drawn(overlay, target(grey=0.5), state).astype(int)
    glyphs = overlay.instances(state)
    red = glyphs[(glyphs["glyph"] >= 0) & (glyphs["color"] == ERROR).all(axis=1)]
    assert len(red) == len(ERRORS[-1].replace(" ", ""))
    mask = coverage(red, HD)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    lit = mask & (r > 128)  # the glyphs' own pixels, not the dark box between them
    assert lit.sum() > 300
    assert (r[lit] > 2 * g[lit]).all() and (r[lit] > 2 * b[lit]).all()
    top = HD[1] - MARGIN - PAD - GLYPH_H
    assert mask[top : top + GLYPH_H].any() and not mask[: top - 2 * PAD].any(), "at the bottom"
    # the fps line is not red: its text is light grey
    info = image[MARGIN + PAD : MARGIN + PAD + GLYPH_H, MARGIN : MARGIN + 200]
    bright = info[..., 0] > 200
    assert bright.any() and (info[..., 1][bright] > 200).all()


@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("flip", [True, False])
def test_text_reads_the_right_way_up(gl, target, flip, scale):
    ov = Overlay(gl, HD, scale=scale)
    try:
        state = OverlayState(60.0, 16.7, 0, 0, [], [], status="F")
        image = drawn(ov, target(), state, flip=flip)
        if not flip:  # GL order: bottom row first
            image = image[::-1]
        quads = ov.instances(state)
        f = quads[(quads["color"] == STATUS).all(axis=1)]
        assert len(f) == 1 and f["glyph"][0] == ord("F") - 32
        x, y = (int(v) for v in f["pos"][0])
        assert (x, y) == ((MARGIN + PAD) * scale, (MARGIN + PAD + 2 * LINE) * scale)
        cell = image[y : y + GLYPH_H * scale, x : x + ADV * scale, 2] > 128  # STATUS is blue
        want = np.repeat(
            np.repeat(np.array([[c == "#" for c in row] for row in F]), scale, 0), scale, 1
        )
        assert (cell == want).all(), "\n" + "\n".join(
            "".join("#" if v else "." for v in row) for row in cell
        )
    finally:
        ov.release()


def test_64_dreamers_fit_at_720p(overlay, target):
    rows = [(i, 0.5, 1.0) for i in range(64)]
    state = OverlayState(60.0, 16.7, 0, 0, rows, ERRORS)
    quads = overlay.instances(state)
    lo, hi = quads["pos"].min(axis=0), (quads["pos"] + quads["size"]).max(axis=0)
    assert (lo >= 0).all() and (hi <= HD).all()
    image = drawn(overlay, target(grey=0.5), state)
    # every weight bar is full and opaque: its exact colour, BAR x BAR_H pixels each
    full = (image == np.array(WEIGHT, np.uint8)).all(axis=2)
    full[: MARGIN + PAD + 3 * LINE] = False  # the legend's "weight" has that colour too
    assert full.sum() == 64 * BAR * BAR_H
    ys, xs = np.nonzero(full)
    assert ys.max() < HD[1] - MARGIN and xs.max() < HD[0] - MARGIN
    ids = {int(q["pos"][1]) for q in quads if q["glyph"] == ord("6") - 32}
    assert len(ids) >= 10, "ids 6, 16, ... 63 are labelled"


def test_too_many_dreamers_are_counted_not_clipped(gl, target):
    ov = Overlay(gl, (320, 180))
    try:
        state = OverlayState(30.0, 33.3, 0, 0, dreamers(200), ERRORS)
        quads = ov.instances(state)
        lo, hi = quads["pos"].min(axis=0), (quads["pos"] + quads["size"]).max(axis=0)
        assert (lo >= 0).all() and (hi <= (320, 180)).all()
        text = bytes(int(g) + 32 for g in quads["glyph"] if g >= 0).decode()
        assert "+" in text, "the dreamers left out are counted"
        drawn(ov, target((320, 180)), state)
    finally:
        ov.release()


def test_same_state_same_pixels(overlay, target):
    state = show_state()
    first = drawn(overlay, target(grey=0.3), state)
    second = drawn(overlay, target(grey=0.3), state)
    assert (first == second).all()
    other = drawn(overlay, target(grey=0.3), show_state(status="live  cue 2"))
    assert (other != first).any()


def test_long_error_is_cut_not_overflowing(overlay, target):
    long = "shaders/tide.glsl:12: " + "error: 'brightnes' undeclared; " * 60 + "THE END"
    state = OverlayState(60.0, 16.7, 0, 0, [], [long])
    cols = (HD[0] - 2 * MARGIN - 2 * PAD) // ADV
    lines = error_lines((long,), 0, cols, 6)
    assert len(lines) == LINES_PER_ERROR
    assert all(len(line) <= cols for line in lines)
    assert lines[0].startswith("shaders/tide.glsl:12:") and lines[-1].endswith("...")
    quads = overlay.instances(state)
    assert ((quads["pos"] + quads["size"]) <= HD).all()
    t = target(grey=0.5)
    before = t.read()
    changed = (drawn(overlay, t, state) != before).any(axis=2)
    assert changed.any()
    assert not changed[:, HD[0] - MARGIN :].any() and not changed[HD[1] - MARGIN :].any()


def test_newest_errors_win_and_the_rest_are_counted():
    errors = tuple(f"error {i}" for i in range(10))
    lines = error_lines(errors[-6:], 4, 60, 6)
    assert lines[0] == "+5 older errors" and lines[-1] == "error 9"
    assert list(lines[1:]) == [f"error {i}" for i in range(5, 10)]


def test_wrap_breaks_at_spaces_and_cuts_long_words():
    assert wrap("alpha beta gamma delta", 12, 3) == ["alpha beta", "  gamma", "  delta"]
    assert wrap("x" * 30, 10, 2) == ["x" * 10, "  xxxxx..."]
    assert wrap("line one\nline two", 40, 3) == ["line one line two"]
    assert to_ascii("théta ✓") == "theta ?"


def test_scale_follows_height_and_size_must_match(gl, overlay, target):
    for size, scale in (((640, 360), 1), (HD, 1), ((1920, 1080), 2), ((3840, 2160), 4)):
        ov = Overlay(gl, size)
        assert ov.scale == scale
        ov.release()
    with pytest.raises(ValueError, match="target"):
        overlay.draw(target((640, 360)).fbo, show_state())


def test_cost_and_snapshot_at_720p(gl, overlay, target):
    t = target(grey=0.5)
    rng = np.random.default_rng(7)
    states = [
        OverlayState(
            60 - rng.uniform(0, 5), 16 + rng.uniform(0, 4), k, k // 5, dreamers(64, k), ERRORS
        )
        for k in range(20)
    ]
    times = []
    for state in states:
        start = time.perf_counter()
        overlay.draw(t.fbo, state)
        gl.finish()
        times.append((time.perf_counter() - start) * 1000)
    build = []
    for state in states:
        start = time.perf_counter()
        overlay.instances(state)
        build.append((time.perf_counter() - start) * 1000)
    print(
        f"\noverlay 1280x720, 64 dreamers, 3 errors: {statistics.median(times):.2f} ms a draw "
        f"(median of 20, with finish; {statistics.median(build):.2f} ms of it builds the quads)"
    )
    snap = target(grey=0.5)
    overlay.draw(snap.fbo, show_state(status="live  set: night-tide  cue 4/12  rec 00:12:31"))
    write_png(OUT / "overlay.png", snap.read()[..., :3])
