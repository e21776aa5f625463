# Reading state files back, imported for the call and unloaded (store.__getattr__): load with the
# recovery of a save cut by a power loss (store.py's table), remove, makedirs, exists, and the
# texts of save()'s refusals. store.py keeps save and real_fs; this module owns no state.
import json
import log
from store import MAX_STATE_BYTES, real_fs


def text(path, n, arg):
    """The StoreError text of store.save's refusal n (store._not_json's numbers; 4: the
    encoded state is arg bytes)."""
    return "%s: %s" % (path, "state is %d bytes, limit %d" % (arg, MAX_STATE_BYTES) if n == 4 else
                       "state not JSON-serializable: " + ("nested deeper than %d", "%r is not JSON",
                                                          "object key %r is not a string", "%s value")[n] % (arg,))


def makedirs(path, fs=None):
    """store.makedirs: create path and its missing parents (MicroPython has no os.makedirs)."""
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
    """store.load: the object saved at path; default if there is none (store's table)."""
    fs = fs or real_fs
    tmp = path + ".tmp"
    main = _read(path, fs)
    if main is None or not main[0]:
        spare = _read(tmp, fs)
        if spare is not None and spare[0]:
            if main is not None:
                log.error("state file %s unreadable (%s): using %s", path, main[1], tmp)
            fs.replace(tmp, path)
            return spare[1]
    if fs.size(tmp) >= 0:   # a torn or older tmp goes (as in remove)
        try:
            fs.remove(tmp)
        except OSError:
            pass
    if main is None:
        return default
    if not main[0]:
        log.error("state file %s unreadable (%s): using defaults", path, main[1])
        return default
    return main[1]


def remove(path, fs=None):
    """store.remove: the tmp first, so a cut in between cannot bring an old tmp back; a file
    already gone is no error."""
    fs = fs or real_fs
    for p in (path + ".tmp", path):
        if fs.size(p) >= 0:
            try:
                fs.remove(p)
            except OSError:
                pass


def exists(path, fs=None):
    """store.exists: True when path (or a complete-looking tmp beside it) holds a saved state."""
    fs = fs or real_fs
    return fs.size(path) >= 0 or fs.size(path + ".tmp") > 0

