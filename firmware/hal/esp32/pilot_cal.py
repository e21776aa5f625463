# Pilot set-up and calibration (on demand: Pilot() and Pilot.calibrate() load it for the
# call and forget it): the thresholds check, PWM and ADC; the plateaus of states A, B and C
# measured with an EV simulator, and the thresholds they suggest for the board file. The
# contactor is never touched.
import machine

from compat import const
from hal.esp32.pilot import PilotError, duty_u16_for

_FREQ_HZ = const(1000)   # IEC 61851-1 pilot frequency

_CAL_BURSTS = const(8)  # bursts averaged per state by calibrate()
_CAL_OFFER_A = const(10)  # PWM offered while calibrating, so the low plateau shows (no contactor)


def setup(p, pwm_pin, adc_pin, thresholds_mv, burst_reads, debounce, stop_debounce, adc_full_scale_mv):
    """Pilot.__init__ of pilot `p` (its arguments): PilotError names a missing threshold."""
    full = duty_u16_for(0)  # constant +12 V: no offer
    # adc_full_scale_mv: None on ESP32; the ADC range (1000) on ESP8266.
    for k in ("A", "B", "C", "D", "E", "diode"):
        if not isinstance(thresholds_mv.get(k), int):
            raise PilotError("pilot: thresholds_mv needs an integer %r (mV)" % k)
    p.thresholds = thresholds_mv
    p.burst_reads = burst_reads
    p.debounce = debounce
    p.stop_debounce = stop_debounce
    p.pwm = machine.PWM(machine.Pin(pwm_pin), freq=_FREQ_HZ, duty_u16=full)
    if adc_full_scale_mv is None:
        # ESP32: 11 dB attenuation, read_uv() corrects with the eFuse calibration.
        p.adc = machine.ADC(machine.Pin(adc_pin), atten=machine.ADC.ATTN_11DB)
    else:
        # ESP8266: ADC(0) has no attenuation nor read_uv; read_u16 spans 0..full scale.
        p.adc = machine.ADC(adc_pin)
    p._full_scale_mv = adc_full_scale_mv
    p.amps = 0
    p.duty_u16 = full
    p.state = "A"          # the debounced state (the EVSE powers up driving +12 V)
    p.diode_ok = True
    p.high_mv = p.low_mv = 0  # plateaus of the last burst
    p._cand = None
    p._cand_n = 0
    p._diode_bad_n = 0


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
