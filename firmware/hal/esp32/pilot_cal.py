# Pilot calibration (on demand: Pilot.calibrate() loads it for the call and forgets it):
# the plateaus of states A, B and C measured with an EV simulator, and the thresholds
# they suggest for the board file. The contactor is never touched.
from compat import const
from hal.esp32.pilot import PilotError

_CAL_BURSTS = const(8)  # bursts averaged per state by calibrate()
_CAL_OFFER_A = const(10)  # PWM offered while calibrating, so the low plateau shows (no contactor)


def measure(p, bursts=_CAL_BURSTS):
    """Average (high, low) plateau in mV over several bursts."""
    hs = ls = 0
    for _ in range(bursts):
        h, l = p.burst()
        hs += h
        ls += l
    return hs // bursts, ls // bursts


def calibrate(p, wait=None, out=print):
    """Pilot.calibrate() of pilot `p`: the offer is restored afterwards."""
    if wait is None:
        wait = input
    saved_amps, saved_duty = p.amps, p.duty_u16
    levels = {}
    low = None
    try:
        p.offer(_CAL_OFFER_A)
        for s in ("A", "B", "C"):
            wait("Set the EV simulator to state %s, then press Enter" % s)
            h, l = measure(p)
            levels[s] = h
            out("state %s: high plateau %d mV, low plateau %d mV" % (s, h, l))
            low = l if low is None else min(low, l)
    finally:
        p.amps = saved_amps
        p._set_duty(saved_duty)
    t = suggest_thresholds(levels["A"], levels["B"], levels["C"], low)
    out('suggested "thresholds_mv": {"A": %d, "B": %d, "C": %d, "D": %d, "E": %d, "diode": %d}'
        % (t["A"], t["B"], t["C"], t["D"], t["E"], t["diode"]))
    return t


def suggest_thresholds(a_mv, b_mv, c_mv, low_mv):
    """Midpoints between measured plateaus; D (+3 V) and E (0 V) are extrapolated from the
    A-B-C step (3 V per state), the diode limit sits a half step above the -12 V level."""
    step = (a_mv - c_mv) // 2
    if step <= 0:
        raise PilotError("pilot calibration: plateaus do not fall from A to C (%d, %d, %d mV)"
                         % (a_mv, b_mv, c_mv))
    d_mv = c_mv - step
    e_mv = d_mv - step
    return {"A": (a_mv + b_mv) // 2, "B": (b_mv + c_mv) // 2, "C": (c_mv + d_mv) // 2,
            "D": (d_mv + e_mv) // 2, "E": (e_mv + low_mv) // 2, "diode": low_mv + step // 2}
