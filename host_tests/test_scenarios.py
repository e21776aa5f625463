# Whole-charger scenarios: firmware (sim board) against the `ocpp` central
# system over real WebSockets, on CPython and on real MicroPython. Every frame
# the firmware sends is validated against the official OCPP 1.6 schemas.
import asyncio
import json

import pytest
from ocpp.v16 import call

import scenario as S
from portable.limits import limit  # (host_tests/portable: not on the path of these tests)
from ocpp16 import profiles

RUNTIMES = ("cpython", "micropython")

BASIC = [
    {"at": 3, "do": "card", "id": "04A2B3C4"},
    {"at": 5, "do": "plug"},
    {"at": 130, "do": "unplug"},
    {"at": 132, "do": "end"},
]


def run(coro):
    return asyncio.run(coro)


def statuses(frames, connector=1):
    return [m[3]["status"] for m in S.calls(frames, "StatusNotification") if m[3]["connectorId"] == connector]


def _dedupe(seq):
    out = []
    for s in seq:
        if not out or out[-1] != s:
            out.append(s)
    return out


@pytest.fixture(scope="module")
def basic_runs():
    return {rt: run(S.run_session(rt, BASIC, speed=40)) for rt in RUNTIMES}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_basic_session_charges_and_stops(basic_runs, runtime):
    station, lines, rc = basic_runs[runtime]
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    actions = [m[2] for m in frames if m[0] == 2]
    assert actions[0] == "BootNotification"
    assert "Authorize" in actions and actions.index("Authorize") < actions.index("StartTransaction")
    assert actions.index("StartTransaction") < actions.index("StopTransaction")
    assert _dedupe(statuses(frames)) == ["Available", "Preparing", "SuspendedEV", "Charging", "Available"]
    (tx_id, tx), = station.transactions.items()
    assert tx["reason"] == "EVDisconnected" and tx["id_tag"] == "04A2B3C4"
    # the sim board offers 32 A, the EV draws 32 A at 230 V: 7.36 kW for ~122 s of charging
    energy = tx["meter_stop"] - tx["meter_start"]
    assert 230 < energy < 260, energy
    mvs = S.calls(frames, "MeterValues")
    assert len(mvs) == 2 and all(m[3]["transactionId"] == tx_id for m in mvs)
    stop = S.calls(frames, "StopTransaction")[0][3]
    assert stop["transactionId"] == tx_id
    assert [sv["context"] for mv in stop["transactionData"] for sv in mv["sampledValue"]] == \
        ["Transaction.Begin", "Transaction.End"]


def test_micropython_transcript_equals_cpython(basic_runs):
    a = S.normalized(S.firmware_frames(basic_runs["cpython"][0]))
    b = S.normalized(S.firmware_frames(basic_runs["micropython"][0]))
    assert a == b


CORE_SCENARIO = [
    {"at": 30, "do": "plug"},
    {"at": 900, "do": "unplug"},
    {"at": 905, "do": "end"},
]


