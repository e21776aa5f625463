# Charging control for one connector: debounced pilot state, charging
# permission, current offer, meter reading with fault tracking, and the OCPP
# connector status these imply. Only the interlock switches the contactor.
# No network, no flash; time is a parameter.
from compat import const
from hal import HalError
from evse.interlock import Interlock, MIN_AMPS

# B <-> C flicker is ignored for this long before it is acted on (IEC 61851 practice).
_DEBOUNCE_BC_MS = const(500)
# Meter read by the app's meter task: no good reading for this long is a
# PowerMeterFailure even if the read never returns (a failed read is one at once:
# the Modbus driver has already retried).
_METER_STALE_MS = const(5000)
_POWER_METER_FAILURE = const("PowerMeterFailure")
# IEC 61851-1 gives the EV 5 s to follow a lower PWM duty: a measured phase
# current above the offer by more than _OVERCURRENT_MARGIN_A for _OVERCURRENT_MS
# is OverCurrentFailure. It holds until the EV leaves C/D (stops asking).
_OVERCURRENT_MARGIN_A = const(2)
_OVERCURRENT_MS = const(6000)
_OVER_CURRENT_FAILURE = const("OverCurrentFailure")
# Pilot states that are faults, with their OCPP 1.6 ChargePointErrorCode.
# E (CP shorted to PE, or the EV signals a fault) is a failure of the Mode 3
# pilot signalling: OCPP 1.6 defines EVCommunicationError as "communication
# failure with the vehicle, might be Mode 3 ...", while GroundFailure means a
# ground-fault circuit interrupter tripped, which this hardware cannot sense.
# F seen while the EVSE is not driving -12 V is a front-end fault: OtherError.
# OCPP 1.6 lets a charge point report EVCommunicationError as SuspendedEVSE
# instead of Faulted; we report Faulted, since the contactor is held open and no
# transaction can start until the fault clears (the EV leaves C/D, or E ends).
# PWM running without a -12 V plateau (diode check) is a Mode 3 failure too.
_EV_COMMUNICATION_ERROR = const("EVCommunicationError")


