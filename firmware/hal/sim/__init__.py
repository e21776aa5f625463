# Simulated hardware for the host simulator and the scenario tests: an EV that
# plugs in, becomes ready, draws current up to the offered limit and unplugs; a
# card reader that can be tapped; a meter that integrates power over time; and
# a scenario player. Deterministic: it only moves when step(now) is called.
# Board building, the scenario check and the events' effects: hal/sim/setup.py (on demand).
# RAM: only what a control period runs is here; a class whose defaults are constants keeps
# them as class attributes instead of an __init__ (a function costs ~130 B, a slot 16 B).
from compat import const
from hal import HalError, on_demand
from evse import duty_percent

# How the simulated car behaves (milliseconds of simulated time).
# From seeing a PWM offer to closing S2 (state C), from losing it to opening S2 (state B).
_EV_READY_DELAY_MS = const(2000)
_EV_STOP_DELAY_MS = const(1000)


SIM_CHIP_ID = b"\x51\x4d\x00\x00\x00\x01"  # the simulated chip's unique id (6 bytes, as an ESP32's MAC)


class SimEV:
    def __init__(self, max_amps=32, capacity_wh=None):
        self.max_amps = max_amps
        self.capacity_wh = capacity_wh  # None: never full
        self.plugged = False
        self.s2 = False           # the EV's switch that moves B -> C
        self.wants_charge = True
        self.short = False        # CP shorted to PE: state E
        self.diode = True         # False: diode missing / shorted
        self.charged_wh = 0.0
        self._offer_seen_at = None
        self._offer_lost_at = None

    def plug(self):
        self.plugged = True
        self.s2 = False
        self.charged_wh = 0.0

    def unplug(self):
        self.plugged = False
        self.s2 = False

    def step(self, now, offer_amps):
        if not self.plugged:
            return
        full = self.capacity_wh is not None and self.charged_wh >= self.capacity_wh
        if offer_amps and self.wants_charge and not full:
            self._offer_lost_at = None
            if self._offer_seen_at is None:
                self._offer_seen_at = now
            if now - self._offer_seen_at >= _EV_READY_DELAY_MS:
                self.s2 = True
        else:
            self._offer_seen_at = None
            if self.s2:
                if self._offer_lost_at is None:
                    self._offer_lost_at = now
                if full or not self.wants_charge or now - self._offer_lost_at >= _EV_STOP_DELAY_MS:
                    self.s2 = False
                    self._offer_lost_at = None


class SimConnector:
    """The charger's side of one simulated connector, one object in every role (a class
    each would cost ~200 B): the pilot (the EV sees the offer as `amps`: 0 for none, also
    where no duty exists below 6 A), the contactor (`closed`), the meter (integrates the
    power the EV draws through the closed contactor: SimWorld.step; hal/sim/setup.py's build()
    sets voltage_v and phases from the board) and the cable lock (never stuck)."""
    amps = 0
    disabled = False
    closed = False
    switch_count = 0  # contactor operations (tests check that one happened)
    voltage_v = 230
    phases = 1
    energy_wh = 0.0
    current_a = 0.0
    failed = False  # the meter does not answer

    def __init__(self, ev=None):
        self.ev = ev  # the car on the pilot (None: a relay or meter alone, in tests)

    # --- pilot -----------------------------------------------------------------
    def offer(self, amps):
        self.disabled = False
        self.amps = amps if duty_percent(amps) is not None else 0

    def disable(self):
        self.disabled = True
        self.amps = 0

    def sample(self):
        ev = self.ev
        if ev.short:
            state = "E"
        elif self.disabled:
            state = "F"
        elif not ev.plugged:
            state = "A"
        else:
            state = "C" if ev.s2 else "B"
        return state, ev.diode or self.amps == 0

    # --- relay -----------------------------------------------------------------
    def set(self, closed):
        if closed != self.closed:
            self.switch_count += 1
        self.closed = closed

    # --- meter -----------------------------------------------------------------
    def read(self):
        if self.failed:
            raise HalError("PowerMeterFailure", "simulated meter does not answer")
        p = self.current_a * self.voltage_v * self.phases
        return {
            "energy_wh": self.energy_wh,
            "power_w": p,
            "current_a": [self.current_a] * self.phases,
            "voltage_v": [float(self.voltage_v)] * self.phases,
        }

    # --- lock ------------------------------------------------------------------
    def unlock(self):
        return True


class SimReader:
    taps = ()  # idTags tapped and not yet polled (a new tuple per tap: never the class's)
    failed = False

    def tap(self, id_tag):
        self.taps += (id_tag.upper(),)

    def poll(self):
        if self.failed:
            raise HalError("ReaderFailure", "simulated reader does not answer")
        t = self.taps
        if not t:
            return None
        self.taps = t[1:]
        return t[0]


class SimWorld:
    """The simulated devices (made by hal/sim/setup.py's build: `evs`, the cars; `connectors`, a
    SimConnector each; `reader`), moved by step(now)."""
    scenario = ()
    ended = False
    waiting = False  # due events wait for hal/sim/setup.py, which could not be loaded (logged once)
    _last = None

    def load_scenario(self, events):
        """The scenario to play: checked and sorted by hal/sim/setup.py (ValueError names a bad event)."""
        self.scenario = on_demand("OtherError", "hal.sim.setup", "check_scenario", events)

    def step(self, now):
        """Advance the physics to `now` (ms) and fire due scenario events (their effects:
        hal/sim/setup.py, loaded for the events). Returns fired events."""
        dt = 0 if self._last is None else now - self._last
        self._last = now
        for c in self.connectors:
            ev = c.ev
            amps = min(c.amps, ev.max_amps) if c.closed and ev.s2 and ev.plugged else 0
            if dt:
                c.current_a = float(amps)
                wh = amps * self.voltage_v * self.phases * dt / 3600000.0
                c.energy_wh += wh
                ev.charged_wh += wh
            ev.step(now, c.amps)
        s = self.scenario
        if s and s[0]["at"] * 1000 <= now:
            try:
                s = on_demand("OtherError", "hal.sim.setup", "apply", self, now)
            except HalError as e:  # not loaded (missing, out of heap): the events stay due, next tick
                if not self.waiting:
                    import log
                    log.warning("scenario events wait: %s", e.info)
                self.waiting = True
                return ()
            self.waiting = False
            return s
        return ()


def build(board):
    """hal.Hardware of the sim board (hal/sim/setup.py, loaded for the call)."""
    return on_demand("OtherError", "hal.sim.setup", "build", board)
