# Reservation profile, the CSMS-initiated operations: ReserveNow and CancelReservation
# (OCPP 1.6 5.13, 5.3). Imported for one call and removed again; the reservations
# themselves live in the resident feature ocpp16.reservation while any exists.
# No I/O here beyond that module's state file.
import log
from ocpp16 import timefmt

FEATURE = "reservation"  # the resident module ocpp16/reservation.py


def decide(R, cp, c, others):
    """ReserveNowStatus for connector `c` (0: any), the reservations `others` staying."""
    if c == 0:
        if not cp.config.get("ReserveConnectorZeroSupported"):
            return "Rejected"
        if not cp.available:
            return "Unavailable"
        if R.free(cp, others) > R.count_any(others):
            return "Accepted"
        states = [R.blocked(cp, e) for e in cp.evses]
        if "Occupied" in states or None in states:
            return "Occupied"  # busy or reserved for the same or another idTag
        return "Faulted" if "Unavailable" not in states else "Unavailable"
    why = R.blocked(cp, cp.evses[c - 1])
    if why is not None:
        return why
    for r in others:
        if r["c"] == c:
            return "Occupied"
    n0 = R.count_any(others)
    if n0 and R.free(cp, others, exclude=c) < n0:
        return "Occupied"  # it is the one a connector-0 reservation holds free
    return "Accepted"


def on_ReserveNow(cp, p, now):
    c = p["connectorId"]
    if not (0 <= c <= len(cp.evses)):
        return {"status": "Rejected"}
    exp = timefmt.parse_datetime(p["expiryDate"])
    if cp.clock.known() and exp <= cp.clock.epoch(now):
        return {"status": "Rejected"}  # already over: no reservation is made
    R = cp.feature(FEATURE, now)  # loaded with the reservations on flash (none: an empty list)
    if R is None:
        return {"status": "Rejected"}  # it could not be loaded (logged); charging goes on
    rid = p["reservationId"]
    status = decide(R, cp, c, [r for r in cp.reservations if r["id"] != rid])
    if status != "Accepted":
        if not cp.reservations:
            cp.drop_feature(FEATURE)
        return {"status": status}
    R.put(cp, {"id": rid, "c": c, "exp": exp, "tag": p["idTag"], "parent": p.get("parentIdTag") or ""})
    cp._event(("reserved", rid, c, p["idTag"]))
    log.info("reservation %d: connector %d for %s until %s", rid, c, p["idTag"], p["expiryDate"])
    return {"status": "Accepted"}


def on_CancelReservation(cp, p, now):
    R = cp.features.get(FEATURE)  # not loaded: no reservation exists
    if R is not None and R.remove(cp, p["reservationId"], "cancelled"):
        if not cp.reservations:
            cp.drop_feature(FEATURE)
        return {"status": "Accepted"}
    return {"status": "Rejected"}
