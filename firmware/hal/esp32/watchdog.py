# Hardware watchdog that is fed only when every supervised loop has reported
# alive since the last feed, so a hung control loop resets the chip even while
# the main loop still runs. machine.WDT cannot be stopped once started.
import machine

TIMEOUT_MS = 10000          # reset when no feed for this long
LOOPS = ("main", "control")  # loops that must each call alive() between two feeds


class Watchdog:
    def __init__(self, timeout_ms=TIMEOUT_MS, loops=LOOPS):
        if not loops:
            raise ValueError("watchdog: needs at least one supervised loop name")
        self.loops = tuple(loops)
        self.timeout_ms = timeout_ms
        try:
            self.wdt = machine.WDT(timeout=timeout_ms)
        except TypeError:  # ESP8266: fixed timeout, no argument
            self.wdt = machine.WDT()
        self.seen = set()
        self.feeds = 0
        self.missed = 0   # feed() calls refused because a loop was silent

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