async def core_script(csms, st):
    """Every CSMS-initiated Core operation, each answer checked."""
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1)
    r = await st.call(call.GetConfiguration())
    keys = {k["key"]: k for k in r.configuration_key}
    assert "AuthorizationKey" not in keys and keys["NumberOfConnectors"]["readonly"] is True
    assert keys["MeterValueSampleInterval"]["value"] == "60"
    r = await st.call(call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
    assert [k["key"] for k in r.configuration_key] == ["HeartbeatInterval"] and r.unknown_key == ["NoSuchKey"]
    r = await st.call(call.GetConfiguration(key=["AuthorizationKey"]))
    assert r.configuration_key == [] and r.unknown_key == ["AuthorizationKey"]
    assert (await st.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="20"))).status == "Accepted"
    assert (await st.call(call.ChangeConfiguration(key="NumberOfConnectors", value="3"))).status == "Rejected"
    assert (await st.call(call.ChangeConfiguration(key="HeartbeatInterval", value="often"))).status == "Rejected"
    assert (await st.call(call.ChangeConfiguration(key="NoSuchKey", value="1"))).status == "NotSupported"
    assert (await st.call(call.DataTransfer(vendor_id="com.example"))).status == "UnknownVendorId"
    assert (await st.call(call.ClearCache())).status == "Accepted"
    r = await st.call(call.GetConfiguration(key=["MeterValueSampleInterval"]))
    assert r.configuration_key[0]["value"] == "20"
    # remote start: the EV is plugged at t=30 s; the transaction starts once authorized
    assert (await st.call(call.RemoteStartTransaction(id_tag="REMOTE1", connector_id=1))).status == "Accepted"
    start = await csms.wait_for("StartTransaction")
    assert start[3]["idTag"] == "REMOTE1"
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["status"] == "Charging")
    assert (await st.call(call.RemoteStartTransaction(id_tag="REMOTE2", connector_id=1))).status == "Rejected"
    assert (await st.call(call.ChangeAvailability(connector_id=1, type="Inoperative"))).status == "Scheduled"
    await csms.wait_for("MeterValues")
    tx_id = max(st.transactions)
    assert (await st.call(call.RemoteStopTransaction(transaction_id=tx_id + 99))).status == "Rejected"
    assert (await st.call(call.RemoteStopTransaction(transaction_id=tx_id))).status == "Accepted"
    stop = await csms.wait_for("StopTransaction")
    assert stop[3]["reason"] == "Remote" and stop[3]["transactionId"] == tx_id
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["status"] == "Unavailable")
    assert (await st.call(call.ChangeAvailability(connector_id=0, type="Operative"))).status == "Accepted"
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1
                        and m[3]["status"] in ("Preparing", "Finishing"))
    assert (await st.call(call.UnlockConnector(connector_id=1))).status == "Unlocked"
    assert (await st.call(call.UnlockConnector(connector_id=7))).status == "NotSupported"
    # a second transaction, then a soft reset stops it with SoftReset and reboots
    assert (await st.call(call.RemoteStartTransaction(id_tag="REMOTE3"))).status == "Accepted"
    await csms.wait_for("StartTransaction")
    assert (await st.call(call.Reset(type="Soft"))).status == "Accepted"
    stop = await csms.wait_for("StopTransaction")
    assert stop[3]["reason"] == "SoftReset"
    await csms.wait_for("BootNotification")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_core_operation_from_the_csms(runtime):
    station, lines, rc = run(S.run_session(runtime, CORE_SCENARIO, script=core_script, speed=20))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    assert len(S.calls(frames, "BootNotification")) == 2  # once at power-up, once after the soft reset


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_boot_pending_then_accepted_sends_nothing_else_before(runtime):
    csms_kwargs = {"boot_status": ["Pending", "Rejected", "Accepted"], "boot_interval": 5}
    scn = [{"at": 1, "do": "card", "id": "AB"}, {"at": 40, "do": "end"}]
    station, lines, rc = run(S.run_session(runtime, scn, speed=20, csms_kwargs=csms_kwargs))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    actions = [m[2] for m in frames if m[0] == 2]
    assert actions[:3] == ["BootNotification"] * 3, actions
    assert "Authorize" not in actions  # the card was tapped before boot was accepted: decided offline
    # then the StartupOfTheDevice security event queued at power-up, then the statuses
    assert actions[3:5] == ["SecurityEventNotification", "StatusNotification"], actions
    assert S.calls(frames, "SecurityEventNotification")[0][3]["type"] == "StartupOfTheDevice"


def unsupported_action():
    """An action of the 1.6 (+ Security) set that no profile of this firmware handles yet
    (None: every one is handled, so no frame gets NotSupported; rpc's check of it is in
    test_rpc_schema and the core's in portable/test_chargepoint)."""
    actions = sorted(a for g in limit("ocpp16.schema_core", "_PROFILES").split(";") for a in g.split()[2:])
    profiles.unload("schema_core")
    left = [a for a in actions if profiles.handler(a) is None]
    return left[0] if left else None


