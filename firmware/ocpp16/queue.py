# Persistent FIFO of transaction messages on flash: an append-only log of length + CRC32 framed
# records in segment files, a compact payload encoding, acks, the tx_ref -> transactionId map and
# a small failure log. No sockets, no clock (timestamps live in the payloads); files only via store.FS.
#
# Layout in `directory`:
#   "<slot>.msg"       stage_slots (default STAGE_MAX) files, each one framed message record: messages
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
# Opening (recovery of all this after a reboot or a cut), waiting() and the failure log are in
# queue_open.py, loaded for the call (see _rare). A cut at any point leaves the old or the new state: a torn record fails its CRC (a torn staged
# slot is ignored at open, a torn segment tail ends its scan and appends go to a new segment). An
# ack is durable before ack() returns; a torn ack file leaves the other one, one ack older, so
# only the message being acked at the cut can come back. Seqs returned by push() are never reused
# (the next seq is above every seq on flash and the ack watermark).
#
# Why slot files and ack files: on LittleFS every synced append to a file copies the used part
# of its last block (copy-on-write), about 2 KB per record with 4 KB blocks, while a tiny file is
# stored inline in its directory's metadata: rewriting one costs one small metadata commit
# (about 130 bytes for a 50-byte record; tools/bench_queue.py measures it).
#
# Policy when full (capacity_bytes counts the record bytes in segments and live slots, acked
# records included until their segment is deleted; it must be below what the filesystem can hold,
# see tools/bench_queue.py; a full filesystem also gives QueueFull, "flash full: ..."):
#   - StopTransaction may use the whole capacity; every other action must leave STOP_RESERVE
#     bytes free, so a running transaction can always be stopped.
#   - room_for_transaction() is False when a whole new transaction (Start, n MeterValues, Stop)
#     would not fit outside the reserve, in capacity_bytes or in the filesystem's free space
#     (statvfs); the core then refuses to start one.
#   - a push that does not fit raises QueueFull with the figures; nothing already queued is ever
#     dropped to make room (so a running transaction's periodic MeterValues may be refused).
from array import array
from binascii import crc32
import struct
import store
import log

DEFAULT_CAPACITY = 448 * 1024  # record bytes; leaves 1/8 of a 512 KB LittleFS partition for metadata
DEFAULT_MAX_RECORD = 4096      # largest framed record; one is held in RAM when peeked
SEGMENTS = 16                  # capacity is split into this many segment files (reclaim granularity)
FLASH_BLOCK = 4096             # LittleFS block on ESP32 flash: a segment is a whole number of these
SEGMENT_SLACK = 64             # ... minus room for LittleFS's per-block CTZ pointers, so a full
                               # segment does not spill a few bytes into one more block
FS_MARGIN = 2 * FLASH_BLOCK    # free filesystem space room_for_transaction() keeps beyond its
                               # estimate (copy-on-write of a segment tail, a new segment)
FAILURE_LOG_MAX = 16           # entries kept in failures.json (newest win)
MAX_REASON = 80                # characters of a failure reason kept
MAX_TX_MAP = 32                # tx_ref -> transactionId entries kept (oldest dropped beyond)
MAX_DEPTH = 12                 # nesting of payload lists/objects accepted
STOP_RESERVE = 4 * 512         # bytes kept free for StopTransaction (4 connectors x budget)
EST_START = 96                 # record budgets used by room_for_transaction()
EST_METER_VALUE = 256
EST_STOP = 512
DEFAULT_TX_METER_VALUES = 16   # MeterValues budgeted for a new transaction
FAILURES = "failures.json"
SEG_SUFFIX = ".seg"
ACK_FILES = ("ack.0", "ack.1")  # alternating ack watermark files
MSG_SUFFIX = ".msg"            # slot files "00.msg" .. of staged messages
STAGE_MAX = 32                 # slot files; all staged messages are sealed when every one is used
MAX_ACK_FILE = 32              # bytes read from an ack file (one small framed record)
TS_BASE = 1700000000           # timestamps are stored as zigzag(epoch - TS_BASE); never change

