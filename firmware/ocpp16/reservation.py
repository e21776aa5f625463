# Reservation profile, the resident part: the reservations in force (cp.reservations),
# their state file, and the feature hooks that make a reserved connector report Reserved,
# refuse other users, end at expiryDate and hand its reservationId to StartTransaction.
# Loaded only while a reservation exists (ocpp16.profiles.BOOT_FEATURES); the ReserveNow /
# CancelReservation decisions live in reserve_ops.py. No I/O beyond store.save / remove.
import log
import store
from ocpp16 import profiles

NAME = __name__[__name__.rfind(".") + 1:]  # its key in profiles.BOOT_FEATURES
# A reservation is a dict: id (reservationId), c (connector, 0 = any), exp (expiryDate, epoch s),
# tag (idTag), parent (parentIdTag or "").


def _path(cp):
    return cp._path(profiles.BOOT_FEATURES[NAME])


def _valid(r):
    try:
        return (type(r["id"]) is int and type(r["c"]) is int and type(r["exp"]) is int
                and type(r["tag"]) is str and type(r.get("parent", "")) is str)
    except (KeyError, TypeError):
        return False


def attach(cp, now):
    p = _path(cp)
    saved = store.load(p, {}) if p else {}
    rs = saved.get("r") if type(saved) is dict else None
    rs = rs if type(rs) is list else []
    cp.reservations = [r for r in rs if _valid(r) and 0 <= r["c"] <= len(cp.evses)]
    if len(cp.reservations) != len(rs):
        log.error("reservations: %d malformed entries dropped", len(rs) - len(cp.reservations))
        save(cp)
    _expire(cp, now)  # an expired one is dropped at boot (when the clock is known)


def save(cp, rs=None):
    """Put `rs` (default: the current ones) on flash, then in force: a failed write
    (raised) changes nothing."""
    rs = cp.reservations if rs is None else rs
    p = _path(cp)
    if p:
        if rs:
            store.save(p, {"r": rs})
        else:
            store.remove(p)
    cp.reservations = rs


def put(cp, r):
    """Add `r`, replacing the reservation with the same id (OCPP 1.6 5.13)."""
    save(cp, [x for x in cp.reservations if x["id"] != r["id"]] + [r])


def remove(cp, rid, why):
    """End reservation `rid`; False when there is none."""
    left = [x for x in cp.reservations if x["id"] != rid]
    if len(left) == len(cp.reservations):
        return False
    save(cp, left)
    cp._event(("reservation-ended", rid, why))
    log.info("reservation %d ended: %s", rid, why)
    return True


# ------------------------------------------------------------------ connector state
def blocked(cp, evse):
    """Why `evse` cannot take a reservation now: "Faulted", "Unavailable", "Occupied", or None."""
    if evse.fault is not None:
        return "Faulted"
    if not (evse.available and cp.available):
        return "Unavailable"
    a = cp.auth
    if (evse.id in cp.tx or evse.plugged or evse.id in cp.finishing
            or (a is not None and a["connector"] in (None, evse.id))):
        return "Occupied"
    return None


def free(cp, rs, exclude=None):
    """Connectors that are free and not reserved by one of `rs` (besides `exclude`)."""
    taken = [r["c"] for r in rs]
    n = 0
    for e in cp.evses:
        if e.id != exclude and e.id not in taken and blocked(cp, e) is None:
            n += 1
    return n


def count_any(rs):
    """Reservations for connector 0 (any connector) among `rs`."""
    return len([r for r in rs if r["c"] == 0])


# ------------------------------------------------------------------ who may use it
def parent_of(cp, id_tag):
    """parentIdTag of `id_tag`: from the Authorize answer just received, else the local
    list, else the cache (OCPP 1.6 5.13); None when unknown."""
    seen = getattr(cp, "auth_parent", None)
    if seen is not None and seen[0] == id_tag and seen[1]:
        return seen[1]
    st = cp.auth_store
    for use, table in ((cp.config.get("LocalAuthListEnabled"), st.list),
                       (cp.config.get("AuthorizationCacheEnabled"), st.cache)):
        e = table.get(id_tag) if use else None
        if e and e[2]:
            return e[2]
    return None


def _matches(r, id_tag, parent):
    """The incoming idTag or its parent matches the reservation's idTag or parentIdTag
    (IdToken is a CiString: compared without case)."""
    mine = (r["tag"].upper(), (r.get("parent") or "").upper() or None)
    return id_tag.upper() in mine or (parent is not None and parent.upper() in mine)


def _claim(cp, evse, id_tag):
    """The reservation `id_tag` would use on `evse`: the connector's own if it matches
    (another user's own bars every other), else a matching connector-0 one; or None."""
    parent = parent_of(cp, id_tag)
    for r in cp.reservations:
        if r["c"] == evse.id:
            return r if _matches(r, id_tag, parent) else None
    for r in cp.reservations:
        if r["c"] == 0 and _matches(r, id_tag, parent):
            return r
    return None


# ------------------------------------------------------------------ hooks
def may_start(cp, evse, id_tag, now):
    if _claim(cp, evse, id_tag) is not None:
        return None
    rs = cp.reservations
    for r in rs:
        if r["c"] == evse.id:
            return "connector %d is reserved for another idTag (reservation %d)" % (evse.id, r["id"])
    n0 = count_any(rs)
    if n0 and free(cp, rs, exclude=evse.id) < n0:
        return "the last free connector is reserved for another idTag (connector 0)"
    return None


def authorized(cp, id_tag, connector, info, now):
    """Refused at once when every connector the idTag could use is reserved for someone
    else: the connector stays Reserved (no Preparing for a card that may not charge)."""
    cp.auth_parent = (id_tag, info.get("parentIdTag") if info else None)
    if connector:
        evses = [cp.evses[connector - 1]]
    else:
        evses = [e for e in cp.evses if e.id not in cp.tx]
    why = None
    for e in evses:
        why = may_start(cp, e, id_tag, now)
        if why is None:
            return None
    return why


def start_payload(cp, evse, payload):
    r = _claim(cp, evse, payload["idTag"])
    if r is not None:
        payload["reservationId"] = r["id"]
        remove(cp, r["id"], "used by its transaction")


def status(cp, connector_id, s, now):
    if s != "Available" or connector_id == 0:
        return s
    rs = cp.reservations
    for r in rs:
        if r["c"] == connector_id:
            return "Reserved"
    n0 = count_any(rs)
    if n0 and free(cp, rs) <= n0:
        return "Reserved"  # the connectors left free are those the connector-0 reservations hold
    return s


def _expire(cp, now):
    epoch = cp.clock.epoch(now) if cp.clock.known() else None
    for r in list(cp.reservations):
        if epoch is not None and epoch >= r["exp"]:
            remove(cp, r["id"], "expired")
        elif r["c"] == 0 and not cp.available:
            remove(cp, r["id"], "charge point unavailable")
        elif r["c"] > 0:
            # OCPP 1.6 5.13: a reservation ends when its connector becomes Faulted or Unavailable
            why = blocked(cp, cp.evses[r["c"] - 1])
            if why in ("Faulted", "Unavailable"):
                remove(cp, r["id"], "connector " + why)


def tick(cp, now):
    _expire(cp, now)
    if not cp.reservations:
        cp.drop_feature(NAME)