BAD_FRAMES = [
    ("this is not json", "-1", "FormationViolation"),
    ('{"not": "an array"}', "-1", "FormationViolation"),
    ('[2, 17, "Heartbeat", {}]', "-1", "FormationViolation"),
    ('[2, "bad-1", "FlyToTheMoon", {}]', "bad-1", "NotImplemented"),
    ('[2, "bad-2", "ChangeConfiguration", {"key": "HeartbeatInterval"}]', "bad-2", "OccurenceConstraintViolation"),
    ('[2, "bad-3", "Reset", {"type": 5}]', "bad-3", "TypeConstraintViolation"),
    ('[2, "bad-4", "ChangeAvailability", {"connectorId": 1, "type": "Sometimes"}]', "bad-4",
     "PropertyConstraintViolation"),
    ('[2, "bad-5", "%s", {}]' % unsupported_action(), "bad-5", "NotSupported"),
    ('[2, "bad-6", "GetConfiguration", {"key": ["A"], "extra": 1}]', "bad-6", "FormationViolation"),
]
if unsupported_action() is None:
    BAD_FRAMES = [f for f in BAD_FRAMES if f[2] != "NotSupported"]


async def bad_frames_script(csms, st):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1)
    for raw, msg_id, code in BAD_FRAMES:
        await st._connection.send(raw)
        m = await csms.wait_for(pred=lambda m: m[0] == 4)
        assert m[1] == msg_id and m[2] == code, (raw, m)
    # still alive and answering properly
    assert (await st.call(call.ClearCache())).status == "Accepted"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bad_frames_over_the_wire_get_callerrors_and_never_stop_the_firmware(runtime):
    scn = [{"at": 60, "do": "card", "id": "AFTER"}, {"at": 62, "do": "plug"}, {"at": 90, "do": "unplug"},
           {"at": 92, "do": "end"}]
    station, lines, rc = run(S.run_session(runtime, scn, script=bad_frames_script, speed=20))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert len([m for m in frames if m[0] == 4]) == len(BAD_FRAMES)
    assert len(S.calls(frames, "StopTransaction")) == 1  # the session after the bad frames went through


NEW_KEY = "5ec2e7a1b2c3d4e5f60718293a4b5c6d7e8f9a0b"


async def new_key_script(csms, st):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1)
    assert (await st.call(call.ChangeConfiguration(key="AuthorizationKey", value=NEW_KEY))).status == "Accepted"
    r = await st.call(call.GetConfiguration(key=["AuthorizationKey"]))
    assert r.configuration_key == [] and r.unknown_key == ["AuthorizationKey"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_new_authorization_key_never_reaches_the_console(runtime):
    scn = [{"at": 30, "do": "end"}]
    station, lines, rc = run(S.run_session(runtime, scn, script=new_key_script, speed=20))
    assert rc == 0, "\n".join(lines[-40:])
    out = "\n".join(lines)
    assert "ChangeConfiguration" in out and "***" in out  # the frame was traced, with the key masked
    assert NEW_KEY not in out


def test_boot_identity_version_vendor_and_serial_from_the_chip(basic_runs):
    import version
    from portable.limits import limit
    SIM_CHIP_ID = limit("hal.sim.setup", "_SIM_CHIP_ID")
    for rt in RUNTIMES:
        station, lines, rc = basic_runs[rt]
        boot = S.calls(S.firmware_frames(station), "BootNotification")[0][3]
        assert boot["firmwareVersion"] == version.VERSION and boot["chargePointVendor"] == version.NAME, boot
        assert boot["chargePointSerialNumber"] == version.serial(SIM_CHIP_ID) == "514D00000001", boot
        assert any(l.startswith("[info] boot: %s %s on %s" % (version.NAME, version.VERSION, rt))
                   for l in lines), lines[:3]
