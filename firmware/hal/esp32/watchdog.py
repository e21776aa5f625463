# Hardware watchdog that is fed only when every supervised loop has reported
# alive since the last feed, so a hung control loop resets the chip even while
# the main loop still runs. machine.WDT cannot be stopped once started.
from hal import on_demand

TIMEOUT_MS = 10000          # reset when no feed for this long
LOOPS = ("main", "control")  # loops that must each call alive() between two feeds


class Watchdog:
    def __init__(self, timeout_ms=TIMEOUT_MS, loops=LOOPS):
        # machine.WDT started: hal/esp32/setup.py, loaded for the call.
        on_demand("OtherError", "hal.esp32.setup", "watchdog", self, timeout_ms, loops)

    def alive(self, loop):
        if loop not in self.loops:
            raise ValueError("watchdog: unknown loop %r (supervised: %s)" % (loop, ", ".join(self.loops)))
        self.seen.add(loop)

    def feed(self):
        """Feed if every loop reported since the last feed. Returns True when fed."""
        for name in self.loops:
            if name not in self.seen:
                self.missed += 1
                return False
        self.wdt.feed()
        self.seen = set()
        self.feeds += 1
        return True

    def silent(self):
        """The loops that have not reported since the last feed (for the log)."""
        out = []
        for n in self.loops:
            if n not in self.seen:
                out.append(n)
        return out
