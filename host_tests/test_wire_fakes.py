# The bench's thin machine/network (host_tests/fakes/wire) under the real micropython, its
# other end (host_tests/wire_host.py) in this process: the esp32 drivers read a card off the
# MFRC522 model, a reading off the SDM120 model, the EV's state off the pilot front end and
# join the access point, every bus operation crossing the wire; a fake's exception crosses it.
import os
import socket
import subprocess
import threading

import mpy

import wire_host
from wire_host import WireHost, machine, network
from hal_rig import DEVKITC_THRESHOLDS
from mfrc522_model import Card, Mfrc522Model
from modbus_model import Rs485Bus, Sdm120Model
from pilot_model import EvModel, PilotFrontEnd

WIRE = os.path.join(wire_host.FAKES, "wire")

SCRIPT = """
import machine, network
from hal.esp32.mfrc522 import Mfrc522
from hal.esp32.modbus import ModbusRtu
from hal.esp32.meters import Sdm120
from hal.esp32.pilot import Pilot
spi = machine.SPI(2, baudrate=1000000, sck=machine.Pin(18), mosi=machine.Pin(23), miso=machine.Pin(19))
print("uid", Mfrc522(spi, 5, 22).poll())
r = Sdm120(ModbusRtu(machine.UART(2, baudrate=9600, tx=17, rx=16), 4, 9600, timeout_ms=30), 1).read()
print("meter %%.1f %%.1f %%.0f" %% (r["voltage_v"][0], r["current_a"][0], r["energy_wh"]))
p = Pilot(25, 36, %r)
for _ in range(5):
    s = p.sample()
print("pilot", s[0], s[1])
w = network.WLAN(network.STA_IF)
w.active(True)
w.connect("garage", "wifi-password-1")
while not w.isconnected():
    pass
print("ip", w.ifconfig()[0])
try:
    network.WLAN(network.AP_IF).connect("garage", "wifi-password-1")
except OSError as e:
    print("refused", e.args[0])
print("has", hasattr(machine, "unique_id"), hasattr(machine, "no_such_thing"), machine.unique_id())
""" % (DEVKITC_THRESHOLDS,)


def test_drivers_run_over_the_wire_against_the_models_in_cpython(tmp_path):
    machine.reset_fakes()
    network.reset_fakes()
    network.access_points["garage"] = "wifi-password-1"
    chip = Mfrc522Model(0x92, 2, 5, 22)
    chip.present(Card(b"\x04\xa2\xb3\xc4"))
    meter = Rs485Bus(2, 4).add(Sdm120Model(1, voltage=231.5, current=7.0, import_kwh=1.25))
    PilotFrontEnd(EvModel("B"), 25, 36)
    ours, theirs = socket.socketpair()
    host = WireHost(ours)
    server = threading.Thread(target=host.serve, daemon=True)
    server.start()
    script = tmp_path / "wire_session.py"
    script.write_text(SCRIPT)
    try:
        r = mpy.run([str(script)], extra_path=(WIRE,), stdin=theirs, timeout=60)
    finally:
        theirs.close()
        server.join(10)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines == ["uid 04A2B3C4", "meter 231.5 7.0 1250", "pilot B True", "ip 192.168.4.20",
                     "refused Wifi Not Started", "has True False b'$\\n\\xc4\\x00\\x00\\x01'"], r.stdout
    # The drivers' operations reached the models (and nothing else answered them).
    assert chip.frames and chip.frames[0] == b"\x52" and meter.answered == 2
    assert not server.is_alive() and host.requests > 100
