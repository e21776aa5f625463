# Under micropython: the charge point core with reservations stored, on real LittleFS
# (vfs.VfsLfs2) over a RAM flash that loses power at its k-th program/erase. A scenario
# of ReserveNow (new, replacing), CancelReservation, a reservation used by its
# transaction and one expiring runs until the cut; then the same bytes are remounted and
# a new core boots on them (its clock at the moment of the cut). Checked for every cut:
# the reservations after the reboot are exactly those before the operation the cut
# interrupted or exactly those after it, never a mix or a torn entry; no crash.
# Usage: powercut_reserve.py [step [partial]]  (every step-th write is a cut point, default 1;
#        partial: share of the cut write that lands, default half)
import json
import sys

import powercut
from hal.sim import build
from evse.connector import Evse
from ocpp16.chargepoint import ChargePoint, WallClock
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime

BLOCKS = 32              # 128 KB flash
POINT = "/rs"
DATA = POINT + "/data"
TICK_MS = 500
T0 = 1795435200          # the charger's clock at now=0 (2026-11-23T12:00:00Z)


class Cut(Exception):
    """The device lost power: nothing after this runs."""


class Firmware:
    def __init__(self, dev, epoch):
        self.dev = dev
        self.hw = build({"connectors": 2, "max_current_a": 16})
        self.world = self.hw.sim
        self.evses = [Evse(1, self.hw.connectors[0]), Evse(2, self.hw.connectors[1])]
        config = Config(DATA + "/config.json", {"NumberOfConnectors": 2})
        config.values["AllowOfflineTxForUnknownId"] = True
        config.values["MeterValueSampleInterval"] = 0
        self.queue = MessageQueue(DATA + "/queue", capacity_bytes=32 * 1024, stage_slots=4)
        self.cp = ChargePoint({"charge_point_id": "RS"}, config, self.evses, self.queue, data_dir=DATA,
                              clock=WallClock(epoch, 0), reader=self.hw.reader, now=0)
        self.cp.boot_status = "Accepted"   # offline after an accepted boot: nothing is sent
        self.now = 0
        self.epoch = epoch

    def check_dead(self):
        if self.dev.dead:
            raise Cut()

    def run(self, ms):
        end = self.now + ms
        while self.now < end:
            self.world.step(self.now)
            for e in self.evses:
                e.step(self.now)
            self.cp.tick(self.now)
            self.check_dead()
            del self.cp.outbox[:]
            self.now += TICK_MS

    def call(self, action, payload):
        self.cp.receive(json.dumps([2, "m", action, payload]), self.now)
        self.check_dead()
        answer = json.loads(self.cp.outbox.pop(0))
        del self.cp.outbox[:]
        return answer[2].get("status")

    def reserve(self, rid, connector, tag, seconds):
        exp = format_datetime(self.epoch + self.now // 1000 + seconds)
        return self.call("ReserveNow", {"connectorId": connector, "expiryDate": exp, "idTag": tag,
                                        "reservationId": rid})

    def clock(self):
        return self.epoch + self.now // 1000


def state(cp):
    """The reservations in force, comparable across boots."""
    rs = cp.reservations if "reservation" in cp.features else []
    return sorted(json.dumps(sorted(r.items())) for r in rs)  # MicroPython dicts keep no order


def scenario(fw, states):
    """Each step changes the reservations once (or not at all); `states` gets the state after it."""
    def step(what, *args):
        status = what(*args)
        states.append(state(fw.cp))
        return status

    def session(tag):
        fw.world.tap(tag)
        fw.world.connectors[0].plug()
        fw.run(4000)
        assert 1 in fw.cp.tx

    states.append(state(fw.cp))
    assert step(fw.reserve, 1, 1, "A", 3600) == "Accepted"
    assert step(fw.reserve, 2, 2, "B", 3600) == "Accepted"
    assert step(fw.reserve, 1, 1, "A2", 3600) == "Accepted"             # replaces reservation 1
    assert step(fw.call, "CancelReservation", {"reservationId": 2}) == "Accepted"
    assert step(fw.reserve, 3, 0, "C", 30) == "Accepted"                # connector 0, expires soon
    step(session, "A2")                                                # uses reservation 1
    step(fw.run, 40000)                                                # reservation 3 expires
    assert step(fw.reserve, 4, 2, "D", 3600) == "Accepted"
    assert step(fw.call, "CancelReservation", {"reservationId": 4}) == "Accepted"  # file removed


def reboot_state(dev, epoch):
    fw = None
    try:
        fw = Firmware(dev, epoch)
        s = state(fw.cp)
        fw.run(1000)   # the core runs on it
        return s
    finally:
        if fw is not None:
            fw.queue.close()
        powercut.umount(POINT)


def attempt(image, cut_at):
    dev = image.copy(cut_at)
    powercut.mount(dev, POINT)
    states = []
    cut = False
    fw = None
    try:
        fw = Firmware(dev, T0)
        scenario(fw, states)
    except Cut:
        cut = True
    except Exception:
        if not dev.dead:
            raise
        cut = True          # the OSError LittleFS made of the cut
    finally:
        if fw is not None:
            fw.queue.close()
        powercut.umount(POINT)
    epoch = fw.clock() if fw is not None else T0
    after = dev.reboot()
    dev.data = None
    powercut.mount(after, POINT)
    return cut, dev.ops, states, reboot_state(after, epoch)


def main(argv):
    step = int(argv[1]) if len(argv) > 1 else 1
    image = powercut.CutBlockDevice.formatted(BLOCKS)
    if len(argv) > 2:
        image.partial = float(argv[2])
    powercut.mount(image, POINT)
    import os
    os.mkdir(DATA)
    powercut.umount(POINT)
    cut, total, full, _ = attempt(image, None)
    assert not cut and len(full) == 10, full
    assert full[-1] == [] and len(set(json.dumps(s) for s in full)) >= 7, full
    print("writes in the whole run: %d, reservation states: %d" % (total, len(full)))
    tried = 0
    landed = [0, 0]
    for k in range(1, total + 1, step):
        try:
            cut, _, states, got = attempt(image, k)
            assert cut, "cut %d did not happen" % k
            done = len(states) - 1            # steps completed before the cut
            assert states == full[:len(states)], "cut %d: the run before the cut differs" % k
            before = full[done]
            after_ = full[done + 1] if done + 1 < len(full) else before
            # at boot a reservation whose expiryDate passed is dropped: that is the step after
            if got == before:
                landed[0] += 1
            elif got == after_:
                landed[1] += 1
            else:
                raise AssertionError("cut %d in step %d: after reboot %r, expected %r or %r"
                                     % (k, done + 1, got, before, after_))
        except Exception as e:
            print("FAIL at cut %d of %d: %r" % (k, total, e))
            sys.print_exception(e)
            return 1
        tried += 1
    print("cut points tried: %d of %d" % (tried, (total + step - 1) // step))
    print("after reboot: state before the interrupted step %d times, after it %d times" % tuple(landed))
    return 0


sys.exit(main(sys.argv))
