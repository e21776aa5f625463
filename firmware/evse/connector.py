# Charging control for one connector: debounced pilot state, charging
# permission, current offer, meter reading with fault tracking, and the OCPP
# connector status these imply. Only the interlock switches the contactor.
# No network, no flash; time is a parameter.
from hal import HalError
from evse.interlock import Interlock, MIN_AMPS, PILOT_FAULTS

# B <-> C flicker is ignored for this long before it is acted on (IEC 61851 practice).
DEBOUNCE_BC_MS = 500


class Evse:
    def __init__(self, connector_id, hw):
        self.id = connector_id
        self.pilot = hw.pilot
        self.relay = hw.relay
        self.meter = hw.meter
        self.lock = getattr(hw, "lock", None)
        self.max_amps = hw.max_current_a
        self.interlock = Interlock(hw.relay)
        self.state = "A"          # debounced pilot state
        self._raw = "A"
        self._raw_since = 0
        self.diode_ok = True
        self.permitted = False    # a transaction (or authorization) allows charging
        self.limit_amps = None    # smart charging limit; None = board maximum
        self.available = True     # ChangeAvailability
        self.pilot_fault = None
        self.meter_fault = None
        self.relay_fault = None
        self.offer_amps = 0
        self.reading = None       # last good meter reading (never replaced by zeros)
        self.pilot.offer(0)

    # --- inputs from the OCPP side -------------------------------------------------
    def permit(self, on):
        self.permitted = bool(on)

    def set_limit(self, amps):
        self.limit_amps = amps

    def set_available(self, on):
        self.available = bool(on)

    # --- observations --------------------------------------------------------------
    @property
    def fault(self):
        return self.pilot_fault or self.relay_fault or self.meter_fault

    @property
    def plugged(self):
        return self.state in ("B", "C", "D")

    @property
    def ev_ready(self):
        return self.state in ("C", "D")

    @property
    def contactor_closed(self):
        return self.relay.closed

    def step(self, now):
        """One control-loop iteration: sample, debounce, offer, interlock. Returns
        True when something an observer cares about changed."""
        before = (self.state, self.fault, self.relay.closed, self.offer_amps)
        raw, diode_ok = self.pilot.sample()
        if raw != self._raw:
            self._raw = raw
            self._raw_since = now
        if raw != self.state:
            if raw in ("B", "C") and self.state in ("B", "C"):
                if now - self._raw_since >= DEBOUNCE_BC_MS:
                    self.state = raw
            else:
                self.state = raw  # A, D, E, F and plug-in act at once
        self.diode_ok = diode_ok
        self.pilot_fault = PILOT_FAULTS.get(self.state)
        if self.state in ("C", "D") and not diode_ok:
            self.pilot_fault = "EVCommunicationError"
        check = getattr(self.relay, "check", None)
        if check is not None:
            self.relay_fault = check(now)
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
        amps = self.max_amps if self.limit_amps is None else min(self.limit_amps, self.max_amps)
        return amps if amps >= MIN_AMPS else 0

    def read_meter(self):
        """Latest reading; on a meter fault the last good one (or None) and meter_fault set."""
        if self.meter is None:
            return self.reading
        try:
            self.reading = self.meter.read()
            self.meter_fault = None
        except HalError as e:
            self.meter_fault = e.code
        return self.reading

    def energy_wh(self):
        r = self.reading
        return int(r["energy_wh"]) if r else 0

    def status(self, tx_active, finishing=False, reserved=False):
        """OCPP ChargePointStatus for this connector."""
        if self.fault is not None:
            return "Faulted"
        if tx_active:
            if self.relay.closed:
                return "Charging"
            if self.ev_ready:
                return "SuspendedEVSE"  # EV wants to charge, the EVSE offers nothing (limit, stop)
            if self.plugged:
                # offering (or about to, this very control period): the EV decides
                return "SuspendedEV" if self.offer_target() else "SuspendedEVSE"
            return "Finishing"
        if not self.available:
            return "Unavailable"
        if self.plugged:
            return "Finishing" if finishing else "Preparing"
        if reserved:
            return "Reserved"
        return "Available"

    def error_code(self):
        return self.fault or "NoError"
