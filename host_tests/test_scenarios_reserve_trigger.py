# Reservation and Remote Trigger over real WebSockets: the firmware (sim board) as a
# subprocess on CPython and on MicroPython against the `ocpp` central system; every
# frame the firmware sends is validated against the official OCPP 1.6 schemas.
import asyncio
import datetime
import json

import pytest
from ocpp.v16 import call

import scenario as S

RUNTIMES = ("cpython", "micropython")
SPEED = 20


def _epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _stamp(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def firmware_now(st):
    """The charger's clock: the newest timestamp it sent."""
    for d, raw in reversed(st.frames):
        m = json.loads(raw)
        if d == "in" and m[0] == 2 and "timestamp" in m[3]:
            return _epoch(m[3]["timestamp"])
    raise AssertionError("no timestamp from the charger yet")


def status_is(status, connector=1):
    return lambda m: (m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == connector
                      and m[3]["status"] == status)


def statuses(frames, connector=1):
    out = []
    for m in S.calls(frames, "StatusNotification"):
        if m[3]["connectorId"] == connector and (not out or out[-1] != m[3]["status"]):
            out.append(m[3]["status"])
    return out


# ------------------------------------------------------------------ Reservation
RESERVE_SCENARIO = [
    {"at": 30, "do": "card", "id": "STRANGER"},   # connector reserved for OWNER: refused
    {"at": 35, "do": "plug"},
    {"at": 60, "do": "unplug"},
    {"at": 80, "do": "card", "id": "OWNER"},      # the owner: starts, reservation 1 used
    {"at": 82, "do": "plug"},
    {"at": 140, "do": "unplug"},
    {"at": 190, "do": "card", "id": "CHILD"},     # parentIdTag FLEET (Authorize answer): reservation 4
    {"at": 192, "do": "plug"},
    {"at": 240, "do": "unplug"},
    {"at": 400, "do": "end"},
]
EXPIRE_AFTER_S = 40


async def reserve_script(csms, st):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1)
    far = _stamp(firmware_now(st) + 3600)
    r = await st.call(call.ReserveNow(connector_id=1, expiry_date=far, id_tag="OWNER", reservation_id=1))
    assert r.status == "Accepted"
    await csms.wait_for(pred=status_is("Reserved"))
    r = await st.call(call.ReserveNow(connector_id=1, expiry_date=far, id_tag="OTHER", reservation_id=2))
    assert r.status == "Occupied"  # reserved already, under another id
    await csms.wait_for("StopTransaction")
    r = await st.call(call.ReserveNow(connector_id=1, expiry_date=far, id_tag="BOSS", parent_id_tag="FLEET",
                                      reservation_id=4))
    assert r.status == "Accepted"
    await csms.wait_for("StopTransaction")
    await csms.wait_for(pred=status_is("Available"))
    # cancelled
    far = _stamp(firmware_now(st) + 3600)
    assert (await st.call(call.ReserveNow(connector_id=1, expiry_date=far, id_tag="LATER",
                                          reservation_id=2))).status == "Accepted"
    await csms.wait_for(pred=status_is("Reserved"))
    assert (await st.call(call.CancelReservation(reservation_id=2))).status == "Accepted"
    await csms.wait_for(pred=status_is("Available"))
    assert (await st.call(call.CancelReservation(reservation_id=2))).status == "Rejected"
    # expiring, on connector 0 (ReserveConnectorZeroSupported): the only connector is held
    exp = firmware_now(st) + EXPIRE_AFTER_S
    st.expiry = exp
    assert (await st.call(call.ReserveNow(connector_id=0, expiry_date=_stamp(exp), id_tag="LATE",
                                          reservation_id=3))).status == "Accepted"
    await csms.wait_for(pred=status_is("Reserved"))
    m = await csms.wait_for(pred=status_is("Available"), timeout=60)
    assert _epoch(m[3]["timestamp"]) >= exp, (m, _stamp(exp))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reservation_used_by_its_owner_refused_to_another_card_cancelled_and_expiring(runtime):
    station, lines, rc = asyncio.run(S.run_session(runtime, RESERVE_SCENARIO, script=reserve_script, speed=SPEED,
                                                   csms_kwargs={"parent_tags": {"CHILD": "FLEET"}}))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    starts = [(m[3]["idTag"], m[3].get("reservationId")) for m in S.calls(frames, "StartTransaction")]
    assert starts == [("OWNER", 1), ("CHILD", 4)]
    # the stranger was authorized by the CSMS, refused by the reservation, never started
    auths = [m[3]["idTag"] for m in S.calls(frames, "Authorize")]
    assert auths == ["STRANGER", "OWNER", "CHILD"]
    assert [l for l in lines if "STRANGER refused" in l and "reserved for another idTag" in l], lines[-60:]
    seq = statuses(frames)
    # Available, Reserved; stranger plugs (Preparing), unplugs: Reserved again; the owner taps
    assert seq[:5] == ["Available", "Reserved", "Preparing", "Reserved", "Preparing"], seq
    assert "Charging" in seq
    assert seq[-4:] == ["Reserved", "Available", "Reserved", "Available"], seq  # cancelled; expired


