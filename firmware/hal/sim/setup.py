# The sim board's boot and scenario side (on demand: hal.sim loads it for the call and
# forgets it): building the hardware from the board file, checking a scenario, and
# the due scenario events' effects on the simulated devices. No physics here (hal.sim).
from compat import const
from hal import Connector, Hardware
from hal.sim import SimWorld, SimConnector

# Scenario events: {"at": seconds, "do": name, ...}. See tools/README for the list.
_EVENTS = const(("plug", "unplug", "card", "ev_ready", "ev_pause", "ev_full", "short", "unshort",
                 "diode_fail", "diode_ok", "meter_fail", "meter_ok", "reader_fail", "reader_ok", "end"))
# The events that switch a simulated device's property on or off: (on, off, the property);
# reader_*: the SimWorld's (its card reader), the others: the event's connector's (its car, its meter).
_SWITCHES = const((("ev_ready", "ev_pause", "wants_charge"), ("short", "unshort", "short"),
                   ("diode_ok", "diode_fail", "diode_ok"), ("meter_fail", "meter_ok", "failed"),
                   ("reader_fail", "reader_ok", "failed")))
# The simulated chip's unique id (6 bytes, as an ESP32's MAC): the default serial number.
_SIM_CHIP_ID = const(b"\x51\x4d\x00\x00\x00\x01")


def check(events):
    """The scenario's events sorted by time; ValueError names an unknown event or a bad "at"."""
    for e in events:
        if e.get("do") not in _EVENTS:
            raise ValueError("scenario: unknown event %r (known: %s)" % (e.get("do"), ", ".join(_EVENTS)))
        if not isinstance(e.get("at"), (int, float)) or e["at"] < 0:
            raise ValueError("scenario: event %r needs a non-negative number 'at' (seconds)" % e.get("do"))
    return sorted(events, key=lambda e: e["at"])


def step(sim, now):
    """The scenario player's step (SimWorld.step(now) once an event is due): every event due by
    `now`, in order, has its effect on the SimWorld `sim` (hw.sim) and its connectors; returns them."""
    fired = []
    s = sim.scenario
    while s and s[0]["at"] * 1000 <= now:
        e = s.pop(0)
        fired.append(e)
        do = e["do"]
        c = sim.connectors[e.get("connector", 1) - 1]
        if do == "plug":
            c.plug()
        elif do == "unplug":
            c.unplug()
        elif do == "card":
            sim.tap(e["id"])
        elif do == "ev_full":
            c.capacity_wh = c.charged_wh
        elif do == "end":
            sim.ended = True
        else:
            for on, off, prop in _SWITCHES:
                if do in (on, off):
                    setattr(sim if on.startswith("reader") else c, prop, do == on)
    return fired


def build(board):
    """hal.Hardware of the sim board: one SimWorld (also the card reader), each SimConnector
    as a hal.Connector's pilot, relay, meter and lock."""
    sim = SimWorld()
    v = board.get("voltage_v", 230)
    ph = board.get("phases", 1)
    sim.connectors = []
    conns = []
    for _ in range(board.get("connectors", 1)):
        sc = SimConnector()
        sc.voltage_v, sc.phases = v, ph
        sc.max_amps = board.get("ev_max_amps", 32)
        sc.capacity_wh = board.get("ev_capacity_wh")
        sim.connectors.append(sc)
        c = Connector(sc, sc, sc, board.get("max_current_a", 32))  # pilot, relay, meter
        c.lock = sc
        conns.append(c)
    hw = Hardware(conns, reader=sim, board=board)
    hw.chip_id = _SIM_CHIP_ID
    hw.sim = sim
    return hw
