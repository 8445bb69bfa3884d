"""BrainFlow's synthetic board and an LSL outlet on loopback, as dreamer sources."""

from __future__ import annotations

import math
import threading
import time
import uuid

import numpy as np
import pytest

from engine.features.dsp import band_powers


def _need(module: str, what: str) -> None:
    """Skip unless `module` imports: pylsl raises RuntimeError, not ImportError, when
    its liblsl shared library is missing, and importorskip would let that fail."""
    try:
        __import__(module)
    except (ImportError, RuntimeError, OSError) as e:
        pytest.skip(f"{what} is not available ({type(e).__name__}: {e})")


def _need_brainflow() -> None:
    _need("brainflow.board_shim", "brainflow (pip install brainflow)")


def _need_lsl() -> None:
    _need("pylsl", "pylsl with its liblsl shared library (pip install pylsl; the wheel bundles it)")


def _drain(source, seconds: float) -> tuple[dict[str, np.ndarray], float]:
    """Read `source` every 50 ms for `seconds` of real time, as the frame loop would;
    the samples per signal, and the time from the first read to the last."""
    got: dict[str, list[np.ndarray]] = {}
    t0 = time.monotonic()
    source.read(0.0)  # what arrived before the clock started does not count
    t = 0.0
    while t < seconds:
        time.sleep(0.05)
        t = time.monotonic() - t0
        for sig, x in source.read(t).items():
            got.setdefault(sig, []).append(x)
    return {sig: np.concatenate(xs) for sig, xs in got.items()}, t


# --- BrainFlow ---------------------------------------------------------------------


def test_synthetic_board_feeds_signals_at_its_rate():
    _need_brainflow()
    from brainflow.board_shim import BoardIds, BoardShim

    from engine.sources.brainflow_source import BrainFlowSource

    board = BoardIds.SYNTHETIC_BOARD
    fs = BoardShim.get_sampling_rate(board.value)
    with BrainFlowSource(board) as src:
        assert src.rates["eeg"] == fs
        # the synthetic board's ECG rows are its EEG rows (an ExG board): not taken as ECG
        assert "ecg" not in src.rates and "ppg" in src.rates
        assert not src.present(0.0)
        samples, elapsed = _drain(src, 1.5)
        assert src.present(elapsed) and not src.present(elapsed + 10.0)
    src.close()  # twice is fine
    assert src.read(99.0) == {}
    for sig in ("eeg", "ppg"):
        x = samples[sig]
        assert abs(len(x) - fs * elapsed) <= 0.2 * fs * elapsed, (sig, len(x), fs * elapsed)
        assert np.isfinite(x).all()
    shares = band_powers(samples["eeg"], fs)
    assert all(math.isfinite(v) for v in shares.values())
    assert sum(shares.values()) == pytest.approx(1.0)


def test_synthetic_board_drives_a_dreamer():
    _need_brainflow()
    from engine.dreamers import Dreamer
    from engine.params import ParamSpace
    from engine.sources.brainflow_source import BrainFlowSource

    with BrainFlowSource() as src:
        d = Dreamer(
            0,
            seed=1,
            source=src,
            shader="x",
            patch="x",
            drive="features",
            enhance=False,
            params=ParamSpace(),
            count=1,
        )
        assert set(d.rings) == {"eeg", "ppg"} and d.presence == 0.0
        t0 = time.monotonic()
        t = 0.0
        while t < 1.3:
            time.sleep(0.05)
            t = time.monotonic() - t0
            d.pull(t)
            d.step(t, 0.05)
        d.analyse(t)
    assert d.rings["eeg"].filled > 200 and d.presence > 0.5
    shares = [getattr(d.features, b) for b in ("delta", "theta", "alpha", "sigma", "beta")]
    assert all(math.isfinite(v) for v in shares) and sum(shares) > 0


def test_a_board_that_drops_out_fades_and_comes_back(monkeypatch, caplog):
    """The SDK loses the board's session under the source (as when a headband's
    Bluetooth drops): reads give nothing and say so once, then the board is reopened."""
    _need_brainflow()
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

    from engine.sources import brainflow_source
    from engine.sources.brainflow_source import BrainFlowSource

    monkeypatch.setattr(brainflow_source, "RETRY_SECONDS", 0.2)
    with BrainFlowSource() as src:
        _drain(src, 0.3)
        # BrainFlow keys a board by its id and params: this releases the source's session
        BoardShim(BoardIds.SYNTHETIC_BOARD, BrainFlowInputParams()).release_session()
        with caplog.at_level("WARNING", logger="oneiric.brainflow"):
            assert src.read(1.0) == {} and src.read(1.05) == {}  # lost, then waiting
            assert src.dropouts == 1 and "stopped answering" in caplog.text
            assert not src.present(1.0 + src.silence + 0.1)  # its dreamer fades out
            samples, _ = _drain(src, 1.0)
        assert "is back" in caplog.text and len(samples["eeg"]) > 50
    assert src.read(99.0) == {}  # closed stays closed: no reconnecting after close


def test_brainflow_channels_override_and_first():
    _need_brainflow()
    from engine.sources.brainflow_source import BrainFlowSource, board_layout

    layout = board_layout(-1, ("eeg", "ecg"))  # -1: the synthetic board
    assert layout["eeg"][1] == list(range(1, 17)) and "ecg" not in layout
    with BrainFlowSource(-1, channels={"ecg": [16]}, reduce="first") as src:
        assert set(src.rates) == {"eeg", "ecg", "ppg"}
        time.sleep(0.3)
        out = src.read(1.0)
        assert len(out["ecg"]) == len(out["eeg"]) > 0


