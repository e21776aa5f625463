# Start-up and registration of the core (ocpp16.chargepoint), imported for each piece of work
# and unloaded (ChargePoint.on_demand): the state files read once at start (availability, a
# transaction open at power-off, resident features), the BootNotification sent until the CSMS
# accepts it and its answer, the clock set from a Heartbeat or BootNotification answer, and
# what follows when it is first set or jumps (timestamp repair, SettingSystemTime). No I/O
# beyond the core's state files.
from compat import const
import log
import store
from ocpp16 import profiles
from ocpp16 import timefmt
from ocpp16.chargepoint import AVAIL_FILE, BOOT_RETRY_DEFAULT_S, CLOCK_VALID_AFTER, TX_FILE

HELPERS = ("version",)  # unloaded with this module (ocpp16.profiles.unload): read for a BootNotification

# A correction of a set clock larger than this (s) is a SettingSystemTime security event
# (smaller ones are the drift every Heartbeat corrects).
_CLOCK_EVENT_JUMP_S = const(60)
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_FALLBACK_MODEL = const("ESP32")  # chargePointModel of a device dict without one (devconfig fills it)
_RECOVERY = const("recovery")  # ocpp16/recovery.py ends a transaction open at power-off: recover()
_RECOVER = const("recover")
_INTERVAL = const("interval")  # BootNotification.conf's retry / heartbeat interval
_METER_VALUE = const("meterValue")
# SupportedFeatureProfiles (OCPP 1.6 9.1): the profiles whose every action is in HANDLERS
# (ocpp16.profiles); set at start.
_SUPPORTED_PROFILES = const("Core,FirmwareManagement,LocalAuthListManagement,Reservation,RemoteTrigger,SmartCharging")


def start(cp, now):
    """Once, when the core is made."""
    cp.config.values["SupportedFeatureProfiles"] = _SUPPORTED_PROFILES
    p = cp._path(AVAIL_FILE)
    if not p:
        return
    avail = store.load(p, {})
    cp.available = avail.get("0", True)
    for e in cp.evses:
        e.set_available(avail.get(str(e.id), True) and cp.available)
    saved = store.load(cp._path(TX_FILE), {})
    if saved:  # open at power-off: ended by the on-demand recovery module
        cp.on_demand(_RECOVERY, _RECOVER, saved, now)
    for name in profiles.BOOT_FEATURES:
        if store.exists(cp._path(profiles.BOOT_FEATURES[name])):
            cp.feature(name, now)


def payload(cp):
    """BootNotification's payload (the core sends it until Accepted; also sent on a TriggerMessage)."""
    d = cp.device
    import version  # of the application folder that runs (appboot.py): an update changes it
    p = {"chargePointVendor": d.get("vendor") or version.NAME, "chargePointModel": d.get("model") or _FALLBACK_MODEL,
         "firmwareVersion": version.VERSION}
    if d.get("serial"):
        p["chargePointSerialNumber"] = d["serial"]
    return p


def answered(cp, p, now):
    """A Heartbeat's answer (the clock only) or a BootNotification's (the clock, the registration)."""
    clock(cp, p.get("currentTime"), now)
    status = p.get("status")
    if status is None:  # a Heartbeat's
        return
    interval = p.get(_INTERVAL, 0)
    cp.boot_status = status
    cp._event(("boot", status))
    if status == "Accepted":
        if interval > 0:
            cp.config.set_internal("HeartbeatInterval", interval)
        cp.retry_at = now
        log.info("BootNotification accepted; heartbeat every %d s", cp.config.get("HeartbeatInterval"))
    else:
        # Pending / Rejected: ask again after `interval` (only answers meanwhile).
        cp.next_boot_ms = now + (interval if interval > 0 else BOOT_RETRY_DEFAULT_S) * 1000
        log.warning("BootNotification %s; retry in %d s", status, (cp.next_boot_ms - now) // 1000)


def clock(cp, text, now):
    """The CSMS's currentTime (a Heartbeat or BootNotification answer). When the clock is
    set for the first time: timestamps taken before are repaired from now on; when a set
    clock moves more than _CLOCK_EVENT_JUMP_S: a SettingSystemTime security event, stamped
    with the new time."""
    if not text:
        return
    try:
        epoch = timefmt.parse_datetime(text)
    except ValueError:
        log.warning("currentTime %s not understood", text)
        return
    jump = epoch - cp.clock.epoch(now)
    known = cp.clock.known()
    cp.clock.set(epoch, now)
    cp.next_aligned_epoch = None  # the clock moved: align again from the new time
    if known:
        if jump > _CLOCK_EVENT_JUMP_S or jump < -_CLOCK_EVENT_JUMP_S:
            cp.security_event("SettingSystemTime", now, "clock moved %d s" % jump)
    elif cp.clock.known():
        # Timestamps taken before this moment came from an unset clock: from now on they
        # are corrected by the jump when sent (repair).
        cp.clock_offset = jump


def repair(cp, payload):
    """Shift timestamps taken before the clock was set (earlier than CLOCK_VALID_AFTER) by the
    jump the clock made when the CSMS set it. A message queued before a reboot that happened
    before the clock was ever set cannot be corrected: its timestamp stays in the year 2000,
    which flags it as unsynced. Once nothing made before remains, repair stops."""
    for d in [payload] + list(payload.get(_METER_VALUE) or ()) + list(payload.get("transactionData") or ()):
        t = d.get("timestamp")
        if t:
            try:
                e = timefmt.parse_datetime(t)
            except ValueError:
                continue
            if e < CLOCK_VALID_AFTER:
                d["timestamp"] = timefmt.format_datetime(e + cp.clock_offset)
    ram = cp.ram  # a RAM message being sent is still first in it (taken once it is sent)
    if not cp.tx and cp.queue.peek() is None and (not ram or len(ram) == 1 and ram[0][2] is payload):
        cp.clock_offset = None