class Evse:
    def __init__(self, id, hw):
        self.id = id              # the connector's number (from 1)
        self.pilot = hw.pilot
        self.relay = hw.relay
        self.meter = hw.meter
        self.lock = getattr(hw, "lock", None)
        self.max_amps = hw.max_amps
        self.interlock = Interlock(hw.relay)
        self.state = "A"          # debounced pilot state
        self._raw_since = None    # since when the sampled state is the other of B and C (debounce)
        # B, C or D; during E/F (no plug information on the pilot) what it was before,
        # so a pilot fault is reported as a fault, not as an unplug ending the session.
        self.plugged = False
        self.diode_ok = True
        self.permitted = False    # a transaction (or authorization) allows charging
        self.limit = None         # smart charging limit (A, set_limit); None = board maximum
        self.available = True     # ChangeAvailability
        self._fault = None        # the pilot's or the contactor's ChargePointErrorCode (step)
        self.meter_fault = None
        self._relay_hold = None   # a contactor that failed to close: its code, held while the EV asks
        self.offer_amps = 0
        self.reading = None       # last good meter reading (never replaced by zeros)
        self.meter_task = False   # True: the app reads the meter in its own task (no I/O here)
        self._meter_ok_at = None
        self.overcurrent = None   # OverCurrentFailure while latched
        self._over_since = None
        self.pilot.offer(0)

    # --- inputs from the OCPP side -------------------------------------------------
    def permit(self, on):
        self.permitted = bool(on)

    def set_limit(self, amps):
        """Smart charging limit (A; None: the hardware's). The pilot follows at once, not
        at the next sample; the interlock judges the new offer at its next sample."""
        self.limit = amps
        target = self.offer_target()
        if target != self.offer_amps:
            self.offer_amps = target
            self.pilot.offer(target)

    def set_available(self, on):
        self.available = bool(on)

    # --- observations --------------------------------------------------------------
    @property
    def fault(self):
        return self._fault or self.meter_fault or self.overcurrent

    @property
    def contactor_closed(self):
        return self.relay.closed

    def step(self, now):
        """One pilot sample: debounce, faults, offer, interlock. No I/O besides the
        pilot and relay drivers (runs from a timer callback on the device). Returns
        True when something an observer cares about changed."""
        before = (self.state, self.fault, self.relay.closed, self.offer_amps)
        # The diode check's fault (below) from the last sample: an EVCommunicationError in C/D
        # can only be the diode's.
        diode_held = self.state in ("C", "D") and self._fault == _EV_COMMUNICATION_ERROR
        raw, diode_ok = self.pilot.sample()
        if raw != self.state and raw in ("B", "C") and self.state in ("B", "C"):
            if self._raw_since is None:
                self._raw_since = now
            if now - self._raw_since >= _DEBOUNCE_BC_MS:
                self.state = raw
                self._raw_since = None
        else:
            self.state = raw  # A, D, E, F and plug-in act at once
            self._raw_since = None
        if self.state in ("B", "C", "D"):
            self.plugged = True
        elif self.state == "A":
            self.plugged = False
        self.diode_ok = diode_ok
        s = self.state
        ev_asks = s in ("C", "D")
        fault = _EV_COMMUNICATION_ERROR if s == "E" else "OtherError" if s == "F" else None
        if ev_asks and (diode_held or not diode_ok):
            # Held until the EV leaves C/D: the fault stops the PWM, and without PWM
            # the diode cannot be checked, so an unheld fault would clear and the
            # contactor would close and open again every few samples.
            fault = _EV_COMMUNICATION_ERROR
        check = getattr(self.relay, "check", None)
        rf = None if check is None else check(now)
        if rf is not None:
            # A contactor that failed to close (the contact disagrees with a closed command) is
            # open again once the interlock has opened it, which clears check(): hold the fault
            # while the EV still asks for charge, or it would retry every settle time.
            self._relay_hold = rf if self.relay.closed else None
        elif self._relay_hold is not None and ev_asks:
            rf = self._relay_hold
        else:
            self._relay_hold = None
        self._fault = fault or rf
        if (self.meter_task and self._meter_ok_at is not None
                and now - self._meter_ok_at >= _METER_STALE_MS):
            self.meter_fault = _POWER_METER_FAILURE
        if not ev_asks:
            self.overcurrent = self._over_since = None
        else:
            r = self.reading
            amps = max(r["current_a"]) if r and r.get("current_a") else 0
            if (self.relay.closed and self.offer_amps >= MIN_AMPS
                    and amps > self.offer_amps + _OVERCURRENT_MARGIN_A):
                if self._over_since is None:
                    self._over_since = now
                if now - self._over_since >= _OVERCURRENT_MS:
                    self.overcurrent = _OVER_CURRENT_FAILURE
            else:
                self._over_since = None
        amps = self.offer_target()
        if amps != self.offer_amps:
            self.offer_amps = amps
            self.pilot.offer(amps)
        self.interlock.update(now, self.state, self.diode_ok, self.permitted,
                              self.offer_amps, self.fault, self.available)
        return before != (self.state, self.fault, self.relay.closed, self.offer_amps)

    def offer_target(self):
        if not (self.permitted and self.available and self.fault is None and self.plugged):
            return 0
        amps = self.max_amps if self.limit is None else min(self.limit, self.max_amps)
        return amps if amps >= MIN_AMPS else 0

    # --- meter -------------------------------------------------------------------
    def meter_read(self, reading, now):
        """A good reading (from the app's meter task or poll_meter)."""
        self.reading = reading
        self._meter_ok_at = now
        self.meter_fault = None

    def meter_failed(self, code, now):
        """A failed read: the last good reading stays."""
        self.meter_fault = code or _POWER_METER_FAILURE
        if self._meter_ok_at is None:
            self._meter_ok_at = now  # staleness counts from the first attempt

    def poll_meter(self, now):
        """One blocking read (simulated meters, deterministic clock, tests)."""
        if self.meter is None:
            return
        try:
            r = self.meter.read()
        except HalError as e:
            self.meter_failed(e.code, now)
            return
        self.meter_read(r, now)

    def read_meter(self):
        """Latest reading (the last good one on a fault, or None). Without a meter
        task it reads the meter now, blocking; with one it does no I/O."""
        if self.meter is not None and not self.meter_task:
            self.poll_meter(None)
        return self.reading

    def energy_wh(self):
        r = self.reading
        return int(r["energy_wh"]) if r else 0

    def status(self, tx, finishing=False):
        """OCPP ChargePointStatus for this connector; tx: a transaction runs on it (not stopping).
        (Reserved: ocpp16.reservation's status hook.)"""
        if self.fault is not None:
            return "Faulted"
        if tx:
            if self.relay.closed:
                return "Charging"
            if self.state in ("C", "D"):  # the EV is ready
                return "SuspendedEVSE"  # EV wants to charge, the EVSE offers nothing (limit, stop)
            if self.plugged:
                # offering (or about to, this very control period): the EV decides
                return "SuspendedEV" if self.offer_target() else "SuspendedEVSE"
            return "Finishing"
        if not self.available:
            return "Unavailable"
        if self.plugged:
            return "Finishing" if finishing else "Preparing"
        return "Available"

    def error_code(self):
        return self.fault or "NoError"
