# Under micropython: the whole charge point core (queue, tx.json, configuration, auth
# store) on real LittleFS (vfs.VfsLfs2) over a RAM flash that loses power at its k-th
# program/erase. A scenario of several transactions with meter values, mostly offline,
# runs until the cut; then the same bytes are remounted, a new core starts on them
# ("reboot"), reconnects to the CSMS and delivers what it has. Checked for every cut:
# every transaction message whose push() had returned before the cut reaches the CSMS,
# in order, with the transactionId the CSMS gave its StartTransaction; at most the one
# message in flight at the cut arrives twice; no transaction is left open; no crash; a
# transaction open at the cut is stopped (PowerLoss) with a meterStop that lost at most
# chargepoint._PERSIST_WH of the energy the firmware had read by then.
# The CSMS is an in-memory peer here (hundreds of reboots); the same core talks to the
# real `ocpp` CSMS over WebSockets in test_scenarios.py / test_outage_*.py.
# Usage: powercut_fw.py [step [partial]]  (every step-th write is a cut point; default 1;
#        partial: share of the cut write that lands, default half)
import json
import sys

import powercut
from hal.sim import build
from evse.connector import Evse
from limits import limit
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue

PERSIST_WH = limit("ocpp16.chargepoint", "_PERSIST_WH")

BLOCKS = 32              # 128 KB flash
POINT = "/fw"
DATA = POINT + "/data"
TICK_MS = 500            # control period of this test (coarser than the device's, for speed)
RECUT_EVERY = 10         # every 10th first cut point also gets a cut during its recovery boot ...
RECUT_WRITES = 12        # ... at each of the recovery's first 12 writes
# A cut during the tx.json save that crossed PERSIST_WH loses that save too: the bound is
# PERSIST_WH + the energy of one reading step (TICK_MS at 32 A x 230 V = 1.02 Wh; Wh are integers).
STEP_WH = 2


class Cut(Exception):
    """The device lost power: nothing after this runs."""


class Csms:
    """In-memory central system: answers every CALL, assigns transactionIds, records the
    transaction messages it received (it survives the charger's reboots)."""

    def __init__(self):
        self.next_id = 501
        self.got = []          # (action, payload, assigned id for Starts)
        self.id_by_ref = {}    # not known to the CSMS: filled by the checker

    def answer(self, action, p):
        if action == "BootNotification":
            return {"status": "Accepted", "interval": 3600, "currentTime": "2026-11-23T12:00:00Z"}
        if action == "Heartbeat":
            return {"currentTime": "2026-11-23T12:00:00Z"}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            self.next_id += 1
            self.got.append((action, p, self.next_id))
            return {"transactionId": self.next_id, "idTagInfo": {"status": "Accepted"}}
        if action in ("MeterValues", "StopTransaction") and p.get("transactionId") is not None:
            self.got.append((action, p, None))
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        return {}


class Firmware:
    def __init__(self, dev, csms, model):
        self.dev = dev
        self.csms = csms
        self.model = model
        # 32 A: 10 Wh in ~5 s, so a power cut between two 10 s samples would lose up to 20 Wh
        self.hw = build({"connectors": 1, "max_current_a": 32})
        self.world = self.hw.sim
        self.evses = [Evse(1, self.hw.connectors[0])]
        config = Config(DATA + "/config.json", {"NumberOfConnectors": 1})
        config.values["AllowOfflineTxForUnknownId"] = True
        config.values["MeterValueSampleInterval"] = 10
        config.values["StopTxnSampledData"] = ""
        self.queue = MessageQueue(DATA + "/queue", capacity_bytes=48 * 1024, stage_slots=4)
        q = self.queue
        push = q.push

        def tracked_push(action, payload, tx_ref=None):
            seq = push(action, payload, tx_ref=tx_ref)
            if not dev.dead:       # returned before the cut: the firmware counts on it
                model.append((seq, action, json.loads(json.dumps(payload)), tx_ref))
            return seq
        q.push = tracked_push
        self.cp = ChargePoint({"charge_point_id": "PC"}, config, self.evses, q, data_dir=DATA,
                              reader=self.hw.reader, now=0)
        self.now = 0
        self.connected = False

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
            while self.cp.outbox and self.connected:
                m = json.loads(self.cp.outbox.pop(0))
                if m[0] != 2:
                    continue
                answer = self.csms.answer(m[2], m[3])   # the CSMS has it now
                self.cp.receive(json.dumps([3, m[1], answer]), self.now)
                self.check_dead()
            self.now += TICK_MS

    def connect(self):
        self.connected = True
        self.cp.on_connect(self.now)

    def disconnect(self):
        self.connected = False
        self.cp.on_disconnect(self.now)
        del self.cp.outbox[:]

    def session(self, tag, minutes_ms=25000):
        self.world.tap(tag)
        self.world.connectors[0].plug()
        self.run(minutes_ms)
        self.world.connectors[0].unplug()
        self.run(1500)


