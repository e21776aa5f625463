# Under micropython: the queue scenario of powercut.py on real LittleFS (vfs.VfsLfs2) over a
# RAM flash that loses power at its k-th program/erase, for every k of the run (or every
# `step`-th when given). After each cut the same bytes are remounted ("reboot"), the queue is
# reopened and checked against the model. Prints "cut points tried: N of M".
import os
import sys
import powercut
import store
from ocpp16.queue import MessageQueue

BLOCKS = 24              # 96 KB flash
POINT = "/pc"
DIR = POINT + "/data/queue"
CAPACITY = 32 * 1024
SEGMENT = 1024           # small segments so the run rolls and compacts
SLOTS = 4                # few staging slots so the run seals often
TRANSACTIONS = 8         # scenario size: ~600 block writes, every one of them a cut point
METER_VALUES = 12


OPENED = []   # every queue made, even one whose constructor the cut interrupted


class TrackedQueue(MessageQueue):
    def __init__(self, *a, **kw):
        OPENED.append(self)
        MessageQueue.__init__(self, *a, **kw)


def open_queue():
    return TrackedQueue(DIR, capacity_bytes=CAPACITY, segment_bytes=SEGMENT, stage_slots=SLOTS,
                        fs=CountingFS)


def close_all():
    # A file left open on a mount that is then dropped would be finalized by the garbage
    # collector possibly after its filesystem object was freed (MicroPython sweeps in address
    # order): close every queue's append handle before unmounting.
    while OPENED:
        q = OPENED.pop()
        try:
            q.close()
        except Exception:
            pass


STATS = [0, 0]   # segments started, deleted in the run
COUNT = [0, 0]   # ... so far


class CountingFS(store.real_fs):
    """The real filesystem, counting the segment files the queue starts and deletes."""
    def open(path, mode):
        if mode == "wb" and path.endswith(".seg"):
            COUNT[0] += 1
        return open(path, mode)

    def remove(path):
        if path.endswith(".seg"):
            COUNT[1] += 1
        os.remove(path)


def attempt(image, cut_at, ops):
    dev = image.copy(cut_at)
    powercut.mount(dev, POINT)
    model = powercut.Model()
    cut = False
    try:
        COUNT[0] = COUNT[1] = 0
        q = open_queue()
        powercut.run(q, ops, model, lambda: dev.dead)
        STATS[0], STATS[1] = COUNT
    except Exception:
        if not dev.dead:
            raise
        cut = True      # PowerCut, or the OSError LittleFS made of it
    finally:
        close_all()
        powercut.umount(POINT)
    after = dev.reboot()
    dev.data = None     # the dead device never touches the bytes again
    powercut.mount(after, POINT)
    try:
        powercut.check(open_queue(), model)
    finally:
        close_all()
        powercut.umount(POINT)
    return cut, dev.ops


def main(argv):
    step = int(argv[1]) if len(argv) > 1 else 1
    partial = float(argv[2]) if len(argv) > 2 else powercut.HALF
    image = powercut.CutBlockDevice.formatted(BLOCKS)
    image.partial = partial
    ops = powercut.scenario(TRANSACTIONS, METER_VALUES)
    cut, total = attempt(image, None, ops)   # the whole run: how many writes it makes
    assert not cut
    print("segments started in the run: %d, deleted: %d" % (STATS[0], STATS[1]))
    tried = failed = 0
    for k in range(1, total + 1, step):
        try:
            cut, _ = attempt(image, k, ops)
            assert cut, "no cut at write %d" % k
        except Exception as e:
            failed += 1
            print("FAIL cut at write %d of %d: %r" % (k, total, e))
            sys.print_exception(e)
            if failed > 5:
                break
        tried += 1
    print("cut points tried: %d of %d" % (tried, (total + step - 1) // step))
    print("writes in the run: %d, partial %s, failures %d" % (total, partial, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv))
