# Control pilot driver: 1 kHz PWM out (machine.PWM) and an ADC burst in, classified
# into IEC 61851 states A-F with per-board thresholds, debounced, with the diode
# check on the low plateau (set-up and calibration: the on-demand pilot_cal.py). It
# never touches the relay (evse.interlock does).
from compat import const
from evse import duty_percent
from hal import on_demand

_DUTY_FULL = const(65535)  # duty_u16 of a constant +12 V (no offer)
_BURST_READS = const(100)  # ADC reads per sample(); ~35-45 us each on ESP32 = ~4 PWM periods
DEBOUNCE_SAMPLES = 3     # a new state must be seen this many samples in a row ...
STOP_DEBOUNCE_SAMPLES = 2  # ... except A, E, F (they open the contactor): this many
_DIODE_DEBOUNCE_SAMPLES = const(2)  # samples in a row without a -12 V plateau before diode_ok is False

_STATES = const(("A", "B", "C", "D", "E"))  # threshold keys (and "diode"), highest plateau first
_STOP_STATES = const(("A", "E", "F"))


PilotError = ValueError  # a bad offer or threshold (the name callers catch; no class of its own: ~200 B)


def duty_u16_for(amps):
    """duty_u16 offering `amps` (IEC 61851 both ranges); _DUTY_FULL for no offer (< 6 A)."""
    d = duty_percent(amps)
    if d is None:
        return _DUTY_FULL
    return int(d * 655.35 + 0.5)


def classify(high_mv, thresholds):
    """State for a high plateau: the first state whose lower bound it reaches; below E: F."""
    for s in _STATES:
        if high_mv >= thresholds[s]:
            return s
    return "F"


class Pilot:
    """pwm_pin, adc_pin: GPIO numbers. thresholds_mv: {"A","B","C","D","E": lower bound of
    that state's high plateau in mV, "diode": the low plateau must be at or below this}."""

    def __init__(self, pwm_pin, adc_pin, thresholds_mv, burst_reads=_BURST_READS,
                 debounce=DEBOUNCE_SAMPLES, stop_debounce=STOP_DEBOUNCE_SAMPLES,
                 adc_full_scale_mv=None):
        # The set-up (thresholds check, PWM and ADC, state): pilot_cal.py, loaded for the call.
        on_demand("OtherError", "hal.esp32.pilot_cal", "setup", self, pwm_pin, adc_pin, thresholds_mv,
                  burst_reads, debounce, stop_debounce, adc_full_scale_mv)

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
        self.amps = 0 if d == _DUTY_FULL else min(amps, 80)
        self._set_duty(d)

    def disable(self):
        """Constant -12 V: state F, charger not available."""
        self.amps = 0
        self._set_duty(0)

    # -------------------------------------------------------------- input
    def burst(self):
        """(high, low) plateau in mV over one burst of ADC reads. The raw extremes are
        scaled once: the scaling is monotonic, so it commutes with max and min."""
        hi = -1
        lo = 1 << 30
        fs = self._full_scale_mv
        read = self.adc.read_uv if fs is None else self.adc.read_u16
        for _ in range(self.burst_reads):
            v = read()
            if v > hi:
                hi = v
            if v < lo:
                lo = v
        if fs is None:
            hi, lo = hi // 1000, lo // 1000
        else:
            hi, lo = hi * fs // 65535, lo * fs // 65535
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
            need = self.stop_debounce if raw in _STOP_STATES else self.debounce
            if self._cand_n >= need:
                self.state = raw
                self._cand, self._cand_n = None, 0
        # The diode is only checked while PWM runs: a vehicle state with a -12 V half-wave.
        pwm_runs = 0 < self.duty_u16 < _DUTY_FULL and raw in ("B", "C", "D")
        if pwm_runs and lo > self.thresholds["diode"]:
            self._diode_bad_n += 1
        else:
            self._diode_bad_n = 0
        self.diode_ok = self._diode_bad_n < _DIODE_DEBOUNCE_SAMPLES
        return self.state, self.diode_ok

    def calibrate(self, wait=None, out=print):
        """Measure the plateaus of states A, B and C with an EV simulator (or tester) and
        suggest thresholds (pilot_cal.py, loaded for the call). wait(prompt) is called
        before each state (default: input()). Returns the suggested thresholds dict."""
        return on_demand("OtherError", "hal.esp32.pilot_cal", "calibrate", self, wait, out)
