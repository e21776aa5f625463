# Local Auth List Management profile: the CSMS-initiated SendLocalList and
# GetLocalListVersion, and the list update itself (the list lives in ocpp16.auth's
# AuthStore, which looks tags up). Imported for the call and removed again, so a board
# that never receives them does not pay for this module. No I/O beyond AuthStore's state file.
import store
from ocpp16.auth import LIST_FILE, LOCAL_LIST_MAX, pack

HELPERS = ("ocpp16.auth",)  # unloaded with this module (ocpp16.profiles.unload)


def on_SendLocalList(cp, p, now):
    if not cp.config.get("LocalAuthListEnabled"):
        return {"status": "NotSupported"}
    entries = p.get("localAuthorizationList") or []
    if len(entries) > cp.config.get("SendLocalListMaxLength"):
        return {"status": "Failed"}
    status = update_list(cp.auth_store, p["listVersion"], p["updateType"], entries,
                         cp.config.get("LocalAuthListMaxLength"))
    return {"status": status}


def update_list(a, version, update_type, entries, max_len=LOCAL_LIST_MAX):
    """SendLocalList into the AuthStore a: returns UpdateStatus (Accepted, Failed, VersionMismatch)."""
    if update_type == "Differential" and version <= a.version:
        return "VersionMismatch"
    new = {} if update_type == "Full" else dict(a.list)
    for entry in entries:
        tag = entry["idTag"]
        info = entry.get("idTagInfo")
        if info is None:
            new.pop(tag, None)  # differential: removal; full: an entry without info is not added
        else:
            new[tag] = pack(info, a.parse_time)
    if len(new) > max_len:
        return "Failed"
    a.list = new
    a.version = version
    if a.dir:
        store.save(a._path(LIST_FILE), {"v": version, "e": new})
    return "Accepted"


def on_GetLocalListVersion(cp, p, now):
    if not cp.config.get("LocalAuthListEnabled"):
        return {"listVersion": -1}  # OCPP 1.6 5.10: -1 when the local list is not enabled
    return {"listVersion": cp.auth_store.version}
