from __future__ import annotations

from engine.clock import FrameClock, RealtimeClock


def test_frame_clock_is_exact_and_does_not_drift():
    clock = FrameClock(30000 / 1001)
    ticks = [clock.tick() for _ in range(100_001)]
    assert ticks[0].time == 0.0 and ticks[0].dt == 0.0
    assert ticks[100_000].time == 100_000 * 1001 / 30000
    assert ticks[5].frame == 5


def test_realtime_clock_counts_frames_and_moves_forward():
    clock = RealtimeClock(60)
    a, b = clock.tick(), clock.tick()
    assert (a.frame, b.frame) == (0, 1)
    assert b.time >= a.time and b.dt >= 0.0
