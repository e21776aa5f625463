# Persistent FIFO of transaction messages on flash: an append-only log of length + CRC32 framed
# records in segment files, a compact payload encoding, acks, the tx_ref -> transactionId map and
# a small failure log. No sockets, no clock (timestamps live in the payloads); files only via store.real_fs
# (and store.write, which writes a whole file through it).
#
# Layout in `directory`:
#   "<slot>.msg"       stage_slots (default queue_open._STAGE_MAX) files, each one framed message record: messages
#                      just pushed (staged) or stale ones (already sealed or acknowledged);
#   "<base seq>.seg"   segments: message records sealed from the slots, resolve records;
#   "ack.0", "ack.1"   the ack watermark (one framed record), written alternately;
#   "failures.json"    the failure log (store.save).
# push() writes a free slot file (open "wb", write, sync, close) before returning. When every slot
# is in use, the staged messages not yet acknowledged are appended to the newest segment with one
# sync and all slots become free; a slot is only rewritten once its message is sealed or acked,
# so a torn slot write never loses anything, and the next open tells live slots from stale ones by
# seq (live: above the segments' last seq and above the ack watermark). When
# the newest segment is full a new one starts with a copy of the live tx_ref map, and every older
# segment whose messages are all acknowledged is deleted (oldest first, never the newest).
# Resident here: push, peek, ack and what they need (the value codec, framing, finding the next
# head), and room_for_transaction (asked at each transaction's start). Everything that does not
# run every period is in queue_open.py, loaded for the call and unloaded (_rare): opening
# (recovery after a reboot or a cut, torn-record scanning), sealing the slots, segment rollover
# and compaction (compact), resolve_tx, waiting(), done(), tx_id() (MessageQueue.__getattr__), the failure log, the texts of QueueError (_rare("error", ...)) and the
# rare words of the code table. A cut at any point leaves the old or the new state: a torn
# record fails its CRC (a torn staged slot is ignored at open, a torn segment tail ends its scan
# and appends go to a new segment). An ack is durable before ack() returns; a torn ack file
# leaves the other one, one ack older, so only the message being acked at the cut can come back. Seqs returned by push() are never reused
# (the next seq is above every seq on flash and the ack watermark).
#
# Why slot files and ack files: on LittleFS every synced append to a file copies the used part
# of its last block (copy-on-write), about 2 KB per record with 4 KB blocks, while a tiny file is
# stored inline in its directory's metadata: rewriting one costs one small metadata commit
# (about 130 bytes for a 50-byte record; tools/bench_queue.py measures it).
#
# Policy when full (capacity_bytes counts the record bytes in segments and live slots, acked
# records included until their segment is deleted; it must be below what the filesystem can hold,
# see tools/bench_queue.py; a full filesystem also gives QueueError, "flash full: ..."):
#   - StopTransaction may use the whole capacity; every other action must leave _STOP_RESERVE
#     bytes free, so a running transaction can always be stopped.
#   - room_for_transaction() is False when a whole new transaction (Start, n MeterValues, Stop)
#     would not fit outside the reserve, in capacity_bytes or in the filesystem's free space
#     (statvfs); the core then refuses to start one.
#   - a push that does not fit raises QueueError ("queue full: ...") with the figures; nothing already queued is ever
#     dropped to make room (so a running transaction's periodic MeterValues may be refused).
from binascii import crc32
import struct
from compat import const
import log
import store
from ocpp16 import timefmt

# Limits of the resident paths; those of opening, rollover, reclaim and the failure log live in
# queue_open.py (with the defaults of MessageQueue's arguments).
# Module-private limits (`_X = const()`: no interned name; tests read them with limits.limit):
_MAX_DEPTH = const(12)         # nesting of payload lists/objects accepted
# bytes kept free for StopTransaction: 4 connectors x the Stop budget
_STOP_RESERVE = const(4 * 512)
_EST_START = const(96)         # record budgets of a new transaction (room_for_transaction)
_EST_METER_VALUE = const(256)
_EST_STOP = const(512)
_TX_METER_VALUES = const(16)   # MeterValues budgeted for a new transaction by default
_FS_MARGIN = const(2 * 4096)   # free filesystem space room_for_transaction() keeps beyond its estimate:
                               # two 4 KB LittleFS blocks (copy-on-write of a segment tail, a new segment)
