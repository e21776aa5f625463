# The sim board's boot and scenario side (on demand: hal.sim loads it for the call and
# forgets it): building the hardware from the board file, checking a scenario, and
# the due scenario events' effects on the simulated devices. No physics here (hal.sim).
from hal import Connector, Hardware
from hal.sim import SimWorld, SimEV, SimConnector, SimReader, SIM_CHIP_ID

# Scenario events: {"at": seconds, "do": name, ...}. See tools/README for the list.
EVENTS = ("plug", "unplug", "card", "ev_ready", "ev_pause", "ev_full", "short", "unshort",
          "diode_fail", "diode_ok", "meter_fail", "meter_ok", "reader_fail", "reader_ok", "end")


def check_scenario(events):
    """The events sorted by time; ValueError names an unknown event or a bad "at"."""
    for e in events:
        if e.get("do") not in EVENTS:
            raise ValueError("scenario: unknown event %r (known: %s)" % (e.get("do"), ", ".join(EVENTS)))
        if not isinstance(e.get("at"), (int, float)) or e["at"] < 0:
            raise ValueError("scenario: event %r needs a non-negative number 'at' (seconds)" % e.get("do"))
    return sorted(events, key=lambda e: e["at"])


def apply(world, now):
    """SimWorld.step(now) once an event is due: every event due by `now`, in order, has
    its effect on the SimWorld's devices; returns them."""
    fired = []
    s = world.scenario
    while s and s[0]["at"] * 1000 <= now:
        e = s.pop(0)
        fired.append(e)
        do = e["do"]
        c = e.get("connector", 1) - 1
        ev = world.evs[c]
        if do == "plug":
            ev.plug()
        elif do == "unplug":
            ev.unplug()
        elif do == "card":
            world.reader.tap(e["id"])
        elif do in ("ev_ready", "ev_pause"):
            ev.wants_charge = do == "ev_ready"
        elif do == "ev_full":
            ev.capacity_wh = ev.charged_wh
        elif do in ("short", "unshort"):
            ev.short = do == "short"
        elif do in ("diode_fail", "diode_ok"):
            ev.diode = do == "diode_ok"
        elif do in ("meter_fail", "meter_ok"):
            world.connectors[c].failed = do == "meter_fail"
        elif do in ("reader_fail", "reader_ok"):
            world.reader.failed = do == "reader_fail"
        elif do == "end":
            world.ended = True
    return fired


def build(board):
    """hal.Hardware of the sim board: one SimWorld, each SimConnector as a hal.Connector's pilot,
    relay, meter and lock."""
    n = board.get("connectors", 1)
    world = SimWorld()
    world.voltage_v = v = board.get("voltage_v", 230)
    world.phases = ph = board.get("phases", 1)
    world.evs = [SimEV(board.get("ev_max_amps", 32), board.get("ev_capacity_wh")) for _ in range(n)]
    world.connectors = [SimConnector(ev) for ev in world.evs]
    conns = []
    for sc in world.connectors:
        sc.voltage_v, sc.phases = v, ph
        c = Connector(sc, sc, sc, board.get("max_current_a", 32))  # pilot, relay, meter
        c.lock = sc
        conns.append(c)
    world.reader = SimReader()
    hw = Hardware(conns, reader=world.reader, board=board)
    hw.chip_id = SIM_CHIP_ID
    hw.sim = world
    return hw
