# A control pilot front end on the fake ADC: turns an EV's state (A-E, diode
# present or not) and the duty of the PWM driving CP into the voltage the ADC
# sees at the moment of each read. Simulated time advances by a fixed amount per
# read, so a burst sweeps across the PWM waveform. Owns no driver logic.
import machine


class EvModel:
    """The vehicle side: state A (unplugged) .. D, E = CP shorted to PE."""

    def __init__(self, state="A", diode=True):
        self.state = state
        self.diode = diode
        self.high_v = None  # overrides the state's positive level (tests near thresholds)


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
        self.ticks = 0                  # simulated time (us)
        self.seed = seed                # the noise generator's state
        machine.attach_adc(adc_pin, self)

    def cp_mv(self, v):
        """The ADC input (mV) for a CP level of v volts."""
        return self.offset_mv + self.gain_mv_per_v * v

    def read_uv(self):
        # Is the EVSE driving +12 V at this simulated instant (else -12 V)?
        pwm = machine.pwm_on(self.pwm_pin)
        if pwm is None:
            high = machine.level(self.pwm_pin) == 1
        else:
            duty = pwm.duty_u16()
            high = duty >= 65535
            if 0 < duty < 65535:
                period_us = 1000000 // pwm.freq()
                high = (self.ticks % period_us) * 65535 < duty * period_us
        # The CP level: the EV's positive level (IEC 61851-1 table A.4) while driven high;
        # -12 V through the diode, or without one the EV's resistors load the negative half
        # as they load the positive one; state E shorts CP to PE.
        ev = self.ev
        v = (12.0, 9.0, 6.0, 3.0, 0.0)[ord(ev.state) - 65] if ev.high_v is None else ev.high_v  # A..E
        if ev.state == "E":
            v = 0.0
        elif not high:
            v = -12.0 if ev.state == "A" or ev.diode else -v
        self.ticks += self.us_per_read
        uv = int(self.cp_mv(v) * 1000)
        if self.noise_mv:  # uniform, from a small LCG (the same run to run)
            self.seed = (self.seed * 1103515245 + 12345) & 0x7FFFFFFF
            uv += ((self.seed >> 8) % (2 * self.noise_mv + 1) - self.noise_mv) * 1000
        return uv
