# Smart Charging over the wire: the firmware (sim board, the EV follows the pilot)
# against the `ocpp` CSMS over real WebSockets, on CPython and MicroPython, every
# frame validated against the official schemas. A TxDefaultProfile lowers, pauses
# and resumes charging, and the meter's power follows; a ChargePointMaxProfile on
# connector 0 is split between two connectors.
import asyncio
import json
import os
import tempfile

import pytest
from ocpp.v16 import call

import scenario as S

RUNTIMES = ("cpython", "micropython")
VOLTS = 230
KEYS = {"MeterValueSampleInterval": 10, "MeterValuesSampledData": "Power.Active.Import,Current.Offered"}


def run(coro):
    return asyncio.run(coro)


def samples(station, connector):
    """(Current.Offered, Power.Active.Import) of every periodic MeterValues of a connector."""
    out = []
    for m in S.calls(S.firmware_frames(station), "MeterValues"):
        if m[3]["connectorId"] != connector:
            continue
        for mv in m[3]["meterValue"]:
            vals = dict((sv["measurand"], float(sv["value"])) for sv in mv["sampledValue"]
                        if sv.get("context") == "Sample.Periodic")
            if vals:
                out.append((vals["Current.Offered"], vals["Power.Active.Import"]))
    return out


def statuses(station, connector):
    out = []
    for m in S.calls(S.firmware_frames(station), "StatusNotification"):
        if m[3]["connectorId"] == connector and (not out or out[-1] != m[3]["status"]):
            out.append(m[3]["status"])
    return out


# The transaction starts at about 22 s; the TxDefaultProfile (relative to it) offers
# 16 A, from 65 s 3 A (below 6 A: paused), from 125 s 24 A. Samples every 10 s.
LOWER_PAUSE_RESUME = [
    {"at": 20, "do": "card", "id": "SMART1"},
    {"at": 22, "do": "plug"},
    {"at": 200, "do": "unplug"},
    {"at": 202, "do": "end"},
]
TXDEFAULT = {"chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
             "chargingProfileKind": "Relative",
             "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                 {"startPeriod": 0, "limit": 16}, {"startPeriod": 65, "limit": 3},
                 {"startPeriod": 125, "limit": 24}]}}


async def lower_pause_resume_script(csms, st):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1)
    r = await st.call(call.SetChargingProfile(connector_id=0, cs_charging_profiles=TXDEFAULT))
    assert r.status == "Accepted"
    r = await st.call(call.SetChargingProfile(connector_id=1, cs_charging_profiles=dict(
        TXDEFAULT, chargingProfileId=8, stackLevel=99)))
    assert r.status == "Rejected"  # beyond ChargeProfileMaxStackLevel
    await csms.wait_for("StartTransaction")
    r = await st.call(call.GetCompositeSchedule(connector_id=1, duration=400))
    assert r.status == "Accepted" and r.connector_id == 1
    sched = r.charging_schedule
    assert [p["limit"] for p in sched["charging_schedule_period"]] == [16, 3, 24], sched
    r = await st.call(call.GetCompositeSchedule(connector_id=1, duration=400, charging_rate_unit="W"))
    assert [p["limit"] for p in r.charging_schedule["charging_schedule_period"]] == [16 * VOLTS, 3 * VOLTS, 24 * VOLTS]


@pytest.fixture(scope="module")
def lower_runs():
    return {rt: run(S.run_session(rt, LOWER_PAUSE_RESUME, script=lower_pause_resume_script, speed=20, keys=KEYS))
            for rt in RUNTIMES}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_txdefault_lowers_pauses_and_resumes_and_the_meter_follows(lower_runs, runtime):
    station, lines, rc = lower_runs[runtime]
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    got = samples(station, 1)
    offered = [o for o, _ in got]
    # 10..60 s: 16 A; 70..120 s: paused; 130 s on: 24 A (the EV draws what is offered)
    assert offered[:6] == [16] * 6 and offered[6:12] == [0] * 6 and set(offered[12:]) == {24}, got
    for o, w in got:
        assert w == o * VOLTS, got
    # resumed: the offer is back, the EV takes 2 s to ask for charge again (SuspendedEV)
    assert statuses(station, 1) == ["Available", "Preparing", "SuspendedEV", "Charging", "SuspendedEVSE",
                                    "SuspendedEV", "Charging", "Available"], statuses(station, 1)
    (tx,) = station.transactions.values()
    energy = tx["meter_stop"] - tx["meter_start"]
    # ~43 s at 16 A, ~60 s paused, ~73 s at 24 A (the EV needs 2 s to resume)
    want = (43 * 16 + 73 * 24) * VOLTS / 3600.0
    assert abs(energy - want) < 25, (energy, want)


