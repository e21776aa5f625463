# evse: pilot duty arithmetic, the interlock rules, connector status, against
# the simulated EV and relay (the same objects the simulator uses).
from evse import duty_percent, MIN_AMPS
from evse.interlock import Interlock
from evse.connector import Evse
from hal import Connector
from hal.sim import SimConnector, SimWorld
from limits import limit

FORCE_OPEN_AFTER_OFFER_STOP_MS = limit("evse.interlock", "_FORCE_OPEN_AFTER_OFFER_STOP_MS")
DEBOUNCE_BC_MS = limit("evse.connector", "_DEBOUNCE_BC_MS")
EV_READY_DELAY_MS = limit("hal.sim", "_EV_READY_DELAY_MS")


def amps_from_duty(duty):
    """The EV's side of IEC 61851-1 (the firmware never reads a duty back): the current
    limit an EV reads from a duty cycle in percent (0 when none)."""
    if duty < 8 or duty > 97:
        return 0
    if duty < 10:
        return MIN_AMPS
    if duty <= 85:
        return duty * 0.6
    return (duty - 64) * 2.5


def test_duty_formula_both_ranges():
    assert abs(duty_percent(6) - 10.0) < 1e-9
    assert abs(duty_percent(16) - 26.6667) < 1e-3
    assert abs(duty_percent(51) - 85.0) < 1e-9
    assert abs(duty_percent(63) - 89.2) < 1e-9
    assert abs(duty_percent(80) - 96.0) < 1e-9
    assert duty_percent(5) is None and duty_percent(0) is None and duty_percent(None) is None
    for a in (6, 10, 16, 32, 51, 63, 80):
        assert abs(amps_from_duty(duty_percent(a)) - a) < 1e-6


def make(max_amps=32):
    sc = SimConnector()  # the sim's pilot, relay and meter in one object, with its car (ev)
    e = Evse(1, Connector(sc, sc, sc, max_amps))
    return sc, sc, sc, e


def run(e, ev, t0, t1, step=100):
    world = SimWorld()
    world.connectors = [ev]  # the car moves with the world's step
    t = t0
    while t <= t1:
        world.step(t)
        e.step(t)
        t += step
    return t


def test_no_offer_and_open_without_permission():
    ev, pilot, relay, e = make()
    ev.plug()
    run(e, ev, 0, 5000)
    assert e.state == "B" and pilot.amps == 0 and not relay.closed
    assert e.status(False) == "Preparing"


def test_permission_offers_then_closes_in_c():
    ev, pilot, relay, e = make(max_amps=16)
    ev.plug()
    e.permit(True)
    t = run(e, ev, 0, 1000)
    assert pilot.amps == 16 and not relay.closed and e.status(True) == "SuspendedEV"
    t = run(e, ev, t, t + EV_READY_DELAY_MS + DEBOUNCE_BC_MS + 200)
    assert e.state == "C" and relay.closed and e.status(True) == "Charging"


def test_unplug_opens_at_once():
    ev, pilot, relay, e = make()
    ev.plug()
    e.permit(True)
    t = run(e, ev, 0, 4000)
    assert relay.closed
    ev.unplug()
    e.step(t)
    assert not relay.closed and e.state == "A"


def test_stop_lets_ev_open_first_then_forces_after_6s():
    relay = SimConnector()
    il = Interlock(relay)
    assert il.update(0, "C", True, True, 16, None, True) and relay.closed and il.reason == ("closed", "C", 16)
    # offer withdrawn, EV stays in C: contactor held until the grace time ends
    assert il.update(100, "C", True, False, 0, None, True)
    assert il.update(100 + FORCE_OPEN_AFTER_OFFER_STOP_MS - 1, "C", True, False, 0, None, True)
    assert not il.update(100 + FORCE_OPEN_AFTER_OFFER_STOP_MS, "C", True, False, 0, None, True)
    assert not relay.closed and il.reason == ("open", "offer stopped", "C")


def test_interlock_opens_on_every_unsafe_input():
    cases = (("A", True, None, True, ("pilot", "A")), ("B", True, None, True, ("pilot", "B")),
             ("E", True, None, True, ("pilot", "E")), ("F", True, None, True, ("pilot", "F")),
             ("C", False, None, True, ("diode",)),
             ("C", True, "PowerMeterFailure", True, ("fault", "PowerMeterFailure")),
             ("C", True, None, False, ("unavailable",)))
    for state, diode, fault, avail, why in cases:
        relay = SimConnector()
        il = Interlock(relay)
        assert il.update(0, "C", True, True, 16, None, True)
        il.update(100, state, diode, True, 16, fault, avail)
        assert not relay.closed and il.reason == ("open",) + why, (state, diode, fault, avail, il.reason)


def test_below_six_amps_no_offer_and_no_close():
    ev, pilot, relay, e = make()
    ev.plug()
    e.permit(True)
    e.set_limit(5)
    run(e, ev, 0, 5000)
    assert pilot.amps == 0 and not relay.closed and e.status(True) == "SuspendedEVSE"


def test_short_is_faulted_and_open():
    ev, pilot, relay, e = make()
    ev.plug()
    e.permit(True)
    t = run(e, ev, 0, 4000)
    ev.short = True
    e.step(t)
    assert not relay.closed and e.status(True) == "Faulted" and e.error_code() == "EVCommunicationError"


def test_b_c_flicker_is_debounced():
    ev, pilot, relay, e = make()
    ev.plug()
    e.permit(True)
    t = run(e, ev, 0, 4000)
    assert relay.closed
    ev.state = "B"  # S2 open
    e.step(t)  # one B sample: not yet acted on
    assert e.state == "C"
    ev.state = "C"
    e.step(t + 100)
    assert e.state == "C" and relay.closed


def test_meter_failure_keeps_last_reading():
    ev, pilot, relay, e = make()
    e.meter.energy_wh = 1234.0
    assert e.read_meter()["energy_wh"] == 1234.0
    e.meter.failed = True
    assert e.read_meter()["energy_wh"] == 1234.0
    assert e.meter_fault == "PowerMeterFailure" and e.energy_wh() == 1234
