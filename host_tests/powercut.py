# Power-cut test infrastructure, importable on CPython and MicroPython:
#   CutBlockDevice: a RAM flash (4096-byte blocks like the ESP32) for vfs.VfsLfs2 that loses power
#                   at its k-th program/erase (half of that operation lands, then it is dead);
#   FakeFS:         a store.real_fs stand-in keeping files in RAM that loses power at its k-th write;
#   a scenario of queue operations with a model of what must survive, and the check after reboot.
# Test scaffolding only: nothing here goes onto the device.
import errno

BLOCK_SIZE = 4096        # ESP32 flash erase block; LittleFS block size on the device
HALF = 0.5               # fraction of the interrupted write that lands
EIO_LFS = -5             # what the block device returns for the cut operation (LFS_ERR_IO)


class PowerCut(Exception):
    """Raised by a dead device. Not an OSError, so the code under test cannot 'handle' it:
    on the real device nothing runs after the cut."""


# ------------------------------------------------------------------ MicroPython block device
class CutBlockDevice:
    """Extended block protocol (offsets) over a shared bytearray; reboot() gives a live device
    over the same bytes while this one stays dead (finalizers of the old mount cannot write).
    The cut operation returns LittleFS's I/O error (-5) instead of raising: an exception would
    longjmp out of the C filesystem code and leave its open-file list inconsistent, which can
    crash MicroPython later when the garbage collector finalizes those files."""

    def __init__(self, data, block_size=BLOCK_SIZE, cut_at=None, partial=HALF):
        self.data = data
        self.bs = block_size
        self.n = len(data) // block_size
        self.cut_at = cut_at       # 1-based index of the write op that loses power; None: never
        self.partial = partial
        self.ops = 0               # program + erase operations so far
        self.programmed = 0        # bytes programmed (for write amplification figures)
        self.erased = 0            # blocks erased
        self.dead = False

    @classmethod
    def formatted(cls, blocks, block_size=BLOCK_SIZE, data=None):
        """A freshly formatted device; `data` (blocks * block_size bytes) is reused if given."""
        import vfs
        n = blocks * block_size
        if data is None or len(data) != n:
            data = bytearray(n)
        for a in range(0, n, block_size):
            data[a:a + block_size] = b"\xff" * block_size
        dev = cls(data, block_size)
        vfs.VfsLfs2.mkfs(dev)
        return dev

    def reboot(self, cut_at=None):
        self.dead = True
        return CutBlockDevice(self.data, self.bs, cut_at, self.partial)

    def copy(self, cut_at=None):
        return CutBlockDevice(bytearray(self.data), self.bs, cut_at, self.partial)

    # Only the cut operation raises. Later calls on a dead device (finally blocks while the
    # PowerCut unwinds, finalizers of the old mount's files, where MicroPython cannot even
    # allocate an exception) change nothing and report success: nobody is there to see it.
    def _op(self):
        self.ops += 1
        return self.cut_at is not None and self.ops >= self.cut_at

    def readblocks(self, block, buf, offset=0):
        if self.dead:
            return          # no allocation here: this may run inside the garbage collector
        a = block * self.bs + offset
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=0):
        if self.dead:
            return
        cut = self._op()
        a = block * self.bs + offset
        n = int(len(buf) * self.partial) if cut else len(buf)
        d = self.data
        for i in range(n):                 # NOR flash: programming only clears bits
            d[a + i] &= buf[i]
        self.programmed += n
        if cut:
            self.dead = True
            return EIO_LFS
        return 0

    def ioctl(self, op, arg):
        if op == 4:                        # block count
            return self.n
        if op == 5:                        # block size
            return self.bs
        if op == 6:                        # erase block arg
            if self.dead:
                return 0
            cut = self._op()
            a = arg * self.bs
            n = int(self.bs * self.partial) if cut else self.bs
            self.data[a:a + n] = b"\xff" * n
            self.erased += 1
            if cut:
                self.dead = True
                return EIO_LFS
            return 0
        return 0


