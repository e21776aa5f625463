# HAL driver figures under the micropython unix port against the fake machine:
# time of one pilot sample-and-classify cycle (a 100-read ADC burst) and the heap
# each driver holds after construction. Figures, not assertions.
# Run: MICROPYPATH=.frozen:firmware:host_tests/fakes .venv/bin/micropython tools/bench_hal.py
import gc
import time

import machine
from hal_rig import pilot_rig, reader_rig, modbus_rig, PWM_PIN, ADC_PIN
from mfrc522_model import Card
from modbus_model import Sdm120Model

CYCLES = 200  # pilot cycles timed


def ticks_us():
    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return int(time.perf_counter() * 1000000)


def heap_of(make):
    """Bytes still allocated after make() returns: the driver plus the fake machine.Pin/
    PWM/ADC objects it creates (device models are built before the mark)."""
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    obj = make()
    gc.collect()
    after = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    return obj, after - before


def bench_pilot():
    from hal.esp32.pilot import Pilot
    p, ev, fe = pilot_rig("C")
    p.offer(16)
    for _ in range(5):
        p.sample()
    t0 = ticks_us()
    for _ in range(CYCLES):
        p.sample()
    dt = (ticks_us() - t0) / CYCLES
    print("pilot sample+classify: %.0f us per cycle (%d fake ADC reads, unix port)" % (dt, p.burst_reads))
    thresholds = p.thresholds
    pilot_rig("C")  # fresh fakes; the model is built before the heap mark
    _, heap = heap_of(lambda: Pilot(PWM_PIN, ADC_PIN, thresholds))
    return heap


def bench_relay():
    from hal.esp32.relay import Relay
    machine.reset_fakes()
    _, heap = heap_of(lambda: Relay(26, 34, 0))
    return heap


def bench_reader():
    from hal.esp32.mfrc522 import Mfrc522
    r, chip = reader_rig()
    spi = r.spi
    _, heap = heap_of(lambda: Mfrc522(spi, 5, 22))
    chip.present(Card(b"\x01\x02\x03\x04"))
    t0 = ticks_us()
    tag = r.poll()
    print("mfrc522 poll with a 4-byte card: %.0f us (%s)" % (ticks_us() - t0, tag))
    return heap


def bench_meter():
    from hal.esp32.meters import Sdm120
    m, bus = modbus_rig(Sdm120Model(1, 230.0, 16.0, 3680.0, 1.5))
    _, heap = heap_of(lambda: Sdm120(m, 1))
    return heap


def bench_modbus():
    from hal.esp32.modbus import ModbusRtu
    m, bus = modbus_rig(None)
    uart = m.uart
    _, heap = heap_of(lambda: ModbusRtu(uart, 4, 9600))
    return heap


def bench_watchdog():
    from hal.esp32.watchdog import Watchdog
    machine.reset_fakes()
    _, heap = heap_of(lambda: Watchdog(10000))
    return heap


def main():
    heaps = [("Pilot", bench_pilot()), ("Relay", bench_relay()), ("Mfrc522", bench_reader()),
             ("ModbusRtu", bench_modbus()), ("Sdm120", bench_meter()), ("Watchdog", bench_watchdog())]
    for name, h in heaps:
        print("heap after construction: %-10s %5d bytes" % (name, h))


main()
