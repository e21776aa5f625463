# Remote Trigger profile (ocpp16/trigger.py) driven in memory: every requestedMessage
# with and without connectorId, the answer before the triggered message in the outbox,
# Rejected / NotImplemented cases, and the module unloaded after each call.
# Runs on both runtimes.
import json
import sys

from test_chargepoint import Rig, TX_ID
from test_reservation import Rig2


def trigger(rig, what, connector=None, msg_id="t1"):
    """(TriggerMessage status, the CALLs in the outbox behind its answer, every CALL sent in
    the next 2 s), parsed."""
    p = {"requestedMessage": what}
    if connector is not None:
        p["connectorId"] = connector
    rig.cp.receive(json.dumps([2, msg_id, "TriggerMessage", p]), rig.now)
    out = [json.loads(t) for t in rig.cp.outbox]
    assert out and out[0][0] == 3 and out[0][1] == msg_id, out  # the answer goes first
    del rig.cp.outbox[0]
    status = out[0][2]["status"]
    before = len(rig.sent)
    rig.run(2000)  # answers the triggered CALL(s) and lets the rest go out
    assert "ocpp16.trigger" not in sys.modules
    return status, out[1:], rig.sent[before:]


def booted(rig):
    rig.cp.on_connect(rig.now)
    rig.run(2000)
    return rig


def test_heartbeat_goes_out_right_after_the_answer():
    r = booted(Rig("trg_hb"))
    status, behind, _ = trigger(r, "Heartbeat")
    assert status == "Accepted"
    assert [m[2] for m in behind] == ["Heartbeat"] and behind[0][3] == {}


def test_boot_notification_accepted_and_while_pending():
    r = booted(Rig("trg_boot"))
    status, behind, _ = trigger(r, "BootNotification")
    assert status == "Accepted" and [m[2] for m in behind] == ["BootNotification"]
    assert behind[0][3]["chargePointVendor"] and r.cp.boot_status == "Accepted"
    # Pending with a long interval: the trigger asks again at once, nothing else may go
    p = Rig("trg_pending")
    p.boot = "Pending"
    p.cp.on_connect(0)
    p.run(1000)
    assert p.actions() == ["BootNotification"]
    assert trigger(p, "Heartbeat")[0] == "Rejected"
    assert trigger(p, "StatusNotification", msg_id="t2")[0] == "Rejected"
    p.boot = "Accepted"
    status, behind, _ = trigger(p, "BootNotification", msg_id="t3")
    assert status == "Accepted" and [m[2] for m in behind] == ["BootNotification"]
    assert p.cp.boot_status == "Accepted"


def test_status_notification_for_one_connector_and_for_all():
    r = booted(Rig2("trg_status"))
    r.world.connectors[1].plug()
    r.run(2000)
    status, behind, _ = trigger(r, "StatusNotification", 2)
    assert status == "Accepted"
    assert [(m[2], m[3]["connectorId"], m[3]["status"]) for m in behind] == \
        [("StatusNotification", 2, "Preparing")]
    status, behind, sent = trigger(r, "StatusNotification", msg_id="t2")
    assert status == "Accepted" and len(behind) == 1  # one CALL at a time: the rest follow
    assert [(m[3]["connectorId"], m[3]["status"], m[3]["errorCode"]) for m in sent] == \
        [(0, "Available", "NoError"), (1, "Available", "NoError"), (2, "Preparing", "NoError")]
    status, behind, _ = trigger(r, "StatusNotification", 0, msg_id="t3")
    assert status == "Accepted" and [m[3]["connectorId"] for m in behind] == [0]
    assert trigger(r, "StatusNotification", 3, msg_id="t4")[0] == "Rejected"  # no connector 3


def test_meter_values_outside_and_inside_a_transaction():
    r = booted(Rig("trg_mv"))
    r.config.change("MeterValueSampleInterval", "0")
    status, behind, _ = trigger(r, "MeterValues", 1)
    assert status == "Accepted" and [m[2] for m in behind] == ["MeterValues"]
    p = behind[0][3]
    assert p["connectorId"] == 1 and "transactionId" not in p
    svs = p["meterValue"][0]["sampledValue"]
    assert [sv["measurand"] for sv in svs] == ["Energy.Active.Import.Register", "Power.Active.Import"]
    assert all(sv["context"] == "Trigger" for sv in svs)
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(10000)
    assert 1 in r.cp.tx
    status, behind, sent = trigger(r, "MeterValues", msg_id="t2")  # no connectorId: every connector
    assert status == "Accepted"
    mv = [m for m in behind + sent if m[2] == "MeterValues"]
    assert mv and mv[0][3]["transactionId"] == TX_ID  # through the queue, with its transaction
    assert float(mv[0][3]["meterValue"][0]["sampledValue"][1]["value"]) > 0
    assert trigger(r, "MeterValues", 0, msg_id="t3")[0] == "Rejected"  # no main meter
    r.config.change("MeterValuesSampledData", "")
    assert trigger(r, "MeterValues", 1, msg_id="t4")[0] == "Rejected"  # nothing to sample


def test_firmware_and_diagnostics_status_notifications():
    r = booted(Rig("trg_fw"))
    for what in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
        status, behind, sent = trigger(r, what, msg_id=what)
        assert status == "Accepted"
        assert [(m[2], m[3]) for m in behind] == [(what, {"status": "Idle"})]
        assert r.cp.idle()  # the CSMS's empty answer was taken
    r.cp.firmware_status = "Downloading"
    r.cp.diagnostics_status = "Uploading"
    assert trigger(r, "FirmwareStatusNotification", 1, msg_id="f2")[1][0][3] == {"status": "Downloading"}
    assert trigger(r, "DiagnosticsStatusNotification", msg_id="d2")[1][0][3] == {"status": "Uploading"}


def test_the_answer_waits_for_nothing_but_the_message_waits_for_our_pending_call():
    r = booted(Rig("trg_pend"))
    r.answer_calls = False
    r.world.tap("AB12")
    r.run(200)  # an Authorize is out, unanswered
    assert r.cp.pending is not None and r.cp.pending["action"] == "Authorize"
    r.cp.receive(json.dumps([2, "t9", "TriggerMessage", {"requestedMessage": "Heartbeat"}]), r.now)
    assert [json.loads(t) for t in r.cp.outbox] == [[3, "t9", {"status": "Accepted"}]]
    del r.cp.outbox[:]
    r.answer_calls = True
    r.cp.receive(json.dumps([3, r.cp.pending["id"], {"idTagInfo": {"status": "Accepted"}}]), r.now)
    assert [json.loads(t)[2] for t in r.cp.outbox] == ["Heartbeat"]


def test_not_implemented_for_a_message_it_does_not_know():
    from ocpp16 import profiles
    r = booted(Rig("trg_ni"))
    mod = profiles.load("trigger")
    try:
        # the schema lets only the six 1.6 names through; the handler's own table decides
        assert mod.on_TriggerMessage(r.cp, {"requestedMessage": "SignChargePointCertificate"}, r.now) == \
            {"status": "NotImplemented"}
    finally:
        profiles.unload("trigger")
    r.cp.receive(json.dumps([2, "x", "TriggerMessage", {"requestedMessage": "Coffee"}]), r.now)
    assert json.loads(r.cp.outbox.pop(0))[:3] == [4, "x", "PropertyConstraintViolation"]
