# Modbus RTU master and meter maps (hal/esp32/modbus.py, meters.py) against slaves
# on the fake UART/RS485 bus: CRC, frames, DE timing, timeout/CRC/exception with
# retries, SDM120/SDM630/ABB B23 maps, meter loss. Runs on CPython and MicroPython.
import sys

_fakes = __file__.rsplit("/", 2)[0] + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import machine
from hal import HalError
from hal_rig import modbus_rig, METER_DE
from modbus_model import ModbusSlave, Sdm120Model, Sdm630Model, AbbB23Model
from hal.esp32 import modbus
from hal.esp32.modbus import crc16, request, ModbusError, char_us
from hal.esp32.setup import silence_us
from hal.esp32.meters import Sdm120
from hal.esp32.meter_sdm630 import Sdm630
from hal.esp32.meter_abb_b23 import AbbB23


def near(a, b, eps=0.01):
    return abs(a - b) <= eps


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x4B37


def test_read_voltage_request_frame():
    assert request(1, 4, 0x0000, 2) == bytes((0x01, 0x04, 0x00, 0x00, 0x00, 0x02, 0x71, 0xCB))


def test_silence_and_char_time():
    for baud in (1200, 2400, 9600, 19200):
        assert abs(char_us(baud) - 11e6 / baud) < 1             # 11 bits per character
        assert abs(silence_us(baud) - 3.5 * 11e6 / baud) < 3    # 3.5 characters
    for baud in (38400, 57600, 115200):
        assert silence_us(baud) == 1750                         # fixed above 19200 baud


def test_reply_decoded_and_de_released():
    s = ModbusSlave(1)
    s.set_float(4, 0, 231.5)
    m, bus = modbus_rig(s)
    data = m.read_registers(1, 4, 0, 2)
    assert len(data) == 4
    import struct
    assert near(struct.unpack(">f", data)[0], 231.5)
    assert bus.requests == [request(1, 4, 0, 2)]
    assert bus.lost == []
    assert machine.level(METER_DE) == 0  # receiver enabled again
    assert m.uart.flushes == 1


def test_de_sequence_on_the_line():
    # DE up, frame, flush while DE is still up, then DE down before the reply is read.
    s = Sdm120Model(1, 230.0)
    m, bus = modbus_rig(s)
    m.read_registers(1, 4, 0, 2)
    m.read_registers(1, 4, 6, 2)
    frame = request(1, 4, 0, 2)
    assert bus.line[:4] == [("de", 1), ("tx", frame), ("flush", 1), ("de", 0)], bus.line
    assert bus.line[4:8] == [("de", 1), ("tx", request(1, 4, 6, 2)), ("flush", 1), ("de", 0)]


def test_de_low_means_the_frame_never_reaches_the_bus():
    # A driver that forgot DE would see nothing but timeouts: the bus model enforces it.
    s = Sdm120Model(1, 230.0)
    m, bus = modbus_rig(s, retries=0)
    m.de = None   # sabotage: no DE drive
    try:
        m.read_registers(1, 4, 0, 2)
        assert False
    except ModbusError as e:
        assert e.stat == "timeouts"
    assert bus.lost and not bus.requests


def test_timeout_then_retry_succeeds():
    s = Sdm120Model(1, 229.0)
    m, bus = modbus_rig(s)
    s.silent = 1
    data = m.read_registers(1, 4, 0, 2)
    assert len(data) == 4 and len(bus.requests) == 2
    assert m.stats["timeouts"] == 1 and m.stats["retries"] == 1


def test_timeout_after_all_retries():
    s = Sdm120Model(1)
    m, bus = modbus_rig(s, retries=2)
    s.silent = 10
    try:
        m.read_registers(1, 4, 0, 2)
        assert False
    except ModbusError as e:
        assert e.stat == "timeouts" and "slave 1" in str(e)
    assert len(bus.requests) == 3


def test_crc_error_then_retry():
    s = Sdm120Model(1, 230.0)
    m, bus = modbus_rig(s)
    s.bad_crc = 1
    assert len(m.read_registers(1, 4, 0, 2)) == 4
    assert m.stats["crc"] == 1
    s.bad_crc = 5
    try:
        m.read_registers(1, 4, 0, 2)
        assert False
    except ModbusError as e:
        assert e.stat == "crc" and "CRC mismatch" in str(e)


def test_exception_response_named_with_code():
    s = Sdm120Model(1)
    m, bus = modbus_rig(s)
    try:
        m.read_registers(1, 4, 0x7000, 2)   # not mapped: illegal data address
        assert False
    except ModbusError as e:
        assert e.stat == "exceptions" and e.code == 2 and "exception 2" in str(e)
    assert len(bus.requests) == 1   # a definite answer is not retried


def test_busy_exception_is_retried():
    s = Sdm120Model(1)
    m, bus = modbus_rig(s, retries=2)
    s.exception = 6
    try:
        m.read_registers(1, 4, 0, 2)
        assert False
    except ModbusError as e:
        assert e.stat == "exceptions" and e.code == 6
    assert len(bus.requests) == 3


def test_reply_from_wrong_slave_is_a_frame_error():
    s = Sdm120Model(2)
    m, bus = modbus_rig(None, retries=0)
    bus.slaves[1] = s   # answers with its own address 2
    try:
        m.read_registers(1, 4, 0, 2)
        assert False
    except ModbusError as e:
        assert e.stat == "crc" and "reply of slave 2" in str(e)


