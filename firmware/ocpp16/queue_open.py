# The message queue's rare paths, imported for the call and unloaded (MessageQueue._rare):
# opening (reading the segments, slots and ack files back after a reboot or a power cut),
# waiting() for start-up checks and the failure log. State stays in the MessageQueue `q`;
# the record format, the hot paths (push, peek, ack, seal, roll) and the limits are in queue.py.
import store
from ocpp16.queue import (_ACK, _CRC, _HDR, _MSG, _RES, ACK_FILES, FAILURE_LOG_MAX, MAX_ACK_FILE, MAX_REASON,
                          MSG_SUFFIX, SEG_SUFFIX, _read_record, _Reader)


def scan(q):
    bases = []
    slots = []
    for name in q.fs.listdir(q.dir):
        for suffix, digits, into in ((SEG_SUFFIX, 10, bases), (MSG_SUFFIX, 2, slots)):
            if name.endswith(suffix) and len(name) == digits + len(suffix):
                try:
                    into.append(int(name[:digits]))
                except ValueError:
                    pass
    bases.sort()
    _read_acks(q)
    last = -1
    for i, base in enumerate(bases):
        size = q.fs.size(q._path(base))
        seg = [base, size, -1]
        q._segs.append(seg)
        good = 0                      # end of the last intact record
        f = q.fs.open(q._path(base), "rb")
        try:
            while True:
                body = _read_record(f, q.max_record)
                if body is None:
                    break
                kind = body[0]
                r = _Reader(body, 1)
                if kind == _MSG:
                    seq = r.varint()
                    if seq > last:
                        last = seq
                        seg[2] = seq
                elif kind == _RES:
                    ref = r.varint()
                    q._remember(ref, r.value())
                good += _HDR + len(body) + _CRC
        except (ValueError, IndexError):
            pass                      # a record that passed its CRC but does not decode
        finally:
            f.close()
        if i == len(bases) - 1 and good != size:
            q._tail_bad = True     # torn or garbage tail: appends go to a new segment
    q._next = max(last + 1, bases[-1] if bases else 0, q._acked + 1)
    if q._tail_bad:
        q._next += 1   # the torn record may have been a message: never reuse its seq
    for slot in slots:
        if slot >= q.stage_slots:
            continue
        body = q._read_staged(slot, None)
        if body is None:
            continue                  # torn or garbage: a free slot
        seq = _Reader(body, 1).varint()
        q._next = max(q._next, seq + 1)
        if seq > last and seq > q._acked:
            q._staged.append([seq, _HDR + len(body) + _CRC, slot])
    q._staged.sort()
    if not bases:
        q._new_segment()
    q._compact()
    q._locate(0, 0, count=True)


def _read_acks(q):
    got = []
    for name in ACK_FILES:
        path = q.dir + "/" + name
        v = -1
        n = q.fs.size(path)
        if 0 < n <= MAX_ACK_FILE:
            f = q.fs.open(path, "rb")
            try:
                body = _read_record(f, MAX_ACK_FILE)
            finally:
                f.close()
            if body is not None and body[0] == _ACK:
                try:
                    v = _Reader(body, 1).varint()
                except IndexError:
                    v = -1
        got.append(v)
    q._acked = max(got)
    q._ack_slot = 0 if got[0] <= got[1] else 1   # overwrite the older one


def waiting(q, seq):
    """True when message `seq` is queued and not yet acknowledged. Reads the log from the
    head (flash I/O proportional to the queue): for start-up checks, not the hot path."""
    if seq <= q._acked or seq >= q._next:
        return False
    for s, _, _ in q._staged:
        if s == seq:
            return True
    for seg in q._segs:
        if seg[2] < seq or seg[2] <= q._acked:
            continue
        f = q.fs.open(q._path(seg[0]), "rb")
        try:
            while True:
                body = _read_record(f, q.max_record)
                if body is None:
                    break
                if body[0] == _MSG and _Reader(body, 1).varint() == seq:
                    return True
        finally:
            f.close()
    return False


def fail(q, seq, reason):
    """Message seq (the head) exhausted its attempts: log it in failures.json, remove it."""
    q._check_head(seq, "fail")
    _, action, payload, _ = q.peek()
    entries = failures(q)
    entries.append([action, payload.get("transactionId"), str(reason)[:MAX_REASON]])
    store.save(q._failures_path(), entries[-FAILURE_LOG_MAX:], q.fs)
    q.ack(seq)


def failures(q):
    """[[action, transactionId, reason], ...] oldest first, at most FAILURE_LOG_MAX."""
    got = store.load(q._failures_path(), [], q.fs)
    return got if type(got) is list else []
