# ocpp16.queue.MessageQueue on powercut.FakeFS (and once on the real filesystem): exact round
# trips, order, acks, reopen, tx_ref resolution, limits with named errors, torn tails, garbage,
# failure log and compaction. Runs on CPython and micropython.
import os
import powercut
from ocpp16 import queue as mq
from ocpp16 import queue_open as qo   # the on-demand half: limits of reclaim, room, failure log
from ocpp16.queue import MessageQueue
from out_of_heap import refusing
from limits import limit

# module-private limits (`_X = const()`), read from their one home
STAGE_MAX = limit("ocpp16.queue_open", "_STAGE_MAX")
FAILURE_LOG_MAX = limit("ocpp16.queue_open", "_FAILURE_LOG_MAX")
MAX_REASON = limit("ocpp16.queue_open", "_MAX_REASON")
STOP_RESERVE = limit("ocpp16.queue", "_STOP_RESERVE")
MAX_DEPTH = limit("ocpp16.queue", "_MAX_DEPTH")
SEG_SUFFIX = ".seg"   # the files of the on-flash layout (queue.py's module comment)
MSG_SUFFIX = ".msg"
FAILURES = "failures.json"

D = "/flash/q"

START = {"connectorId": 1, "idTag": "04A2B3C4D5E6F7", "meterStart": 12345,
         "timestamp": "2026-11-23T08:15:00Z", "reservationId": 7}
MV = {"connectorId": 1, "transactionId": None, "meterValue": [
    {"timestamp": "2026-11-23T08:16:00Z", "sampledValue": [
        {"value": "12400", "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register",
         "unit": "Wh"}]}]}