def scenario(fw):
    fw.connect()
    fw.run(2000)
    fw.disconnect()
    fw.session("AAA1")          # offline
    fw.session("BBB2")
    fw.connect()
    fw.run(4000)                # delivered and acknowledged (acks are flash writes too)
    fw.session("CCC3")          # online
    fw.disconnect()
    fw.session("DDD4", 45000)   # offline, longer
    fw.connect()
    fw.run(1000)                # part of the backlog delivered, then the link drops
    fw.disconnect()
    fw.session("EEE5")
    fw.world.tap("FFF6")
    fw.world.connectors[0].plug()
    fw.run(22000)               # last transaction open when the scenario ends


def deliver(fw):
    fw.connect()
    fw.run(6000)
    fw.world.connectors[0].unplug()
    fw.run(3000)


def verify(csms, pushed, cuts=1):
    """Every pushed message arrived, in order, with the right transactionId; at most
    one message delivered twice per power cut (the one in flight at that cut)."""
    got = csms.got
    # The CSMS's id for each Start: the last delivery of that Start wins (a duplicate in flight).
    start_ids = {}
    starts = [p for p in pushed if p[1] == "StartTransaction"]
    for seq, action, payload, ref in starts:
        ids = [g[2] for g in got if g[0] == action and g[1] == payload]
        assert ids, "StartTransaction seq %d never arrived" % seq
        assert len(ids) <= 1 + cuts, "StartTransaction seq %d arrived %d times" % (seq, len(ids))
        start_ids[seq] = ids[-1]
    # A Start whose push was cut may still have landed on flash (the cut write completed):
    # then it is the message in flight, delivered after the reboot without being recorded.
    recorded = [p[2] for p in starts]
    in_flight = [g[2] for g in got if g[0] == "StartTransaction" and g[1] not in recorded]
    assert len(set(json.dumps(g[1]) for g in got if g[0] == "StartTransaction" and g[1] not in recorded)) <= 1
    pos = -1
    dups = 0
    for seq, action, payload, ref in pushed:
        want = dict(payload)
        if action != "StartTransaction":
            tx = want.pop("transactionId", None)
            if tx is None:
                tx = start_ids.get(ref)
            if tx is None and in_flight:
                tx = in_flight[-1]
            assert tx is not None, "seq %d %s: no transactionId can be known" % (seq, action)
        hits = []
        for i, g in enumerate(got):
            if g[0] != action:
                continue
            have = dict(g[1])
            if action != "StartTransaction":
                if have.pop("transactionId") != tx:
                    continue
            if have == want:
                hits.append(i)
        assert hits, "seq %d %s (tx_ref %s) never arrived with transactionId %s" % (seq, action, ref, tx)
        dups += len(hits) - 1
        assert hits[-1] > pos or hits[0] > pos, "seq %d %s out of order" % (seq, action)
        pos = hits[-1]
    assert dups <= cuts, "%d duplicate deliveries after %d power cuts" % (dups, cuts)
    # no transaction left open: every delivered Start has a delivered Stop with its id
    stopped = set(g[1]["transactionId"] for g in got if g[0] == "StopTransaction")
    for seq in start_ids:
        assert start_ids[seq] in stopped, "transaction %s (Start seq %d) never stopped" % (start_ids[seq], seq)
    if in_flight:
        assert in_flight[-1] in stopped, "transaction %s (Start in flight at the cut) never stopped" % in_flight[-1]
    return len(pushed)


