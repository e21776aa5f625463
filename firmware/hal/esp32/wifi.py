# WiFi station supervisor: joins one access point with a connect timeout and
# reconnects with exponential backoff after a failure or a lost link. Time is a
# parameter of step(now); run() is the thin asyncio loop around it. No sockets.
from compat import const
import network

import compat
from hal import on_demand

_CONNECT_TIMEOUT_MS = const(15000)  # give up one connect attempt after this long
_BACKOFF_MIN_MS = const(1000)  # first wait after a failed attempt or a lost link
_BACKOFF_MAX_MS = const(60000)  # the wait doubles per failure up to this
_POLL_MS = const(250)  # run(): how often the link state is polled

# Status codes that end an attempt at once (no point waiting for the timeout).
_FAILED = (getattr(network, "STAT_WRONG_PASSWORD", 202), getattr(network, "STAT_NO_AP_FOUND", 201),
           getattr(network, "STAT_CONNECT_FAIL", 203))

DOWN, CONNECTING, UP = "down", "connecting", "up"


class WifiStation:
    def __init__(self, ssid, password, hostname=None, connect_timeout_ms=_CONNECT_TIMEOUT_MS,
                 backoff_min_ms=_BACKOFF_MIN_MS, backoff_max_ms=_BACKOFF_MAX_MS):
        # The station interface up (not yet joined): hal/esp32/setup.py, loaded for the call.
        on_demand("OtherError", "hal.esp32.setup", "wifi", self, ssid, password, hostname,
                  connect_timeout_ms, backoff_min_ms, backoff_max_ms)

    def step(self, now):
        """Advance the supervisor to `now` (ms). Returns the state: "down", "connecting", "up"."""
        w = self.wlan
        if self.state == UP:
            if not w.isconnected():
                self.state = DOWN
                self.drops += 1
                self.last_status = w.status()
                self._deadline = now  # first reconnect at once, backoff after failures
        if self.state == DOWN:
            if self._deadline is None or compat.ticks_diff(now, self._deadline) >= 0:
                try:
                    w.disconnect()
                except OSError:
                    pass
                w.connect(self.ssid, self.password)
                self.attempts += 1
                self.state = CONNECTING
                self._deadline = compat.ticks_add(now, self.connect_timeout_ms)
        if self.state == CONNECTING:
            if w.isconnected():
                self.state = UP
                self.backoff_ms = self.backoff_min_ms
            else:
                self.last_status = w.status()
                if self.last_status in _FAILED or compat.ticks_diff(now, self._deadline) >= 0:
                    try:  # the attempt failed: next one after the backoff
                        w.disconnect()
                    except OSError:
                        pass
                    self.state = DOWN
                    self._deadline = compat.ticks_add(now, self.backoff_ms)
                    self.backoff_ms = min(self.backoff_ms * 2, self.backoff_max_ms)
        return self.state

    def status(self):
        ip = self.wlan.ifconfig()[0] if self.state == UP else None
        return {"state": self.state, "ip": ip, "attempts": self.attempts, "drops": self.drops,
                "last_status": self.last_status, "backoff_ms": self.backoff_ms}

    async def run(self):
        """Supervise forever (readers poll state: netboot, the status page)."""
        import asyncio
        while True:
            self.step(compat.ticks_ms())
            await asyncio.sleep(_POLL_MS / 1000)
