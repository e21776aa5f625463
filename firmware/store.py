# Atomic JSON state files (save replaces a file whole or not at all; load reads it back)
# and FS, the one seam through which store and the message queue touch files.
# Owns no state and no policy about what is stored; never raises MemoryError on big files.
#
# What survives a power cut during save(path, obj) (tmp = path + ".tmp"):
#   cut while writing or syncing tmp -> path still holds the previous version; tmp is torn
#                                       or partial; load() returns the previous version
#                                       and removes tmp.
#   cut after tmp closed, before the -> path holds the previous version, tmp the complete new
#   replace                             one; load() returns the previous version (save had not
#                                       returned, so either is allowed) and removes tmp.
#   cut during/after replace         -> the rename is atomic on LittleFS and POSIX: path holds
#                                       the new version; no tmp is left.
# If path is missing or unreadable (corrupt, e.g. written by hand or by another filesystem) and
# a tmp that parses is present, load() uses the tmp (the newer complete version) and promotes it.
# A corrupt path with no usable tmp gives `default` with a logged error (never a crash).
import json
import os
import compat
import log

MAX_STATE_BYTES = 16384   # largest state file save() writes and load() reads (RAM bound)
MAX_DEPTH = 16            # nesting of lists/objects save() accepts
TMP_SUFFIX = ".tmp"       # temp file next to the target, renamed over it on success


class StoreError(Exception):
    """A state file cannot be saved or loaded; the message says which and why."""


class StateTooLarge(StoreError):
    """The encoded state exceeds MAX_STATE_BYTES."""


class FS:
    """File operations used by store and ocpp16.queue. Tests replace it with a fake that
    can cut power at any write (host_tests/powercut.py)."""

    def open(self, path, mode):
        return open(path, mode)

    def sync(self, f):
        compat.fsync(f)

    def replace(self, src, dst):
        compat.replace(src, dst)

    def remove(self, path):
        os.remove(path)

    def listdir(self, path):
        return os.listdir(path)

    def mkdir(self, path):
        os.mkdir(path)

    def free(self, path):
        """Free bytes of the filesystem holding path, or None if the runtime cannot tell."""
        try:
            st = os.statvfs(path)
        except (AttributeError, OSError):
            return None
        return st[1] * st[4]      # f_frsize * f_bavail

    def size(self, path):
        """Size in bytes, or -1 when the file does not exist."""
        try:
            return os.stat(path)[6]
        except OSError:
            return -1


real_fs = FS()


def makedirs(path, fs=None):
    """Create path and its missing parents (MicroPython has no os.makedirs)."""
    fs = fs or real_fs
    prefix = "/" if path.startswith("/") else ""
    done = []
    for part in path.split("/"):
        if not part:
            continue
        done.append(part)
        cur = prefix + "/".join(done)
        if fs.size(cur) >= 0:
            continue
        try:
            fs.mkdir(cur)
        except OSError:
            if fs.size(cur) < 0:
                raise


def save(path, obj, fs=None):
    """Write obj as JSON to path atomically: tmp file, flush+sync, close, rename over path."""
    fs = fs or real_fs
    # MicroPython's json.dumps writes repr() of what it does not know: check first.
    why = _not_json(obj, 0)
    if why:
        raise StoreError("%s: state not JSON-serializable: %s" % (path, why))
    text = json.dumps(obj)
    data = text.encode()
    if len(data) > MAX_STATE_BYTES:
        raise StateTooLarge("%s: state is %d bytes, limit %d" % (path, len(data), MAX_STATE_BYTES))
    tmp = path + TMP_SUFFIX
    f = fs.open(tmp, "wb")
    try:
        f.write(data)
        fs.sync(f)
    finally:
        f.close()
    fs.replace(tmp, path)


def _not_json(v, depth):
    """Why v cannot be stored as JSON exactly, or None."""
    if depth > MAX_DEPTH:
        return "nested deeper than %d" % MAX_DEPTH
    t = type(v)
    if v is None or t in (bool, int, str):
        return None
    if t is float:
        return None if v == v and v not in (float("inf"), float("-inf")) else "%r is not JSON" % v
    if t is list:
        for x in v:
            why = _not_json(x, depth + 1)
            if why:
                return why
        return None
    if t is dict:
        for k in v:
            if type(k) is not str:
                return "object key %r is not a string" % (k,)
            why = _not_json(v[k], depth + 1)
            if why:
                return why
        return None
    return "%s value" % t.__name__


def _read(path, fs):
    """(True, obj) if path holds valid JSON; (False, why) otherwise; None if missing."""
    n = fs.size(path)
    if n < 0:
        return None
    if n > MAX_STATE_BYTES:
        return (False, "%d bytes, limit %d" % (n, MAX_STATE_BYTES))
    try:
        f = fs.open(path, "rb")
    except OSError:
        return None
    try:
        data = f.read()
    finally:
        f.close()
    try:
        return (True, json.loads(data.decode()))
    except (ValueError, UnicodeError) as e:  # MicroPython: UnicodeError; CPython: a ValueError
        return (False, "not valid JSON (%s)" % e)


def load(path, default=None, fs=None):
    """The object saved at path; default if there is none (see the table at the top)."""
    fs = fs or real_fs
    tmp = path + TMP_SUFFIX
    main = _read(path, fs)
    if main is not None and main[0]:
        _discard(tmp, fs)
        return main[1]
    spare = _read(tmp, fs)
    if spare is not None and spare[0]:
        if main is not None:
            log.error("state file %s unreadable (%s): using %s", path, main[1], tmp)
        fs.replace(tmp, path)
        return spare[1]
    _discard(tmp, fs)
    if main is not None:
        log.error("state file %s unreadable (%s): using defaults", path, main[1])
    return default


def exists(path, fs=None):
    """True when path (or a complete-looking tmp beside it) holds a saved state."""
    fs = fs or real_fs
    return fs.size(path) >= 0 or fs.size(path + TMP_SUFFIX) > 0


def _discard(path, fs):
    if fs.size(path) >= 0:
        try:
            fs.remove(path)
        except OSError:
            pass


def remove(path, fs=None):
    """Forget the state saved at path: its tmp first, so a cut in between cannot bring
    an older tmp back as the state."""
    fs = fs or real_fs
    _discard(path + TMP_SUFFIX, fs)
    _discard(path, fs)
