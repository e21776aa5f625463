# Resident while a firmware update is in progress (data_dir/fw.json exists): re-queues the
# update job after a reboot, refuses new transactions and shows idle connectors Unavailable
# while the install waits, and after the reboot into the new version confirms it once
# BootNotification is Accepted (Installed, and the FirmwareUpdated security event) or reports
# the rollback (InstallationFailed). A SignedUpdateFirmware's statuses go out as
# SignedFirmwareStatusNotification with its requestId. No I/O beyond the state file and the
# confirmation; the downloading is ocpp16.fw_update.
from compat import const
import log
import store

STATE = "fw.json"
# The new version must get BootNotification Accepted within this time after its first boot,
# or the charger reboots, and the bootloader / appboot roll back to the previous version.
_TRIAL_CONNECT_MS = const(300000)  # Phases in which the job (downloading, waiting, installing) has work left.
_JOB_PHASES = const(("scheduled", "downloading", "downloaded", "install_scheduled", "waiting", "installing"))  # Phases in which new transactions are refused and idle connectors are Unavailable.
_HOLD_PHASES = const(("waiting", "installing", "rebooting"))  # The statuses FirmwareStatusNotification (OCPP 1.6) knows; a signed update's others
# (DownloadScheduled, SignatureVerified, InstallRebooting ...) leave cp.firmware_status as it is.
PLAIN_STATUSES = ("Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed",
                  "Installing", "Installed")
# A signed update's status after a reboot, from the phase its state file holds.
SIGNED_PHASE_STATUS = {"scheduled": "DownloadScheduled", "downloading": "Downloading",
                       "downloaded": "SignatureVerified", "install_scheduled": "InstallScheduled",
                       "waiting": "SignatureVerified",
                       "installing": "Installing", "rebooting": "InstallRebooting"}


def _path(cp):
    return cp.data_dir + "/" + STATE


def notify(cp, status):
    """FirmwareStatusNotification now (through the RAM queue), or SignedFirmwareStatusNotification
    with the requestId for a SignedUpdateFirmware, and the status the triggers report
    (cp.firmware_status: TriggerMessage; cp.fw_signed = (status, requestId): ExtendedTriggerMessage)."""
    st = cp.fw_update
    rid = st.get("rid") if st else None
    if status in PLAIN_STATUSES:
        cp.firmware_status = status
    if rid is None:
        cp._ram("FirmwareStatusNotification", {"status": status}, None)
    else:
        cp.fw_signed = (status, rid)
        cp._ram("SignedFirmwareStatusNotification", {"status": status, "requestId": rid}, None)
    log.info("firmware: %s", status)


def save(cp):
    store.save(_path(cp), cp.fw_update)


def finish(cp, status=None):
    """The update is over: its state file goes, and this module leaves RAM."""
    if status:
        notify(cp, status)
    cp.firmware_status = "Idle"   # TriggerMessage: nothing in progress any more (1.6 errata)
    cp.fw_signed = None
    store_path = _path(cp)
    try:
        import os
        os.remove(store_path)
    except OSError:
        pass
    cp.fw_update = None
    cp.drop_feature("fw_state")


def attach(cp, now):
    st = store.load(_path(cp), None)
    cp.fw_update = st
    cp.fw_since = now
    cp.fw_booted = False      # True: this boot is the first of the version just installed
    cp.fw_signed = None       # (status, requestId) of a signed update in progress
    if not isinstance(st, dict):
        return
    if st.get("phase") == "installing":
        # Power went during the install: if the switch (the last step) was made, this is
        # the new version's first boot; otherwise install again from the verified download.
        st["phase"] = "rebooting" if _switched(st) else "waiting"
    cp.fw_booted = st.get("phase") == "rebooting"
    if st.get("rid") is not None:
        cp.fw_signed = (SIGNED_PHASE_STATUS.get(st.get("phase"), "Idle"), st["rid"])
    if st.get("phase") in _JOB_PHASES:
        cp.jobs.append(("fw_update", st.get("gen")))


def may_start(cp, evse, id_tag, now):
    st = cp.fw_update
    if st and st.get("phase") in _HOLD_PHASES:
        return "a firmware update waits to install"
    return None


def status(cp, connector_id, s, now):
    st = cp.fw_update
    if st and st.get("phase") in _HOLD_PHASES and connector_id not in cp.tx and s in ("Available", "Preparing"):
        return "Unavailable"
    return s


def tick(cp, now):
    st = cp.fw_update
    if not st:
        if st is None:
            cp.drop_feature("fw_state")
        return
    if st.get("phase") != "rebooting" or not cp.fw_booted:
        return   # installed by this boot: the verdict belongs to the next one
    if cp.boot_status != "Accepted":
        if now - cp.fw_since >= _TRIAL_CONNECT_MS and cp.reboot is None:
            log.error("firmware: the new version got no BootNotification Accepted in %d s: rebooting to roll back",
                      _TRIAL_CONNECT_MS // 1000)
            cp.reboot = "Hard"
        return
    ok = _confirm(st)
    from ocpp16 import profiles
    profiles.unload(("hal.esp32.ota", "appboot"))
    if ok:
        import version
        cp.security_event("FirmwareUpdated", now, "version %s (%s)" % (version.VERSION, st.get("target")))
    finish(cp, "Installed" if ok else "InstallationFailed")


def _switched(st):
    try:
        if st.get("kind") == "image":
            from hal.esp32 import ota
            return ota.running_label() == st.get("target")
        import appboot
        m = appboot.read(st.get("root") or "")
        return bool(m) and m.get("run") == st.get("target")
    except Exception:
        return False


def _confirm(st):
    """True (and the new version kept) when the version running is the one installed."""
    try:
        if st.get("kind") == "image":
            from hal.esp32 import ota
            if ota.running_label() != st.get("target"):
                return False
            ota.confirm()
            return True
        import appboot
        root = st.get("root")
        m = appboot.read(root) if root else None
        if not m or m.get("run") != st.get("target"):
            return False   # appboot rolled back (or never switched)
        appboot.confirm(root)
        return True
    except Exception as e:  # ImportError (no esp32 module), OSError
        log.error("firmware: cannot confirm the new version: %r", e)
        return False