def mount(dev, point="/pc"):
    import vfs
    fs = vfs.VfsLfs2(dev)
    vfs.mount(fs, point)
    return fs


def umount(point="/pc"):
    import vfs
    try:
        vfs.umount(point)
    except Exception:   # the old mount may be in any state after a cut
        pass


# ------------------------------------------------------------------ fake filesystem (both runtimes)
class _FakeFile:
    def __init__(self, fs, path, mode):
        self.fs = fs
        self.path = path
        self.mode = mode
        self.pos = 0
        self.closed = False

    def write(self, b):
        self.fs._check()
        if "r" in self.mode:
            raise OSError(errno.EBADF)
        data = self.fs.files[self.path]
        cut = self.fs._op()
        n = int(len(b) * self.fs.partial) if cut else len(b)
        data.extend(b[:n])      # append or write-from-empty: both write at the end here
        if cut:
            self.fs._die()
        return len(b)

    def read(self, n=-1):
        self.fs._check()
        data = self.fs.files.get(self.path)
        if data is None:
            raise OSError(errno.ENOENT)
        end = len(data) if n is None or n < 0 else min(len(data), self.pos + n)
        out = bytes(data[self.pos:end])
        self.pos = end
        return out

    def seek(self, pos, whence=0):
        self.pos = pos
        return pos

    def tell(self):
        return self.pos

    def flush(self):
        self.fs._check()

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class FakeFS:
    """Files as bytearrays; write(), replace(), remove(), mkdir() and open-for-write are write ops.
    At the cut_at-th op a write lands `partial` of its bytes (other ops land or not as a whole,
    `partial` >= 0.5 meaning they land) and every later call raises PowerCut."""

    def __init__(self, files=None, dirs=None, cut_at=None, partial=HALF):
        self.files = files if files is not None else {}
        self.dirs = dirs if dirs is not None else set()
        self.cut_at = cut_at
        self.partial = partial
        self.ops = 0
        self.dead = False
        self.space = None        # bytes the fake "partition" holds; None: unlimited
        self.created = []        # paths created, in order (tests check segments rolled)
        self.removed = []        # paths removed

    def reboot(self, cut_at=None):
        """The same files after a power cycle; this instance is dead from now on."""
        self.dead = True
        return self.copy(cut_at)

    def copy(self, cut_at=None):
        """An independent copy of the files (a flash image), this instance stays usable."""
        files = {}
        for k in self.files:
            files[k] = bytearray(self.files[k])
        fs = FakeFS(files, set(self.dirs), cut_at, self.partial)
        fs.space = self.space
        return fs

    def _check(self):
        if self.dead:
            raise PowerCut("filesystem is off")

    def _op(self):
        self._check()
        self.ops += 1
        return self.cut_at is not None and self.ops >= self.cut_at

    def _die(self):
        self.dead = True
        raise PowerCut("power cut at op %d" % self.ops)

    def _whole(self, action):
        cut = self._op()
        if not cut or self.partial >= 0.5:
            action()
        if cut:
            self._die()

    def _parent_ok(self, path):
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent and parent not in self.dirs:
            raise OSError(errno.ENOENT)

    # store.real_fs interface
    def open(self, path, mode):
        self._check()
        if "r" in mode:
            if path not in self.files:
                raise OSError(errno.ENOENT)
        else:
            self._parent_ok(path)
            if "w" in mode:
                def trunc():
                    if path not in self.files:
                        self.created.append(path)
                    self.files[path] = bytearray()
                self._whole(trunc)
            elif path not in self.files:
                def create():
                    self.files[path] = bytearray()
                    self.created.append(path)
                self._whole(create)
        return _FakeFile(self, path, mode)

    def sync(self, f):
        self._check()

    def replace(self, src, dst):
        self._check()
        if src not in self.files:
            raise OSError(errno.ENOENT)

        def mv():
            self.files[dst] = self.files.pop(src)
        self._whole(mv)

    def remove(self, path):
        self._check()
        if path not in self.files:
            raise OSError(errno.ENOENT)
        def rm():
            self.files.pop(path)
            self.removed.append(path)
        self._whole(rm)

    def listdir(self, path):
        self._check()
        if path not in self.dirs:
            raise OSError(errno.ENOENT)
        pre = path + "/"
        return [k[len(pre):] for k in self.files if k.startswith(pre) and "/" not in k[len(pre):]]

    def mkdir(self, path):
        self._check()
        if path in self.dirs or path in self.files:
            raise OSError(errno.EEXIST)
        self._whole(lambda: self.dirs.add(path))

    def free(self, path):
        """Free bytes: `space` minus what the files hold, or None when no space was given."""
        if self.space is None:
            return None
        return self.space - sum(len(v) for v in self.files.values())

    def size(self, path):
        self._check()
        if path in self.files:
            return len(self.files[path])
        return 0 if path in self.dirs else -1


