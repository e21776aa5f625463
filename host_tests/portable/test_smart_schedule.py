# Composite schedules worked out by hand from the OCPP 1.6 rules (3.13): each case
# installs profiles through SetChargingProfile on a real ChargePoint (sim board, two
# connectors), asks GetCompositeSchedule, and compares the periods with the
# expected ones. Stack levels, overlapping periods, recurring across midnight and the
# week boundary, relative profiles, W to A, minChargingRate, validFrom/validTo, the
# ChargePointMaxProfile share. Runs on both runtimes.
import json

import scratch

from hal.sim import build
from evse.connector import Evse
from ocpp16.chargepoint import ChargePoint, Transaction, WallClock
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime

MON = 1795392000          # 2026-11-23T00:00:00Z, a Monday
T0 = MON + 12 * 3600      # the time of every GetCompositeSchedule below, unless a case says
H = 3600
DAY = 86400


def iso(epoch):
    return format_datetime(epoch)


class SmartRig:
    def __init__(self, name, t0=T0, connectors=2, max_a=32, volts=230, phases=1):
        self.dir = scratch.folder("smart_" + name)
        board = {"connectors": connectors, "max_current_a": max_a, "voltage_v": volts, "phases": phases}
        self.hw = build(board)
        self.evses = [Evse(i + 1, c) for i, c in enumerate(self.hw.connectors)]
        self.config = Config(self.dir + "/config.json", {"NumberOfConnectors": connectors})
        self.queue = MessageQueue(self.dir + "/queue")
        self.cp = ChargePoint({"charge_point_id": "S"}, self.config, self.evses, self.queue,
                              clock=WallClock(t0, 0), data_dir=self.dir, now=0, board=board)
        self.cp.boot_status = "Accepted"
        self.n = 0

    def tx(self, connector, started, tx_id=77):
        """A transaction running on `connector` since epoch `started`."""
        t = Transaction(connector, "TAG", 1, 0, 0, started)
        t.tx_id = tx_id
        self.cp.tx[connector] = t

    def call(self, action, payload, now=0):
        self.n += 1
        mid = "m%d" % self.n
        self.cp.receive(json.dumps([2, mid, action, payload]), now)
        for text in list(self.cp.outbox):
            m = json.loads(text)
            if m[0] in (3, 4) and m[1] == mid:
                self.cp.outbox.remove(text)
                return m
        raise AssertionError("no answer to " + action)

    def set(self, connector, profile):
        m = self.call("SetChargingProfile", {"connectorId": connector, "csChargingProfiles": profile})
        assert m[0] == 3, m
        return m[2]["status"]

    def composite(self, connector, duration, unit=None):
        p = {"connectorId": connector, "duration": duration}
        if unit:
            p["chargingRateUnit"] = unit
        m = self.call("GetCompositeSchedule", p)
        assert m[0] == 3, m
        return m[2]


_ids = [0]