ENOSPC = 28                    # errno of a full filesystem (same on LittleFS and POSIX)
EIO = 5                        # errno raised when a slot read back is not what was written
_HDR = 2                       # length prefix (little endian) of the record body
_CRC = 4                       # CRC32 of the body, after it
_MSG = 0x4D                    # record kinds: 'M' message, 'A' ack watermark (ack files), 'R' resolved tx
_ACK = 0x41
_RES = 0x52


class QueueError(Exception):
    """Base of the queue's named errors."""


class QueueFull(QueueError):
    """The message does not fit; the text gives the figures."""


class MessageTooLarge(QueueError):
    """One record would exceed max_record."""


class BadPayload(QueueError):
    """The payload cannot be stored exactly (not JSON-like, too deep, ...)."""


class QueueOrderError(QueueError):
    """ack/fail of a message that is not the head of the queue."""


# ---------------------------------------------------------------- compact value encoding
# Tags: 0 null, 1 false, 2 true, 3 int (zigzag varint), 4 float (8 bytes), 5 string (varint
# length + UTF-8), 6 timestamp "YYYY-MM-DDTHH:MM:SSZ" (zigzag varint of epoch - TS_BASE),
# 7 decimal string (varint of mantissa << 4 | fraction digits << 1 | minus), 8 list (count,
# items), 9 object (count, key value pairs). 0x20 + i: word i of _WORDS. Append to _WORDS only:
# records on flash refer to the index. One string, not a tuple: ~1.5 KB of RAM instead of ~6 KB
# (a qstr and a tuple slot per word) when the module is loaded from a file.
_WORDS = (  # "\0"-separated, one "\0" before the first word and after each
    # actions
    "\0StartTransaction\0StopTransaction\0MeterValues\0SecurityEventNotification\0"
    "StatusNotification\0DataTransfer\0Authorize\0BootNotification\0Heartbeat\0"
    "DiagnosticsStatusNotification\0FirmwareStatusNotification\0LogStatusNotification\0"
    "SignedFirmwareStatusNotification\0"
    # keys
    "connectorId\0idTag\0meterStart\0timestamp\0reservationId\0transactionId\0"
    "meterStop\0reason\0transactionData\0meterValue\0sampledValue\0value\0context\0"
    "format\0measurand\0phase\0location\0unit\0type\0techInfo\0status\0errorCode\0"
    "info\0vendorId\0vendorErrorCode\0messageId\0data\0"
    # ReadingContext
    "Interruption.Begin\0Interruption.End\0Other\0Sample.Clock\0Sample.Periodic\0"
    "Transaction.Begin\0Transaction.End\0Trigger\0"
    # ValueFormat
    "Raw\0SignedData\0"
    # Measurand
    "Current.Export\0Current.Import\0Current.Offered\0Energy.Active.Export.Register\0"
    "Energy.Active.Import.Register\0Energy.Reactive.Export.Register\0"
    "Energy.Reactive.Import.Register\0Energy.Active.Export.Interval\0"
    "Energy.Active.Import.Interval\0Energy.Reactive.Export.Interval\0"
    "Energy.Reactive.Import.Interval\0Frequency\0Power.Active.Export\0Power.Active.Import\0"
    "Power.Factor\0Power.Offered\0Power.Reactive.Export\0Power.Reactive.Import\0RPM\0"
    "SoC\0Temperature\0Voltage\0"
    # Phase
    "L1\0L2\0L3\0N\0L1-N\0L2-N\0L3-N\0L1-L2\0L2-L3\0L3-L1\0"
    # Location
    "Body\0Cable\0EV\0Inlet\0Outlet\0"
    # UnitOfMeasure
    "Wh\0kWh\0varh\0kvarh\0W\0kW\0VA\0kVA\0var\0kvar\0A\0V\0Celsius\0"
    "Fahrenheit\0K\0Percent\0"
    # Reason
    "DeAuthorized\0EmergencyStop\0EVDisconnected\0HardReset\0Local\0PowerLoss\0"
    "Reboot\0Remote\0SoftReset\0UnlockCommand\0"
    # frequent values
    "\0NoError\0Available\0Preparing\0Charging\0SuspendedEV\0SuspendedEVSE\0"
    "Finishing\0Reserved\0Unavailable\0Faulted\0Accepted\0"
)


def _word_code(v):
    """The code of the string v if it is one of _WORDS, else None."""
    if "\0" in v:
        return None
    i = _WORDS.find("\0" + v + "\0")
    return None if i < 0 else 0x20 + _WORDS.count("\0", 0, i)


