# IEC 61851 charging control: pilot states, the safety interlock, the current
# offer and the OCPP connector status they imply. No network, no flash.
# Here (the package, imported with any of its modules: a module of its own costs ~300 B):
# the IEC 61851-1 duty cycle arithmetic, shared by the drivers and the simulator. Pure
# functions, no I/O. (The EV's side, reading a duty back: host_tests/portable/test_evse.py.)

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