def prof(purpose, periods, level=0, kind="Absolute", start=None, unit="A", duration=None,
         recur=None, valid_from=None, valid_to=None, minrate=None, pid=None):
    """A ChargingProfile; periods = [(startPeriod, limit), ...]."""
    _ids[0] += 1
    sched = {"chargingRateUnit": unit,
             "chargingSchedulePeriod": [{"startPeriod": s, "limit": l} for s, l in periods]}
    if start is not None:
        sched["startSchedule"] = iso(start)
    if duration is not None:
        sched["duration"] = duration
    if minrate is not None:
        sched["minChargingRate"] = minrate
    p = {"chargingProfileId": pid or _ids[0], "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sched}
    if recur:
        p["recurrencyKind"] = recur
    if valid_from is not None:
        p["validFrom"] = iso(valid_from)
    if valid_to is not None:
        p["validTo"] = iso(valid_to)
    return p


TXD = "TxDefaultProfile"
TXP = "TxProfile"
CPM = "ChargePointMaxProfile"

# (name, rig options, transactions {connector: start epoch}, [(connector, profile)],
#  query (connector, duration, unit), expected [(startPeriod, limit)], expected duration)
CASES = [
    ("absolute with duration, then the hardware maximum", {}, {},
     [(0, prof(TXD, [(0, 16), (600, 10)], start=T0, duration=1800))],
     (1, 3600, "A"), [(0, 16), (600, 10), (1800, 32)], 3600),
    ("started before the query: the period in force first", {}, {},
     [(0, prof(TXD, [(0, 16), (600, 10), (1200, 20)], start=T0 - 900))],
     (1, 1200, "A"), [(0, 10), (300, 20)], 1200),
    ("higher stack level wins while it lasts, the lower one after", {}, {},
     [(0, prof(TXD, [(0, 20)], level=0, start=T0 - H)),
      (0, prof(TXD, [(0, 10)], level=1, start=T0, duration=900))],
     (1, 1800, "A"), [(0, 10), (900, 20)], 1800),
    ("overlapping periods: lower level fills the gap before the higher starts", {}, {},
     [(0, prof(TXD, [(0, 12), (1200, 24)], level=0, start=T0)),
      (0, prof(TXD, [(0, 8)], level=3, start=T0 + 600, duration=1200))],
     (1, 2400, "A"), [(0, 12), (600, 8), (1800, 24)], 2400),
    ("validTo passed: falls back to the lower stack level", {}, {},
     [(0, prof(TXD, [(0, 20)], level=0, start=T0 - H)),
      (0, prof(TXD, [(0, 6)], level=2, start=T0 - H, valid_to=T0 + 600))],
     (1, 1200, "A"), [(0, 6), (600, 20)], 1200),
    ("validFrom ahead: not before it", {}, {},
     [(0, prof(TXD, [(0, 20)], level=0, start=T0 - H)),
      (0, prof(TXD, [(0, 6)], level=2, start=T0 - H, valid_from=T0 + 300, valid_to=T0 + 600))],
     (1, 1200, "A"), [(0, 20), (300, 6), (600, 20)], 1200),
    ("recurring daily across midnight", {"t0": MON + 21 * H}, {},
     [(0, prof(TXD, [(0, 10), (8 * H, 32)], kind="Recurring", recur="Daily", start=MON - 2 * H))],
     (1, 12 * H, "A"), [(0, 32), (H, 10), (9 * H, 32)], 12 * H),
    ("recurring weekly across the week boundary", {"t0": MON - H}, {},
     [(0, prof(TXD, [(0, 32), (4 * DAY, 12)], kind="Recurring", recur="Weekly", start=MON - 7 * DAY))],
     (1, 2 * H, "A"), [(0, 12), (H, 32)], 2 * H),
    ("relative to the transaction start", {}, {1: T0 - 1000},
     [(0, prof(TXD, [(0, 32), (1800, 16)], kind="Relative"))],
     (1, 1800, "A"), [(0, 32), (800, 16)], 1800),
    ("TxProfile replaces TxDefaultProfile (even above it)", {}, {1: T0 - 300},
     [(0, prof(TXD, [(0, 16)], start=T0 - H)),
      (1, prof(TXP, [(0, 8), (600, 24)], kind="Relative", duration=1200))],
     (1, 1800, "A"), [(0, 8), (300, 24), (900, 16)], 1800),
    ("a connector's own TxDefaultProfile overrides connector 0's", {}, {},
     [(0, prof(TXD, [(0, 10)], level=5, start=T0 - H)),
      (1, prof(TXD, [(0, 20)], level=0, start=T0 - H))],
     (1, 600, "A"), [(0, 20)], 600),
    ("... and the other connector keeps connector 0's", {}, {},
     [(0, prof(TXD, [(0, 10)], level=5, start=T0 - H)),
      (1, prof(TXD, [(0, 20)], level=0, start=T0 - H))],
     (2, 600, "A"), [(0, 10)], 600),
    ("W to A: 230 V x 3 phases", {"phases": 3}, {},
     [(0, prof(TXD, [(0, 11040), (600, 4140), (1200, 10000)], unit="W", start=T0))],
     (1, 1800, "A"), [(0, 16), (600, 6), (1200, 14.4)], 1800),
    ("W profile asked in W", {"phases": 3}, {},
     [(0, prof(TXD, [(0, 11040), (600, 10000)], unit="W", start=T0))],
     (1, 1200, "W"), [(0, 11040), (600, 10000)], 1200),
    ("A profile asked in W, capped by the hardware", {"phases": 1}, {},
     [(0, prof(TXD, [(0, 10), (600, 40)], start=T0))],
     (1, 1200, "W"), [(0, 2300), (600, 7360)], 1200),
    ("ChargePointMaxProfile shared: what one connector cannot use goes to the other", {},
     {1: T0 - 60, 2: T0 - 60},
     [(0, prof(CPM, [(0, 32)], start=T0 - H)), (1, prof(TXD, [(0, 10)], start=T0 - H))],
     (2, 600, "A"), [(0, 22)], 600),
    ("ChargePointMaxProfile shared equally", {}, {1: T0 - 60, 2: T0 - 60},
     [(0, prof(CPM, [(0, 32), (600, 21)], start=T0))],
     (1, 1200, "A"), [(0, 16), (600, 10.5)], 1200),
    ("connector without a transaction: as if it started one now", {}, {1: T0 - 60},
     [(0, prof(CPM, [(0, 20)], start=T0 - H))],
     (2, 600, "A"), [(0, 10)], 600),
    ("connector 0: the charge point's total", {}, {1: T0 - 60},
     [(0, prof(CPM, [(0, 40), (600, 50), (1200, 100)], start=T0)),
      (2, prof(TXD, [(0, 8), (600, 32)], start=T0))],
     (0, 1800, "A"), [(0, 40), (600, 50), (1200, 64)], 1800),
    ("minChargingRate: a share below it pauses", {}, {1: T0 - 60, 2: T0 - 60},
     [(0, prof(CPM, [(0, 10), (600, 20)], start=T0)),
      (0, prof(TXD, [(0, 32)], start=T0 - H, minrate=8))],
     (1, 1200, "A"), [(0, 0), (600, 10)], 1200),
    ("no profile: the hardware maximum", {}, {}, [], (1, 600, "A"), [(0, 32)], 600),
]


def _run_case(case):
    name, opts, txs, profiles, query, want, want_dur = case
    rig = SmartRig("case", **opts)
    for c in txs:
        rig.tx(c, txs[c])
    for conn, p in profiles:
        status = rig.set(conn, p)
        if status != "Accepted":
            return "%s: SetChargingProfile %s" % (name, status)
    r = rig.composite(*query)
    if r["status"] != "Accepted":
        return "%s: %r" % (name, r)
    got = [(x["startPeriod"], x["limit"]) for x in r["chargingSchedule"]["chargingSchedulePeriod"]]
    if got != want or r["chargingSchedule"]["duration"] != want_dur:
        return "%s: got %r over %r s, want %r over %r s" % (name, got, r["chargingSchedule"]["duration"],
                                                          want, want_dur)
    if r["chargingSchedule"]["chargingRateUnit"] != query[2]:
        return "%s: unit %s" % (name, r["chargingSchedule"]["chargingRateUnit"])
    return None


def test_composite_schedule_table():
    bad = []
    for case in CASES:
        why = _run_case(case)
        if why:
            bad.append(why)
    assert not bad, "\n".join(bad)


def test_the_table_checker_catches_a_wrong_expectation():
    name, opts, txs, profiles, query, want, dur = CASES[0]
    assert _run_case((name, opts, txs, profiles, query, [(0, 16), (600, 11), (1800, 32)], dur))
