# Power cuts at every write of a queue run: on CPython through powercut.FakeFS (torn writes
# visible, like a FAT or POSIX file), and on real LittleFS (vfs.VfsLfs2) under micropython.
import os
import pytest

import mpy
import powercut
from ocpp16.queue import MessageQueue

DIR = "/flash/queue"
CAPACITY = 16 * 1024
SEGMENT = 700          # small segments: the run rolls and compacts several times
SLOTS = 4              # few staging slots: the run seals often
TRANSACTIONS = 5
METER_VALUES = 8


def ops():
    return powercut.scenario(TRANSACTIONS, METER_VALUES)


def fresh(cut_at=None, partial=powercut.HALF):
    fs = powercut.FakeFS(cut_at=cut_at, partial=partial)
    return fs


def open_queue(fs):
    return MessageQueue(DIR, capacity_bytes=CAPACITY, segment_bytes=SEGMENT, fs=fs,
                        stage_slots=SLOTS)


def whole_run_ops():
    fs = fresh()
    model = powercut.Model()
    q = open_queue(fs)
    powercut.run(q, ops(), model)
    return fs.ops, model, fs


def test_scenario_rolls_compacts_and_survives_a_clean_reboot():
    total, m, fs = whole_run_ops()
    assert total > 100
    assert m.removed > 0 and m.fails and len(m.pushed) > 40
    segs = [p for p in fs.created if p.endswith(".seg")]
    assert len(segs) >= 4 and len([p for p in fs.removed if p.endswith(".seg")]) >= 3
    assert powercut.check(open_queue(fs.reboot()), m) == len(m.pushed) - m.removed


@pytest.mark.parametrize("partial", [0.0, 0.5, 1.0])
def test_power_cut_at_every_write_on_fake_fs(partial):
    total, _, _ = whole_run_ops()
    tried = 0
    for k in range(1, total + 1):
        fs = fresh(cut_at=k, partial=partial)
        model = powercut.Model()
        with pytest.raises(powercut.PowerCut):
            powercut.run(open_queue(fs), ops(), model)
        try:
            powercut.check(open_queue(fs.reboot()), model)
        except AssertionError as e:
            raise AssertionError("cut at write %d of %d (partial %s, in flight %r): %s" % (
                k, total, partial, model.in_flight and model.in_flight[:2], e))
        tried += 1
    assert tried == total
    print("fake fs: %d cut points, partial %s" % (tried, partial))


def test_check_catches_a_lost_message():
    # The checker itself must fail when the queue loses something.
    fs = fresh()
    model = powercut.Model()
    q = open_queue(fs)
    powercut.run(q, ops()[:5], model)
    q.close()
    model.pushed.append([model.max_seq + 1, "MeterValues", {}, None])
    with pytest.raises(AssertionError):
        powercut.check(open_queue(fs.reboot()), model)


@pytest.mark.parametrize("step,partial", [(1, 0.5), (7, 0.0), (7, 1.0)])
def test_power_cut_on_littlefs_under_micropython(step, partial):
    # step 1: every program/erase of the run is a cut point, half of the cut write lands;
    # every 7th with nothing / all of the cut write landing.
    script = os.path.join(mpy.HOST_TESTS, "powercut_lfs.py")
    r = mpy.run([script, str(step), str(partial)], extra_path=(mpy.HOST_TESTS,), timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "FAIL" not in r.stdout
    line = [x for x in r.stdout.splitlines() if x.startswith("cut points tried:")]
    assert line, r.stdout
    tried, points = [int(x) for x in line[0].split(":")[1].split("of")]
    assert tried == points and points * step >= 500
    rolls = [x for x in r.stdout.splitlines() if x.startswith("segments started")][0]
    started, deleted = [int(x.split(":")[1]) for x in rolls.split(",")]
    assert started >= 3 and deleted >= 2
    print(r.stdout)