# --- LSL ---------------------------------------------------------------------------


class _SineOutlet:
    """An LSL outlet pushing a 10 Hz sine (plus a little noise) at 256 Hz, in real time."""

    def __init__(self, name: str, fs: float = 256.0, freq: float = 10.0, channels: int = 2):
        import pylsl

        info = pylsl.StreamInfo(name, "EEG", channels, fs, "float32", name)
        chans = info.desc().append_child("channels")
        for i in range(channels):
            ch = chans.append_child("channel")
            ch.append_child_value("label", f"E{i}")
            ch.append_child_value("type", "EEG")
            ch.append_child_value("unit", "microvolts")
        self.outlet = pylsl.StreamOutlet(info, chunk_size=8)
        self.fs, self.freq, self.channels = fs, freq, channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rng = np.random.default_rng(0)
        t0, sent = time.monotonic(), 0
        while not self._stop.is_set():
            due = int((time.monotonic() - t0) * self.fs)
            if due > sent:
                k = np.arange(sent, due)
                x = 20.0 * np.sin(2 * np.pi * self.freq * k / self.fs)
                chunk = x[:, None] + rng.normal(0.0, 2.0, (len(k), self.channels))
                self.outlet.push_chunk(chunk.astype(np.float32))
                sent = due
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


def test_lsl_outlet_feeds_eeg_with_alpha_on_top():
    _need_lsl()
    from engine.sources.lsl import LslSource

    name = f"oneiric-test-{uuid.uuid4().hex[:8]}"
    outlet = _SineOutlet(name)
    try:
        with LslSource(name=name, timeout=3.0) as src:
            assert src.rates == {"eeg": 256.0} and src.channels == {"eeg": [0, 1]}
            assert not src.present(0.0)
            samples, elapsed = _drain(src, 2.0)
            assert src.present(elapsed)
        x = samples["eeg"]
        assert abs(len(x) - 256.0 * elapsed) <= 0.2 * 256.0 * elapsed, (len(x), elapsed)
        shares = band_powers(x, 256.0)
        assert max(shares, key=shares.__getitem__) == "alpha", shares
    finally:
        outlet.close()


def test_lsl_missing_stream_names_what_was_looked_for():
    _need_lsl()
    from engine.sources.lsl import LslSource, LslSourceError

    with pytest.raises(LslSourceError, match="name='no-such-oneiric-stream'"):
        LslSource(name="no-such-oneiric-stream", timeout=0.3)


def test_a_set_with_a_synthetic_brainflow_board_drives_its_dreamer(tmp_path, gl):
    pytest.importorskip("brainflow")
    import time

    from engine.clock import RealtimeClock
    from engine.render import load_set
    from engine.sets import SetError
    from engine.show import Show

    path = tmp_path / "board.toml"
    text = (
        "[set]\nduration = 10.0\nfps = 20\nsize = [32, 18]\n"
        '[[dreamers]]\ncount = 1\nsource = "brainflow"\nboard = "synthetic"\n'
        'shader = "tide"\npatch = "drone"\n'
    )
    path.write_text(text)
    show = Show(load_set(path), gl, audio=False)
    try:
        clock = RealtimeClock(20)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            show.step(clock.tick())
            time.sleep(0.03)
        d = show.dreamers[0]
        assert d.rings["eeg"].filled > 250 and d.presence > 0.5
        assert sum(d.features.bands.values()) == pytest.approx(1.0, abs=1e-6)
    finally:
        show.close()
    path.write_text(text.replace('"synthetic"', '"toaster"'))
    with pytest.raises(SetError, match="unknown board 'toaster'"):
        load_set(path)


def test_a_set_with_an_lsl_stream_drives_its_dreamer(tmp_path, gl):
    pylsl = pytest.importorskip("pylsl")
    import threading
    import time

    from engine.clock import RealtimeClock
    from engine.render import load_set
    from engine.show import Show

    name = f"oneiric-set-{time.monotonic_ns()}"
    info = pylsl.StreamInfo(name, "EEG", 1, 256.0, "float32", name)
    outlet = pylsl.StreamOutlet(info)
    stop = threading.Event()

    def push() -> None:
        n = 0
        while not stop.is_set():
            t = (n + np.arange(16)) / 256.0
            outlet.push_chunk((30 * np.sin(2 * np.pi * 10 * t)).reshape(-1, 1).tolist())
            n += 16
            time.sleep(16 / 256.0)

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    path = tmp_path / "lsl.toml"
    path.write_text(
        "[set]\nduration = 10.0\nfps = 20\nsize = [32, 18]\n"
        f'[[dreamers]]\ncount = 1\nsource = "lsl"\nstream_name = "{name}"\n'
        'shader = "tide"\npatch = "drone"\n'
    )
    try:
        show = Show(load_set(path), gl, audio=False)
        try:
            clock = RealtimeClock(20)
            end = time.monotonic() + 2.5
            while time.monotonic() < end:
                show.step(clock.tick())
                time.sleep(0.03)
            d = show.dreamers[0]
            assert d.rings["eeg"].filled > 256 and d.presence > 0.5
            assert max(d.features.bands, key=d.features.bands.get) == "alpha"
        finally:
            show.close()
    finally:
        stop.set()
        thread.join(timeout=2)