# Files (MessageQueue._path; one format each, longer than 10 characters: no interned name):
_SEG_PATH = const("%s/%010d.seg")   # segment "<base seq>.seg", 10 digits
_SLOT_PATH = const("%s/%02d.msg")   # slot files "00.msg" .. of staged messages
_ACK_PATH = const("%s/ack.%01d")    # "ack.0", "ack.1": the ack watermark, written alternately
_TS_BASE = const(1700000000)  # timestamps are stored as zigzag(epoch - _TS_BASE); never change
_ENOSPC = const(28)            # errno of a full filesystem (same on LittleFS and POSIX)
_EIO = const(5)                # errno raised when a slot read back is not what was written
# The record format; queue_open.py has the same constants (a const() is not importable):
_FRAMING = const(6)            # bytes a record adds to its body: length (2, little endian) + CRC32 (4)
_MSG = const(0x4D)             # record kinds (first body byte): 'M' message, 'A' ack watermark
_ACK = const(0x41)             # (ack files), 'R' resolved tx
# QueueError texts (queue_open.error(), by number)
_E_DEPTH = const(0)
_E_FLOAT = const(1)
_E_KEY = const(2)
_E_TYPE = const(3)
_E_PUSH = const(4)
_E_SIZE = const(5)
_E_FULL = const(6)
_E_FLASH = const(7)
_E_HEAD = const(8)


# QueueError, the queue's one error class, is store's (a class costs ~200 B of heap; nothing
# both saves state files and queues messages under one except): the text says which: "queue
# full: ..." / "flash full: ...", "... limit N" (record too large), a payload that cannot be
# stored, "... but the head of the queue is ..." (out of order), "... not sealed".
QueueError = store.StoreError


def _rare(name, *args, **kw):
    """queue_open.<name>(*args, **kw): the paths that do not run every period live there,
    imported for the call and unloaded (ocpp16.profiles), so their code costs no RAM meanwhile.
    When that code cannot be loaded (ImportError, MemoryError, also one raised by the call):
    "error" (queue_open.error(n, *args): the QueueError with text n, formatted with args)
    raises a QueueError carrying n and args (the class is what callers test); "seal" and "compact"
    are skipped with False (on the console: the next push or ack tries again), and what cannot
    wait is done here all the same: a message given up ("fail") is removed, a transactionId
    ("resolve_tx") is kept in RAM (queued messages still get it; a reboot forgets it). Any
    other name, the error goes to the caller."""
    from ocpp16 import profiles
    try:
        return getattr(profiles.load("queue_open"), name)(*args, **kw)
    except (ImportError, MemoryError) as e:
        if name == "error":
            raise QueueError(*args)
        if name not in ("seal", "compact", "fail", "resolve_tx"):
            raise
        log.error("queue: %s skipped: %r", name, e)
        q = args[0]
        if name == "resolve_tx":
            q._map[args[1]] = args[2]
        elif name == "fail":
            h = q.peek()
            if h is not None and h[0] == args[1]:   # not removed before the error
                q.ack(h[0])
        return False
    finally:
        profiles.unload("queue_open")


