# Remote Trigger profile: TriggerMessage (OCPP 1.6 5.17). Imported for one call and
# removed again. It only queues the requested message; the core sends it after the
# CALLRESULT (the answer is in the outbox before the next CALL). No I/O here.


def _boot(cp, connectors, now):
    if cp.boot_status == "Accepted":
        boot = cp.on_demand("boot", "payload")
        if boot is None:
            raise ImportError("ocpp16.boot")  # the CSMS gets an InternalError
        cp._ram("BootNotification", boot, None)
    else:
        cp.next_boot_ms = now  # Pending / Rejected: ask again now instead of after `interval`
    return True


def _heartbeat(cp, connectors, now):
    cp._ram("Heartbeat", {}, None)
    return True


def _diagnostics(cp, connectors, now):
    cp._ram("DiagnosticsStatusNotification", {"status": cp.diagnostics_status}, None)
    return True


def _firmware(cp, connectors, now):
    cp._ram("FirmwareStatusNotification", {"status": cp.firmware_status}, None)
    return True


def _meter_values(cp, connectors, now):
    if connectors == [0] or not cp.config.csl("MeterValuesSampledData"):
        return False  # no main meter on connector 0; nothing configured to sample
    sent = False
    for c in connectors or [e.id for e in cp.evses]:
        evse = cp.evses[c - 1]
        if evse.read_meter() is None:
            continue
        # in a transaction it carries the transactionId and goes through the queue
        cp._meter_values(evse, "MeterValuesSampledData", "Trigger", now, cp.tx.get(c))
        sent = True
    return sent


def _status(cp, connectors, now):
    sent = False
    for c in connectors or [0] + [e.id for e in cp.evses]:
        seen = cp.seen.get(c)
        if seen is None:
            continue
        cp.reported[c] = (seen[0], seen[1])
        cp._ram("StatusNotification", {"connectorId": c, "errorCode": seen[1], "status": seen[0],
                                       "timestamp": cp.clock.stamp(now)}, None)
        sent = True
    return sent


# requestedMessage -> sender(cp, [connectorId] or None for all, now) -> False when it cannot be sent
SENDERS = {
    "BootNotification": _boot, "DiagnosticsStatusNotification": _diagnostics,
    "FirmwareStatusNotification": _firmware, "Heartbeat": _heartbeat,
    "MeterValues": _meter_values, "StatusNotification": _status,
}


def on_TriggerMessage(cp, p, now):
    what = p["requestedMessage"]
    sender = SENDERS.get(what)
    if sender is None:
        return {"status": "NotImplemented"}
    c = p.get("connectorId")
    if c is not None and not (0 <= c <= len(cp.evses)):
        return {"status": "Rejected"}  # no such connector
    if what != "BootNotification" and cp.boot_status != "Accepted":
        return {"status": "Rejected"}  # until accepted only BootNotification may be sent (4.2)
    # without connectorId: every connector (StatusNotification also connector 0)
    connectors = [c] if c is not None else None
    return {"status": "Accepted" if sender(cp, connectors, now) else "Rejected"}
