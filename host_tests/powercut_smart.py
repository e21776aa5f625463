# Under micropython: charging profiles on real LittleFS (vfs.VfsLfs2) over a RAM flash
# that loses power at its k-th program/erase. A sequence of SetChargingProfile and
# ClearChargingProfile calls (install, replace by id and by stackLevel, a schedule of
# the maximum length, clear by id and all) runs until the cut; then the same bytes are
# remounted and a new core starts on them ("reboot"). Checked for every cut: the
# profiles it loads are the set before the call in flight or the set after it, never a
# mix or a torn file, and a set that a call had answered Accepted is never lost.
# Usage: powercut_smart.py [step [partial]]  (every step-th write is a cut point)
import json
import sys

import powercut
from hal.sim import build
from evse.connector import Evse
from ocpp16.chargepoint import ChargePoint, WallClock
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime

BLOCKS = 32
POINT = "/sc"
DATA = POINT + "/data"
T0 = 1795435200     # 2026-11-23T12:00:00Z


class Cut(Exception):
    """The device lost power."""


def profile(pid, level, limits, purpose="TxDefaultProfile", kind="Absolute", recur=None):
    sched = {"chargingRateUnit": "A", "startSchedule": format_datetime(T0 - 3600),
             "chargingSchedulePeriod": [{"startPeriod": s, "limit": l} for s, l in limits]}
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sched}
    if recur:
        p["recurrencyKind"] = recur
    return p


OPS = [
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(1, 0, [(0, 16)])}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile(
        2, 1, [(0, 10), (7 * 3600, 20)], kind="Recurring", recur="Daily")}),
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(
        3, 0, [(0, 32)], purpose="ChargePointMaxProfile")}),
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(1, 0, [(0, 12)])}),    # same id
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile(4, 1, [(0, 8)])}),     # same level
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(
        5, 3, [(i * 600, 6 + i) for i in range(24)])}),                                        # maximum length
    ("ClearChargingProfile", {"id": 3}),
    ("ClearChargingProfile", {"connectorId": 1}),
    ("ClearChargingProfile", {}),
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile(6, 2, [(0, 20), (60, 7)])}),
]


class Firmware:
    def __init__(self, dev):
        self.dev = dev
        self.hw = build({"connectors": 1, "max_current_a": 32})
        self.evses = [Evse(1, self.hw.connectors[0])]
        self.queue = MessageQueue(DATA + "/queue", capacity_bytes=16 * 1024, stage_slots=2)
        self.cp = ChargePoint({"charge_point_id": "SC"}, Config(DATA + "/config.json", {"NumberOfConnectors": 1}),
                              self.evses, self.queue, clock=WallClock(T0, 0), data_dir=DATA, now=0)
        self.check()

    def check(self):
        if self.dev.dead:
            raise Cut()

    def profiles(self):
        """The installed profiles, as the schedule sees them (sorted, comparable)."""
        s = self.cp.smart
        return sorted(json.dumps(p) for p in (s.profiles if s is not None else []))

    def call(self, i, action, payload):
        self.cp.receive(json.dumps([2, "m%d" % i, action, payload]), 0)
        self.check()
        m = json.loads(self.cp.outbox.pop())
        return m[2].get("status") if m[0] == 3 else m[2]


def attempt(image, cut_at, states=None):
    """Run OPS with the cut at write cut_at (None: never). Returns (sets after each
    answered call, index of the call in flight at the cut or None, profiles after reboot)."""
    dev = image.copy(cut_at)
    powercut.mount(dev, POINT)
    done = [[]]
    flight = None
    fw = None
    try:
        flight = -1   # booting
        fw = Firmware(dev)
        for i in range(len(OPS)):
            flight = i
            status = fw.call(i, OPS[i][0], OPS[i][1])
            if states is None:
                assert status == "Accepted", (i, status)
            done.append(fw.profiles())
        flight = None
    except Cut:
        pass
    except Exception:
        if not dev.dead:
            raise
    finally:
        if fw is not None:
            fw.queue.close()
        powercut.umount(POINT)
    after = dev.reboot()
    dev.data = None
    powercut.mount(after, POINT)
    try:
        fw = Firmware(after)
        got = fw.profiles()
        fw.queue.close()
    finally:
        powercut.umount(POINT)
    return done, flight, got, dev.ops


def main(argv):
    step = int(argv[1]) if len(argv) > 1 else 1
    image = powercut.CutBlockDevice.formatted(BLOCKS)
    if len(argv) > 2:
        image.partial = float(argv[2])
    powercut.mount(image, POINT)
    import os
    os.mkdir(DATA)
    powercut.umount(POINT)
    states, flight, got, total = attempt(image, None)
    assert flight is None and got == states[-1], (got, states[-1])
    for i in range(len(OPS)):  # every call changes the set, so a lost one shows
        assert states[i] != states[i + 1], ("call left the set as it was", i)
    print("writes in the whole run: %d, calls: %d" % (total, len(OPS)))
    tried = 0
    landed = lost = 0   # cuts after which the call in flight had / had not taken effect
    for k in range(1, total + 1, step):
        done, flight, got, _ = attempt(image, k, states)
        if flight is None:
            print("FAIL at cut %d: no cut happened" % k)
            return 1
        # the call in flight (index flight, -1 while booting) may have landed or not
        before = states[max(flight, 0)] if flight >= 0 else states[0]
        allowed = (before, states[flight + 1]) if flight >= 0 else (states[0],)
        if got not in allowed:
            print("FAIL at cut %d (call %d in flight): loaded %r, allowed %r" % (k, flight, got, allowed))
            return 1
        tried += 1
        if flight >= 0 and before != states[flight + 1]:
            if got == before:
                lost += 1
            else:
                landed += 1
    print("cut points tried: %d of %d" % (tried, (total + step - 1) // step))
    print("call in flight: landed %d, not landed %d" % (landed, lost))
    return 0


sys.exit(main(sys.argv))
