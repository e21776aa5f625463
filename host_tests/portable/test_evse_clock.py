# The monotonic `now` the interlock, debounce and grace times compare: on an
# ESP32 ticks_ms wraps at 2**30 ms and ticks_diff is right only within 2**29 ms
# (~6.2 days). A charger runs for months: now() must keep counting.
import compat
import app

PERIOD = 1 << 30  # MicroPython's ticks period on the ESP32
HOUR_MS = 3600000


def esp32_ticks_diff(a, b):
    return ((a - b + PERIOD // 2) & (PERIOD - 1)) - PERIOD // 2


def test_clock_counts_past_the_esp32_ticks_wrap():
    saved = compat.ticks_ms, compat.ticks_diff
    t = [PERIOD - 5000]  # the chip's counter 5 s before it wraps
    compat.ticks_ms = lambda: t[0]
    compat.ticks_diff = esp32_ticks_diff
    try:
        c = app.Clock()
        assert c.now() == 0
        for h in range(1, 24 * 30 + 1):  # 30 days, read at least hourly
            t[0] = (t[0] + HOUR_MS) % PERIOD
            assert c.now() == h * HOUR_MS, (h, c.now())
    finally:
        compat.ticks_ms, compat.ticks_diff = saved
