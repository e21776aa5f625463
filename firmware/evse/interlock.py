# The one module that decides whether the contactor may be closed, and the only
# caller of relay.set(). Evaluated on every pilot sample; it never waits for
# the network, the flash or the OCPP core. Time is a parameter.

# IEC 61851: after the EVSE stops its PWM offer the EV should open S2 within
# 3 s; the EVSE forces the contactor open after this long (SmartEVSE, esp32-evse).
FORCE_OPEN_AFTER_OFFER_STOP_MS = 6000
MIN_AMPS = 6  # below this there is no valid PWM duty: no offer, no charging

# Faults each of which opens the contactor at once.
PILOT_FAULTS = {"E": "EVCommunicationError", "F": "OtherError"}


def may_close(state, diode_ok, permitted, offer_amps, fault, available):
    """Every condition that must hold for the contactor to close (or stay closed
    while the PWM offer runs)."""
    return (permitted and available and fault is None and diode_ok
            and state in ("C", "D") and offer_amps >= MIN_AMPS)


class Interlock:
    def __init__(self, relay):
        self.relay = relay
        self.offer_stopped_at = None  # when the offer went away while the EV was still in C/D
        self.reason = "idle"  # why the contactor is in its position (for logs and tests)
        relay.set(False)

    def update(self, now, state, diode_ok, permitted, offer_amps, fault, available):
        """Apply the rules for one pilot sample. Returns True when the contactor is closed."""
        closed = self.relay.closed
        if may_close(state, diode_ok, permitted, offer_amps, fault, available):
            self.offer_stopped_at = None
            if not closed:
                self.reason = "closed: EV in %s, %d A offered" % (state, offer_amps)
                self.relay.set(True)
            return True
        if not closed:
            return False
        # Closed but no longer allowed: decide whether it opens now or after the grace time.
        graceful = (state in ("C", "D") and diode_ok and fault is None
                    and (offer_amps < MIN_AMPS or not permitted))
        if graceful:
            # The offer stopped (stop requested, limit below 6 A): let the EV stop drawing first.
            if self.offer_stopped_at is None:
                self.offer_stopped_at = now
            if now - self.offer_stopped_at < FORCE_OPEN_AFTER_OFFER_STOP_MS:
                return True
            self.reason = "opened: EV still in %s %d ms after the offer stopped" % (
                state, FORCE_OPEN_AFTER_OFFER_STOP_MS)
        elif fault is not None:
            self.reason = "opened: fault %s" % fault
        elif not available:
            self.reason = "opened: connector unavailable"
        elif not diode_ok:
            self.reason = "opened: diode check failed"
        else:
            self.reason = "opened: pilot state %s" % state
        self.offer_stopped_at = None
        self.relay.set(False)
        return False