def test_micropython_smart_calls_equal_cpython(lower_runs):
    """The charger's own CALLs (the CSMS script runs in real time, so where its answers
    fall between them may differ)."""
    a = [m for m in S.normalized(S.firmware_frames(lower_runs["cpython"][0])) if m[0] == 2]
    b = [m for m in S.normalized(S.firmware_frames(lower_runs["micropython"][0])) if m[0] == 2]
    assert a == b


# Two connectors, 32 A each; a ChargePointMaxProfile of 40 A on connector 0.
# Connector 1 charges alone (32 A), then both (20 A each), then connector 2 alone (32 A).
TWO_CONNECTORS = [
    {"at": 20, "do": "card", "id": "CARD1"},
    {"at": 22, "do": "plug", "connector": 1},
    {"at": 60, "do": "card", "id": "CARD2"},
    {"at": 62, "do": "plug", "connector": 2},
    {"at": 140, "do": "unplug", "connector": 1},
    {"at": 200, "do": "unplug", "connector": 2},
    {"at": 202, "do": "end"},
]
CPMAX = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
         "chargingProfileKind": "Absolute",
         "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [
             {"startPeriod": 0, "limit": 40 * VOLTS}]}}


async def two_connectors_script(csms, st):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 2)
    r = await st.call(call.SetChargingProfile(connector_id=1, cs_charging_profiles=CPMAX))
    assert r.status == "Rejected"  # a ChargePointMaxProfile belongs on connector 0
    r = await st.call(call.SetChargingProfile(connector_id=0, cs_charging_profiles=CPMAX))
    assert r.status == "Accepted"
    await csms.wait_for("StartTransaction")
    await csms.wait_for("StartTransaction")
    r = await st.call(call.GetCompositeSchedule(connector_id=0, duration=60))
    assert [p["limit"] for p in r.charging_schedule["charging_schedule_period"]] == [40]
    r = await st.call(call.GetCompositeSchedule(connector_id=2, duration=60))
    assert [p["limit"] for p in r.charging_schedule["charging_schedule_period"]] == [20]


def _two_connector_board(workdir):
    os.makedirs(os.path.join(workdir, "boards"))
    with open(os.path.join(workdir, "boards", "sim2.json"), "w") as f:
        json.dump({"name": "sim2", "kind": "sim", "connectors": 2, "max_current_a": 32, "phases": 1,
                   "voltage_v": VOLTS, "meter": "sim", "reader": "sim"}, f)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_chargepoint_max_profile_is_split_across_two_connectors(runtime):
    workdir = tempfile.mkdtemp(prefix="ocpp-smart2-")
    _two_connector_board(workdir)
    station, lines, rc = run(S.run_session(runtime, TWO_CONNECTORS, script=two_connectors_script, speed=20,
                                           keys=KEYS, workdir=workdir, extra_cfg={"board": "sim2"}))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    one, two = samples(station, 1), samples(station, 2)
    for o, w in one + two:
        assert w == o * VOLTS, (one, two)
    # connector 1: alone 32 A until connector 2 starts (~64 s), then 20 A until it stops
    assert [o for o, _ in one] == [32] * 4 + [20] * 7, one
    # connector 2: 20 A while sharing, 32 A after connector 1 stopped at 140 s
    o2 = [o for o, _ in two]
    assert o2[:7] == [20] * 7 and set(o2[8:]) == {32}, two
