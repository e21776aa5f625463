# The message queue's paths that do not run every period, imported for the call and unloaded
# (queue._rare): opening (reading segments, slots and ack files back after a reboot or a power
# cut, dropping torn records), sealing the staged slots into a segment, segment rollover and
# compaction, resolve_tx, waiting(), done(), tx_id(), the failure log, the
# texts of QueueError and the rare words of the code table. State stays in the MessageQueue (`self` here);
# the record format and push / peek / ack are in queue.py.
from compat import const
import store
from ocpp16.queue import _WORDS, QueueError, _encode, _frame, _read_record, _uint, _value, _varint

# The record format (queue.py's constants of the same names)
_FRAMING = const(6)
_MSG = const(0x4D)
_ACK = const(0x41)
_RES = const(0x52)
_EIO = const(5)
_SEG_PATH = const("%s/%010d.seg")
_SLOT_PATH = const("%s/%02d.msg")
_ACK_PATH = const("%s/ack.%01d")

_DEFAULT_CAPACITY = const(448 * 1024)  # record bytes; leaves 1/8 of a 512 KB LittleFS partition for metadata
_DEFAULT_MAX_RECORD = const(4096)  # largest framed record; one is held in RAM when peeked
_SEGMENTS = const(16)  # capacity is split into this many segment files (reclaim granularity)
_FLASH_BLOCK = const(4096)  # LittleFS block on ESP32 flash: a segment is a whole number of these
_SEGMENT_SLACK = const(64)  # ... minus room for LittleFS's per-block CTZ pointers, so a full
                               # segment does not spill a few bytes into one more block
_MAX_TX_MAP = const(32)  # tx_ref -> transactionId entries kept (oldest dropped beyond)
_MAX_ACK_FILE = const(32)  # bytes read from an ack file (one small framed record)
_STAGE_MAX = const(32)  # slot files; all staged messages are sealed when every one is used
_FAILURE_LOG_MAX = const(16)  # entries kept in the failure log, failures.json; the newest win
_MAX_REASON = const(80)  # characters of a failure reason kept
_E_FULL = const(6)             # QueueError texts (error())
_E_HEAD = const(8)


def error(n, *args):
    """Raise the QueueError with text n formatted with args (queue._rare("error", n, *args);
    queue.py names the numbers _E_*)."""
    if n == _E_FULL:   # (used, capacity, action, size, reserve)
        args = args[:4] + (", %d kept for StopTransaction" % args[4] if args[4] else "",)
    raise QueueError(("payload nested deeper than %d", "%r has no JSON form", "object key %r is not a string",
                      "%s value cannot be stored as JSON",
                      "push needs an action name and an object payload, not %r, %s",
                      "%s record is %d bytes, limit %d",
                      "queue full: %d of %d bytes used (%s needs %d%s)",
                      "flash full: %d of %d bytes used (%s)",
                      "%s(%s) but the head of the queue is %s")[n] % args)


def rare_word(i):
    """The word whose mark is at offset i of queue._WORDS (queue._value): the words marked
    \x80 there, in order, are words this firmware never queues (the actions and fields of the
    messages that wait in RAM, another meter's measurands, units, locations, value formats).
    Their codes still decode here (a record from another version); the encoder stores such a
    text as a string."""
    return ("StatusNotification\0DataTransfer\0Authorize\0BootNotification\0Heartbeat\0"
            "DiagnosticsStatusNotification\0FirmwareStatusNotification\0LogStatusNotification\0"
            "SignedFirmwareStatusNotification\0status\0errorCode\0info\0vendorId\0vendorErrorCode\0"
            "messageId\0data\0Raw\0SignedData\0Current.Export\0Energy.Active.Export.Register\0"
            "Energy.Reactive.Export.Register\0Energy.Reactive.Import.Register\0"
            "Energy.Active.Export.Interval\0Energy.Active.Import.Interval\0"
            "Energy.Reactive.Export.Interval\0Energy.Reactive.Import.Interval\0Frequency\0"
            "Power.Active.Export\0Power.Factor\0Power.Offered\0Power.Reactive.Export\0"
            "Power.Reactive.Import\0RPM\0SoC\0Temperature\0N\0L1-L2\0L2-L3\0L3-L1\0Body\0Cable\0EV\0"
            "Inlet\0Outlet\0kWh\0varh\0kvarh\0kW\0VA\0kVA\0var\0kvar\0Celsius\0Fahrenheit\0K\0"
            "Percent\0NoError\0Available\0Preparing\0Charging\0SuspendedEV\0SuspendedEVSE\0"
            "Finishing\0Reserved\0Unavailable\0Faulted\0Accepted\0").split("\0")[_WORDS.count(b"\x80", 0, i)]