def _word_starts():
    starts = array("H")  # where each word of _WORDS begins: 2 bytes a word, a decode is one slice
    i = _WORDS.find("\0")
    while i < len(_WORDS) - 1:
        starts.append(i + 1)
        i = _WORDS.find("\0", i + 1)
    starts.append(len(_WORDS))  # end of the last word, + 1
    return starts


_STARTS = _word_starts()


def _word(i):
    """Word i of _WORDS (IndexError beyond the last, as for a damaged record)."""
    if i + 1 >= len(_STARTS):
        raise IndexError(i)
    return _WORDS[_STARTS[i]:_STARTS[i + 1] - 1]


_DAY = 86400
_INF = float("inf")


def _varint(out, n):
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(n):
    return n * 2 if n >= 0 else -n * 2 - 1


def _unzigzag(n):
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


def _digits(s, i, n):
    v = 0
    for k in range(i, i + n):
        c = ord(s[k]) - 48
        if c < 0 or c > 9:
            return -1
        v = v * 10 + c
    return v


def _ts_text(epoch):
    from ocpp16.timefmt import civil_from_days
    days = epoch // _DAY
    sec = epoch - days * _DAY
    y, m, d = civil_from_days(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, sec // 3600, sec // 60 % 60, sec % 60)


def _ts_epoch(s):
    """Epoch seconds of s if it is exactly 'YYYY-MM-DDTHH:MM:SSZ' and renders back the same."""
    if len(s) != 20 or s[4] != "-" or s[7] != "-" or s[10] != "T" or s[13] != ":" \
            or s[16] != ":" or s[19] != "Z":
        return None
    y, mo, d = _digits(s, 0, 4), _digits(s, 5, 2), _digits(s, 8, 2)
    h, mi, se = _digits(s, 11, 2), _digits(s, 14, 2), _digits(s, 17, 2)
    if min(y, mo, d, h, mi, se) < 0 or not 1 <= mo <= 12 or not 1 <= d <= 31:
        return None
    from ocpp16.timefmt import days_from_civil
    epoch = days_from_civil(y, mo, d) * _DAY + h * 3600 + mi * 60 + se
    return epoch if _ts_text(epoch) == s else None


def _decimal(s):
    """(mantissa, fraction digits, minus) if s is a canonical decimal like '230.1' or '-5'."""
    n = len(s)
    if n == 0 or n > 18:
        return None
    neg = s[0] == "-"
    body = s[1:] if neg else s
    dot = body.find(".")
    whole = body if dot < 0 else body[:dot]
    frac = "" if dot < 0 else body[dot + 1:]
    if not whole or (dot >= 0 and not frac) or len(frac) > 7:
        return None
    for c in whole + frac:
        if not "0" <= c <= "9":
            return None
    m = int(whole + frac)
    if _decimal_text(m, len(frac), neg) != s:
        return None
    return m, len(frac), neg


def _decimal_text(m, f, neg):
    t = str(m)
    if f:
        if len(t) <= f:
            t = "0" * (f + 1 - len(t)) + t
        t = t[:-f] + "." + t[-f:]
    return "-" + t if neg else t


def _encode(out, v, depth):
    if depth > MAX_DEPTH:
        raise BadPayload("payload nested deeper than %d" % MAX_DEPTH)
    if v is None:
        out.append(0)
    elif v is False:
        out.append(1)
    elif v is True:
        out.append(2)
    elif type(v) is int:
        out.append(3)
        _varint(out, _zigzag(v))
    elif type(v) is float:
        if v != v or v in (_INF, -_INF):
            raise BadPayload("%r has no JSON form" % v)
        out.append(4)
        out.extend(struct.pack("<d", v))
    elif type(v) is str:
        code = _word_code(v)
        if code is not None:
            out.append(code)
            return
        e = _ts_epoch(v) if len(v) == 20 else None
        if e is not None:
            out.append(6)
            _varint(out, _zigzag(e - TS_BASE))
            return
        d = _decimal(v)
        if d is not None:
            out.append(7)
            _varint(out, (d[0] << 4) | (d[1] << 1) | (1 if d[2] else 0))
            return
        b = v.encode()
        out.append(5)
        _varint(out, len(b))
        out.extend(b)
    elif type(v) is list:
        out.append(8)
        _varint(out, len(v))
        for x in v:
            _encode(out, x, depth + 1)
    elif type(v) is dict:
        out.append(9)
        _varint(out, len(v))
        for k in v:
            if type(k) is not str:
                raise BadPayload("object key %r is not a string" % (k,))
            _encode(out, k, depth + 1)
            _encode(out, v[k], depth + 1)
    else:
        raise BadPayload("%s value cannot be stored as JSON" % type(v).__name__)


class _Reader:
    def __init__(self, buf, pos):
        self.buf = buf
        self.pos = pos

    def varint(self):
        n = shift = 0
        buf = self.buf
        while True:
            b = buf[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    def value(self):
        t = self.buf[self.pos]
        self.pos += 1
        if t >= 0x20:
            return _word(t - 0x20)
        if t == 0:
            return None
        if t == 1:
            return False
        if t == 2:
            return True
        if t == 3:
            return _unzigzag(self.varint())
        if t == 4:
            p = self.pos
            self.pos = p + 8
            return struct.unpack("<d", self.buf[p:p + 8])[0]
        if t == 5:
            n = self.varint()
            p = self.pos
            self.pos = p + n
            return str(self.buf[p:p + n], "utf-8")
        if t == 6:
            return _ts_text(_unzigzag(self.varint()) + TS_BASE)
        if t == 7:
            n = self.varint()
            return _decimal_text(n >> 4, (n >> 1) & 7, n & 1)
        if t == 8:
            return [self.value() for _ in range(self.varint())]
        if t == 9:
            d = {}
            for _ in range(self.varint()):
                k = self.value()
                d[k] = self.value()
            return d
        raise ValueError("unknown tag %d" % t)


def encode_value(v):
    """Compact bytes of a JSON-like value (exported for tests and the benchmark)."""
    out = bytearray()
    _encode(out, v, 0)
    return bytes(out)


def decode_value(b):
    return _Reader(b, 0).value()


def _frame(body):
    n = len(body)
    return bytes((n & 0xFF, n >> 8)) + body + struct.pack("<I", crc32(body) & 0xFFFFFFFF)


def _read_record(f, limit):
    """Body bytes of the next framed record of f; None at the end or at a torn/bad record."""
    h = f.read(_HDR)
    if not h or len(h) < _HDR:
        return None
    n = h[0] | (h[1] << 8)
    if n == 0 or n + _HDR + _CRC > limit:
        return None
    rest = f.read(n + _CRC)
    if not rest or len(rest) < n + _CRC:
        return None
    body = rest[:n]
    if struct.unpack("<I", rest[n:])[0] != crc32(body) & 0xFFFFFFFF:
        return None
    return body


def _rare(name, *args):
    """queue_open.<name>(*args): opening (recovery) and the rare paths live there, imported
    for the call and unloaded (ocpp16.profiles), so their code costs no RAM meanwhile."""
    from ocpp16 import profiles
    try:
        return getattr(profiles.load("queue_open"), name)(*args)
    finally:
        profiles.unload("queue_open")


class MessageQueue:
    """Durable FIFO of (seq, action, payload, tx_ref); see the module comment."""

    def __init__(self, directory, capacity_bytes=DEFAULT_CAPACITY, max_record=DEFAULT_MAX_RECORD,
                 segment_bytes=None, fs=None, stage_slots=STAGE_MAX):
        self.dir = directory.rstrip("/") or "/"
        self.capacity = capacity_bytes
        self.max_record = max_record
        self.segment_bytes = segment_bytes or \
            max(1, capacity_bytes // SEGMENTS // FLASH_BLOCK) * FLASH_BLOCK - SEGMENT_SLACK
        self.fs = fs or store.real_fs
        self.stage_slots = stage_slots
        self._f = None             # append handle on the newest segment
        self._tail_bad = False     # the newest segment ends in a torn record: start a new one
        self._segs = []            # [base seq, size, last message seq] per segment, oldest first
        self._map = {}             # tx_ref -> transactionId
        self._acked = -1           # highest acknowledged seq
        self._ack_slot = 0         # ACK_FILES index the next ack is written to
        self._next = 0             # seq of the next push
        self._count = 0            # messages waiting
        self._head = None          # (segment index or None if staged, offset or seq, body)
        self._staged = []          # [seq, size, slot] of staged messages, oldest first
        self.segments_started = 0  # counters for tests and the benchmark
        self.segments_deleted = 0
        store.makedirs(self.dir, self.fs)
        _rare("scan", self)

    # ------------------------------------------------------------ opening
    def _path(self, base):
        return "%s/%010d%s" % (self.dir, base, SEG_SUFFIX)

    def _msg_path(self, slot):
        return "%s/%02d%s" % (self.dir, slot, MSG_SUFFIX)

    def _read_staged(self, slot, seq):
        """Body of the message record in slot (that of seq if seq is given); None if the file
        is torn, missing or holds something else."""
        try:
            f = self.fs.open(self._msg_path(slot), "rb")
        except OSError:
            return None
        try:
            body = _read_record(f, self.max_record)
            if body is None or f.read(1):
                return None
        finally:
            f.close()
        try:
            if body[0] != _MSG or (seq is not None and _Reader(body, 1).varint() != seq):
                return None
            return body
        except IndexError:
            return None

    def _locate(self, si, off, count=False):
        """Set the head to the first waiting message at or after (segment si, offset off);
        si None: among the staged messages."""
        self._head = None
        n = 0
        while si is not None and si < len(self._segs):
            seg = self._segs[si]
            if seg[2] > self._acked:
                f = self.fs.open(self._path(seg[0]), "rb")
                try:
                    f.seek(off)
                    pos = off
                    while True:
                        body = _read_record(f, self.max_record)
                        if body is None:
                            break
                        # seqs above seg[2] can only be leftovers of a failed seal (the
                        # same messages are still staged): never deliver them twice
                        if body[0] == _MSG and self._acked < _Reader(body, 1).varint() <= seg[2]:
                            if self._head is None:
                                self._head = (si, pos, body)
                                if not count:
                                    return
                            n += 1
                        pos += _HDR + len(body) + _CRC
                finally:
                    f.close()
            si += 1
            off = 0
        for seq, _, slot in self._staged:
            if seq > self._acked:
                if self._head is None:
                    body = self._read_staged(slot, seq)
                    if body is None:
                        raise OSError(EIO)   # vanished or changed under us: not ours to guess
                    self._head = (None, seq, body)
                    if not count:
                        return
                n += 1
        if count:
            self._count = n

    # ------------------------------------------------------------ public interface
    @property
    def next_seq(self):
        """The seq the next push() will get (the core records it before pushing a Start)."""
        return self._next

    def done(self, seq):
        """True when message `seq` was acknowledged (or given up): the queue is FIFO, so
        everything at or below the ack watermark is."""
        return seq <= self._acked

    def waiting(self, seq):
        """True when message `seq` is queued and not yet acknowledged. Reads the log from the
        head (flash I/O proportional to the queue): for start-up checks, not the hot path."""
        return _rare("waiting", self, seq)

    def __len__(self):
        return self._count

    @property
    def bytes_used(self):
        return sum(s[1] for s in self._segs) + sum(s[1] for s in self._staged)

    def room_for_transaction(self, n_meter_values=DEFAULT_TX_METER_VALUES):
        """Whether a whole new transaction fits beside the Stop reserve, in capacity_bytes and
        in the free space of the filesystem (shared with other files)."""
        need = EST_START + n_meter_values * EST_METER_VALUE + EST_STOP + STOP_RESERVE
        if self.bytes_used + need > self.capacity:
            return False
        free = self.fs.free(self.dir)
        return free is None or free >= need + FS_MARGIN

    def push(self, action, payload, tx_ref=None):
        """Append one message durably; returns its seq (see module comment for QueueFull)."""
        if type(action) is not str or not action:
            raise BadPayload("action must be a non-empty string")
        if type(payload) is not dict:
            raise BadPayload("payload must be an object, not %s" % type(payload).__name__)
        seq = self._next
        body = bytearray((_MSG,))
        _varint(body, seq)
        _varint(body, 0 if tx_ref is None else tx_ref + 1)
        _encode(body, action, 0)
        _encode(body, payload, 0)
        rec = _frame(body)
        if len(rec) > self.max_record:
            raise MessageTooLarge("%s record is %d bytes, limit %d" % (action, len(rec), self.max_record))
        reserve = 0 if action == "StopTransaction" else STOP_RESERVE
        used = self.bytes_used
        if used + len(rec) + reserve > self.capacity:
            raise QueueFull("queue full: %d of %d bytes used (%s needs %d%s)" % (
                used, self.capacity, action, len(rec),
                ", %d kept for StopTransaction" % reserve if reserve else ""))
        if len(self._staged) >= self.stage_slots:
            try:
                self._seal()              # every slot in use (an earlier seal failed)
            except OSError as e:
                if e.args and e.args[0] == ENOSPC:
                    raise QueueFull("flash full: %d of %d bytes used (%s)" % (
                        self.bytes_used, self.capacity, action))
                raise
        used_slots = [s[2] for s in self._staged]
        slot = 0
        while slot in used_slots:
            slot += 1
        self._next = seq + 1     # consumed even if the write fails: it may have landed
        path = self._msg_path(slot)
        try:
            f = self.fs.open(path, "wb")
            try:
                f.write(rec)
                self.fs.sync(f)
            finally:
                f.close()
        except OSError as e:
            if e.args and e.args[0] == ENOSPC:
                raise QueueFull("flash full: %d of %d bytes used (%s)" % (
                    self.bytes_used, self.capacity, action))
            raise
        self._staged.append([seq, len(rec), slot])
        self._count += 1
        if self._head is None:
            self._head = (None, seq, bytes(body))
        if len(self._staged) >= self.stage_slots:
            try:
                self._seal()
            except OSError as e:   # the message is safe in its slot; the next push retries
                log.warning("queue: sealing staged messages failed: %s", e)
        return seq

    def peek(self):
        """(seq, action, payload, tx_ref) of the oldest waiting message, or None."""
        if self._head is None:
            return None
        r = _Reader(self._head[2], 1)
        seq = r.varint()
        ref = r.varint() - 1
        ref = None if ref < 0 else ref
        action = r.value()
        payload = r.value()
        if ref is not None and "transactionId" in payload and payload["transactionId"] is None:
            payload["transactionId"] = self._map.get(ref)
        return seq, action, payload, ref

    def ack(self, seq):
        """The CSMS answered message seq (the head): remove it durably."""
        self._check_head(seq, "ack")
        body = bytearray((_ACK,))
        _varint(body, seq)
        f = self.fs.open(self.dir + "/" + ACK_FILES[self._ack_slot], "wb")
        try:
            f.write(_frame(body))
            self.fs.sync(f)
        finally:
            f.close()
        self._ack_slot ^= 1
        if self._head[0] is None:   # staged: its slot is free now
            self._staged.pop(0)
        self._advance(seq)

    def fail(self, seq, reason):
        """Message seq (the head) exhausted its attempts: log it in failures.json, remove it.
        If the code for the log cannot be loaded, the message is removed all the same (the
        console says so): giving up must not stop the core that called it."""
        try:
            _rare("fail", self, seq, reason)
        except (ImportError, MemoryError) as e:
            log.error("queue: message %d given up (%s); not in %s: %r", seq, str(reason)[:MAX_REASON], FAILURES, e)
            head = self.peek()
            if head is not None and head[0] == seq:
                self.ack(seq)

    def failures(self):
        """[[action, transactionId, reason], ...] oldest first, at most FAILURE_LOG_MAX."""
        return _rare("failures", self)

    def resolve_tx(self, tx_ref, transaction_id):
        """Persist the CSMS transactionId of the transaction whose Start had seq tx_ref."""
        body = bytearray((_RES,))
        _varint(body, tx_ref)
        _encode(body, transaction_id, 0)
        self._append(_frame(body), None)
        self._remember(tx_ref, transaction_id)

    def tx_id(self, tx_ref):
        return self._map.get(tx_ref)

    def close(self):
        if self._f is not None:
            f = self._f
            self._f = None
            f.close()

    # ------------------------------------------------------------ internals
    def _failures_path(self):
        return self.dir + "/" + FAILURES

    def _check_head(self, seq, what):
        head = None if self._head is None else _Reader(self._head[2], 1).varint()
        if head is None or seq != head:
            raise QueueOrderError("%s(%s) but the head of the queue is %s" % (what, seq, head))

    def _remember(self, ref, tx_id):
        self._map[ref] = tx_id
        if len(self._map) > MAX_TX_MAP:
            oldest = min(self._map)
            log.warning("tx map full: forgetting transaction ref %d", oldest)
            del self._map[oldest]

    def _advance(self, seq):
        si, off, body = self._head
        self._acked = seq
        self._count -= 1
        r = _Reader(body, 1)
        r.varint()
        ref = r.varint() - 1
        if ref >= 0 and r.value() == "StopTransaction":
            self._map.pop(ref, None)   # its last message is delivered
        if si is None:
            self._locate(None, 0)
        else:
            self._locate(si, off + _HDR + len(body) + _CRC)
        if self._head is None and self._segs[-1][1] > self.segment_bytes // 4:
            self._roll()                 # empty queue: start afresh so the old bytes are freed
        else:
            self._compact()

    def _append(self, rec, action):
        seg = self._segs[-1]
        try:
            if self._tail_bad or (seg[1] + len(rec) > self.segment_bytes and seg[1] > 0):
                self._roll()
                seg = self._segs[-1]
            if self._f is None:
                self._f = self.fs.open(self._path(seg[0]), "ab")
            self._f.write(rec)
            self.fs.sync(self._f)
        except OSError as e:
            self._tail_bad = True       # whatever landed may be torn: never append after it
            self._drop_handle()
            seg = self._segs[-1]
            seg[1] = max(0, self.fs.size(self._path(seg[0])))
            if action is not None and e.args and e.args[0] == ENOSPC:
                raise QueueFull("flash full: %d of %d bytes used (%s)" % (
                    self.bytes_used, self.capacity, action))
            raise
        seg[1] += len(rec)

    def _seal(self):
        """Append the staged messages not yet acknowledged to the newest segment (one sync);
        then every slot is free."""
        live = [s for s in self._staged if s[0] > self._acked]
        total = 0
        for s in live:
            total += s[1]
        if live:
            seg = self._segs[-1]
            try:
                if self._tail_bad or (seg[1] + total > self.segment_bytes and seg[1] > 0):
                    self._roll()
                    seg = self._segs[-1]
                if self._f is None:
                    self._f = self.fs.open(self._path(seg[0]), "ab")
                start = seg[1]
                head_at = None
                pos = start
                for seq, size, slot in live:
                    body = self._read_staged(slot, seq)
                    if body is None:
                        raise OSError(EIO)
                    self._f.write(_frame(body))
                    if self._head is not None and self._head[0] is None and self._head[1] == seq:
                        head_at = pos
                    pos += size
                self.fs.sync(self._f)
            except OSError:
                self._tail_bad = True
                self._drop_handle()
                seg = self._segs[-1]
                seg[1] = max(0, self.fs.size(self._path(seg[0])))
                raise
            seg[1] = pos
            seg[2] = live[-1][0]
            if head_at is not None:
                self._head = (len(self._segs) - 1, head_at, self._head[2])
        self._staged = []

    def _drop_handle(self):
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def _new_segment(self):
        self._drop_handle()
        base = self._next
        if self._segs and self._segs[-1][0] == base:
            base += 1                   # a fresh file, never the torn one (seq gap is harmless)
            self._next = base
        f = self.fs.open(self._path(base), "wb")
        self._segs.append([base, 0, -1])
        self.segments_started += 1
        self._tail_bad = False
        self._f = f
        out = bytearray()
        for ref in sorted(self._map):
            body = bytearray((_RES,))
            _varint(body, ref)
            _encode(body, self._map[ref], 0)
            out.extend(_frame(body))
        if out:
            f.write(out)
        self.fs.sync(f)
        self._segs[-1][1] = len(out)

    def _roll(self):
        self._new_segment()
        self._compact()

    def _compact(self):
        """Delete older segments whose messages are all acknowledged, oldest first."""
        while len(self._segs) > 1 and self._segs[0][2] <= self._acked:
            self._try_remove(self._path(self._segs[0][0]))
            self._segs.pop(0)
            self.segments_deleted += 1
            if self._head is not None and self._head[0] is not None:
                self._head = (self._head[0] - 1, self._head[1], self._head[2])

    def _try_remove(self, path):
        try:
            self.fs.remove(path)
        except OSError as e:
            log.warning("queue: cannot remove %s: %s", path, e)