# ------------------------------------------------------------------ Remote Trigger
TRIGGER_SCENARIO = [
    {"at": 2, "do": "plug"},
    {"at": 220, "do": "unplug"},
    {"at": 225, "do": "end"},
]
# (requestedMessage, connectorId, expected status, the CALLs that must follow, connectorIds of them)
TRIGGERS = [
    ("BootNotification", None, "Accepted", ["BootNotification"]),
    ("Heartbeat", None, "Accepted", ["Heartbeat"]),
    ("Heartbeat", 1, "Accepted", ["Heartbeat"]),
    ("StatusNotification", None, "Accepted", ["StatusNotification", "StatusNotification"]),
    ("StatusNotification", 1, "Accepted", ["StatusNotification"]),
    ("StatusNotification", 0, "Accepted", ["StatusNotification"]),
    ("StatusNotification", 2, "Rejected", []),
    ("MeterValues", None, "Accepted", ["MeterValues"]),
    ("MeterValues", 1, "Accepted", ["MeterValues"]),
    ("MeterValues", 0, "Rejected", []),
    ("DiagnosticsStatusNotification", None, "Accepted", ["DiagnosticsStatusNotification"]),
    ("FirmwareStatusNotification", None, "Accepted", ["FirmwareStatusNotification"]),
    ("FirmwareStatusNotification", 1, "Accepted", ["FirmwareStatusNotification"]),
]


async def _trigger(csms, st, what, connector, want, follow):
    r = await st.call(call.TriggerMessage(requested_message=what, connector_id=connector))
    assert r.status == want, (what, connector, r.status)
    got = []
    for action in follow:
        got.append(await csms.wait_for(action))
    return got


async def trigger_script(csms, st):
    await csms.wait_for(pred=status_is("Preparing"))
    st.results = []
    for what, connector, want, follow in TRIGGERS:
        st.results.append(await _trigger(csms, st, what, connector, want, follow))
    # in a transaction the triggered MeterValues carries its transactionId
    assert (await st.call(call.RemoteStartTransaction(id_tag="TRG", connector_id=1))).status == "Accepted"
    await csms.wait_for("StartTransaction")
    await csms.wait_for(pred=status_is("Charging"))
    (mv,) = await _trigger(csms, st, "MeterValues", 1, "Accepted", ["MeterValues"])
    assert mv[3]["transactionId"] == max(st.transactions)
    assert [sv["context"] for sv in mv[3]["meterValue"][0]["sampledValue"]] == ["Trigger", "Trigger"]


def _after_answer(station):
    """For every TriggerMessage the CSMS sent: (requestedMessage, connectorId, status, the
    charger's next CALL action after its answer, index of that answer, index of that CALL)."""
    out = []
    frames = [(d, json.loads(raw)) for d, raw in station.frames]
    for i, (d, m) in enumerate(frames):
        if d == "out" and m[0] == 2 and m[2] == "TriggerMessage":
            j = [k for k in range(i + 1, len(frames)) if frames[k][0] == "in" and frames[k][1][1] == m[1]][0]
            nxt = [k for k in range(j + 1, len(frames)) if frames[k][0] == "in" and frames[k][1][0] == 2]
            k = nxt[0] if nxt else None
            out.append((m[3]["requestedMessage"], m[3].get("connectorId"), frames[j][1][2]["status"],
                        frames[k][1][2] if k is not None else None, j, k))
    return out


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_trigger_message_variant_goes_out_after_its_answer(runtime):
    station, lines, rc = asyncio.run(S.run_session(runtime, TRIGGER_SCENARIO, script=trigger_script, speed=SPEED))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    seen = _after_answer(station)
    assert len(seen) == len(TRIGGERS) + 1
    for (what, connector, status, nxt, j, k), row in zip(seen, TRIGGERS + [("MeterValues", 1, "Accepted", ["MeterValues"])]):
        assert (what, connector, status) == row[:3]
        if row[3]:
            assert nxt == row[3][0] and j < k, (what, connector, nxt)  # the CALLRESULT first, then it
    # StatusNotification without connectorId: connector 0 and connector 1
    assert [m[3]["connectorId"] for m in station.results[3]] == [0, 1]
    assert [m[3]["status"] for m in station.results[3]] == ["Available", "Preparing"]
    assert [m[3]["connectorId"] for m in station.results[5]] == [0]
    for mv in station.results[7] + station.results[8]:
        assert mv[3]["connectorId"] == 1 and "transactionId" not in mv[3]
    assert station.results[10][0][3] == {"status": "Idle"} and station.results[11][0][3] == {"status": "Idle"}
    assert len(S.calls(frames, "BootNotification")) == 2
