# Smart Charging profile, the CSMS-initiated operations (OCPP 1.6 5.5, 5.7, 5.16):
# SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, and the checks a
# profile passes before it is stored (bounds, purpose rules) into its compact form.
# Imported per call and removed again; the running schedule is ocpp16.smart.
# No I/O beyond smart.save (store.save, atomic).
from compat import const
import log
from ocpp16 import smart as S
from ocpp16 import timefmt

# Periods one GetCompositeSchedule answer holds at most (RAM); a longer composite is
# answered for the part that fits (its duration says how far).
_COMPOSITE_MAX_PERIODS = const(48)


def _epoch(text):
    return None if text is None else timefmt.parse_datetime(text)


def compact(cp, cs, conn, now):
    """(compact profile, None) for the ChargingProfile `cs` installed on `conn`, or
    (None, why it is refused)."""
    cfg = cp.config
    purpose = S.PURPOSES.index(cs["chargingProfilePurpose"])
    kind = S.KINDS.index(cs["chargingProfileKind"])
    sched = cs["chargingSchedule"]
    stack = cs["stackLevel"]
    if not (0 <= stack <= cfg.get("ChargeProfileMaxStackLevel")):
        return None, "stackLevel %d beyond ChargeProfileMaxStackLevel" % stack
    periods = sched["chargingSchedulePeriod"]
    if not periods or len(periods) > cfg.get("ChargingScheduleMaxPeriods"):
        return None, "%d periods (1..ChargingScheduleMaxPeriods allowed)" % len(periods)
    flat = []
    last = -1
    for x in periods:
        start, limit = x["startPeriod"], x["limit"]
        if start <= last or (last < 0 and start != 0):
            return None, "startPeriod must be 0 first, then increase"
        if limit < 0:
            return None, "negative limit"
        flat.append(start)
        flat.append(limit)
        last = start
    unit = sched["chargingRateUnit"]
    if ("Current" if unit == "A" else "Power") not in cfg.csl("ChargingScheduleAllowedChargingRateUnit"):
        return None, "chargingRateUnit %s not in ChargingScheduleAllowedChargingRateUnit" % unit
    start = _epoch(sched.get("startSchedule"))
    rec = 0
    if kind == S.RECURRING:
        rk = cs.get("recurrencyKind")
        if rk is None or start is None:
            return None, "Recurring needs recurrencyKind and startSchedule"
        rec = S.DAY if rk == "Daily" else S.WEEK
    elif kind == S.ABSOLUTE and start is None:
        start = cp.clock.epoch(now)  # no start given: it starts now
    elif kind == S.RELATIVE:
        start = None  # relative to the transaction's start
    valid_from = _epoch(cs.get("validFrom"))
    valid_to = _epoch(cs.get("validTo"))
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        return None, "validTo not after validFrom"
    dur = sched.get("duration")
    if dur is not None and dur <= 0:
        return None, "duration must be positive"
    minrate = sched.get("minChargingRate")
    if minrate is not None and minrate < 0:
        return None, "negative minChargingRate"
    if purpose == S.CP_MAX and (conn != 0 or kind == S.RELATIVE):
        return None, "ChargePointMaxProfile goes on connector 0 and has no transaction to be relative to"
    if purpose == S.TX and conn == 0:
        return None, "TxProfile needs a connector"
    return [cs["chargingProfileId"], conn, purpose, stack, kind, rec, valid_from, valid_to,
            cs.get("transactionId"), start, dur, unit == "W", minrate, flat], None


def _install(cp, prof, now):
    """Store prof (replacing one of the same id, or of the same connector, purpose and
    stackLevel): the new set is on flash before it is used. None, or why not."""
    if cp.feature(S.FEATURE, now) is None:
        return "Smart Charging module not loaded"
    s = cp.smart
    keep = [q for q in s.profiles if q[S.ID] != prof[S.ID] and not (
        q[S.CONN] == prof[S.CONN] and q[S.PURPOSE] == prof[S.PURPOSE] and q[S.STACK] == prof[S.STACK])]
    if len(keep) >= cp.config.get("MaxChargingProfilesInstalled"):
        return "MaxChargingProfilesInstalled reached"
    keep.append(prof)
    try:
        S.save(cp, keep)
    except Exception as e:  # StoreError (too large), flash full: the old set stays, on flash and here
        return "not stored: %r" % (e,)
    s.profiles = keep
    s.dirty = True
    return None


def _refused(cp, why):
    log.warning("charging profile rejected: %s", why)
    _release_if_empty(cp)
    return {"status": "Rejected"}


def _release_if_empty(cp):
    """Nothing to run: the schedule module leaves RAM with this one."""
    s = getattr(cp, "smart", None)
    if s is not None and not s.profiles and s.pending is None:
        S.release(cp)
    elif S.FEATURE not in cp.features:
        from ocpp16 import profiles
        profiles.unload(S.FEATURE)  # imported for this call only


def tables_done():
    """This profile's payload tables (ocpp16.schema loads them for the check and keeps
    them) are not needed until the next Smart Charging call."""
    from ocpp16 import profiles
    profiles.unload("schema_smart")


