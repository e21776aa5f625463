# The fakes themselves (host_tests/fakes): they must behave like the devices
# closely enough that a driver passing against them is right on hardware. Also
# runs tools/bench_hal.py under micropython so the benchmark keeps working.
import os
import struct
import sys

import mpy

FAKES = os.path.join(mpy.HOST_TESTS, "fakes")
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

import machine  # noqa: E402
from pilot_model import EvModel, PilotFrontEnd  # noqa: E402
from mfrc522_model import Mfrc522Model, Card, crc_a  # noqa: E402
from modbus_model import Rs485Bus, ModbusSlave, crc16, frame  # noqa: E402


def test_front_end_follows_the_pwm_waveform():
    machine.reset_fakes()
    ev = EvModel("C")
    fe = PilotFrontEnd(ev, 25, 36, us_per_read=37)
    pwm = machine.PWM(machine.Pin(25), freq=1000, duty_u16=int(26.667 * 655.35))
    adc = machine.ADC(machine.Pin(36), atten=machine.ADC.ATTN_11DB)
    reads = [adc.read_uv() // 1000 for _ in range(10000)]
    high = sum(1 for r in reads if r == 1713 + 122 * 6)
    low = sum(1 for r in reads if r == 1713 - 122 * 12)
    assert high + low == len(reads)
    assert abs(high / len(reads) - 0.26667) < 0.01
    pwm.duty_u16(65535)
    assert adc.read_uv() // 1000 == 1713 + 122 * 6
    pwm.duty_u16(0)
    assert adc.read_uv() // 1000 == 1713 - 122 * 12


def test_adc_saturates_like_attn_11db():
    machine.reset_fakes()
    PilotFrontEnd(EvModel("A"), 25, 36)
    machine.PWM(machine.Pin(25), freq=1000, duty_u16=65535)
    assert machine.ADC(machine.Pin(36)).read_uv() == 3100000  # 3.18 V clipped


def test_spi_without_device_floats_high():
    machine.reset_fakes()
    spi = machine.SPI(2)
    assert spi.read(3) == b"\xff\xff\xff"


def test_mfrc522_model_address_protocol_and_crc():
    machine.reset_fakes()
    chip = Mfrc522Model(0x92, 2, 5)
    spi = machine.SPI(2)
    cs = machine.Pin(5, machine.Pin.OUT, value=1)
    # read two registers in one transaction: MISO lags MOSI by one byte
    buf = bytearray([0x80 | (0x37 << 1), 0x80 | (0x14 << 1), 0x00])
    cs(0)
    spi.write_readinto(buf, buf)
    cs(1)
    assert buf[1] == 0x92 and buf[2] == 0x80
    assert crc_a(b"\x50\x00") == 0xCD57  # ISO 14443-3 HLTA
    # cards follow ISO 14443-3 states: a halted card ignores REQA, answers WUPA
    card = Card(b"\x01\x02\x03\x04")
    assert card.receive(b"\x26", 7) == b"\x04\x00"
    card.state = Card.HALT
    assert card.receive(b"\x26", 7) is None
    assert card.receive(b"\x52", 7) == b"\x04\x00"
    assert Card(b"\x01\x02\x03\x04\x05\x06\x07").receive(b"\x52", 7) == b"\x44\x00"


def test_modbus_model_reply_format():
    machine.reset_fakes()
    bus = Rs485Bus(2, None)
    s = bus.add(ModbusSlave(1))
    s.set_float(4, 0, 230.0)
    uart = machine.UART(2, 9600)
    uart.write(bytes.fromhex("010400000002") + bytes((0x71, 0xCB)))
    reply = uart.read()
    assert reply[:3] == b"\x01\x04\x04"
    assert struct.unpack(">f", reply[3:7])[0] == 230.0
    assert crc16(reply[:-2]) == reply[-2] | (reply[-1] << 8)
    uart.write(b"\x01\x04\x00\x00\x00\x02\x00\x00")  # bad CRC: the slave stays silent
    assert uart.read() is None
    assert frame(b"\x01\x84\x02")[:3] == b"\x01\x84\x02"


def test_bench_hal_runs_on_micropython():
    r = mpy.run([os.path.join(mpy.ROOT, "tools", "bench_hal.py")], extra_path=(FAKES,))
    assert r.returncode == 0, r.stderr
    assert "pilot sample+classify:" in r.stdout
    for name in ("Pilot", "Relay", "Mfrc522", "ModbusRtu", "Sdm120", "Watchdog"):
        assert "heap after construction: %-10s" % name in r.stdout, r.stdout
