# Smart Charging, the resident part (OCPP 1.6 section 3.13): the installed charging
# profiles, the composite schedule they give each connector, and the limit that puts
# on each evse (the pilot offer). Resident as the feature "smart" only while a profile
# is installed or a RemoteStart profile waits for its transaction; SetChargingProfile,
# ClearChargingProfile, GetCompositeSchedule, validation and persistence are in
# smart_ops (on demand). No I/O; time is the device clock's epoch seconds.
from compat import const

# A profile in RAM and on flash is a flat list (smart_ops.compact builds it):
ID = const(0)        # chargingProfileId
CONN = const(1)      # connectorId it is installed on (0: the whole charge point)
PURPOSE = const(2)   # CP_MAX, TX_DEFAULT or TX below
STACK = const(3)     # stackLevel
KIND = const(4)      # ABSOLUTE, RECURRING or RELATIVE below
RECUR = const(5)     # recurrence in seconds (DAY / WEEK), 0 when not Recurring
FROM = const(6)      # validFrom, epoch s, or None
TO = const(7)        # validTo, epoch s, or None
TXID = const(8)      # transactionId of a TxProfile, or None
START = const(9)     # startSchedule epoch s (Absolute without one: when it was set), or None
DUR = const(10)      # duration s, or None (unbounded)
WATTS = const(11)    # True: limits are W, else A
MINRATE = const(12)  # minChargingRate (in the profile's unit), or None
PERIODS = const(13)  # [startPeriod0, limit0, startPeriod1, limit1, ...]

CP_MAX = const(0)
TX_DEFAULT = const(1)
TX = const(2)
PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
ABSOLUTE = const(0)
RECURRING = const(1)
RELATIVE = const(2)
KINDS = ("Absolute", "Recurring", "Relative")
DAY = const(86400)
WEEK = const(604800)

FEATURE = "smart"        # its name in ocpp16.profiles.BOOT_FEATURES and cp.features
_DEFAULT_VOLTAGE_V = const(230)  # W <-> A when the board file gives no voltage_v
NEVER = 1 << 62          # "no limit change ahead" while taking minima of epochs


class State:
    """What the running schedule needs, kept as cp.smart while the feature is resident."""

    def __init__(self, profiles):
        self.profiles = profiles   # compact profiles, as on flash
        self.pending = None        # (connector, idTag, until ms, profile) from a RemoteStart
        self.next_at = None        # epoch of the next limit change (None: none ahead)
        self.seen = None           # ({connector: its transaction start or None}, epoch) last evaluated
        self.dirty = True          # profiles changed: evaluate at the next tick


# ---------------------------------------------------------------- one profile
def evaluate(p, t, anchor):
    """(limit in the profile's unit or None where it sets none, next epoch > t at which
    that may change, or NEVER). `anchor`: start of the transaction (Relative)."""
    nxt = NEVER
    f = p[FROM]
    if f is not None and t < f:
        return None, f
    to = p[TO]
    if to is not None:
        if t >= to:
            return None, NEVER
        nxt = to
    kind = p[KIND]
    base = anchor if kind == RELATIVE else p[START]
    if base is None:
        return None, nxt
    if t < base:
        return None, min(nxt, base)
    off = t - base
    if kind == RECURRING:
        rec = p[RECUR]
        cycle = off // rec
        base += cycle * rec
        off -= cycle * rec
        nxt = min(nxt, base + rec)
    dur = p[DUR]
    if dur is not None:
        if off >= dur:
            return None, nxt
        nxt = min(nxt, base + dur)
    per = p[PERIODS]  # startPeriods increase from 0: find the last one <= off
    lo = 0
    hi = len(per) >> 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if per[mid << 1] <= off:
            lo = mid + 1
        else:
            hi = mid
    if lo << 1 < len(per):
        nxt = min(nxt, base + per[lo << 1])
    return (per[(lo << 1) - 1] if lo else None), nxt


class Board:
    """The electrical facts a schedule needs: W <-> A, hardware maxima."""

    def __init__(self, cp):
        b = getattr(cp, "board", None) or {}
        self.volts = b.get("voltage_v", _DEFAULT_VOLTAGE_V)
        self.phases = b.get("phases", 1)
        board_max = b.get("max_current_a")
        self.hw = {}   # connector -> min(connector hardware maximum, board maximum), A
        for e in cp.evses:
            self.hw[e.id] = e.max_amps if board_max is None else min(e.max_amps, board_max)

    def amps(self, p, value):
        return value / (self.volts * self.phases) if p[WATTS] else value

    def watts(self, amps):
        return amps * self.volts * self.phases


