# Message queue figures on real LittleFS (vfs.VfsLfs2 over a RAM flash with 4096-byte blocks):
# flash bytes programmed per queued message vs its record size, how many messages and complete
# transactions fit in 64 KB and 512 KB of flash, replay rate, heap held by the queue.
# Run: MICROPYPATH=.frozen:firmware:host_tests .venv/bin/micropython tools/bench_queue.py
# Figures, not assertions; the replay rate is the host's speed, not an ESP32's.
import gc
import time
import powercut
from ocpp16 import queue as mq
from ocpp16.queue import MessageQueue, QueueError

POINT = "/bench"
DIR = POINT + "/data/queue"
KB = 1024
CAPACITY_SHARE = 7 / 8     # capacity_bytes of the policy run: this share of the flash
TX_METER_VALUES = 15       # MeterValues per complete transaction in the capacity figure
SMALL_SLOTS = 8            # stage_slots also tried on the small flash (slot files cost metadata)


def mv(i, ref=None):
    return {"connectorId": 1, "transactionId": None if ref is not None else 4711, "meterValue": [
        {"timestamp": "2026-11-23T%02d:%02d:%02dZ" % (i // 3600 % 24, i // 60 % 60, i % 60),
         "sampledValue": [{"value": str(100000 + 37 * i), "context": "Sample.Periodic",
                           "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}


def start(i):
    return {"connectorId": 1, "idTag": "04A2B3C4D5E6F7", "meterStart": 100000 + 37 * i,
            "timestamp": "2026-11-23T10:00:00Z"}


def stop(i):
    return {"transactionId": None, "idTag": "04A2B3C4D5E6F7", "meterStop": 100000 + 37 * i,
            "timestamp": "2026-11-23T11:00:00Z", "reason": "EVDisconnected"}


_BUFFERS = {}   # one RAM flash per size, reformatted for each run (the unix port's heap is small)


def flash(size):
    dev = powercut.CutBlockDevice.formatted(size // powercut.BLOCK_SIZE, data=_BUFFERS.get(size))
    _BUFFERS[size] = dev.data
    powercut.mount(dev, POINT)
    return dev


def release(q):
    q.close()
    powercut.umount(POINT)


def amplification():
    dev = flash(512 * KB)
    q = MessageQueue(DIR, capacity_bytes=448 * KB)
    for i in range(20):                     # warm up: directories and first segment exist
        q.push("MeterValues", mv(i))
    n = 500
    p0, e0, u0 = dev.programmed, dev.erased, q.bytes_used
    for i in range(n):
        q.push("MeterValues", mv(i))
    rec = (q.bytes_used - u0) / n
    prog = (dev.programmed - p0) / n
    erased = (dev.erased - e0) / n
    p0 = dev.programmed
    for i in range(n):
        q.ack(q.peek()[0])
    ack = (dev.programmed - p0) / n
    release(q)
    import json
    plain = len(json.dumps([2, "12345678", "MeterValues", mv(1)]))
    print("record size of a single-sample MeterValues: %.1f bytes (plain OCPP-J frame %d bytes)"
          % (rec, plain))
    print("flash programmed per push: %.0f bytes = %.1fx the record (%.2f block erases);"
          " per ack: %.0f bytes" % (prog, prog / rec, erased, ack))


def fill(size, transactions, capacity, admit, slots=32):
    """Push until refused: single MeterValues, or whole transactions (counting complete ones;
    with `admit`, a transaction starts only when room_for_transaction() says so, as the core does)."""
    flash(size)
    q = MessageQueue(DIR, capacity_bytes=capacity, stage_slots=slots)
    n = 0
    why = "room_for_transaction() False"
    try:
        while not transactions or not admit or q.room_for_transaction(TX_METER_VALUES):
            if not transactions:
                q.push("MeterValues", mv(n))
                n += 1
                continue
            ref = q.push("StartTransaction", start(n))
            for i in range(TX_METER_VALUES):
                q.push("MeterValues", mv(i, ref), tx_ref=ref)
            q.push("StopTransaction", stop(n), tx_ref=ref)
            n += 1
    except QueueError as e:
        why = str(e)
    except OSError as e:          # the filesystem gave up in another way
        why = "OSError %s from the filesystem" % e
    used = q.bytes_used
    release(q)
    return n, used, why


def capacity():
    for size in (64 * KB, 512 * KB):
        n, used, why = fill(size, False, size, False)
        print("%3d KB flash, filesystem is the limit: %d single-sample MeterValues (%d record bytes;"
              " %s)" % (size // KB, n, used, why))
        n, used, why = fill(size, True, size, False)
        print("%3d KB flash, filesystem is the limit: %d complete transactions of Start + %d"
              " MeterValues + Stop (%d record bytes; then %s)" % (size // KB, n, TX_METER_VALUES,
                                                                 used, why))
        if size < 128 * KB:
            n, used, why = fill(size, False, size, False, SMALL_SLOTS)
            print("%3d KB flash, stage_slots=%d: %d single-sample MeterValues (%d record bytes)"
                  % (size // KB, SMALL_SLOTS, n, used))
        cap = int(size * CAPACITY_SHARE)
        n, used, why = fill(size, True, cap, True)
        print("%3d KB flash, capacity_bytes %d, admitted by room_for_transaction(%d): %d complete"
              " transactions (%d record bytes)" % (size // KB, cap, TX_METER_VALUES, n, used))


def replay():
    flash(512 * KB)
    q = MessageQueue(DIR, capacity_bytes=448 * KB)
    for i in range(1000):
        q.push("MeterValues", mv(i))
    q.close()
    q = MessageQueue(DIR, capacity_bytes=448 * KB)
    t0 = time.ticks_ms()
    n = 0
    while True:
        h = q.peek()
        if h is None:
            break
        q.ack(h[0])
        n += 1
    dt = time.ticks_diff(time.ticks_ms(), t0)
    release(q)
    print("replay: %d messages peeked+acked from flash in %d ms = %.0f messages/s (host CPU)"
          % (n, dt, n * 1000 / max(dt, 1)))


def heap(waiting):
    flash(512 * KB)
    q = MessageQueue(DIR, capacity_bytes=448 * KB)
    for i in range(waiting):
        q.push("MeterValues", mv(i))
    q.close()
    q = None
    gc.collect()
    before = gc.mem_alloc()
    q = MessageQueue(DIR, capacity_bytes=448 * KB)
    q.peek()
    gc.collect()
    held = gc.mem_alloc() - before
    for i in range(5):                      # in use: push and ack a few
        q.ack(q.peek()[0])
        q.push("MeterValues", mv(i))
    gc.collect()
    in_use = gc.mem_alloc() - before
    release(q)
    q = None
    gc.collect()
    return held, in_use


def main():
    import log
    log.set_level("error")   # the fill-to-the-brim runs would log every failed seal
    print("ocpp16.queue on LittleFS (VfsLfs2, %d-byte blocks, RAM flash)" % powercut.BLOCK_SIZE)
    amplification()
    capacity()
    replay()
    for n in (10, 1000):
        held, in_use = heap(n)
        print("heap held by the queue with %4d messages waiting: %d bytes after open,"
              " %d bytes after 5 ack+push" % (n, held, in_use))


main()
