# Firmware Management profile, the CSMS-initiated calls: UpdateFirmware and GetDiagnostics,
# and the Security extension's SignedUpdateFirmware. Each answers at once and leaves the work
# to a background job (ocpp16.fw_update, ocpp16.fw_diag) through cp.jobs; an update's state goes
# to flash first (fw.json), so a reboot resumes it. Imported for the call and unloaded after it;
# no I/O but that state file (and reading the installed Manufacturer roots).
from compat import const
import store
from ocpp16 import timefmt

# When the CSMS names no retries / retryInterval: our choice (OCPP 1.6 leaves it to us).
DEFAULT_RETRIES = 2
DEFAULT_RETRY_INTERVAL_S = 60
MAX_RETRIES = 10                  # retries asked for beyond this are capped (bounded work)
STATE = "fw.json"                 # the update in progress, in data_dir (profiles.BOOT_FEATURES)
_DIAG_NAME = const("diagnostics-%s-%s.log")  # fileName of a diagnostics upload: charge point id, time
_INSTALL_PHASES = const(("installing", "rebooting"))  # an update past these cannot be replaced


def _retries(p):
    return min(max(p.get("retries", DEFAULT_RETRIES), 0), MAX_RETRIES)


def _interval(p):
    return max(p.get("retryInterval", DEFAULT_RETRY_INTERVAL_S), 0)


def _running(cp):
    """The phase of the update in progress, or None."""
    st = getattr(cp, "fw_update", None) if cp.features.get("fw_state") is not None else None
    return st.get("phase") if st else None


def _start(cp, p, location, retrieve, now, extra=None):
    """Write the new update's state and (re)load fw_state, whose attach() queues the job;
    the job of a running update sees the new gen and stops."""
    state = {"loc": location, "at": timefmt.parse_datetime(retrieve),
             "retries": _retries(p), "interval": _interval(p), "phase": "scheduled", "tries": 0,
             "gen": (getattr(cp, "fw_update", None) or {}).get("gen", 0) + 1}
    if extra:
        state.update(extra)
    store.save(cp.data_dir + "/" + STATE, state)
    cp.drop_feature("fw_state")
    cp.feature("fw_state", now)


def on_UpdateFirmware(cp, p, now):
    if _running(cp) in _INSTALL_PHASES:
        return {}   # an install is under way: this request cannot replace it (the answer has no status)
    _start(cp, p, p["location"], p["retrieveDate"], now)
    return {}


def on_SignedUpdateFirmware(cp, p, now):
    """Security whitepaper, secure firmware update: the signing certificate must chain to an
    installed ManufacturerRootCertificate (else InvalidCertificate and the
    InvalidFirmwareSigningCertificate event); revocation cannot be checked offline, so
    RevokedCertificate is never answered. The signature is checked after the download."""
    phase = _running(cp)
    if phase in _INSTALL_PHASES:
        return {"status": "Rejected"}   # too late to replace the install under way
    fw = p["firmware"]
    from ocpp16 import profiles
    try:
        fwsign = profiles.load("fwsign")
        roots = fwsign.manufacturer_roots(cp)
        _cert, why = fwsign.signing_certificate(fw["signingCertificate"], roots,
                                                cp.clock.epoch(now) if cp.clock.known() else None)
    finally:
        profiles.unload("fwsign")
    if why is not None:
        if not roots:
            why = "no ManufacturerRootCertificate installed"
        cp.security_event("InvalidFirmwareSigningCertificate", now, why)
        return {"status": "InvalidCertificate"}
    extra = {"rid": p["requestId"], "cert": fw["signingCertificate"], "sig": fw["signature"]}
    if fw.get("installDateTime"):
        extra["install_at"] = timefmt.parse_datetime(fw["installDateTime"])
    _start(cp, p, fw["location"], fw["retrieveDateTime"], now, extra)
    return {"status": "AcceptedCanceled" if phase is not None else "Accepted"}


def on_GetDiagnostics(cp, p, now):
    import log
    if not log.files():
        return {}   # no fileName: no diagnostics available
    name = _DIAG_NAME % (cp.device.get("charge_point_id", "cp"),
                        cp.clock.stamp(now).replace(":", "").replace("-", ""))
    args = {"loc": p["location"], "retries": _retries(p), "interval": _interval(p),
            "start": timefmt.parse_datetime(p["startTime"]) if p.get("startTime") else None,
            "stop": timefmt.parse_datetime(p["stopTime"]) if p.get("stopTime") else None,
            "name": name}
    cp.jobs.append(("fw_diag", args))
    return {"fileName": name}
