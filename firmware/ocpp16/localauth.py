# Local Auth List Management profile: the CSMS-initiated SendLocalList and
# GetLocalListVersion. Imported on first use, so a board that never receives
# them does not pay for this module. No I/O beyond AuthStore's state file.


def on_SendLocalList(cp, p, now):
    if not cp.config.get("LocalAuthListEnabled"):
        return {"status": "NotSupported"}
    entries = p.get("localAuthorizationList") or []
    if len(entries) > cp.config.get("SendLocalListMaxLength"):
        return {"status": "Failed"}
    status = cp.auth_store.update_list(p["listVersion"], p["updateType"], entries,
                                       cp.config.get("LocalAuthListMaxLength"))
    return {"status": status}


def on_GetLocalListVersion(cp, p, now):
    if not cp.config.get("LocalAuthListEnabled"):
        return {"listVersion": -1}  # OCPP 1.6 5.10: -1 when the local list is not enabled
    return {"listVersion": cp.auth_store.version}