def test_bad_arguments_are_value_errors():
    m, bus = modbus_rig(None)
    for args in ((0, 4, 0, 2), (1, 6, 0, 2), (1, 4, 0, 126), (248, 4, 0, 1)):
        try:
            m.read_registers(*args)
            assert False, args
        except ValueError:
            pass


def test_sdm120_map():
    s = Sdm120Model(1, voltage=231.2, current=15.5, power=3580.0, import_kwh=1234.5)
    m, bus = modbus_rig(s, baud=2400)
    r = Sdm120(m, 1).read()
    assert near(r["voltage_v"][0], 231.2) and len(r["voltage_v"]) == 1
    assert near(r["current_a"][0], 15.5) and near(r["power_w"], 3580.0)
    assert near(r["energy_wh"], 1234500.0, 100)   # float32 of 1234.5 kWh
    assert {f[1] for f in bus.requests} == {4}


def test_sdm630_map():
    s = Sdm630Model(1, voltages=(230.1, 231.2, 229.3), currents=(16.0, 15.9, 16.1), power=11000.0,
                    import_kwh=42.25)
    m, bus = modbus_rig(s)
    r = Sdm630(m, 1).read()
    assert [round(v, 1) for v in r["voltage_v"]] == [230.1, 231.2, 229.3]
    assert [round(v, 1) for v in r["current_a"]] == [16.0, 15.9, 16.1]
    assert near(r["power_w"], 11000.0) and near(r["energy_wh"], 42250.0, 0.5)


def test_abb_b23_map():
    s = AbbB23Model(7, voltages=(230.4, 229.9, 231.0), currents=(10.25, 10.5, 9.75), power=-7012.34,
                    import_kwh=98765.43)
    m, bus = modbus_rig(s)
    r = AbbB23(m, 7).read()
    assert r["voltage_v"] == [230.4, 229.9, 231.0]
    assert r["current_a"] == [10.25, 10.5, 9.75]
    assert near(r["power_w"], -7012.34)     # signed: export shows negative
    assert near(r["energy_wh"], 98765430.0, 1)
    assert {f[1] for f in bus.requests} == {3} and {f[0] for f in bus.requests} == {7}


def test_meter_loss_raises_and_keeps_last_reading():
    s = Sdm120Model(1, voltage=230.0, current=10.0, power=2300.0, import_kwh=5.0)
    m, bus = modbus_rig(s, retries=1)
    meter = Sdm120(m, 1)
    good = meter.read()
    s.silent = 100
    for _ in range(2):
        try:
            meter.read()
            assert False
        except HalError as e:
            assert e.code == "PowerMeterFailure" and "Sdm120" in e.info
    assert meter.last == good and meter.failures == 2
    assert meter.last["energy_wh"] > 0      # never zeros in place of a reading
    s.silent = 0
    s.set_reading(231.0, 8.0, 1800.0, 5.5)
    r = meter.read()
    assert near(r["energy_wh"], 5500.0, 0.5) and meter.failures == 0


def test_partial_failure_is_all_or_nothing():
    s = Sdm120Model(1, voltage=230.0, current=10.0, power=2300.0, import_kwh=5.0)
    m, bus = modbus_rig(s, retries=0)
    meter = Sdm120(m, 1)
    meter.read()
    s.set_reading(240.0, 1.0, 240.0, 6.0)
    del s.regs[4][0x0048]   # energy register unreadable, the first block still fine
    try:
        meter.read()
        assert False
    except HalError:
        pass
    assert near(meter.last["voltage_v"][0], 230.0)  # no half-new reading stored


def test_read_async_lets_other_tasks_run():
    import asyncio
    asyncio.run(_read_async_with_a_control_loop())


async def _read_async_with_a_control_loop():
    import asyncio
    s = Sdm120Model(1, voltage=230.0, current=10.0, power=2300.0, import_kwh=5.0)
    m, bus = modbus_rig(s, baud=2400, retries=1)
    meter = Sdm120(m, 1)
    ticks = []

    async def control_loop():
        for i in range(1000):
            ticks.append(i)
            await asyncio.sleep(0.001)

    task = asyncio.create_task(control_loop())
    r = await meter.read_async()
    assert near(r["power_w"], 2300.0) and meter.last == r
    assert len(ticks) >= 5   # the 3.5-char silences at 2400 baud (16 ms) were awaited, not slept
    s.silent = 10
    try:
        await meter.read_async()
        assert False
    except HalError as e:
        assert e.code == "PowerMeterFailure"
    assert meter.last == r and meter.failures == 1
    task.cancel()


def test_reply_timeout_covers_the_reply_transmission_time():
    # 14 registers at 2400 baud: a 33-byte reply takes ~151 ms on the wire alone.
    import compat
    s = Sdm120Model(1)
    m, bus = modbus_rig(s, baud=2400, timeout_ms=modbus.RESPONSE_TIMEOUT_MS, retries=0)
    s.silent = 1
    t0 = compat.ticks_ms()
    try:
        m.read_registers(1, 4, 0, 14)
        assert False
    except ModbusError as e:
        assert e.stat == "timeouts"
        waited = compat.ticks_diff(compat.ticks_ms(), t0)
        assert waited >= modbus.RESPONSE_TIMEOUT_MS + 33 * 11000 // 2400, waited
        assert "%d ms" % (modbus.RESPONSE_TIMEOUT_MS + (33 * char_us(2400) + 999) // 1000) in str(e)
