# Contactor driver: one output GPIO for the coil and an optional auxiliary
# feedback contact. Detects welding and failure to close; it never decides when
# to switch (only evse.interlock calls set()).
from compat import const
import machine

import compat

SETTLE_MS = 300  # contactor pull-in / drop-out plus bounce before the feedback must agree
_POWER_SWITCH_FAILURE = const("PowerSwitchFailure")  # OCPP ChargePointErrorCode for both faults


class Relay:
    def __init__(self, pin, feedback_pin=None, feedback_active=1, settle_ms=SETTLE_MS):
        self.pin = machine.Pin(pin, machine.Pin.OUT, value=0)
        self.fb = None if feedback_pin is None else machine.Pin(feedback_pin, machine.Pin.IN)
        self.feedback_active = 1 if feedback_active else 0
        self.settle_ms = settle_ms
        self.closed = False
        self.fault_info = None   # "welded" / "failed to close" while check() reports a fault
        self._mismatch_since = None

    def set(self, closed):
        closed = bool(closed)
        if closed != self.closed:
            # The contact needs settle_ms to follow; check() starts timing from its next call.
            self._mismatch_since = None
        self.closed = closed
        self.pin.value(1 if closed else 0)

    def feedback(self):
        """None without a feedback contact, else True when the main contact is closed."""
        if self.fb is None:
            return None
        return self.fb.value() == self.feedback_active

    def check(self, now_ms):
        """None, or "PowerSwitchFailure" when the feedback disagrees with the command
        for settle_ms or longer (welded contact, or a contactor that does not close).
        now_ms: the caller's monotonic clock (the same one on every call), called at
        least every settle_ms/2 so the time since a switch is measured closely."""
        fb = self.feedback()
        if fb is None or fb == self.closed:
            self._mismatch_since = None
            self.fault_info = None
            return None
        if self._mismatch_since is None:
            self._mismatch_since = now_ms
        if compat.ticks_diff(now_ms, self._mismatch_since) < self.settle_ms:
            return None
        self.fault_info = "failed to close" if self.closed else "welded"
        return _POWER_SWITCH_FAILURE
