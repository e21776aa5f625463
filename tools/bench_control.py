# Control-loop figures under the micropython unix port against the fake machine:
# one pilot sample-and-classify cycle (real driver, 100-read ADC burst on the fake
# front end) and one control-loop iteration (evse.step: sample + faults + interlock,
# real relay driver with its feedback check), with the driver calls they make.
# Figures only, no assertions. Host figures: an ESP32 at 240 MHz is ~20-50x slower.
# Run: MICROPYPATH=.frozen:firmware:host_tests/fakes .venv/bin/micropython tools/bench_control.py
import time

import machine
from hal_rig import pilot_rig
from hal import Connector
from hal.esp32.relay import Relay
from evse.connector import Evse
from evse.interlock import SAMPLE_PERIOD_MS

CYCLES = 300
COIL, FEEDBACK = 26, 34


def ticks_us():
    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return int(time.perf_counter() * 1000000)


def elapsed_us(t0):
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_us(), t0)
    return ticks_us() - t0


class Counting:
    """Wraps a source's read_uv to count ADC reads."""

    def __init__(self, fe):
        self.fe = fe
        self.n = 0

    def read_uv(self):
        self.n += 1
        return self.fe.read_uv()


def rig(state="C"):
    p, ev, fe = pilot_rig(state)
    counter = Counting(fe)
    machine.attach_adc(36, counter)
    relay = Relay(COIL, feedback_pin=FEEDBACK)
    switches = [0]

    def coil(level):
        switches[0] += 1
        machine.drive(FEEDBACK, level)
    machine.watch(COIL, coil)
    e = Evse(1, Connector(p, relay, None, 32))
    # the latest meter reading, as the meter task leaves it (the over-current check reads it)
    e.reading = {"energy_wh": 0.0, "power_w": 0.0, "current_a": [16.0], "voltage_v": [230.0]}
    return p, ev, e, counter, switches


def bench_sample():
    p, ev, e, counter, switches = rig()
    p.offer(16)
    for _ in range(5):
        p.sample()
    counter.n = 0
    t0 = ticks_us()
    for _ in range(CYCLES):
        p.sample()
    us = elapsed_us(t0)
    print("pilot sample+classify: %d us per cycle, %d ADC reads per cycle" % (us // CYCLES, counter.n // CYCLES))


def bench_step(label, state, permit):
    p, ev, e, counter, switches = rig(state)
    e.permit(permit)
    now = 0
    for _ in range(40):  # settle: debounce, offer, contactor
        e.step(now)
        now += SAMPLE_PERIOD_MS
    counter.n = 0
    s0 = switches[0]
    t0 = ticks_us()
    for _ in range(CYCLES):
        e.step(now)
        now += SAMPLE_PERIOD_MS
    us = elapsed_us(t0)
    print("evse.step (%s): %d us per iteration, %d ADC reads, %d contactor switches in %d steps, closed=%s" % (
        label, us // CYCLES, counter.n // CYCLES, switches[0] - s0, CYCLES, e.relay.closed))
    return us // CYCLES


def bench_unplug():
    """Steps from the EV leaving C (charging) to the contactor open."""
    p, ev, e, counter, switches = rig("C")
    e.permit(True)
    now = 0
    for _ in range(40):
        e.step(now)
        now += SAMPLE_PERIOD_MS
    ev.state = "A"
    n = 0
    t0 = ticks_us()
    while e.relay.closed and n < 20:
        e.step(now)
        now += SAMPLE_PERIOD_MS
        n += 1
    print("A while charging -> contactor open: %d samples (%d ms at %d ms per sample), %d us of CPU" % (
        n, n * SAMPLE_PERIOD_MS, SAMPLE_PERIOD_MS, elapsed_us(t0)))


def main():
    bench_sample()
    bench_step("idle, state A", "A", False)
    us = bench_step("charging, state C", "C", True)
    bench_unplug()
    print("timer every %d ms: %.2f %% of this host's CPU while charging" % (
        SAMPLE_PERIOD_MS, us * 100.0 / (SAMPLE_PERIOD_MS * 1000)))


main()