def _stack(profiles, purpose, conn, t, anchor, board):
    """The highest stackLevel among the profiles of (purpose, connector) that sets a
    limit at t: (amps or None, minChargingRate in A or None, next change)."""
    best = -1
    amps = None
    minrate = None
    nxt = NEVER
    for p in profiles:
        if p[PURPOSE] != purpose or p[CONN] != conn:
            continue
        lim, n = evaluate(p, t, anchor)
        if n < nxt:
            nxt = n
        if lim is not None and p[STACK] > best:
            best = p[STACK]
            amps = board.amps(p, lim)
            minrate = None if p[MINRATE] is None else board.amps(p, p[MINRATE])
    return amps, minrate, nxt


def own_limit(profiles, conn, t, anchor, board):
    """Connector `conn` on its own: its TxProfile where one sets a limit, else its own
    TxDefaultProfile, else connector 0's, capped by the hardware. (amps, minrate, next)."""
    a1, m1, n1 = _stack(profiles, TX, conn, t, anchor, board)
    a2, m2, n2 = _stack(profiles, TX_DEFAULT, conn, t, anchor, board)
    a3, m3, n3 = _stack(profiles, TX_DEFAULT, 0, t, anchor, board)
    if a1 is not None:
        amps, minrate = a1, m1
    elif a2 is not None:
        amps, minrate = a2, m2
    else:
        amps, minrate = a3, m3
    hw = board.hw[conn]
    if amps is None or amps > hw:
        amps = hw
    return amps, minrate, min(n1, n2, n3)


def share(total, owns):
    """Split the ChargePointMaxProfile limit `total` over connectors whose own limits are
    `owns` {connector: amps}: each gets at most its own limit, and what one cannot use
    goes in equal parts to the others (water filling). {connector: amps}."""
    out = {}
    left = total
    order = sorted(owns, key=lambda c: owns[c])
    k = len(order)
    for c in order:
        give = min(owns[c], left / k)
        out[c] = give
        left -= give
        k -= 1
    return out


def limits_at(profiles, t, anchors, board):
    """Limits (A) at t of the connectors in `anchors` {connector: transaction start epoch
    or None}, which share the ChargePointMaxProfile; and the next epoch any may change."""
    owns = {}
    mins = {}
    total, _, nxt = _stack(profiles, CP_MAX, 0, t, None, board)
    for c in anchors:
        a, m, n = own_limit(profiles, c, t, anchors[c], board)
        owns[c] = a
        mins[c] = m
        if n < nxt:
            nxt = n
    out = owns if total is None else share(total, owns)
    for c in out:
        m = mins[c]
        if m is not None and out[c] < m:
            out[c] = 0  # minChargingRate: the EV cannot charge below it
    return out, nxt


def composite(profiles, conn, t0, duration, anchors, board, max_periods):
    """Composite schedule of connector `conn` (0: the charge point's total) for
    `duration` s from t0: ([[startPeriod, amps], ...], covered duration). At most
    max_periods periods; a longer answer is cut at the last whole period."""
    out = []
    end = t0 + duration
    t = t0
    while True:
        lims, nxt = limits_at(profiles, t, anchors, board)
        v = sum(lims.values()) if conn == 0 else lims[conn]
        if not out or out[-1][1] != v:
            if len(out) >= max_periods:
                return out, t - t0
            out.append([t - t0, v])
        if nxt >= end:
            return out, duration
        t = nxt


# ---------------------------------------------------------------- the feature hooks
def attach(cp, now):
    if getattr(cp, "smart", None) is None:
        from ocpp16 import profiles as registry
        import store
        path = cp._path(registry.BOOT_FEATURES[FEATURE])
        saved = store.load(path, []) if path else []
        good = [p for p in saved if _sane(p)] if isinstance(saved, list) else []
        if not isinstance(saved, list) or len(good) != len(saved):
            import log
            log.error("charging profiles file: %d malformed entries dropped",
                      len(saved) - len(good) if isinstance(saved, list) else 1)
        cp.smart = State(good)


