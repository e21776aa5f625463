# hal.board.load() + build() of the shipped ESP32 board against the bus models:
# every driver constructed from the board file answers through its bus. Runs on
# CPython and MicroPython (the device's own runtime for this code path).
import sys

_tests = __file__.rsplit("/", 2)[0]
_root = _tests + "/.."
_fakes = _tests + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import machine
from hal import board as hb
from hal import HalError
from pilot_model import EvModel, PilotFrontEnd
from mfrc522_model import Mfrc522Model, Card
from modbus_model import Rs485Bus, Sdm630Model


def test_build_sdm630_board_and_use_every_device():
    b = hb.load(_root + "/boards/esp32-sdm630.json")
    machine.reset_fakes()
    ev = EvModel("B")
    # this board's front end: the measured plateaus its thresholds came from
    PilotFrontEnd(ev, 25, 39, offset_mv=1328, gain_mv_per_v=103)
    chip = Mfrc522Model(0x91, 2, 5)
    bus = Rs485Bus(2, 4)
    meter = bus.add(Sdm630Model(1, currents=(16.0, 16.0, 16.0), power=11040.0, import_kwh=7.0))
    machine.drive(35, 1)  # feedback contact open (active low)
    hw = hb.build(b)
    # board building is boot-time code: unloaded once the hardware exists
    esp32 = sys.modules["hal.esp32"]
    assert "hal.esp32.build" not in sys.modules and "build" not in esp32.__dict__
    assert type(hw.connectors[0].meter).__name__ == "Sdm630"
    c = hw.connectors[0]
    c.pilot.offer(32)
    for _ in range(3):
        state = c.pilot.sample()
    assert state == ("B", True), state
    ev.state = "C"
    for _ in range(3):
        state = c.pilot.sample()
    assert state == ("C", True), state
    chip.present(Card(b"\x04\xa1\xb2\xc3\xd4\xe5\xf6"))
    assert hw.reader.poll() == "04A1B2C3D4E5F6"
    r = c.meter.read()
    assert r["current_a"] == [16.0, 16.0, 16.0] and r["energy_wh"] == 7000.0
    assert bus.requests[0][1] == 4 and bus.lost == []
    meter.silent = 100
    try:
        c.meter.read()
        assert False
    except HalError as e:
        assert e.code == "PowerMeterFailure"
    assert c.meter.last == r
    c.relay.set(True)
    assert c.relay.check(0) is None
    assert c.relay.check(1000) == "PowerSwitchFailure"  # feedback never closed


def test_ocpp_reset_restarts_the_chip():
    b = hb.load(_root + "/boards/esp32-sdm630.json")
    machine.reset_fakes()
    PilotFrontEnd(EvModel("A"), 25, 39, offset_mv=1328, gain_mv_per_v=103)
    Mfrc522Model(0x91, 2, 5)
    bus = Rs485Bus(2, 4)
    bus.add(Sdm630Model(1))
    machine.drive(35, 1)
    hw = hb.build(b)
    del machine.resets[:]
    hw.reset("Hard")
    hw.reset("Soft")
    assert machine.resets == ["hard", "soft", "hard"]  # soft_reset returns here only in the fake


def test_every_meter_model_of_the_board_rules_has_a_driver():
    from hal.esp32 import build
    try:
        for model in hb.METER_MODELS:
            cls = build.meter_class(model)
            assert cls.__name__.lower().replace("abbb23", "abb_b23") == model, (model, cls)
    finally:
        sys.modules.pop("hal.esp32.build", None)
        del sys.modules["hal.esp32"].__dict__["build"]
