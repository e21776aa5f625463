# Core profile, the CSMS-initiated operations (OCPP 1.6 section 5): one function
# per action, on_<action>(cp, payload, now) -> result payload. Imported for one
# call and removed again (ocpp16.profiles); the state they change lives in the
# ChargePoint `cp`. No I/O here beyond cp's own state files.
from compat import const
import log
import store
from ocpp16 import rpc
from ocpp16.chargepoint import AVAIL_FILE

# Keys whose change is a ReconfigurationOfSecurityParameters security event.
_SECURITY_KEYS = const(("AuthorizationKey", "SecurityProfile", "CpoName"))


def on_ChangeAvailability(cp, p, now):
    c = p["connectorId"]
    on = p["type"] == "Operative"
    if c > len(cp.evses):
        return {"status": "Rejected"}
    targets = cp.evses if c == 0 else [cp.evses[c - 1]]
    scheduled = False
    if c == 0:
        cp.available = on
    for e in targets:
        if not on and e.id in cp.tx:
            cp.scheduled_unavailable.add(e.id)
            scheduled = True
        else:
            cp.scheduled_unavailable.discard(e.id)
            e.set_available(on)
    _save_avail(cp)
    return {"status": "Scheduled" if scheduled else "Accepted"}


def _save_avail(cp):
    path = cp._path(AVAIL_FILE)
    if path:
        d = {"0": cp.available}
        for e in cp.evses:
            d[str(e.id)] = e.available
        store.save(path, d)


def out_of_use(cp, c):
    """The transaction on connector c ended; a ChangeAvailability to Inoperative waited for it."""
    cp.scheduled_unavailable.discard(c)
    cp.evses[c - 1].set_available(False)
    _save_avail(cp)


def on_ChangeConfiguration(cp, p, now):
    if p["key"] == "AuthorizationKey":
        log.secret(p["value"])  # never shown on the console from now on
    if p["key"] == "SecurityProfile":  # only raised, with its prerequisites (Security whitepaper)
        from ocpp16 import profiles
        try:
            status = profiles.load("secprofile").change(cp, p["value"], now)
        finally:
            profiles.unload("secprofile")
    else:
        status = cp.config.change(p["key"], p["value"])
    if status in ("Accepted", "RebootRequired"):
        cp._event(("config", p["key"]))
        if p["key"] in _SECURITY_KEYS:
            cp.security_event("ReconfigurationOfSecurityParameters", now, p["key"])
    return {"status": status}


def on_ClearCache(cp, p, now):
    cp.auth_store.clear_cache()
    return {"status": "Accepted"}


def on_DataTransfer(cp, p, now):
    return {"status": "UnknownVendorId"}


def on_GetConfiguration(cp, p, now):
    keys = p.get("key")
    if keys and len(keys) > cp.config.get("GetConfigurationMaxKeys"):
        raise rpc.RpcError(rpc.OccurenceConstraintViolation,
                           "more than GetConfigurationMaxKeys keys requested", None)
    known, unknown = cp.config.listing(keys)
    out = {"configurationKey": known}
    if unknown:
        out["unknownKey"] = unknown
    return out


def on_RemoteStartTransaction(cp, p, now):
    try:
        return _remote_start(cp, p, now)
    finally:
        if "chargingProfile" in p:
            from ocpp16 import profiles
            profiles.unload("schema_smart")  # its tables checked the profile: not needed now


def _remote_start(cp, p, now):
    wanted = p.get("connectorId")
    if wanted is not None and not (1 <= wanted <= len(cp.evses)):
        return {"status": "Rejected"}
    evse = None
    for e in cp.evses:
        if (not wanted or e.id == wanted) and e.id not in cp.tx and e.available and e.fault is None:
            evse = e
            break
    if evse is None or cp.boot_status != "Accepted":
        return {"status": "Rejected"}
    if p.get("chargingProfile") is not None:
        why = _remote_start_profile(cp, p["chargingProfile"], evse.id, p["idTag"], now)
        if why:
            log.warning("RemoteStartTransaction rejected: %s", why)
            return {"status": "Rejected"}
    # ocpp16.offline: Rejected when it cannot be loaded now
    if cp.config.get("AuthorizeRemoteTxRequests"):
        done = cp.on_demand("offline", "authorize", p["idTag"], evse.id, now)
    else:
        done = cp.on_demand("offline", "result", p["idTag"], evse.id, "Accepted", now)
    return {"status": "Accepted" if done else "Rejected"}


def _remote_start_profile(cp, profile, connector, id_tag, now):
    """Its TxProfile waits (in ocpp16.smart) for the transaction it is for."""
    from ocpp16 import profiles
    try:
        return profiles.load("smart_ops").remote_start_profile(cp, profile, connector, id_tag, now)
    finally:
        profiles.unload("smart_ops")


def on_RemoteStopTransaction(cp, p, now):
    for c in cp.tx:
        if cp.tx[c].tx_id == p["transactionId"]:
            cp.stop_transaction(c, "Remote", now)
            return {"status": "Accepted"}
    return {"status": "Rejected"}


def on_Reset(cp, p, now):
    kind = p["type"]
    for c in list(cp.tx):
        cp.stop_transaction(c, kind + "Reset", now)
    cp.reset_requested = (kind, now)
    if cp.feature("reset", now) is None:  # cannot wait for the stops: they go out after the reboot
        cp.reboot = kind
    cp.security_event("ResetOrReboot", now, "%s reset by the CSMS" % kind)
    return {"status": "Accepted"}


def on_UnlockConnector(cp, p, now):
    c = p["connectorId"]
    if c <= 0:  # the schema's connectorId is a positive integer (connector 0 has no cable)
        raise rpc.RpcError(rpc.PropertyConstraintViolation, "connectorId must be > 0")
    if c > len(cp.evses):  # an unknown connector (OCPP 1.6 CTT TC_031): NotSupported
        return {"status": "NotSupported"}
    evse = cp.evses[c - 1]
    if c in cp.tx:
        cp.stop_transaction(c, "UnlockCommand", now)
    if evse.lock is None:
        return {"status": "NotSupported"}
    return {"status": "Unlocked" if evse.lock.unlock() else "UnlockFailed"}