def on_SetChargingProfile(cp, p, now):
    try:
        return _set_profile(cp, p, now)
    finally:
        tables_done()


def _set_profile(cp, p, now):
    conn = p["connectorId"]
    cs = p["csChargingProfiles"]
    if not (0 <= conn <= len(cp.evses)):
        return _refused(cp, "no connector %d" % conn)
    prof, why = compact(cp, cs, conn, now)
    if prof is None:
        return _refused(cp, why)
    if prof[S.PURPOSE] == S.TX:
        tx = cp.tx.get(conn)
        if tx is None or tx.stopping is not None:
            return _refused(cp, "TxProfile without a transaction on connector %d" % conn)
        if prof[S.TXID] is not None and prof[S.TXID] != tx.tx_id:
            return _refused(cp, "TxProfile for transaction %s, running is %s" % (prof[S.TXID], tx.tx_id))
    why = _install(cp, prof, now)
    if why:
        return _refused(cp, why)
    return {"status": "Accepted"}


def on_ClearChargingProfile(cp, p, now):
    try:
        return _clear_profiles(cp, p, now)
    finally:
        tables_done()


def _clear_profiles(cp, p, now):
    if cp.feature(S.FEATURE, now) is None:
        _release_if_empty(cp)
        return {"status": "Unknown"}
    s = cp.smart
    pid = p.get("id")
    conn = p.get("connectorId")
    purpose = p.get("chargingProfilePurpose")
    level = p.get("stackLevel")

    def match(q):
        if pid is not None:  # OCPP 1.6 5.5: the profile with this id, whatever the rest says
            return q[S.ID] == pid
        return ((conn is None or q[S.CONN] == conn) and (level is None or q[S.STACK] == level)
                and (purpose is None or S.PURPOSES[q[S.PURPOSE]] == purpose))
    keep = [q for q in s.profiles if not match(q)]
    if len(keep) == len(s.profiles):
        _release_if_empty(cp)
        return {"status": "Unknown"}
    S.save(cp, keep)  # a flash error raises: CALLERROR InternalError, nothing changed
    s.profiles = keep
    s.dirty = True
    _release_if_empty(cp)
    return {"status": "Accepted"}


def on_GetCompositeSchedule(cp, p, now):
    try:
        return _composite_schedule(cp, p, now)
    finally:
        tables_done()


def _composite_schedule(cp, p, now):
    conn = p["connectorId"]
    duration = p["duration"]
    allowed = cp.config.csl("ChargingScheduleAllowedChargingRateUnit")
    unit = p.get("chargingRateUnit") or ("A" if "Current" in allowed else "W")
    if (not (0 <= conn <= len(cp.evses)) or duration < 0
            or ("Current" if unit == "A" else "Power") not in allowed):
        return {"status": "Rejected"}
    if cp.feature(S.FEATURE, now) is None:
        _release_if_empty(cp)
        return {"status": "Rejected"}
    t0 = cp.clock.epoch(now)
    anchors = {}
    for e in cp.evses:
        tx = cp.tx.get(e.id)
        if tx is not None:
            anchors[e.id] = tx.start_epoch
        elif conn in (0, e.id):
            anchors[e.id] = t0  # as if its transaction started now
    board = S.Board(cp)
    periods, covered = S.composite(cp.smart.profiles, conn, t0, duration, anchors, board,
                                   _COMPOSITE_MAX_PERIODS)
    _release_if_empty(cp)
    out = []
    for start, amps in periods:
        out.append({"startPeriod": start,
                    "limit": S.round_down(amps if unit == "A" else board.watts(amps))})
    stamp = timefmt.format_datetime(t0)
    return {"status": "Accepted", "connectorId": conn, "scheduleStart": stamp,
            "chargingSchedule": {"duration": covered, "startSchedule": stamp,
                                 "chargingRateUnit": unit, "chargingSchedulePeriod": out}}


def remote_start_profile(cp, cs, connector, id_tag, now):
    """RemoteStartTransaction's chargingProfile (OCPP 1.6 5.11: a TxProfile): kept until
    that idTag's transaction starts on `connector`, then its profile. None, or why not."""
    try:
        why = _remote_start_profile(cp, cs, connector, id_tag, now)
        if why:
            _release_if_empty(cp)
        return why
    finally:
        tables_done()


def _remote_start_profile(cp, cs, connector, id_tag, now):
    if cs["chargingProfilePurpose"] != "TxProfile" or cs.get("transactionId") is not None:
        return "a RemoteStartTransaction profile is a TxProfile without transactionId"
    prof, why = compact(cp, cs, connector, now)
    if prof is None:
        return why
    if cp.feature(S.FEATURE, now) is None:
        return "Smart Charging module not loaded"
    s = cp.smart
    others = [q for q in s.profiles if q[S.ID] != prof[S.ID]]
    if len(others) >= cp.config.get("MaxChargingProfilesInstalled"):
        return "MaxChargingProfilesInstalled reached"
    s.pending = (connector, id_tag, now + cp.config.get("ConnectionTimeOut") * 1000, prof)
    return None