# ------------------------------------------------------------------ scenario and model
def _ts(i):
    return "2026-11-23T%02d:%02d:%02dZ" % (10 + i // 3600, i // 60 % 60, i % 60)


def scenario(transactions=3, meter_values=4):
    """Queue operations: (op, args). Transactions start offline (transactionId unknown), get
    resolved when 'online', some messages are acked in between, one is failed, a security event
    and an unknown action ride along."""
    ops = []
    t = 0
    for n in range(transactions):
        ops.append(("push", "StartTransaction",
                    {"connectorId": 1 + n % 2, "idTag": "TAG%d" % n, "meterStart": 1000 * n,
                     "timestamp": _ts(t)}, None, n))
        for i in range(meter_values):
            t += 60
            ops.append(("push", "MeterValues",
                        {"connectorId": 1 + n % 2, "transactionId": None, "meterValue": [
                            {"timestamp": _ts(t), "sampledValue": [
                                {"value": str(1000 * n + 7 * i), "context": "Sample.Periodic",
                                 "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                                {"value": "%.1f" % (229.5 + i / 10), "measurand": "Voltage",
                                 "phase": "L1-N", "unit": "V"}]}]}, n, None))
            if i == 1:
                ops.append(("ack",))          # the link came up for a moment
        if n == 1:
            ops.append(("push", "SecurityEventNotification",
                        {"type": "StartupOfTheDevice", "timestamp": _ts(t), "techInfo": "cold boot"},
                        None, None))
            ops.append(("push", "VendorThing", {"x": [1, 2.5, True, None], "y": {"z": "w"}},
                        None, None))
        ops.append(("resolve", n, 1000 + n))
        t += 60
        ops.append(("push", "StopTransaction",
                    {"transactionId": None, "idTag": "TAG%d" % n, "meterStop": 1000 * n + 99,
                     "timestamp": _ts(t), "reason": "EVDisconnected"}, n, None))
        ops.append(("ack",))
        if n == 1:
            ops.append(("fail", "rejected by CSMS"))
        ops.append(("drain", meter_values))   # online for a while: most of the backlog goes
    for _ in range(6):
        ops.append(("ack",))
    return ops


class Model:
    """What the queue promised: messages whose push returned, acks/fails that returned,
    resolutions that returned, and the one operation that was in flight at the cut."""

    def __init__(self):
        self.pushed = []         # [seq, action, payload, tx_ref]
        self.removed = 0         # messages acked or failed (a prefix of pushed)
        self.refs = {}           # transaction number -> tx_ref (seq of its Start)
        self.resolved = {}       # tx_ref -> transactionId
        self.fails = []          # [action, transactionId, reason]
        self.in_flight = None    # (op, ...) being executed when the power went
        self.max_seq = -1


def run(q, ops, model, is_dead=None):
    """Apply ops to queue q, updating model after each returns (PowerCut propagates).
    is_dead() tells whether power went during the op: MicroPython's LittleFS bridge may turn the
    cut into an OSError the code handles, but on the device that op never returned."""
    for op in ops:
        kind = op[0]
        model.in_flight = op
        _step(q, op, kind, model, is_dead)
    model.in_flight = None


def _step(q, op, kind, model, is_dead):
    def alive():
        if is_dead is not None and is_dead():
            raise PowerCut("power went during %s" % kind)
    if kind == "push":
        _, action, payload, tx_n, start_n = op
        ref = None if tx_n is None else model.refs[tx_n]
        seq = q.push(action, payload, tx_ref=ref)
        alive()
        assert seq > model.max_seq, "seq %d not above %d" % (seq, model.max_seq)
        model.max_seq = seq
        model.pushed.append([seq, action, payload, ref])
        if start_n is not None:
            model.refs[start_n] = seq
    elif kind == "resolve":
        ref = model.refs[op[1]]
        q.resolve_tx(ref, op[2])
        alive()
        model.resolved[ref] = op[2]
    elif kind == "drain":
        while len(model.pushed) - model.removed > op[1]:
            _step(q, ("ack",), "ack", model, is_dead)
    elif kind in ("ack", "fail"):
        if model.removed >= len(model.pushed):
            return
        head = q.peek()
        want = model.pushed[model.removed]
        assert head[0] == want[0], "head %r, model %r" % (head[0], want[0])
        if kind == "ack":
            q.ack(head[0])
            alive()
        else:
            q.fail(head[0], op[1])
            alive()
            model.fails.append([head[1], head[2].get("transactionId"), op[1]])
        model.removed += 1


def _expected_payload(msg, model, maybe_ref):
    seq, action, payload, ref = msg
    p = dict(payload)
    if ref is not None and "transactionId" in p and p["transactionId"] is None:
        if ref in model.resolved:
            p["transactionId"] = model.resolved[ref]
        elif maybe_ref is not None and ref == maybe_ref[0]:
            return (p, dict(p, transactionId=maybe_ref[1]))   # resolution in flight: either
    return (p,)


def check(q, model):
    """After reboot: drain q and compare with the model. Returns the number of messages seen."""
    fl = model.in_flight
    maybe_ref = (model.refs[fl[1]], fl[2]) if fl is not None and fl[0] == "resolve" else None
    got = []
    while True:
        head = q.peek()
        if head is None:
            break
        got.append(head)
        q.ack(head[0])
        assert len(got) <= len(model.pushed) + 1, "queue does not drain"
    want = model.pushed[model.removed:]
    if fl is not None and fl[0] in ("ack", "fail", "drain") and want:
        # the message being removed at the cut may come back (once), or not
        if not (got and got[0][0] == want[0][0]):
            want = want[1:]
    if fl is not None and fl[0] == "push" and len(got) == len(want) + 1:
        extra = got[-1]
        assert extra[1] == fl[1] and extra[0] > model.max_seq, "unexpected extra %r" % (extra,)
        got = got[:-1]
    assert len(got) == len(want), "got %d messages, expected %d: %r, want %r, in flight %r" % (
        len(got), len(want), [g[0] for g in got], [w[0] for w in want], fl and fl[:2])
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[1] == w[1] and g[3] == w[3], "got %r, want %r" % (g[:2], w[:2])
        assert g[2] in _expected_payload(w, model, maybe_ref), "seq %d payload %r" % (g[0], g[2])
    fails = q.failures()
    try:
        from limits import limit
    except ImportError:   # a test outside host_tests/portable: limits.py is there
        import sys
        sys.path.append(__file__.rsplit("/", 1)[0] + "/portable")
        from limits import limit
    for f in model.fails[-limit("ocpp16.queue_open", "_FAILURE_LOG_MAX"):]:
        assert f in fails, "failure %r lost: %r" % (f, fails)
    seq = q.push("Heartbeat", {})
    assert seq > model.max_seq, "seq went back: %d after %d" % (seq, model.max_seq)
    return len(got)