def _sane(p):
    """A stored profile of the shape evaluate() expects (a file from another version or
    written by hand must not stop the control loop)."""
    if not isinstance(p, list) or len(p) != PERIODS + 1:
        return False
    per = p[PERIODS]
    if not isinstance(per, list) or not per or len(per) % 2:
        return False
    for x in per:
        if not isinstance(x, (int, float)):
            return False
    for i in (ID, CONN, PURPOSE, STACK, KIND, RECUR):
        if not isinstance(p[i], int):
            return False
    for i in (FROM, TO, START, DUR, MINRATE):
        if p[i] is not None and not isinstance(p[i], (int, float)):
            return False
    if p[PURPOSE] not in (CP_MAX, TX_DEFAULT) or p[KIND] not in (ABSOLUTE, RECURRING, RELATIVE):
        return False
    return (p[KIND] != RECURRING or p[RECUR] > 0) and (p[KIND] == RELATIVE or p[START] is not None)


def _drop_orphans(cp):
    """TxProfiles of connectors without a transaction (its start failed)."""
    s = cp.smart
    keep = [p for p in s.profiles if p[PURPOSE] != TX or p[CONN] in cp.tx]
    if len(keep) != len(s.profiles):
        s.profiles = keep
        s.dirty = True


def save(cp, profiles):
    """Replace the stored profiles on flash (atomic: all or nothing); none left removes
    the file. TxProfiles stay in RAM only: their transaction ends at a reboot anyway."""
    from ocpp16 import profiles as registry
    import store
    path = cp._path(registry.BOOT_FEATURES[FEATURE])
    if path is None:
        return
    keep = [p for p in profiles if p[PURPOSE] != TX]
    if keep:
        store.save(path, keep)
    else:
        store.remove(path)


def tick(cp, now):
    s = cp.smart
    if s.pending is not None and now >= s.pending[2]:
        s.pending = None
    if not s.profiles and s.pending is None:
        release(cp)
        return
    t = cp.clock.epoch(now)
    anchors = {}
    for e in cp.evses:
        tx = cp.tx.get(e.id)
        anchors[e.id] = None if tx is None else tx.start_epoch
    seen = s.seen
    if (not s.dirty and seen is not None and seen[0] == anchors and seen[1] <= t
            and (s.next_at is None or t < s.next_at)):
        return  # nothing started, stopped or reached a period boundary
    apply(cp, t, anchors)


def apply(cp, t, anchors):
    """Evaluate the profiles at t and set every evse's limit."""
    s = cp.smart
    _drop_orphans(cp)
    board = Board(cp)
    active = {}
    for c in anchors:
        if anchors[c] is not None:
            active[c] = anchors[c]
    soonest = NEVER
    for e in cp.evses:
        c = e.id
        group = active
        if c not in active:  # limited as if it started a transaction now
            group = dict(active)
            group[c] = None
        lims, nxt = limits_at(s.profiles, t, group, board)
        e.set_limit(round_down(lims[c]))
        if nxt < soonest:
            soonest = nxt
    s.next_at = None if soonest >= NEVER else soonest
    s.seen = (anchors, t)
    s.dirty = False


def round_down(x):
    """Limits go out in steps of 0.1 (A or W), never above what was computed."""
    return int(x * 10 + 1e-6) / 10


def tx_ended(cp, connector_id, now):
    s = cp.smart
    s.profiles = [p for p in s.profiles if not (p[PURPOSE] == TX and p[CONN] == connector_id)]
    s.dirty = True


def start_payload(cp, evse, payload):
    """A RemoteStartTransaction's TxProfile becomes the new transaction's profile."""
    s = cp.smart
    pend = s.pending
    s.dirty = True
    if pend is None or pend[0] != evse.id or pend[1] != payload["idTag"]:
        return
    s.pending = None
    p = pend[3]
    p[CONN] = evse.id
    keep = [q for q in s.profiles if not (q[PURPOSE] == TX and q[CONN] == evse.id
                                          and (q[STACK] == p[STACK] or q[ID] == p[ID]))
            and q[ID] != p[ID]]
    keep.append(p)
    s.profiles = keep  # RAM only (see save): nothing here can refuse the start


def release(cp):
    """No profile left: limits back to the hardware's, the module leaves RAM."""
    for e in cp.evses:
        e.set_limit(None)
    cp.smart = None
    cp.drop_feature(FEATURE)
