# Atomic JSON state files (save replaces a file whole or not at all; load reads it back)
# and real_fs, the one seam through which store and the message queue touch files.
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
# Resident: save (every period while charging), write (also the message queue's records) and real_fs.
# Reading back (load, with the recovery above), remove, makedirs and exists live in
# store_load.py, imported for the call and unloaded (__getattr__).
import json
import os
import sys
import compat
from compat import const

MAX_STATE_BYTES = 16384   # largest state file save() writes and load() reads (RAM bound)
_MAX_DEPTH = const(16)    # nesting of lists/objects save() accepts
# The temp file next to the target, renamed over it on success, is path + ".tmp" (store_load too).


class StoreError(Exception):
    """A state file cannot be saved or loaded; the message says which and why ("... limit N"
    for an encoded state beyond MAX_STATE_BYTES: StoreError). Also ocpp16.queue.QueueError,
    the message queue's refusals (one class for both: a class costs ~200 B of heap)."""




class real_fs:
    """File operations used by store and ocpp16.queue: a namespace, the class itself (no
    instance, and the runtime's functions need no staticmethod wrapper when read from a
    class; lower case: it is used as a value, the `fs` argument's default). Tests pass a fake with the same methods instead (host_tests/powercut.py), one that
    can cut power at any write."""
    open = open                # (path, mode) -> file
    sync = compat.fsync        # (file): its data on flash before it returns
    replace = compat.replace   # (src, dst): atomic rename over dst
    remove = os.remove         # (path)
    listdir = os.listdir       # (path) -> names
    mkdir = os.mkdir           # (path)

    def free(path):
        """Free bytes of the filesystem holding path, or None if the runtime cannot tell."""
        try:
            st = os.statvfs(path)
        except (AttributeError, OSError):
            return None
        return st[1] * st[4]      # f_frsize * f_bavail

    def size(path):
        """Size in bytes, or -1 when the file does not exist."""
        try:
            return os.stat(path)[6]
        except OSError:
            return -1


def __getattr__(name):
    """The functions that live in store_load.py (PEP 562: looked up here only because store has
    no such name), each imported for the call and unloaded; fs defaults to real_fs:
      makedirs(path, fs): create path and its missing parents (MicroPython has no os.makedirs);
      load(path, default=None, fs): the object saved at path; default if none (the table above);
      remove(path, fs): delete a saved state, the tmp first (a cut in between cannot bring an
          old tmp back);
      exists(path, fs): True when path (or a complete-looking tmp beside it) holds a state;
      text(path, n, arg): the text of save()'s refusal n (for save only).
    The function is store_load's own, the module already out of sys.modules: it lives while
    the caller holds the function (for the call: never keep one, e.g. `from store import load`
    in a module that stays). Another name is an AttributeError (from store_load, loaded to
    find it out: a list of the names would cost a string each); a name with "_" first is none.
    Whatever the import raises (ImportError, MemoryError) goes to the caller."""
    if name[0] == "_":   # not a function of store_load (an attribute not set, a special name)
        raise AttributeError(name)
    try:
        import store_load
        return getattr(store_load, name)
    finally:
        sys.modules.pop("store_load", None)


def save(path, obj, fs=None):
    """Write obj as JSON to path atomically: tmp file, flush+sync, close, rename over path."""
    fs = fs or real_fs
    # MicroPython's json.dumps writes repr() of what it does not know: check first.
    why = _not_json(obj, 0)
    if not why:
        data = json.dumps(obj).encode()
        if len(data) > MAX_STATE_BYTES:
            why = 4, len(data)
    if why:   # its text from store_load.text (only a refusal loads it); the class is what callers test
        try:
            why = (__getattr__("text")(path, *why),)
        except (ImportError, MemoryError):
            why = (path,) + why
        raise StoreError(*why)
    tmp = path + ".tmp"
    write(tmp, data, fs)
    fs.replace(tmp, path)


def write(path, data, fs):
    """path holds data (bytes), on flash before it returns: open "wb", write, sync, close. Not
    atomic (a cut may leave it torn or partial): save() and the queue's records see to that."""
    f = fs.open(path, "wb")
    try:
        f.write(data)
        fs.sync(f)
    finally:
        f.close()


def _not_json(v, depth):
    """None when v can be stored as JSON exactly, else (n, the value at fault) for
    store_load.text: 0 nested deeper than _MAX_DEPTH, 1 a float with no JSON form (NaN,
    +-inf), 2 an object key that is not a string, 3 a type JSON does not have."""
    if depth > _MAX_DEPTH:
        return 0, _MAX_DEPTH
    t = type(v)
    if t is float:
        return None if v == v and v - v == 0 else (1, v)
    if t is list or t is dict:
        for k in v:
            if t is dict:
                if type(k) is not str:
                    return 2, k
                k = v[k]
            why = _not_json(k, depth + 1)
            if why:
                return why
        return None
    if v is None or t is bool or t is int or t is str:
        return None
    return 3, t.__name__
