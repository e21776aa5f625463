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

READER_SPI, READER_CS, READER_RST = 2, 5, 22


def reader_rig(version=0x92, attach=True, away_polls=None):
    """An MFRC522 driver on SPI(2) CS GPIO5 with the register model (or nothing) on the bus."""
    from mfrc522_model import Mfrc522Model
    from hal.esp32.mfrc522 import Mfrc522
    machine.reset_fakes()
    chip = Mfrc522Model(version, READER_SPI, READER_CS) if attach else None
    spi = machine.SPI(READER_SPI, baudrate=1000000, sck=machine.Pin(18), mosi=machine.Pin(23),
                      miso=machine.Pin(19))
    kw = {} if away_polls is None else {"away_polls": away_polls}
    return Mfrc522(spi, READER_CS, READER_RST, **kw), chip

METER_UART, METER_DE = 2, 4


def modbus_rig(slave=None, baud=9600, de_pin=METER_DE, timeout_ms=30, **kw):
    """ModbusRtu on fake UART2 with an RS485 bus (DE on GPIO4) and `slave` on it."""
    from modbus_model import Rs485Bus
    from hal.esp32.modbus import ModbusRtu
    machine.reset_fakes()
    bus = Rs485Bus(METER_UART, de_pin)
    if slave is not None:
        bus.add(slave)
    uart = machine.UART(METER_UART, baudrate=baud, tx=17, rx=16)
    return ModbusRtu(uart, de_pin, baud, timeout_ms=timeout_ms, **kw), bus
