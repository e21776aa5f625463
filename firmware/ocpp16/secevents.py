# SecurityEventNotification (Security whitepaper, "Security events"): every event
# goes into a bounded rolling security log on flash; the critical ones are queued
# on flash (cp._push) so they survive outages and power cuts, the others wait in
# RAM. Loaded on demand; writes only its two log files. Not for transaction data.
import store
from compat import const

# The whitepaper's critical events: guaranteed delivery.
_CRITICAL = const(("FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
            "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated"))
_OTHERS = const(("FailedToAuthenticateAtCentralSystem", "CentralSystemFailedToAuthenticate",
          "ReconfigurationOfSecurityParameters", "InvalidMessages", "AttemptedReplayAttacks",
          "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate",
          "InvalidCentralSystemCertificate", "InvalidChargePointCertificate", "InvalidTLSVersion",
          "InvalidTLSCipherSuite"))
_TECH_INFO_MAX = const(255)      # techInfo maxLength in the schema
_LOG_FILE = const("security.log")  # in data_dir; _LOG_FILE + _OLD holds the previous half
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_OLD = const(".1")
_TECH_INFO = const("techInfo")
_SECURITY = const("security")  # the core event (ChargePoint.events) of one
_LOG_HALF_BYTES = const(8192)    # a log file is rotated once it reaches this: at most 2x on flash


def log_path(cp):
    return (cp.data_dir or ".") + "/" + _LOG_FILE


def report(cp, kind, now, info=None):
    """Record one security event `kind` and send it to the CSMS."""
    payload = {"type": kind, "timestamp": cp.clock.stamp(now)}
    if info:
        payload[_TECH_INFO] = str(info)[:_TECH_INFO_MAX]
    append_log(cp, payload)
    cp._event((_SECURITY, kind))
    if kind in _CRITICAL:
        cp._push("SecurityEventNotification", payload, None)
    else:
        cp._ram("SecurityEventNotification", payload, None)


def append_log(cp, payload):
    """One line "<timestamp> <type> <techInfo>" appended; the file rotates at _LOG_HALF_BYTES.
    A line torn by a power cut is only the last one of its file (read_log skips it)."""
    path = log_path(cp)
    fs = store.real_fs
    line = "%s %s %s\n" % (payload["timestamp"], payload["type"],
                           payload.get(_TECH_INFO, "").replace("\n", " "))
    try:
        if fs.size(path) + len(line) > _LOG_HALF_BYTES:
            try:
                fs.remove(path + _OLD)
            except OSError:
                pass
            fs.replace(path, path + _OLD)
        f = fs.open(path, "ab")
        try:
            f.write(line.encode())
            fs.sync(f)
        finally:
            f.close()
    except OSError as e:  # flash full or failing: the event still goes to the CSMS
        import log
        log.error("security log not written: %r", e)


def read_log(cp):
    """The security log, oldest line first, as text (complete lines only)."""
    path = log_path(cp)
    out = []
    for p in (path + _OLD, path):
        try:
            with open(p, "rb") as f:
                data = f.read().decode()
        except (OSError, UnicodeError):
            continue
        end = data.rfind("\n")
        if end >= 0:
            out.append(data[:end + 1])
    return "".join(out)

