# IEC 61851-1 duty cycle arithmetic, shared by the drivers and the simulator.
# Pure functions, no I/O.

from compat import const
MIN_AMPS = 6
_MAX_AMPS = const(80)


def duty_percent(amps):
    """PWM duty (percent) that offers `amps`; None when no valid duty exists (< 6 A)."""
    if amps is None or amps < MIN_AMPS:
        return None
    if amps > _MAX_AMPS:
        amps = _MAX_AMPS
    if amps <= 51:
        return amps / 0.6
    return amps / 2.5 + 64


def amps_from_duty(duty):
    """Current limit an EV reads from a duty cycle in percent (0 when none)."""
    if duty < 8 or duty > 97:
        return 0
    if duty < 10:
        return MIN_AMPS
    if duty <= 85:
        return duty * 0.6
    return (duty - 64) * 2.5