# ---------------------------------------------------------------- compact value encoding
# Tags: 0 null, 1 false, 2 true, 3 int (zigzag varint), 4 float (8 bytes), 5 string (varint
# length + UTF-8), 6 timestamp "YYYY-MM-DDTHH:MM:SSZ" (zigzag varint of epoch - _TS_BASE),
# 7 decimal string (varint of mantissa << 4 | fraction digits << 1 | minus), 8 list (count,
# items), 9 object (count, key value pairs). 0x20 + i: word i of _WORDS. Append to _WORDS only:
# records on flash refer to the index. One bytes object, not a tuple: ~1 KB of RAM instead of
# ~6 KB (a qstr and a tuple slot per word) when the module is loaded from a file.
_WORDS = (  # "\0"-separated, one "\0" before the first word and after each
    # Each \x80 is a word this firmware never queues (the core queues StartTransaction,
    # StopTransaction, MeterValues and SecurityEventNotification; a StatusNotification waits
    # in RAM), listed in queue_open.rare_word(): such a code still decodes (through queue_open:
    # a record of an earlier version), such a text is stored as a string (tag 5). A lone 0x80
    # byte is never part of UTF-8 text, so the encoder's search cannot match one.
    # actions: StartTransaction, StopTransaction, MeterValues, SecurityEventNotification,
    # StatusNotification, DataTransfer, Authorize, BootNotification, Heartbeat,
    # DiagnosticsStatusNotification, FirmwareStatusNotification, LogStatusNotification,
    # SignedFirmwareStatusNotification
    b"\0StartTransaction\0StopTransaction\0MeterValues\0SecurityEventNotification\0"
    b"\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0"
    # keys (the last seven: status, errorCode, info, vendorId, vendorErrorCode, messageId, data)
    b"connectorId\0idTag\0meterStart\0timestamp\0reservationId\0transactionId\0"
    b"meterStop\0reason\0transactionData\0meterValue\0sampledValue\0value\0context\0"
    b"format\0measurand\0phase\0location\0unit\0type\0techInfo\0"
    b"\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0"
    # ReadingContext
    b"Interruption.Begin\0Interruption.End\0Other\0Sample.Clock\0Sample.Periodic\0"
    b"Transaction.Begin\0Transaction.End\0Trigger\0"
    # ValueFormat: Raw, SignedData
    b"\x80\0\x80\0"
    # Measurand: Current.Export, Current.Import, Current.Offered, Energy.Active.Export.Register,
    # Energy.Active.Import.Register, Energy.Reactive.Export.Register,
    # Energy.Reactive.Import.Register, Energy.Active.Export.Interval,
    # Energy.Active.Import.Interval, Energy.Reactive.Export.Interval,
    # Energy.Reactive.Import.Interval, Frequency, Power.Active.Export, Power.Active.Import,
    # Power.Factor, Power.Offered, Power.Reactive.Export, Power.Reactive.Import, RPM, SoC,
    # Temperature, Voltage
    b"\x80\0Current.Import\0Current.Offered\0\x80\0Energy.Active.Import.Register\0"
    b"\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0Power.Active.Import\0"
    b"\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0Voltage\0"
    # Phase: L1 L2 L3 N L1-N L2-N L3-N L1-L2 L2-L3 L3-L1
    b"L1\0L2\0L3\0\x80\0L1-N\0L2-N\0L3-N\0\x80\0\x80\0\x80\0"
    # Location: Body Cable EV Inlet Outlet
    b"\x80\0\x80\0\x80\0\x80\0\x80\0"
    # UnitOfMeasure: Wh kWh varh kvarh W kW VA kVA var kvar A V Celsius Fahrenheit K Percent
    b"Wh\0\x80\0\x80\0\x80\0W\0\x80\0\x80\0\x80\0\x80\0\x80\0A\0V\0\x80\0\x80\0\x80\0\x80\0"
    # Reason
    b"DeAuthorized\0EmergencyStop\0EVDisconnected\0HardReset\0Local\0PowerLoss\0"
    b"Reboot\0Remote\0SoftReset\0UnlockCommand\0"
    # the empty string, then the values of StatusNotification & co.: NoError, Available,
    # Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing, Reserved, Unavailable,
    # Faulted, Accepted
    b"\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0\x80\0"
)

# Where every 8th word begins (word 8k at the 16-bit little-endian number _MARKS[2k:2k + 2];
# a bytearray, as an array would need a typecode name): a decode steps over at most 7 words.
# The table is bytes, not str: a str's find(sub, start) and slices walk its UTF-8 from the start.
_MARKS = bytearray()
_ = 0   # the position of a \0 (a name every module interns anyway)
while _ < len(_WORDS) - 1:
    if _WORDS.count(b"\0", 0, _) & 7 == 0:   # the \0 before word 8k
        _MARKS.extend((_ + 1).to_bytes(2, "little"))
    _ = _WORDS.find(b"\0", _ + 1)
del _


def _varint(out, n):
    """out with the varint n appended, out a bytearray or a byte (then a new bytearray holding
    it): how every record body begins (its kind byte, then a seq or tx_ref), and the timestamp
    and decimal codes (their tag, then their number)."""
    if type(out) is int:
        out = bytearray((out,))
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return out


