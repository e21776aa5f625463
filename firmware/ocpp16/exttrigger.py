# ExtendedTriggerMessage (Security extension): the CSMS asks for one message now.
# Imported for one call and removed again; builds the message from the core's own
# state and queues it as the core would (in RAM; the answer goes to ChargePoint._answered).
from compat import const
_LOG_STATUS_IDLE = const("Idle")


def on_ExtendedTriggerMessage(cp, p, now):
    what = p["requestedMessage"]
    c = p.get("connectorId")
    if c is not None and not (0 <= c <= len(cp.evses)):
        return {"status": "Rejected"}
    if what == "BootNotification":
        boot = cp.on_demand("boot", "payload")
        if boot is None:
            raise ImportError("ocpp16.boot")  # the CSMS gets an InternalError
        cp._ram("BootNotification", boot, None)
    elif what == "Heartbeat":
        cp._ram("Heartbeat", {}, None)
    elif what == "FirmwareStatusNotification":
        signed = getattr(cp, "fw_signed", None)  # (status, requestId) of a SignedUpdateFirmware (ocpp16.fw_state)
        if signed:
            cp._ram("SignedFirmwareStatusNotification", {"status": signed[0], "requestId": signed[1]}, None)
        else:
            cp._ram("FirmwareStatusNotification", {"status": cp.firmware_status}, None)
    elif what == "LogStatusNotification":
        cp._ram("LogStatusNotification", _log_status(cp), None)
    elif what == "StatusNotification":
        for cid in ([c] if c is not None else [0] + [e.id for e in cp.evses]):
            status, err = cp.reported.get(cid, ("Available", "NoError"))
            cp._ram("StatusNotification", {"connectorId": cid, "errorCode": err, "status": status,
                                           "timestamp": cp.clock.stamp(now)}, None)
    elif what == "MeterValues":
        for evse in cp.evses:
            if c in (None, 0, evse.id):
                mv = cp._sampled(evse, "MeterValuesSampledData", "Trigger", now)
                if mv is not None:
                    payload = {"connectorId": evse.id, "meterValue": [mv]}
                    t = cp.tx.get(evse.id)
                    if t is not None and t.tx_id is not None:
                        payload["transactionId"] = t.tx_id
                    cp._ram("MeterValues", payload, None)
    elif what == "SignChargePointCertificate":
        from ocpp16 import profiles
        try:
            why = profiles.load("signcert").prerequisites(cp)
        finally:
            profiles.unload("signcert")
        if why:
            return {"status": "Rejected"}
        cp.jobs.append(("signcert", None))
    else:
        return {"status": "NotImplemented"}
    return {"status": "Accepted"}


def _log_status(cp):
    st = getattr(cp, "log_upload", None)  # (status, requestId) while a GetLog uploads (ocpp16.getlog)
    if not st:
        return {"status": _LOG_STATUS_IDLE}
    out = {"status": st[0]}
    if st[1] is not None:
        out["requestId"] = st[1]
    return out