MV3 = {"connectorId": 2, "transactionId": 4711, "meterValue": [
    {"timestamp": "2026-11-23T08:17:00Z", "sampledValue": [
        {"value": "231.4", "context": "Sample.Periodic", "measurand": "Voltage", "phase": "L1-N",
         "unit": "V", "location": "Outlet", "format": "Raw"},
        {"value": "15.99", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
        {"value": "-3", "measurand": "Power.Active.Export", "unit": "kW"}]},
    {"timestamp": "2026-11-23T08:17:00.250Z", "sampledValue": [{"value": "0.0"}]}]}
STOP = {"transactionId": None, "idTag": "04A2B3C4D5E6F7", "meterStop": 19999,
        "timestamp": "2026-11-23T09:00:00Z", "reason": "EVDisconnected", "transactionData": [
            {"timestamp": "2026-11-23T09:00:00Z", "sampledValue": [
                {"value": "19999", "context": "Transaction.End", "unit": "Wh"}]}]}
SEC = {"type": "InvalidFirmwareSignature", "timestamp": "2026-11-23T09:01:02Z",
       "techInfo": "sig 0x1f mismatch"}
ODD = {"float": 1.5, "neg": -123456789012, "big": 2 ** 40, "t": True, "f": False, "n": None,
       "strs": ["007", "1e5", "-0", "0.10", "+1", "1.", ".5", "", "Wh", "ünïcødé ✓", "a\x00b",
                "2026-02-30T00:00:00Z", "2026-11-23T25:00:00Z", "2026-11-23T12:00:00+01:00",
                "2026-11-23t12:00:00z", "1999-12-31T23:59:59Z", "1900-01-01T00:00:00Z",
                "12345678901234567890", "1.23456789"],
       "nested": [[[{"k": []}]], {}], "unicode key é": 1}


def encode_value(v):
    """The compact bytes of a JSON-like value (queue._encode)."""
    out = bytearray()
    mq._encode(out, v, 0)
    return bytes(out)


def decode_value(b):
    return mq._value(b, 0)[0]


def deleted_segments(fs):
    """Segment files the queue deleted on fs (compaction)."""
    return len([p for p in fs.removed if p.endswith(SEG_SUFFIX)])


def fresh(**kw):
    fs = powercut.FakeFS()
    return fs, MessageQueue(D, fs=fs, **kw)


def reopen(fs, **kw):
    """The queue as the next boot would see it (on a copy, so fs stays usable)."""
    return MessageQueue(D, fs=fs.copy(), **kw)


def raises(exc, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc as e:
        return str(e)
    assert False, "%s not raised" % exc.__name__


def drain(q):
    out = []
    while q.peek() is not None:
        h = q.peek()
        out.append(h)
        q.ack(h[0])
    return out


def test_every_action_shape_round_trips_exactly():
    fs, q = fresh()
    shapes = [("StartTransaction", START, None), ("MeterValues", MV, None), ("MeterValues", MV3, 5),
              ("StopTransaction", STOP, None), ("SecurityEventNotification", SEC, None),
              ("VendorSpecific", ODD, 3), ("Heartbeat", {}, None)]
    for action, payload, ref in shapes:
        q.push(action, payload, tx_ref=ref)
    q2 = reopen(fs)
    got = drain(q2)
    assert [(g[1], g[2], g[3]) for g in got] == shapes
    assert got[0][2] is not START


def test_encoding_is_compact_and_exact():
    for v in (START, MV, MV3, STOP, SEC, ODD):
        assert decode_value(encode_value(v)) == v
    import json
    mv_json = len(json.dumps({"action": "MeterValues", "payload": MV}))
    assert len(encode_value(MV)) * 3 < mv_json
    assert len(encode_value("2026-11-23T08:16:00Z")) <= 6
    assert decode_value(encode_value("2026-11-23t12:00:00z")) == "2026-11-23t12:00:00z"


# The word codes of the on-flash format (code 0x20 + index): never changed, only appended to.
WORDS = [
    "StartTransaction", "StopTransaction", "MeterValues", "SecurityEventNotification",
    "StatusNotification", "DataTransfer", "Authorize", "BootNotification", "Heartbeat",
    "DiagnosticsStatusNotification", "FirmwareStatusNotification", "LogStatusNotification",
    "SignedFirmwareStatusNotification", "connectorId", "idTag", "meterStart", "timestamp",
    "reservationId", "transactionId", "meterStop", "reason", "transactionData", "meterValue",
    "sampledValue", "value", "context", "format", "measurand", "phase", "location", "unit",
    "type", "techInfo", "status", "errorCode", "info", "vendorId", "vendorErrorCode",
    "messageId", "data", "Interruption.Begin", "Interruption.End", "Other", "Sample.Clock",
    "Sample.Periodic", "Transaction.Begin", "Transaction.End", "Trigger", "Raw", "SignedData",
    "Current.Export", "Current.Import", "Current.Offered", "Energy.Active.Export.Register",
    "Energy.Active.Import.Register", "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval", "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval", "Frequency", "Power.Active.Export",
    "Power.Active.Import", "Power.Factor", "Power.Offered", "Power.Reactive.Export",
    "Power.Reactive.Import", "RPM", "SoC", "Temperature", "Voltage", "L1", "L2", "L3", "N",
    "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1", "Body", "Cable", "EV", "Inlet",
    "Outlet", "Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "V",
    "Celsius", "Fahrenheit", "K", "Percent", "DeAuthorized", "EmergencyStop", "EVDisconnected",
    "HardReset", "Local", "PowerLoss", "Reboot", "Remote", "SoftReset", "UnlockCommand", "",
    "NoError", "Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
    "Finishing", "Reserved", "Unavailable", "Faulted", "Accepted"]


def test_words_table_has_no_duplicates_and_fits_the_tag_space():
    table = mq._WORDS
    assert table[:1] == b"\0" and table[-1:] == b"\0"
    marks = table[1:-1].split(b"\0")
    assert len(marks) == len(WORDS) and len(set(WORDS)) == len(WORDS) <= 256 - 0x20
    rare = 0
    for i, w in enumerate(WORDS):  # every code decodes to its word
        assert decode_value(bytes((0x20 + i,))) == w, (i, w)
        if marks[i] == b"\x80":   # a word this firmware never sends: decoded by queue_open,
            rare += 1              # encoded as a string
            assert encode_value(w)[0] == 5 and decode_value(encode_value(w)) == w
        else:                      # resident: one byte each way
            assert marks[i].decode() == w and encode_value(w) == bytes((0x20 + i,))
    assert 30 <= rare < len(WORDS) * 2 // 3
    # what the core queues (these four actions, their fields, this meter's values) is resident:
    # one byte (MV3 has another meter's values: only its fields count)
    def words(v, values=True):
        if type(v) is dict:
            return [w for k in v for w in [k] + words(v[k], values)]
        if type(v) is list:
            return [w for x in v for w in words(x, values)]
        return [v] if values and type(v) is str and v in WORDS else []
    for w in ["StartTransaction", "StopTransaction", "MeterValues", "SecurityEventNotification"] \
            + words(START) + words(MV) + words(MV3, False) + words(STOP) + words(SEC):
        assert marks[WORDS.index(w)] != b"\x80", w
    assert decode_value(encode_value("Wh\0kWh")) == "Wh\0kWh"  # not two words glued
    assert decode_value(encode_value("\x80")) == "\x80"       # not a rare word's mark
    try:
        decode_value(bytes((0x20 + len(WORDS),)))
        assert False, "a code beyond the table decoded"
    except (IndexError, ValueError):   # the errors of a damaged record (queue._value)
        pass


def test_fifo_order_ack_and_len():
    fs, q = fresh()
    seqs = [q.push("MeterValues", dict(MV, connectorId=i)) for i in range(10)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10 and len(q) == 10
    for i in range(10):
        h = q.peek()
        assert h[0] == seqs[i] and h[2]["connectorId"] == i
        assert q.peek()[0] == h[0]           # peek does not consume
        q.ack(h[0])
        assert len(q) == 9 - i
    assert q.peek() is None


def test_ack_of_anything_but_the_head_is_an_error():
    fs, q = fresh()
    # one error class under every name (heap): the text says which error it is
    assert "but the head of the queue is None" in raises(mq.QueueError, q.ack, 0)
    a = q.push("MeterValues", MV)
    b = q.push("MeterValues", MV)
    msg = raises(mq.QueueError, q.ack, b)
    assert str(a) in msg
    assert "fail(%d) but the head of the queue is %d" % (b, a) in raises(mq.QueueError, q.fail, b, "x")
    q.ack(a)
    assert "head of the queue is %d" % b in raises(mq.QueueError, q.ack, a)
    assert q.peek()[0] == b


def test_peek_without_decoding_gives_the_head_seq_alone():
    fs, q = fresh()
    assert q.peek(False) is None
    a = q.push("MeterValues", MV)
    b = q.push("MeterValues", MV)
    assert q.peek(False) == a == q.peek()[0]
    q.ack(a)
    assert q.peek(False) == b
    q.ack(b)
    assert q.peek(False) is None


def test_on_demand_methods_and_unknown_names():
    # waiting/done/tx_id/failures live in queue_open (MessageQueue.__getattr__)
    fs, q = fresh()
    a = q.push("MeterValues", MV)
    assert q.waiting(a) and not q.done(a) and q.tx_id(a) is None and q.failures() == []
    q.ack(a)
    assert q.done(a) and not q.waiting(a)
    for bad in (lambda: q._nope, lambda: q.__nope__, lambda: q.nope()):
        try:
            bad()
            assert False, "no AttributeError"
        except AttributeError:
            pass


def test_reopen_after_clean_close_keeps_messages_and_seq_grows():
    fs, q = fresh()
    s = [q.push("MeterValues", MV) for _ in range(5)]
    q.ack(s[0])
    q.close()
    q2 = reopen(fs)
    assert len(q2) == 4 and q2.peek()[0] == s[1]
    n = q2.push("StopTransaction", STOP)
    assert n > s[-1]
    assert [g[0] for g in drain(q2)] == s[1:] + [n]
    q3 = reopen(q2.fs)
    assert len(q3) == 0 and q3.push("Heartbeat", {}) > n


def test_tx_ref_resolution_fills_unknown_ids_across_reopen():
    fs, q = fresh()
    ref = q.push("StartTransaction", START)
    q.push("MeterValues", MV, tx_ref=ref)
    q.push("MeterValues", MV3, tx_ref=ref)           # carries its own id: left alone
    q.push("StopTransaction", STOP, tx_ref=ref)
    assert q.tx_id(ref) is None
    q.ack(ref)
    assert q.peek()[2]["transactionId"] is None      # not known yet
    q.resolve_tx(ref, 99)
    assert q.peek()[2]["transactionId"] == 99
    q2 = reopen(fs)
    assert q2.tx_id(ref) == 99
    got = drain(q2)
    assert [g[2]["transactionId"] for g in got] == [99, 4711, 99]
    assert all(g[3] == ref for g in got)


def test_resolution_survives_segment_rolls_and_compaction():
    fs, q = fresh(segment_bytes=300)
    ref = q.push("StartTransaction", START)
    q.resolve_tx(ref, 1234)
    q.ack(ref)
    for _ in range(8):                       # offline spells: staged messages get sealed
        for _ in range(STAGE_MAX + 3):
            q.push("MeterValues", MV, tx_ref=ref)
        while len(q):
            q.ack(q.peek()[0])
    q.push("StopTransaction", STOP, tx_ref=ref)
    assert deleted_segments(fs) > 3
    q2 = reopen(fs, segment_bytes=300)
    assert q2.peek()[2]["transactionId"] == 1234


def test_full_queue_refuses_with_named_reason_and_keeps_room_for_stop():
    fs, q = fresh(capacity_bytes=8192)
    assert q.room_for_transaction(count=4)
    n = 0
    while True:
        try:
            q.push("MeterValues", MV)
            n += 1
        except mq.QueueError as e:
            msg = str(e)
            break
    assert msg.startswith("queue full: ") and "of 8192 bytes used" in msg, msg
    assert n > 50 and not q.room_for_transaction()
    assert q.bytes_used + STOP_RESERVE > q.capacity_bytes - 100
    assert "kept for StopTransaction" in raises(mq.QueueError, q.push, "StartTransaction", START)
    q.push("StopTransaction", STOP)                  # the reserve is for this
    assert len(q) == n + 1
    q.ack(q.peek()[0])
    assert len(reopen(fs, capacity_bytes=8192)) == n


def test_oversized_and_bad_payloads_are_refused_by_name():
    fs, q = fresh(max_record=256)
    big = dict(SEC, techInfo="x" * 300)
    assert "limit 256" in raises(mq.QueueError, q.push, "SecurityEventNotification", big)
    assert "tuple value cannot be stored" in raises(mq.QueueError, q.push, "X", {"t": (1, 2)})
    assert "object key 1 is not a string" in raises(mq.QueueError, q.push, "X", {1: 2})
    assert "has no JSON form" in raises(mq.QueueError, q.push, "X", {"f": float("nan")})
    assert "has no JSON form" in raises(mq.QueueError, q.push, "X", {"f": -float("inf")})
    deep = []
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    assert "nested deeper than %d" % MAX_DEPTH in raises(mq.QueueError, q.push, "X", {"d": deep})
    assert "an object payload, not 'X', list" in raises(mq.QueueError, q.push, "X", [1])
    assert "needs an action name" in raises(mq.QueueError, q.push, "", {})
    assert "needs an action name" in raises(mq.QueueError, q.push, None, {})
    assert len(q) == 0 and q.push("X", {"ok": 1}) >= 0


def _newest_segment(fs):
    names = sorted(n for n in fs.listdir(D) if n.endswith(SEG_SUFFIX))
    return D + "/" + names[-1]


def _slots(fs):
    return [D + "/" + n for n in fs.listdir(D) if n.endswith(MSG_SUFFIX)]


def test_torn_segment_tail_is_dropped_and_appends_go_to_a_new_segment():
    fs, q = fresh()
    seqs = [q.push("MeterValues", dict(MV, connectorId=i)) for i in range(STAGE_MAX)]
    seg = _newest_segment(fs)
    data = fs.files[seg]
    assert len(data) == q.bytes_used                          # all sealed
    for cut in range(1, 12):
        f2 = fs.copy()
        f2.files[seg] = bytearray(data[:len(data) - cut])  # the last record is torn
        assert len(MessageQueue(D, fs=f2.copy())) == STAGE_MAX   # its stale slot still has it
        for p in _slots(f2):
            del f2.files[p]
        q2 = MessageQueue(D, fs=f2)
        assert len(q2) == STAGE_MAX - 1 and q2.peek()[0] == seqs[0]
        c = [q2.push("StopTransaction", STOP) for _ in range(STAGE_MAX)]
        assert c[0] > seqs[-2]
        assert _newest_segment(f2) != seg
        q3 = MessageQueue(D, fs=f2.copy())
        assert [g[0] for g in drain(q3)] == seqs[:-1] + c


def test_torn_slot_file_is_ignored():
    fs, q = fresh()
    a = q.push("MeterValues", MV)
    b = q.push("MeterValues", MV3)
    path = sorted(_slots(fs))[1]
    whole = fs.files[path]
    for cut in range(1, len(whole)):
        f2 = fs.copy()
        f2.files[path] = bytearray(whole[:cut])
        q2 = MessageQueue(D, fs=f2)
        assert len(q2) == 1 and q2.peek()[0] == a
        c = q2.push("Heartbeat", {})
        assert c > a
        assert [g[0] for g in drain(MessageQueue(D, fs=f2.copy()))] == [a, c]


def test_garbage_files_do_not_crash_the_queue():
    fs, q = fresh()
    a = q.push("MeterValues", MV)
    q.close()
    seed = 12345
    junk = bytearray()
    for _ in range(3000):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        junk.append(seed >> 16 & 0xFF)
    f2 = fs.reboot()
    f2.files[D + "/0000000009.seg"] = bytearray(junk)          # garbage newest segment
    f2.files[D + "/notes.txt"] = bytearray(b"hello")
    f2.files[D + "/abcdefghij.seg"] = bytearray(b"\x05\x00zzzzz")
    f2.files[D + "/0000000005.seg"] = bytearray(b"\xff" * 100)   # erased flash
    q2 = MessageQueue(D, fs=f2)
    assert [g[0] for g in drain(MessageQueue(D, fs=f2.copy()))] == [a]
    b = q2.push("MeterValues", MV)
    assert b > 9
    f3 = f2.copy()
    f3.files[D + "/" + FAILURES] = bytearray(b"\x00\x01")
    q3 = MessageQueue(D, fs=f3)
    assert [g[0] for g in drain(q3)] == [a, b] and q3.failures() == []


def test_failure_log_records_and_is_bounded():
    fs, q = fresh()
    ref = q.push("StartTransaction", START)
    q.resolve_tx(ref, 55)
    q.ack(ref)
    s = q.push("StopTransaction", STOP, tx_ref=ref)
    q.fail(s, "CALLERROR InternalError: " + "x" * 200)
    assert len(q) == 0
    f = reopen(fs).failures()
    assert len(f) == 1 and f[0][0] == "StopTransaction" and f[0][1] == 55
    assert f[0][2].startswith("CALLERROR InternalError") and len(f[0][2]) == MAX_REASON
    for i in range(FAILURE_LOG_MAX + 5):
        q.fail(q.push("MeterValues", MV3), "timeout %d" % i)
    f = reopen(fs).failures()
    assert len(f) == FAILURE_LOG_MAX and f[-1][2] == "timeout %d" % (FAILURE_LOG_MAX + 4)
    assert f[-1][1] == 4711


def test_compaction_reclaims_acknowledged_segments():
    fs, q = fresh(capacity_bytes=16384, segment_bytes=1024, stage_slots=4)
    used = []
    for round_ in range(30):
        for _ in range(20):
            q.push("MeterValues", MV)
        while len(q) > 5:
            q.ack(q.peek()[0])
        used.append(q.bytes_used)
        segs = [n for n in fs.listdir(D) if n.endswith(SEG_SUFFIX)]
        assert len(segs) <= 4, segs
    assert max(used) < 4 * 1024
    assert deleted_segments(fs) >= 20
    assert len(drain(reopen(fs, segment_bytes=1024, stage_slots=4))) == 5


def test_online_traffic_leaves_no_files_behind_and_empty_queue_rolls():
    fs, q = fresh(segment_bytes=1024)
    for _ in range(50):
        q.ack(q.push("MeterValues", MV))
    assert len(_slots(fs)) == 1 and q.bytes_used == 0        # one slot, rewritten
    for _ in range(3):                      # offline spells, then drained
        for _ in range(STAGE_MAX * 2):
            q.push("MeterValues", MV)
        drain(q)
    assert deleted_segments(fs) >= 1 and q.bytes_used < 1024 // 4
    assert len([n for n in fs.listdir(D) if n.endswith(SEG_SUFFIX)]) == 1
    assert len(reopen(fs, segment_bytes=1024)) == 0


def test_on_the_real_filesystem():
    base = "/tmp/ocpp_queue_test_%d" % (id(D) % 100000)
    d = base + "/q"
    try:
        q = MessageQueue(d, capacity_bytes=32768)
        r = q.push("StartTransaction", START)
        q.push("MeterValues", MV, tx_ref=r)
        q.resolve_tx(r, 8)
        q.close()
        q2 = MessageQueue(d, capacity_bytes=32768)
        got = drain(q2)
        assert [g[1] for g in got] == ["StartTransaction", "MeterValues"]
        assert got[1][2]["transactionId"] == 8 and len(q2) == 0
        q2.close()
    finally:
        for dd in (d, base):
            try:
                for n in os.listdir(dd):
                    os.remove(dd + "/" + n)
                os.rmdir(dd)
            except OSError:
                pass


class _SyncFails(powercut.FakeFS):
    """A filesystem whose sync of segment files fails once (after the data was written)."""
    fail_next = False

    def sync(self, f):
        if self.fail_next and f.path.endswith(".seg"):
            self.fail_next = False
            raise OSError(5)


def _queue_open_out_of_heap():
    """profiles.load refuses queue_open with a MemoryError until the returned restore() runs."""
    from ocpp16 import profiles
    real = profiles.load
    profiles.load = refusing(real, {"queue_open"})

    def restore():
        profiles.load = real
    return restore


def test_giving_up_when_the_failure_log_code_cannot_load_still_removes_the_message():
    # queue_open (the failure log) is loaded on demand: out of heap, the message the core gives
    # up is removed all the same, and the next one becomes the head.
    fs, q = fresh()
    a = q.push("MeterValues", MV3)
    b = q.push("MeterValues", MV3)
    restore = _queue_open_out_of_heap()
    try:
        q.fail(a, "timeout")
    finally:
        restore()
    assert q.peek()[0] == b and len(q) == 1
    assert reopen(fs).failures() == []
    assert [g[0] for g in drain(reopen(fs))] == [b]


def test_a_failed_seal_never_delivers_a_message_twice():
    # The seal's data lands in the segment but its sync fails: the messages stay staged, and the
    # copies in the segment (behind older messages still waiting there) must not be replayed.
    fs = _SyncFails()
    q = MessageQueue(D, fs=fs)
    seqs = [q.push("MeterValues", MV) for _ in range(STAGE_MAX + 2)]   # 16 sealed, 2 staged
    q.ack(seqs[0])
    fs.fail_next = True
    more = [q.push("MeterValues", MV3) for _ in range(STAGE_MAX - 2)]  # this seal fails
    assert len(q) == len(seqs) - 1 + len(more)
    want = seqs[1:] + more
    assert [g[0] for g in drain(MessageQueue(D, fs=fs.copy()))] == want
    assert [g[0] for g in drain(q)] == want


def test_room_for_transaction_also_needs_free_filesystem_space():
    fs, q = fresh(capacity_bytes=400 * 1024)
    assert q.room_for_transaction()                  # no space figure: capacity decides
    # queue.py's budgets (_EST_START + 16 x _EST_METER_VALUE + _EST_STOP, underscore const()s: not
    # importable on MicroPython), the Stop reserve and _FS_MARGIN (two 4 KB blocks)
    need = 96 + 16 * 256 + 512 + STOP_RESERVE + 2 * 4096
    fs.space = need - 1
    assert not q.room_for_transaction()
    fs.space = need + 200
    assert q.room_for_transaction()
    q.push("MeterValues", MV3)
    q.push("MeterValues", MV3)
    q.push("MeterValues", MV3)
    assert not q.room_for_transaction()              # the partition, not capacity, is short
    assert q.room_for_transaction(count=4)


def test_out_of_heap_for_the_on_demand_half_refuses_by_name_and_loses_nothing():
    # queue_open (sealing, tidying, resolve_tx) cannot be loaded: pushes go on into the free
    # slots, a push with every slot in use is a named refusal (a QueueError the core handles,
    # never a MemoryError), acks work, a resolved id is kept in RAM; nothing queued is lost.
    fs, q = fresh(stage_slots=4)
    ref = q.push("StartTransaction", START)
    restore = _queue_open_out_of_heap()
    try:
        q.resolve_tx(ref, 77)
        seqs = [q.push("MeterValues", MV, tx_ref=ref) for _ in range(3)]   # the last seal fails
        assert "not sealed" in raises(mq.QueueError, q.push, "MeterValues", MV)
        q.ack(ref)
        assert q.peek()[0] == seqs[0] and q.peek()[2]["transactionId"] == 77
    finally:
        restore()
    seqs.append(q.push("MeterValues", MV, tx_ref=ref))                     # and now it seals
    assert [g[0] for g in drain(reopen(fs, stage_slots=4))] == seqs
    assert [g[0] for g in drain(q)] == seqs
