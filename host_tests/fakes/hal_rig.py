# Test rigs for the esp32 drivers: wire the real driver classes to the fake
# machine module and its device models the way a board file would. Shared by
# the portable tests, the CPython tests and tools/bench_hal.py.
import machine
from pilot_model import EvModel, PilotFrontEnd

# Thresholds of boards/esp32-devkitc.json (front end 1.713 V + 0.122 x Vcp).
DEVKITC_THRESHOLDS = {"A": 2994, "B": 2628, "C": 2262, "D": 1896, "E": 981, "diode": 432}
PWM_PIN, ADC_PIN = 25, 36


def pilot_rig(state="A", diode=True, noise_mv=0, thresholds=None, **kw):
    from hal.esp32.pilot import Pilot
    machine.reset_fakes()
    ev = EvModel(state, diode)
    fe = PilotFrontEnd(ev, PWM_PIN, ADC_PIN, noise_mv=noise_mv)
    p = Pilot(PWM_PIN, ADC_PIN, thresholds or DEVKITC_THRESHOLDS, **kw)
    return p, ev, fe


def settle(pilot, n=5):
    r = None
    for _ in range(n):
        r = pilot.sample()
    return r
