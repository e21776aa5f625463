# GetLog (Security extension): the security log (ocpp16.secevents) or the diagnostics
# log (log.py's rolling flash log) uploaded to remoteLocation as one file, in a background
# job, LogStatusNotification with the request's requestId for each step. A new GetLog
# while one uploads replaces it (AcceptedCanceled). Imported for the call / the job only.
from compat import const
HELPERS = ("ocpp16.secevents",)  # unloaded with this module (ocpp16.profiles.unload)
import log
from ocpp16 import timefmt

DEFAULT_RETRIES = 2               # retries / retryInterval when the CSMS names none (our choice)
DEFAULT_RETRY_INTERVAL_S = 60
MAX_RETRIES = 10                  # retries asked for beyond this are capped (bounded work)
_FILE_NAME = const("%s-%s-%s.log")  # securitylog / diagnosticslog, charge point id, time


def _paths(cp, kind):
    if kind == "SecurityLog":
        from ocpp16 import secevents
        base = secevents.log_path(cp)
        import store
        return [p for p in (base + ".1", base) if store.real_fs.size(p) > 0]
    return log.files()


def on_GetLog(cp, p, now):
    kind = p["logType"]
    if not _paths(cp, kind):
        return {"status": "Rejected"}  # nothing to upload
    busy = getattr(cp, "log_upload", None)
    replaced = busy is not None and busy[0] == "Uploading"
    cp.log_upload_gen = getattr(cp, "log_upload_gen", 0) + 1  # a running job sees it and stops
    cp.log_upload = ("Uploading", p["requestId"])
    name = _FILE_NAME % (kind.lower(), cp.device.get("charge_point_id", "cp"),
                        cp.clock.stamp(now).replace(":", "").replace("-", ""))
    lg = p["log"]
    args = {"loc": lg["remoteLocation"], "name": name, "kind": kind, "id": p["requestId"],
            "retries": min(max(p.get("retries", DEFAULT_RETRIES), 0), MAX_RETRIES),
            "interval": max(p.get("retryInterval", DEFAULT_RETRY_INTERVAL_S), 0),
            "start": timefmt.parse_datetime(lg["oldestTimestamp"]) if lg.get("oldestTimestamp") else None,
            "stop": timefmt.parse_datetime(lg["latestTimestamp"]) if lg.get("latestTimestamp") else None,
            "gen": cp.log_upload_gen}
    cp.jobs.append(("getlog", args))
    return {"status": "AcceptedCanceled" if replaced else "Accepted", "filename": name}


def _notify(cp, a, status):
    if getattr(cp, "log_upload_gen", 0) != a["gen"]:
        return False  # replaced by a newer GetLog: this one says nothing more
    cp.log_upload = (status, a["id"]) if status == "Uploading" else None
    cp._ram("LogStatusNotification", {"status": status, "requestId": a["id"]}, None)
    log.info("log upload %d: %s", a["id"], status)
    return True


async def run(app, a):
    try:
        await _run(app, a)
    finally:
        from ocpp16 import profiles
        profiles.unload(("ocpp16.fw_diag", "net.fetch"))


async def _run(app, a):
    from net import fetch
    from ocpp16.fw_diag import Selection, target
    cp = app.cp
    url = target(a["loc"], a["name"])
    ssl = None
    if url.startswith("https:"):
        import app as app_module
        ssl = app_module._rare("applink", "tls_context", app.cfg)  # applink for the call
    tries = 0
    while True:
        if not _notify(cp, a, "Uploading"):
            return
        src = Selection(_paths(cp, a["kind"]), a["start"], a["stop"])
        try:
            sent = await fetch.upload(url, src, src.size(), None, ssl)
            log.info("log upload %d: %d bytes to %s", a["id"], sent, fetch.public(url))
            _notify(cp, a, "Uploaded")
            return
        except Exception as e:  # TransferError, OSError
            tries += 1
            log.warning("log upload %d: attempt %d failed: %s", a["id"], tries, e)
            if tries > a["retries"]:
                _notify(cp, a, "UploadFailure")
                return
        finally:
            src.close()
        await app.clock.sleep_ms(a["interval"] * 1000)
