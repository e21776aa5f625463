# Control pilot driver: 1 kHz PWM out (machine.PWM) and an ADC burst in, classified
# into IEC 61851 states A-F with per-board thresholds, debounced, with the diode
# check on the low plateau. It never touches the relay (evse.interlock does).
import machine

from evse.pilot import duty_percent

FREQ_HZ = 1000           # IEC 61851-1 pilot frequency
DUTY_FULL = 65535        # duty_u16 of a constant +12 V (no offer)
BURST_READS = 100        # ADC reads per sample(); ~35-45 us each on ESP32 = ~4 PWM periods
DEBOUNCE_SAMPLES = 3     # a new state must be seen this many samples in a row ...
STOP_DEBOUNCE_SAMPLES = 2  # ... except A, E, F (they open the contactor): this many
DIODE_DEBOUNCE_SAMPLES = 2  # samples in a row without a -12 V plateau before diode_ok is False
CAL_BURSTS = 8           # bursts averaged per state by calibrate()
CAL_OFFER_A = 10         # PWM offered while calibrating, so the low plateau shows (no contactor)

STATES = ("A", "B", "C", "D", "E")  # threshold keys, highest plateau first
STOP_STATES = ("A", "E", "F")


class PilotError(ValueError):
    pass


def duty_u16_for(amps):
    """duty_u16 offering `amps` (IEC 61851 both ranges); DUTY_FULL for no offer (< 6 A)."""
    d = duty_percent(amps)
    if d is None:
        return DUTY_FULL
    return int(d * 655.35 + 0.5)


def classify(high_mv, thresholds):
    """State for a high plateau: the first state whose lower bound it reaches; below E: F."""
    for s in STATES:
        if high_mv >= thresholds[s]:
            return s
    return "F"


class Pilot:
    """pwm_pin, adc_pin: GPIO numbers. thresholds_mv: {"A","B","C","D","E": lower bound of
    that state's high plateau in mV, "diode": the low plateau must be at or below this}."""

    def __init__(self, pwm_pin, adc_pin, thresholds_mv, burst_reads=BURST_READS,
                 debounce=DEBOUNCE_SAMPLES, stop_debounce=STOP_DEBOUNCE_SAMPLES,
                 adc_full_scale_mv=None):
        # adc_full_scale_mv: None on ESP32; the ADC range (1000) on ESP8266.
        for k in STATES + ("diode",):
            if not isinstance(thresholds_mv.get(k), int):
                raise PilotError("pilot: thresholds_mv needs an integer %r (mV)" % k)
        self.thresholds = thresholds_mv
        self.burst_reads = burst_reads
        self.debounce = debounce
        self.stop_debounce = stop_debounce
        self.pwm = machine.PWM(machine.Pin(pwm_pin), freq=FREQ_HZ, duty_u16=DUTY_FULL)
        if adc_full_scale_mv is None:
            # ESP32: 11 dB attenuation, read_uv() corrects with the eFuse calibration.
            self.adc = machine.ADC(machine.Pin(adc_pin), atten=machine.ADC.ATTN_11DB)
            self._uv = self.adc.read_uv
        else:
            # ESP8266: ADC(0) has no attenuation nor read_uv; read_u16 spans 0..full scale.
            self.adc = machine.ADC(adc_pin)
            self._uv = None
        self._full_scale_mv = adc_full_scale_mv
        self.amps = 0
        self.duty_u16 = DUTY_FULL
        self.state = "A"          # the debounced state (the EVSE powers up driving +12 V)
        self.diode_ok = True
        self.high_mv = self.low_mv = 0  # plateaus of the last burst
        self._cand = None
        self._cand_n = 0
        self._diode_bad_n = 0

    # ------------------------------------------------------------- output
    def _set_duty(self, d):
        if d != self.duty_u16:  # rewriting the same duty would restart the PWM period
            self.duty_u16 = d
            self.pwm.duty_u16(d)

    def offer(self, amps):
        """PWM offering `amps`. 0/None or below 6 A: no offer (constant +12 V), amps = 0;
        above 80 A: 80 A. Not a number: PilotError."""
        if amps is None:
            amps = 0
        if not isinstance(amps, (int, float)) or amps < 0:
            raise PilotError("pilot: offer() needs a non-negative number of amps, got %r" % (amps,))
        d = duty_u16_for(amps)
        self.amps = 0 if d == DUTY_FULL else min(amps, 80)
        self._set_duty(d)

    def disable(self):
        """Constant -12 V: state F, charger not available."""
        self.amps = 0
        self._set_duty(0)

    # -------------------------------------------------------------- input
    def read_mv(self):
        if self._uv is not None:
            return self._uv() // 1000
        return self.adc.read_u16() * self._full_scale_mv // 65535

    def burst(self):
        """(high, low) plateau in mV over one burst of ADC reads."""
        hi = -1
        lo = 1 << 30
        read = self.read_mv
        for _ in range(self.burst_reads):
            v = read()
            if v > hi:
                hi = v
            if v < lo:
                lo = v
        self.high_mv, self.low_mv = hi, lo
        return hi, lo

    def sample(self):
        """One burst, classified and debounced -> (state, diode_ok)."""
        hi, lo = self.burst()
        raw = classify(hi, self.thresholds)
        if raw == self.state:
            self._cand, self._cand_n = None, 0
        elif raw == self._cand:
            self._cand_n += 1
        else:
            self._cand, self._cand_n = raw, 1
        if self._cand is not None:
            need = self.stop_debounce if raw in STOP_STATES else self.debounce
            if self._cand_n >= need:
                self.state = raw
                self._cand, self._cand_n = None, 0
        # The diode is only checked while PWM runs: a vehicle state with a -12 V half-wave.
        pwm_runs = 0 < self.duty_u16 < DUTY_FULL and raw in ("B", "C", "D")
        if pwm_runs and lo > self.thresholds["diode"]:
            self._diode_bad_n += 1
        else:
            self._diode_bad_n = 0
        self.diode_ok = self._diode_bad_n < DIODE_DEBOUNCE_SAMPLES
        return self.state, self.diode_ok

    # -------------------------------------------------------- calibration
    def measure(self, bursts=CAL_BURSTS):
        """Average (high, low) plateau in mV over several bursts."""
        hs = ls = 0
        for _ in range(bursts):
            h, l = self.burst()
            hs += h
            ls += l
        return hs // bursts, ls // bursts

    def calibrate(self, wait=None, out=print):
        """Measure the plateaus of states A, B and C with an EV simulator (or tester) and
        suggest thresholds. wait(prompt) is called before each state (default: input()).
        Returns the suggested thresholds dict; the contactor is never touched."""
        if wait is None:
            wait = input
        saved_amps, saved_duty = self.amps, self.duty_u16
        levels = {}
        low = None
        try:
            self.offer(CAL_OFFER_A)
            for s in ("A", "B", "C"):
                wait("Set the EV simulator to state %s, then press Enter" % s)
                h, l = self.measure()
                levels[s] = h
                out("state %s: high plateau %d mV, low plateau %d mV" % (s, h, l))
                low = l if low is None else min(low, l)
        finally:
            self.amps = saved_amps
            self._set_duty(saved_duty)
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