# ------------------------------------------------------------ opening
# The functions here take the MessageQueue as `self`: they are its methods that live in this file.
def open(self, directory, capacity_bytes=_DEFAULT_CAPACITY, max_record=_DEFAULT_MAX_RECORD,
         segment_bytes=None, fs=None, stage_slots=_STAGE_MAX):
    """MessageQueue(...): the state (described in MessageQueue's docstring), read back."""
    self.dir = directory.rstrip("/") or "/"
    self.capacity_bytes = capacity_bytes
    self.max_record = max_record
    self.segment_bytes = segment_bytes or \
        max(1, capacity_bytes // _SEGMENTS // _FLASH_BLOCK) * _FLASH_BLOCK - _SEGMENT_SLACK
    self.fs = fs = fs or store.real_fs
    self.stage_slots = stage_slots
    self._tail_bad = False
    self._segs = []
    self._map = {}
    self.next_seq = 0
    self._head = None
    self._staged = []
    store.makedirs(self.dir, fs)
    bases = []
    slots = []
    for name in fs.listdir(self.dir):
        # a segment or slot file: the one the number its name starts with gives
        for path, digits, into in ((_SEG_PATH, 10, bases), (_SLOT_PATH, 2, slots)):
            try:
                n = int(name[:digits])
            except ValueError:
                continue
            if path % (self.dir, n) == self.dir + "/" + name:
                into.append(n)
    bases.sort()
    # the ack watermark: the newer of the two ack files (a torn one counts as none)
    got = []
    for i in (0, 1):
        path = _ACK_PATH % (self.dir, i)
        v = -1
        n = fs.size(path)
        if 0 < n <= _MAX_ACK_FILE:
            f = fs.open(path, "rb")
            try:
                body = _read_record(f, _MAX_ACK_FILE)
            finally:
                f.close()
            if body is not None and body[0] == _ACK:
                try:
                    v = _uint(body, 1)[0]
                except IndexError:
                    v = -1
        got.append(v)
    self._acked = acked = max(got)
    self._ack_slot = 0 if got[0] <= got[1] else 1   # overwrite the older one
    last = -1
    count = 0     # the waiting messages: each seq once (a failed seal's copy is not counted
    head = None   # again), above the watermark; the first of them is the head (as ack finds it)
    for i, base in enumerate(bases):
        size = fs.size(self._path(base))
        seg = [base, size, -1]
        self._segs.append(seg)
        good = 0                      # end of the last intact record
        f = fs.open(self._path(base), "rb")
        try:
            while True:
                body = _read_record(f, max_record)
                if body is None:
                    break
                kind = body[0]
                if kind == _MSG:
                    seq = _uint(body, 1)[0]
                    if seq > last:
                        last = seq
                        seg[2] = seq
                        if seq > acked:
                            if head is None:
                                head = (i, good, body)
                            count += 1
                elif kind == _RES:
                    ref, p = _uint(body, 1)
                    self._map[ref] = _value(body, p)[0]
                good += len(body) + _FRAMING
        except (ValueError, IndexError):
            pass                      # a record that passed its CRC but does not decode
        finally:
            f.close()
        if i == len(bases) - 1 and good != size:
            self._tail_bad = True     # torn or garbage tail: appends go to a new segment
    self.next_seq = max(last + 1, bases[-1] if bases else 0, acked + 1)
    if self._tail_bad:
        self.next_seq += 1   # the torn record may have been a message: never reuse its seq
    for n in slots:
        if n >= stage_slots:
            continue
        try:
            f = fs.open(_SLOT_PATH % (self.dir, n), "rb")
        except OSError:
            continue
        try:
            body = _read_record(f, max_record)
            seq = _uint(body, 1)[0] if body and not f.read(1) and body[0] == _MSG else None
        except IndexError:
            seq = None
        finally:
            f.close()
        if seq is None:
            continue                  # torn or garbage (or gone): a free slot
        self.next_seq = max(self.next_seq, seq + 1)
        if seq > last and seq > acked:
            self._staged.append([seq, len(body) + _FRAMING, n])
            count += 1
            if head is None or (head[0] is None and seq < head[1]):
                head = (None, seq, body)
    self._staged.sort()
    self._count = count
    while len(self._map) > _MAX_TX_MAP:   # keep the newest (tx_refs are seqs), as resolve_tx
        oldest = min(self._map)
        import log
        log.warning("tx map full: forgetting transaction ref %d", oldest)
        del self._map[oldest]
    self._head = head
    compact(self, not bases)   # (which keeps the head's segment index right)


# ------------------------------------------------------------ writing segments
# A write to the newest segment that fails may have left a torn record: then the tail is bad
# (_tail_bad: never append after it, the next write starts a new segment) and its size is
# what is on flash. A segment file is opened for each write and closed: no handle stays open
# between calls (an open LittleFS file holds ~320 B of heap: its cache and state); after a
# failed write or sync its close may fail too (ignored: the tail is torn all the same).
def seal(self, silent=False):
    """Append the staged messages not yet acknowledged to the newest segment (one sync);
    then every slot is free (True). silent (the seal right after a push filled the last slot):
    an OSError is logged, not raised; the messages are safe in their slots, the next push retries."""
    live = [s for s in self._staged if s[0] > self._acked]
    total = 0
    for s in live:
        total += s[1]
    if live:
        seg = self._segs[-1]
        try:
            if self._tail_bad or (seg[1] + total > self.segment_bytes and seg[1] > 0):
                compact(self, True)
                seg = self._segs[-1]
            head_at = None
            pos = seg[1]
            f = self.fs.open(self._path(seg[0]), "ab")
            try:
                for seq, size, n in live:
                    # the message in slot n, as open read it or push wrote it
                    g = self.fs.open(_SLOT_PATH % (self.dir, n), "rb")
                    try:
                        body = _read_record(g, self.max_record)
                        if not body or g.read(1) or body[0] != _MSG or _uint(body, 1)[0] != seq:
                            raise OSError(_EIO)   # changed under us: not ours to guess
                    except IndexError:
                        raise OSError(_EIO)
                    finally:
                        g.close()
                    f.write(_frame(body))
                    if self._head is not None and self._head[0] is None and self._head[1] == seq:
                        head_at = pos
                    pos += size
                self.fs.sync(f)
            finally:
                _close(f)
        except OSError as e:
            _torn_tail(self)
            if not silent:
                raise
            import log
            log.warning("queue: seal failed: %s", e)
            return False
        seg[1] = pos
        seg[2] = live[-1][0]
        if head_at is not None:
            self._head = (len(self._segs) - 1, head_at, self._head[2])
    self._staged = []
    return True


def resolve_tx(self, tx_ref, tx_id):
    """MessageQueue.resolve_tx: a resolve record appended to the newest segment."""
    rec = _frame(_varint(_RES, tx_ref), (tx_id,))
    seg = self._segs[-1]
    try:
        if self._tail_bad or (seg[1] + len(rec) > self.segment_bytes and seg[1] > 0):
            compact(self, True)
            seg = self._segs[-1]
        f = self.fs.open(self._path(seg[0]), "ab")
        try:
            f.write(rec)
            self.fs.sync(f)
        finally:
            _close(f)
    except OSError:
        _torn_tail(self)
        raise
    seg[1] += len(rec)
    self._map[tx_ref] = tx_id
    if len(self._map) > _MAX_TX_MAP:   # keep the newest (tx_refs are seqs: the smallest goes)
        oldest = min(self._map)
        import log
        log.warning("tx map full: forgetting transaction ref %d", oldest)
        del self._map[oldest]


def _torn_tail(self):
    """A write to the newest segment failed (seal, resolve_tx): whatever landed may be torn,
    so never append after it; its size is what is on flash."""
    self._tail_bad = True
    seg = self._segs[-1]
    seg[1] = max(0, self.fs.size(self._path(seg[0])))


def _close(f):
    """Close a segment file written once (seal, resolve_tx, compact); after a failed write or
    sync its close may fail too (the caller handles that failure: the tail is torn)."""
    try:
        f.close()
    except OSError:
        pass


def compact(self, start=False):
    """Delete older segments whose messages are all acknowledged, oldest first (never the
    newest); start True: first start a new segment holding a copy of the live tx_ref map (so
    old segments can go): a torn or full tail, no segment at open, and the queue emptied by an
    ack (queue.MessageQueue.ack: so the old bytes are freed)."""
    if start:
        base = self.next_seq
        if self._segs and self._segs[-1][0] == base:
            base += 1                   # a fresh file, never the torn one (seq gap is harmless)
            self.next_seq = base
        f = self.fs.open(self._path(base), "wb")
        try:
            self._segs.append([base, 0, -1])
            self._tail_bad = False
            out = bytearray()
            for ref in sorted(self._map):
                out.extend(_frame(_varint(_RES, ref), (self._map[ref],)))
            if out:
                f.write(out)
            self.fs.sync(f)
        finally:
            _close(f)
        self._segs[-1][1] = len(out)
    while len(self._segs) > 1 and self._segs[0][2] <= self._acked:
        path = self._path(self._segs[0][0])
        try:
            self.fs.remove(path)
        except OSError as e:
            import log
            log.warning("queue: cannot remove %s: %s", path, e)
        self._segs.pop(0)
        if self._head is not None and self._head[0] is not None:
            self._head = (self._head[0] - 1, self._head[1], self._head[2])


# ------------------------------------------------------------ questions and the failure log
def done(self, seq):
    """MessageQueue.done: at or below the ack watermark."""
    return seq <= self._acked


def tx_id(self, tx_ref):
    """MessageQueue.tx_id."""
    return self._map.get(tx_ref)


def waiting(self, seq):
    """True when message `seq` is queued and not yet acknowledged. Reads the log from the
    head (flash I/O proportional to the queue): for start-up checks, not the hot path."""
    if seq <= self._acked or seq >= self.next_seq:
        return False
    for s, _, _ in self._staged:
        if s == seq:
            return True
    for seg in self._segs:
        if seg[2] >= seq and seg[2] > self._acked:
            f = self.fs.open(self._path(seg[0]), "rb")
            try:
                while True:
                    body = _read_record(f, self.max_record)
                    if body is None:
                        break
                    if body[0] == _MSG and _uint(body, 1)[0] == seq:
                        return True
            finally:
                f.close()
    return False


def fail(self, seq, reason):
    """Message seq (the head) exhausted its attempts: log it in failures.json, remove it."""
    head = None if self._head is None else _uint(self._head[2], 1)[0]
    if seq != head or head is None:
        error(_E_HEAD, "fail", seq, head)
    _, action, payload, _ = self.peek()
    entries = failures(self)
    entries.append([action, payload.get("transactionId"), str(reason)[:_MAX_REASON]])
    store.save(self.dir + "/failures.json", entries[-_FAILURE_LOG_MAX:], self.fs)
    self.ack(seq)


def failures(self):
    """[[action, transactionId, reason], ...] oldest first, at most _FAILURE_LOG_MAX."""
    got = store.load(self.dir + "/failures.json", [], self.fs)
    return got if type(got) is list else []
