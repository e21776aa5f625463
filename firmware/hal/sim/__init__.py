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

# How the simulated car behaves (milliseconds of simulated time): from seeing a PWM offer
# to closing S2 (state C), from losing it to opening S2 (state B).
_EV_READY_DELAY_MS = const(2000)
_EV_STOP_DELAY_MS = const(1000)


class SimConnector:
    """One simulated connector with the car on its cable, one object in every role (a class
    each would cost ~200 B). The charger's side: the pilot (the EV sees the offer as `amps`:
    0 for none, also where no duty exists below 6 A), the contactor (`closed`), the meter
    (integrates the power the EV draws through the closed contactor: SimWorld.step) and the
    cable lock (never stuck). The car's side (moved by SimWorld.step too): its pilot state (A
    unplugged, B plugged with S2 open, C S2 closed: ready), whether it wants charge, a shorted
    CP or a missing diode. hal/sim/setup.py's build() sets voltage_v, phases, max_amps and
    capacity_wh from the board."""
    amps = 0
    disabled = False
    closed = False
    voltage_v = 230
    phases = 1
    energy_wh = 0.0
    current_a = 0.0
    failed = False    # the meter does not answer
    # the car
    max_amps = 32     # the most it draws
    capacity_wh = None  # what it takes per plug-in until full (None: never full)
    charged_wh = 0.0  # since it was plugged in
    state = "A"       # the car's: A, B or C (its S2 switch moves B -> C)
    wants_charge = True
    short = False     # CP shorted to PE: state E
    diode_ok = True   # False: the diode missing or shorted
    until = None      # when S2 moves: a while after the offer came (it closes) or went (it opens)

    def plug(self):
        self.state = "B"
        self.charged_wh = 0.0
        self.until = None

    def unplug(self):
        self.state = "A"
        self.until = None

    # --- pilot -----------------------------------------------------------------
    def offer(self, amps):
        self.disabled = False
        self.amps = amps if duty_percent(amps) is not None else 0

    def disable(self):
        self.disabled = True
        self.amps = 0

    def sample(self):
        state = "E" if self.short else "F" if self.disabled else self.state
        return state, self.diode_ok or self.amps == 0

    # --- relay -----------------------------------------------------------------
    def set(self, closed):
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


class SimWorld:
    """The simulated charger (made by hal/sim/setup.py's build: `connectors`, a SimConnector
    each with its car), moved by step(now). It is the card reader too (one per charger)."""
    scenario = ()
    ended = False
    waiting = False  # due events wait for hal/sim/setup.py, which could not be loaded (logged once)
    time = None      # of the last step (ms)
    pending = ()     # idTags tapped and not yet polled (a new tuple per tap: never the class's)
    failed = False   # the reader does not answer

    def load_scenario(self, events):
        """The scenario to play: checked and sorted by hal/sim/setup.py (ValueError names a bad event)."""
        self.scenario = on_demand("OtherError", "hal.sim.setup", "check", events)

    # --- card reader -------------------------------------------------------------
    def tap(self, id_tag):
        self.pending += (id_tag.upper(),)

    def poll(self):
        if self.failed:
            raise HalError("ReaderFailure", "simulated reader does not answer")
        t = self.pending
        if not t:
            return None
        self.pending = t[1:]
        return t[0]

    def step(self, now):
        """Advance the physics to `now` (ms) and fire due scenario events (their effects:
        hal/sim/setup.py, loaded for the events). Returns fired events."""
        dt = 0 if self.time is None else now - self.time
        self.time = now
        for c in self.connectors:
            amps = min(c.amps, c.max_amps) if c.closed and c.state == "C" else 0
            if dt:
                c.current_a = float(amps)
                wh = amps * c.voltage_v * c.phases * dt / 3600000.0
                c.energy_wh += wh
                c.charged_wh += wh
            if c.state == "A":
                continue
            # The car: S2 closes a while after an offer appears, opens a while after it goes
            # (at once when the car is full or pauses).
            full = c.capacity_wh is not None and c.charged_wh >= c.capacity_wh
            if c.amps and c.wants_charge and not full:
                if c.state == "C":
                    c.until = None
                else:
                    if c.until is None:
                        c.until = now + _EV_READY_DELAY_MS
                    if now >= c.until:
                        c.state = "C"
                        c.until = None
            elif c.state == "C":
                if c.until is None:
                    c.until = now + _EV_STOP_DELAY_MS
                if full or not c.wants_charge or now >= c.until:
                    c.state = "B"
                    c.until = None
            else:
                c.until = None
        s = self.scenario
        if s and s[0]["at"] * 1000 <= now:
            try:
                s = on_demand("OtherError", "hal.sim.setup", "step", self, now)
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
