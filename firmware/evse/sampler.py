# The pilot sample on a periodic timer (evse/interlock.py says why): every connector's
# evse.step(now), so the interlock sees every sample whatever the event loop is doing.
# Imported only by a board with a machine.Timer (evse.interlock.SampleTimer); the sim
# board samples in its control loop and never loads it.
from compat import const
from evse.interlock import SAMPLE_PERIOD_MS

_SAMPLE_TIMER_ID = const(0)  # ESP32 hardware timer used for the pilot sample


def machine_timer(period_ms, callback):
    """A periodic machine.Timer, or None where the port has none (unix, CPython)."""
    try:
        import machine
        Timer = machine.Timer
    except (ImportError, AttributeError):
        return None
    for tid in (_SAMPLE_TIMER_ID, -1):  # ESP8266 has only the virtual timer -1
        try:
            return Timer(tid, mode=Timer.PERIODIC, period=period_ms, callback=callback)
        except (ValueError, OSError):
            pass
    return None


class SampleTimer:
    """Runs evse.step(now) for every connector on a periodic timer callback, so
    the interlock sees every pilot sample whatever the event loop is doing.
    `now` is the app's monotonic clock (a function). A callback that finds a step
    in progress (the control loop's fallback) skips; a step that raises opens
    every contactor."""

    def __init__(self, evses, now, period_ms=SAMPLE_PERIOD_MS):
        self.evses = evses
        self.now = now
        self.period_ms = period_ms
        self.timer = None
        self.ticks = 0       # completed samples (timer or fallback)
        self.skipped = 0     # callbacks that found a sample in progress
        self.errors = 0
        self.last_error = None
        self._busy = False

    def start(self, make_timer=machine_timer):
        """make_timer(period_ms, callback) -> object with deinit(), or None. True if running."""
        self.timer = make_timer(self.period_ms, self._tick)
        return self.timer is not None

    def stop(self):
        if self.timer is not None:
            self.timer.deinit()
            self.timer = None

    def _tick(self, _arg=None):
        if self._busy:
            self.skipped += 1
            return
        self.run(self.now())

    def run(self, now):
        """One pilot sample + interlock for every connector."""
        self._busy = True
        try:
            for e in self.evses:
                e.step(now)
        except Exception as ex:  # a broken sample must not leave a contactor closed
            self.errors += 1
            self.last_error = ex
            for e in self.evses:
                e.interlock.force_open("sampling failed: %r" % (ex,))
        finally:
            self._busy = False
        self.ticks += 1
