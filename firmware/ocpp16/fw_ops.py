# Firmware Management profile, the CSMS-initiated calls: UpdateFirmware and GetDiagnostics.
# Each answers at once and leaves the work to a background job (ocpp16.fw_update,
# ocpp16.fw_diag) through cp.jobs; an update's state goes to flash first (fw.json), so a
# reboot resumes it. Imported for the call and unloaded after it; no I/O but that state file.
import store
from ocpp16 import timefmt

# When the CSMS names no retries / retryInterval: our choice (OCPP 1.6 leaves it to us).
DEFAULT_RETRIES = 2
DEFAULT_RETRY_INTERVAL_S = 60
MAX_RETRIES = 10                  # retries asked for beyond this are capped (bounded work)
STATE = "fw.json"                 # the update in progress, in data_dir (profiles.BOOT_FEATURES)
DIAG_NAME = "diagnostics-%s-%s.log"   # fileName of a diagnostics upload: charge point id, time


def _retries(p):
    return min(max(p.get("retries", DEFAULT_RETRIES), 0), MAX_RETRIES)


def _interval(p):
    return max(p.get("retryInterval", DEFAULT_RETRY_INTERVAL_S), 0)


def on_UpdateFirmware(cp, p, now):
    st = cp.features.get("fw_state")
    if st is not None and getattr(cp, "fw_update", None) and cp.fw_update.get("phase") in ("installing", "rebooting"):
        return {}   # an install is under way: this request cannot replace it (the answer has no status)
    state = {"loc": p["location"], "at": timefmt.parse_datetime(p["retrieveDate"]),
             "retries": _retries(p), "interval": _interval(p), "phase": "scheduled", "tries": 0,
             "gen": (getattr(cp, "fw_update", None) or {}).get("gen", 0) + 1}
    store.save(cp.data_dir + "/" + STATE, state)
    cp.drop_feature("fw_state")
    cp.feature("fw_state", now)    # attach() reads the state and queues the job
    return {}


def on_GetDiagnostics(cp, p, now):
    import log
    if not log.files():
        return {}   # no fileName: no diagnostics available
    name = DIAG_NAME % (cp.device.get("charge_point_id", "cp"),
                        cp.clock.stamp(now).replace(":", "").replace("-", ""))
    args = {"loc": p["location"], "retries": _retries(p), "interval": _interval(p),
            "start": timefmt.parse_datetime(p["startTime"]) if p.get("startTime") else None,
            "stop": timefmt.parse_datetime(p["stopTime"]) if p.get("stopTime") else None,
            "name": name}
    cp.jobs.append(("fw_diag", args))
    return {"fileName": name}
