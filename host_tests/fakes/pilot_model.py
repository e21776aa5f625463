# A control pilot front end on the fake ADC: turns an EV's state (A-E, diode
# present or not) and the duty of the PWM driving CP into the voltage the ADC
# sees at the moment of each read. Simulated time advances by a fixed amount per
# read, so a burst sweeps across the PWM waveform. Owns no driver logic.
import machine

# Positive CP level each EV state produces (volts, IEC 61851-1 table A.4).
STATE_HIGH_V = {"A": 12.0, "B": 9.0, "C": 6.0, "D": 3.0, "E": 0.0}
NEG_V = -12.0


class EvModel:
    """The vehicle side: state A (unplugged) .. D, E = CP shorted to PE."""

    def __init__(self, state="A", diode=True):
        self.state = state
        self.diode = diode
        self.high_v = None  # overrides the state's positive level (tests near thresholds)

    def cp_volts(self, drive_high):
        """CP level when the EVSE drives +12 V (drive_high) or -12 V."""
        if self.state == "E":
            return 0.0
        high = STATE_HIGH_V[self.state] if self.high_v is None else self.high_v
        if drive_high:
            return high
        if self.state == "A" or self.diode:
            return NEG_V
        # No diode: the EV's resistors load the negative half as they load the positive one.
        return -high


class PilotFrontEnd:
    """Vadc = offset + gain x Vcp (defaults: 1.713 V + 0.122 x Vcp, hardware.md)."""

    def __init__(self, ev, pwm_pin, adc_pin, offset_mv=1713, gain_mv_per_v=122,
                 us_per_read=37, noise_mv=0, seed=12345):
        self.ev = ev
        self.pwm_pin = pwm_pin
        self.offset_mv = offset_mv
        self.gain_mv_per_v = gain_mv_per_v
        self.us_per_read = us_per_read  # simulated time each ADC read takes
        self.noise_mv = noise_mv        # uniform noise +-noise_mv on every read
        self.t_us = 0
        self._rng = seed
        machine.attach_adc(adc_pin, self)

    def _noise_uv(self):
        if not self.noise_mv:
            return 0
        self._rng = (self._rng * 1103515245 + 12345) & 0x7FFFFFFF
        return ((self._rng >> 8) % (2 * self.noise_mv + 1) - self.noise_mv) * 1000

    def drive_high(self):
        """Is the EVSE driving +12 V at the current simulated instant?"""
        pwm = machine.pwm_on(self.pwm_pin)
        if pwm is None:
            return machine.level(self.pwm_pin) == 1
        duty = pwm.duty_u16()
        if duty >= 65535:
            return True
        if duty <= 0:
            return False
        period_us = 1000000 // pwm.freq()
        return (self.t_us % period_us) * 65535 < duty * period_us

    def cp_mv(self, vcp):
        return self.offset_mv + self.gain_mv_per_v * vcp

    def read_uv(self):
        v = self.ev.cp_volts(self.drive_high())
        self.t_us += self.us_per_read
        return int(self.cp_mv(v) * 1000) + self._noise_uv()
