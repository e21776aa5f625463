# Faults reach the CSMS: the whole charger (sim board) against the `ocpp`
# central system over real WebSockets, on CPython and MicroPython. Pilot E,
# meter loss, diode failure and card reader loss during a charging session
# each give a StatusNotification with the OCPP 1.6 errorCode, and clear when
# the cause clears; both runtimes send the same transcript.
import asyncio

import pytest

import scenario as S

RUNTIMES = ("cpython", "micropython")

FAULTS = [
    {"at": 2, "do": "card", "id": "04A2B3C4"},
    {"at": 3, "do": "plug"},
    {"at": 10, "do": "short"},        # CP shorted to PE: pilot state E
    {"at": 13, "do": "unshort"},
    {"at": 20, "do": "meter_fail"},
    {"at": 24, "do": "meter_ok"},
    {"at": 30, "do": "diode_fail"},
    {"at": 34, "do": "diode_ok"},
    {"at": 40, "do": "reader_fail"},
    {"at": 44, "do": "reader_ok"},
    {"at": 50, "do": "unplug"},
    {"at": 52, "do": "end"},
]


@pytest.fixture(scope="module")
def fault_runs():
    return {rt: asyncio.run(S.run_session(rt, FAULTS, speed=40)) for rt in RUNTIMES}


def reports(frames, connector):
    out = []
    for m in S.calls(frames, "StatusNotification"):
        p = m[3]
        if p["connectorId"] == connector:
            s = (p["status"], p["errorCode"])
            if not out or out[-1] != s:
                out.append(s)
    return out


def _after(seq, item):
    return seq[seq.index(item) + 1:]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_each_fault_is_reported_with_its_error_code_and_clears(fault_runs, runtime):
    station, lines, rc = fault_runs[runtime]
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    c1 = reports(frames, 1)
    e = ("Faulted", "EVCommunicationError")
    m = ("Faulted", "PowerMeterFailure")
    assert e in c1 and m in c1, c1
    # E, then back to charging before the meter fails; meter loss, then charging again
    assert ("Charging", "NoError") in _after(c1, e)[:3], c1
    assert m in _after(c1, e)
    assert ("Charging", "NoError") in _after(c1, m), c1
    # the diode failure is an EVCommunicationError again, after the meter fault
    assert e in _after(c1, m), c1
    assert c1[-1] == ("Available", "NoError"), c1
    c0 = reports(frames, 0)
    assert c0 == [("Available", "NoError"), ("Available", "ReaderFailure"), ("Available", "NoError")], c0
    # one transaction through all of it, stopped by the unplug
    (tx,) = station.transactions.values()
    assert tx["reason"] == "EVDisconnected"


def test_fault_transcripts_are_identical_on_both_runtimes(fault_runs):
    t = {rt: S.normalized(S.firmware_frames(fault_runs[rt][0])) for rt in RUNTIMES}
    assert t["cpython"] == t["micropython"]
