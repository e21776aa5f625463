# The one module that decides whether the contactor may be closed, and the only
# caller of relay.set(). Time is a parameter; no network, no flash, no meter I/O.
#
# Design: safety does not share a turn with the OCPP work. On the device a
# periodic machine.Timer (SampleTimer below) samples every pilot and runs this
# interlock every SAMPLE_PERIOD_MS. ESP32 timer callbacks are soft: MicroPython
# schedules them between two bytecodes of whatever runs, so a 60 KB frame being
# parsed and validated, a queue write or an awaited meter read delays a sample by
# at most one bytecode, not by the whole job. The control loop only checks that
# the timer ticks (and samples itself if it does not); it never waits for it.
# Limit: a single long C call (mbedTLS handshake step, one json.loads, a flash
# erase) is not interrupted; such calls are a few ms to ~100 ms on an ESP32.
# Where no timer exists (host simulator, deterministic clock) the control loop
# samples, as before, once per control period. SampleTimer and machine_timer are
# evse/sampler.py: only a board with a timer imports it (through __getattr__ below), the sim
# board never does (nor interns the machine.Timer names).

from compat import const
from evse import MIN_AMPS  # below it there is no valid PWM duty: no offer, no charging

# IEC 61851: after the EVSE stops its PWM offer the EV should open S2 within
# 3 s; the EVSE forces the contactor open after this long (SmartEVSE, esp32-evse).
_FORCE_OPEN_AFTER_OFFER_STOP_MS = const(6000)
# Pilot sample + interlock period on the timer. With the driver's 2-sample stop
# debounce a change to A/E/F opens the contactor within 2 periods (+ one callback
# latency): 50 ms, inside one 100 ms control period. One sample is a 100-read ADC
# burst (~4 ms on an ESP32), so this costs ~16 % of the CPU.
SAMPLE_PERIOD_MS = 25


class Interlock:
    def __init__(self, relay):
        self.relay = relay
        self.offer_stopped_at = None  # when the offer went away while the EV was still in C/D
        # Why the contactor is in its position (for the REPL and tests): words and values,
        # not a text (its formats would be resident for nobody to read).
        self.reason = ("idle",)
        relay.set(False)

    def update(self, now, state, diode_ok, permitted, offer_amps, fault, available):
        """Apply the rules for one pilot sample. Returns True when the contactor is closed."""
        closed = self.relay.closed
        # Every condition that must hold for the contactor to close (or stay closed while
        # the PWM offer runs).
        if (permitted and available and fault is None and diode_ok
                and state in ("C", "D") and offer_amps >= MIN_AMPS):
            self.offer_stopped_at = None
            if not closed:
                self.reason = ("closed", state, offer_amps)  # the EV's state, the amps offered
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
            if now - self.offer_stopped_at < _FORCE_OPEN_AFTER_OFFER_STOP_MS:
                return True
            self.reason = ("open", "offer stopped", state)  # the EV still in C/D
        elif fault is not None:
            self.reason = ("open", "fault", fault)
        elif not available:
            self.reason = ("open", "unavailable")
        elif not diode_ok:
            self.reason = ("open", "diode")
        else:
            self.reason = ("open", "pilot", state)
        self.offer_stopped_at = None
        self.relay.set(False)
        return False

    def force_open(self, reason):
        """Open at once whatever the inputs (the sampling itself failed)."""
        self.offer_stopped_at = None
        self.reason = ("open", reason)
        self.relay.set(False)


def __getattr__(name):
    """evse.interlock.SampleTimer and machine_timer (what is not here): evse/sampler.py's, imported
    by the first lookup and then resident (a board that samples on a timer keeps it for the
    charger's life)."""
    from evse import sampler
    return getattr(sampler, name)