def _encode(out, v, depth):
    if depth > _MAX_DEPTH:
        _rare("error", _E_DEPTH, _MAX_DEPTH)
    t = type(v)
    if v is None or t is bool:
        out.append(0 if v is None else 2 if v else 1)
    elif t is int:
        out.append(3)
        _varint(out, v * 2 if v >= 0 else -v * 2 - 1)
    elif t is float:
        if v != v or v - v != 0:   # NaN, +-inf
            _rare("error", _E_FLOAT, v)
        out.append(4)
        out.extend(struct.pack("<d", v))
    elif t is str:
        i = -1 if "\0" in v else _WORDS.find(("\0" + v + "\0").encode())
        if i >= 0:
            out.append(0x20 + _WORDS.count(b"\0", 0, i))
            return
        # a timestamp 'YYYY-MM-DDTHH:MM:SSZ' (zigzag of its epoch - _TS_BASE) or a decimal like
        # '230.1' or '-5' (mantissa << 4 | fraction digits << 1 | minus), if the code decodes
        # back to exactly v (so '+1', '007', '1.', '.5', ' 1', '2026-02-30T...' stay strings)
        b = None
        try:
            if len(v) == 20:
                i = timefmt.days_from_civil(int(v[:4]), int(v[5:7]), int(v[8:10])) * 86400 + \
                    int(v[11:13]) * 3600 + int(v[14:16]) * 60 + int(v[17:19]) - _TS_BASE
                b = _varint(6, i * 2 if i >= 0 else -i * 2 - 1)
            else:
                neg = 1 if v[:1] == "-" else 0
                i = v.find(".")
                f = 0 if i < 0 else len(v) - i - 1
                i = int(v[neg:] if i < 0 else v[neg:i] + v[i + 1:])
                if i >= 0 and f <= 7 and len(v) <= 18:
                    b = _varint(7, (i << 4) | (f << 1) | neg)
            if b and _value(b, 0)[0] == v:
                out.extend(b)
                return
        except ValueError:
            pass
        b = v.encode()
        out.append(5)
        _varint(out, len(b))
        out.extend(b)
    elif t is list or t is dict:
        out.append(8 if t is list else 9)
        _varint(out, len(v))
        for k in v:
            if t is dict:
                if type(k) is not str:
                    _rare("error", _E_KEY, k)
                _encode(out, k, depth + 1)
                k = v[k]
            _encode(out, k, depth + 1)
    else:
        _rare("error", _E_TYPE, t.__name__)


def _uint(b, p):
    """(the varint at b[p], the position after it)"""
    n = s = 0
    while True:
        c = b[p]
        p += 1
        n |= (c & 0x7F) << s
        if c < 0x80:
            return n, p
        s += 7


def _value(b, p):
    """(the value encoded at b[p], the position after it); IndexError or ValueError when
    the bytes are not a value (a damaged record)."""
    t = b[p]
    p += 1
    if t >= 0x20:   # word t - 0x20
        t -= 0x20
        i = t >> 3 << 1
        i = _MARKS[i] | _MARKS[i + 1] << 8
        for _ in range(t & 7):
            i = _WORDS.index(b"\0", i) + 1
        w = _WORDS[i:_WORDS.index(b"\0", i)]
        return _rare("rare_word", i) if w == b"\x80" else str(w, "utf-8"), p
    if t < 3:
        return (None, False, True)[t], p
    if t == 4:
        return struct.unpack("<d", b[p:p + 8])[0], p + 8
    n, p = _uint(b, p)
    if t == 8:
        out = []
        for _ in range(n):
            v, p = _value(b, p)
            out.append(v)
        return out, p
    if t == 9:
        out = {}
        for _ in range(n):
            k, p = _value(b, p)
            out[k], p = _value(b, p)
        return out, p
    if t == 5:
        return str(b[p:p + n], "utf-8"), p + n
    if t == 7:   # mantissa << 4 | fraction digits << 1 | minus
        t = str(n >> 4)
        f = (n >> 1) & 7
        if f:
            t = "0" * (f + 1 - len(t)) + t
            t = t[:-f] + "." + t[-f:]
        return "-" + t if n & 1 else t, p
    n = (n >> 1) ^ -(n & 1)       # zigzag
    if t == 3:
        return n, p
    if t == 6:
        return timefmt.format_datetime(n + _TS_BASE), p
    raise ValueError(t)   # an unknown tag