def _boot_and_deliver(dev, csms, pushed):
    """Start the firmware on `dev` and let it deliver; True when the power went meanwhile."""
    fw = None
    try:
        fw = Firmware(dev, csms, pushed)
        deliver(fw)
    except Cut:
        return True
    except Exception:
        if not dev.dead:
            raise
        return True
    finally:
        if fw is not None:
            fw.queue.close()
        powercut.umount(POINT)
    return False


def attempt(image, cut_at, recut_at=None):
    """Run the scenario with the power cut at write `cut_at`; reboot (cut again at the
    reboot's write `recut_at` when given, then reboot once more) and deliver; verify."""
    dev = image.copy(cut_at)
    powercut.mount(dev, POINT)
    csms = Csms()
    pushed = []
    cut = False
    fw = None
    try:
        fw = Firmware(dev, csms, pushed)
        scenario(fw)
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
    read_at_cut = None  # what the firmware had read of the open transaction's meter when the power went
    if fw is not None:  # the end of the scenario is a power-off too
        read_at_cut = fw.evses[0].energy_wh()
    after = dev.reboot(recut_at)
    dev.data = None
    powercut.mount(after, POINT)
    cuts = 1
    if _boot_and_deliver(after, csms, pushed):
        cuts = 2
        again = after.reboot()
        after.data = None
        powercut.mount(again, POINT)
        assert not _boot_and_deliver(again, csms, pushed)
    n = verify(csms, pushed, cuts)
    for g in csms.got:
        if g[0] == "StopTransaction" and g[1].get("reason") == "PowerLoss":
            assert read_at_cut is not None, "a PowerLoss stop without a transaction open at the cut"
            lost = read_at_cut - g[1]["meterStop"]
            assert 0 <= lost <= PERSIST_WH + STEP_WH, "PowerLoss meterStop %d lost %d Wh (bound %d)" % (
                g[1]["meterStop"], lost, PERSIST_WH + STEP_WH)
            LOST[0] = max(LOST[0], lost)
            LOST[1] += 1
    return cut, dev.ops, n, csms, pushed


LOST = [0, 0]  # largest energy a PowerLoss meterStop lost (Wh), PowerLoss stops checked


def checker_catches_loss(csms, pushed):
    """The checker must fail when one delivered MeterValues goes missing."""
    i = [j for j, g in enumerate(csms.got) if g[0] == "MeterValues"][0]
    del csms.got[i]
    try:
        verify(csms, pushed)
    except AssertionError:
        return True
    return False


def main(argv):
    step = int(argv[1]) if len(argv) > 1 else 1
    image = powercut.CutBlockDevice.formatted(BLOCKS)
    if len(argv) > 2:
        image.partial = float(argv[2])  # share of the interrupted write that lands
    powercut.mount(image, POINT)
    import os
    os.mkdir(DATA)
    powercut.umount(POINT)
    cut, total, n, csms, pushed = attempt(image, None)
    print("writes in the whole run: %d, transaction messages: %d" % (total, n))
    assert checker_catches_loss(csms, pushed), "the checker missed a lost message"
    tried = 0
    for k in range(1, total + 1, step):
        try:
            cut = attempt(image, k)[0]
        except Exception as e:
            print("FAIL at cut %d of %d: %r" % (k, total, e))
            sys.print_exception(e)
            return 1
        assert cut, "cut %d did not happen" % k
        tried += 1
    print("cut points tried: %d of %d" % (tried, (total + step - 1) // step))
    # A second cut during the recovery boot (PowerLoss stops, deliveries, acks) of a
    # sample of first cuts, at each of the recovery's first RECUT_WRITES writes.
    second = 0
    for k in range(1, total + 1, RECUT_EVERY):
        for j in range(1, RECUT_WRITES + 1):
            try:
                attempt(image, k, j)
            except Exception as e:
                print("FAIL at cut %d then recovery cut %d: %r" % (k, j, e))
                sys.print_exception(e)
                return 1
            second += 1
    print("second cuts during recovery: %d" % second)
    print("PowerLoss stops checked: %d, largest energy lost: %d Wh (bound %d)" % (LOST[1], LOST[0],
                                                                                        PERSIST_WH + STEP_WH))
    return 0


sys.exit(main(sys.argv))