def _frame(b, values=()):
    """The framed record (length, body, CRC32) of body b, a bytearray (its kind byte, then
    its varints) to which the encoded values are appended first: the one encoding of messages,
    acks and resolve records (b may be a whole body as bytes, e.g. a staged one sealed)."""
    for v in values:
        _encode(b, v, 0)
    n = len(b)
    return bytes((n & 0xFF, n >> 8)) + b + crc32(b).to_bytes(4, "little")


def _read_record(f, limit):
    """Body bytes of the next framed record of f; None at the end or at a torn/bad record."""
    h = f.read(2)
    n = h[0] | (h[1] << 8) if h and len(h) == 2 else 0
    if 0 < n <= limit - _FRAMING:
        r = f.read(n + 4)
        if r and len(r) == n + 4 and r[n:] == crc32(r[:n]).to_bytes(4, "little"):
            return r[:n]


class MessageQueue:
    """Durable FIFO of (seq, action, payload, tx_ref); see the module comment. Its state
    (set up by queue_open.open, which has the arguments' defaults: directory,
    capacity_bytes, max_record, segment_bytes, fs, stage_slots): dir, fs, capacity_bytes, max_record,
    segment_bytes, stage_slots; _tail_bad (the newest segment ends in a torn record); _segs [base seq, size, last message seq] per segment,
    oldest first; _map tx_ref -> transactionId; _acked the ack watermark; _ack_slot the ack
    file ("ack.0", "ack.1") written next; next_seq the seq the next push() gets (read only: the core
    records it before pushing a Start); _count messages waiting; _head (segment index or None
    if staged, offset or seq, body); _staged [seq, size, slot] oldest first."""

    def __init__(self, *args, **kw):
        _rare("open", self, *args, **kw)

    def __getattr__(self, name):
        """The methods that live in queue_open.py (looked up here only because the class has
        no such name), each loaded for the call (_rare):
          waiting(seq): True when message seq is queued and not yet acknowledged (reads the
              log from the head: for start-up checks, not the hot path);
          done(seq): True when message seq was acknowledged (or given up): the queue is FIFO,
              so everything at or below the ack watermark is;
          tx_id(tx_ref): the transactionId resolved for tx_ref, or None;
          failures(): [[action, transactionId, reason], ...] oldest first, at most
              queue_open._FAILURE_LOG_MAX;
          fail(seq, reason): message seq (the head) exhausted its attempts: logged in
              failures.json and removed (removed all the same when that code cannot load:
              giving up must not stop the core that called it; _rare);
          resolve_tx(tx_ref, transaction_id): persist the CSMS transactionId of the
              transaction whose Start had seq tx_ref (kept in RAM when that code cannot load).
        Another public name gives a function that fails with AttributeError when called (a
        list of the names would cost a string each); a name with "_" first is no method."""
        if name[0] == "_":   # not a method (an attribute not set, a special name)
            raise AttributeError(name)
        return lambda *args, **kw: _rare(name, self, *args, **kw)

    def _path(self, n):
        """The file of the segment with base seq n (that of slot n: _SLOT_PATH % (dir, n))."""
        return _SEG_PATH % (self.dir, n)

    # ------------------------------------------------------------ public interface
    def __len__(self):
        return self._count

    @property
    def bytes_used(self):
        n = 0
        for s in self._segs + self._staged:
            n += s[1]
        return n

    def room_for_transaction(self, count=_TX_METER_VALUES):
        """Whether a whole new transaction (Start, `count` MeterValues, Stop) fits beside
        the Stop reserve, in capacity_bytes and in the filesystem's free space."""
        need = _EST_START + count * _EST_METER_VALUE + _EST_STOP + _STOP_RESERVE
        if self.bytes_used + need > self.capacity_bytes:
            return False  # no filesystem query then
        free = self.fs.free(self.dir)
        return free is None or free >= need + _FS_MARGIN

    def push(self, action, payload, tx_ref=None):
        """Append one message durably; returns its seq (see module comment for QueueError)."""
        if type(action) is not str or not action or type(payload) is not dict:
            _rare("error", _E_PUSH, action, type(payload).__name__)
        seq = self.next_seq
        rec = _varint(_MSG, seq)
        _varint(rec, 0 if tx_ref is None else tx_ref + 1)
        rec = _frame(rec, (action, payload))
        n = len(rec)
        if n > self.max_record:
            _rare("error", _E_SIZE, action, n, self.max_record)
        reserve = 0 if action == "StopTransaction" else _STOP_RESERVE
        used = self.bytes_used
        if used + n + reserve > self.capacity_bytes:
            _rare("error", _E_FULL, used, self.capacity_bytes, action, n, reserve)
        try:
            if len(self._staged) >= self.stage_slots and not _rare("seal", self):
                # every slot in use (an earlier seal failed) and the code to seal cannot load:
                # this text is here, not in queue_open
                raise QueueError("%s not queued: staged messages not sealed" % action)
            used = 0
            for s in self._staged:
                used |= 1 << s[2]
            slot = 0
            while used >> slot & 1:   # the lowest slot not in use
                slot += 1
            self.next_seq = seq + 1     # consumed even if the write fails: it may have landed
            store.write(_SLOT_PATH % (self.dir, slot), rec, self.fs)
        except OSError as e:
            if e.args and e.args[0] == _ENOSPC:
                _rare("error", _E_FLASH, self.bytes_used, self.capacity_bytes, action)
            raise
        self._staged.append([seq, n, slot])
        self._count += 1
        if self._head is None:
            self._head = (None, seq, rec[2:-4])
        if len(self._staged) >= self.stage_slots:
            _rare("seal", self, True)   # silent: an OSError is logged there
        return seq

    def peek(self, decode=True):
        """(seq, action, payload, tx_ref) of the oldest waiting message, or None; decode False:
        its seq only (nothing decoded, no garbage: for a caller that may not send it now)."""
        if self._head is None:
            return None
        b = self._head[2]
        seq, p = _uint(b, 1)
        if not decode:
            return seq
        ref, p = _uint(b, p)
        ref = ref - 1 if ref else None
        action, p = _value(b, p)
        payload = _value(b, p)[0]
        if ref is not None and payload.get("transactionId", 0) is None:
            payload["transactionId"] = self._map.get(ref)
        return seq, action, payload, ref

    def ack(self, seq):
        """The CSMS answered message seq (the head): remove it durably. The head becomes the
        first waiting message after it: in the segments from there on, then among the staged
        (queue_open.open finds the first one and counts them all the same way)."""
        h = self.peek()
        if h is None or seq != h[0]:
            _rare("error", _E_HEAD, "ack", seq, h and h[0])
        store.write(_ACK_PATH % (self.dir, self._ack_slot), _frame(_varint(_ACK, seq)), self.fs)
        self._ack_slot ^= 1
        si, off, body = self._head
        if si is None:   # staged: its slot is free now
            self._staged.pop(0)
        self._acked = seq
        self._count -= 1
        if h[1] == "StopTransaction" and h[3] is not None:
            self._map.pop(h[3], None)   # its last message is delivered
        self._head = None
        if si is not None:
            off += len(body) + _FRAMING
            while self._head is None and si < len(self._segs):
                seg = self._segs[si]
                if seg[2] > seq:
                    f = self.fs.open(self._path(seg[0]), "rb")
                    try:
                        f.seek(off)
                        while True:
                            body = _read_record(f, self.max_record)
                            if body is None:
                                break
                            # seqs above seg[2] can only be leftovers of a failed seal (the
                            # same messages are still staged): never deliver them twice
                            if body[0] == _MSG and seq < _uint(body, 1)[0] <= seg[2]:
                                self._head = (si, off, body)
                                break
                            off += len(body) + _FRAMING
                    finally:
                        f.close()
                si += 1
                off = 0
        if self._head is None:
            for s in self._staged:
                if s[0] > seq:
                    f = self.fs.open(_SLOT_PATH % (self.dir, s[2]), "rb")
                    try:
                        body = _read_record(f, self.max_record)
                    finally:
                        f.close()
                    if body is None or body[0] != _MSG or _uint(body, 1)[0] != s[0]:
                        raise OSError(_EIO)   # changed under us (one we wrote): not ours to guess
                    self._head = (None, s[0], body)
                    break
        segs = self._segs
        if self._head is None and segs[-1][1] > self.segment_bytes // 4:
            _rare("compact", self, True)   # the queue is empty: a fresh segment, so the old bytes are freed
        elif len(segs) > 1 and segs[0][2] <= seq:
            _rare("compact", self)   # delete the segments all acknowledged (else: the next ack)

    def close(self):
        """Nothing to close: queue_open opens a segment file for each write and closes it
        (kept for the callers that end a queue's use)."""
