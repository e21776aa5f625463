# Application bundles: the archive format (see README "Application bundle format"), its
# streaming check, and the install that unpacks a staged bundle into a new folder beside the
# running one and switches to it with one marker rename (appboot.py). Imported only while an
# update installs. A power cut at any write leaves the old marker (old version) or the new one
# (a fully written and verified folder); never a folder half written in use.
from compat import const
import hashlib
import json
import os

import appboot
import store

MAGIC = b"OCPPBNDL1\n"        # first line of every bundle
_MAX_MANIFEST = const(16384)  # largest manifest (JSON) accepted, bytes (the whole tree: ~9 KB)
_MAX_FILES = const(160)  # most files in one bundle (the whole tree: ~100)
_MAX_NAME = const(64)  # longest file path inside a bundle
_COPY_CHUNK = const(1024)  # bytes read/hashed/written per step while unpacking
FOLDER_PREFIX = "app"         # application folders: <apps root>/app<N>
# Bytes of flash kept free beyond the unpacked files (LittleFS metadata, state files, logs).
SPARE_BYTES = 16384
_FS_BLOCK = const(4096)  # LittleFS block on the ESP32: every file takes whole blocks


class BundleError(Exception):
    """The bundle is malformed or does not match its manifest; or no room to unpack it."""


class NoSpace(BundleError):
    pass


def hexdigest(h):
    return "".join("%02x" % b for b in h.digest())


def parse_head(head):
    """(manifest dict, offset of the first file body) from the first bytes of a bundle, or None
    when `head` is too short to tell. Raises BundleError for anything not a bundle."""
    if len(head) < len(MAGIC):
        return None
    if head[:len(MAGIC)] != MAGIC:
        raise BundleError("not an application bundle (magic %r)" % bytes(head[:len(MAGIC)]))
    i = head.find(b"\n", len(MAGIC))
    if i < 0:
        if len(head) > len(MAGIC) + 8:
            raise BundleError("bundle: manifest length line missing")
        return None
    try:
        n = int(head[len(MAGIC):i])
    except ValueError:
        raise BundleError("bundle: bad manifest length")
    if not 0 < n <= _MAX_MANIFEST:
        raise BundleError("bundle: manifest of %d bytes (limit %d)" % (n, _MAX_MANIFEST))
    if len(head) < i + 1 + n:
        return None
    try:
        m = json.loads(bytes(head[i + 1:i + 1 + n]).decode())
    except (ValueError, UnicodeError):
        raise BundleError("bundle: manifest is not JSON")
    check_manifest(m)
    return m, i + 1 + n


def check_manifest(m):
    if not isinstance(m, dict) or not isinstance(m.get("version"), str) or not isinstance(m.get("files"), list):
        raise BundleError("bundle: manifest needs a version string and a files list")
    if not 0 < len(m["files"]) <= _MAX_FILES:
        raise BundleError("bundle: %d files (1..%d)" % (len(m["files"]), _MAX_FILES))
    for e in m["files"]:
        if not (isinstance(e, list) and len(e) == 3 and isinstance(e[0], str) and isinstance(e[1], int)
                and isinstance(e[2], str) and len(e[2]) == 64 and e[1] >= 0):
            raise BundleError("bundle: bad manifest entry %r" % (e,))
        name = e[0]
        if (not name or len(name) > _MAX_NAME or name.startswith("/") or ".." in name.split("/")
                or name in ("appboot.py", "appboot.mpy")):
            raise BundleError("bundle: file name %r not allowed" % name)


def total_size(m, body_offset):
    n = body_offset
    for e in m["files"]:
        n += e[1]
    return n


def flash_needed(m):
    """Bytes of filesystem the unpacked files take: whole blocks each, plus the spare."""
    n = SPARE_BYTES
    for e in m["files"]:
        n += (e[1] + _FS_BLOCK - 1) // _FS_BLOCK * _FS_BLOCK + _FS_BLOCK // 8
    return n


def _read_head(f):
    head = b""
    while True:
        got = parse_head(head)
        if got is not None:
            return got
        more = f.read(256)
        if not more:
            raise BundleError("bundle: truncated before the end of the manifest")
        head += more


def verify(path):
    """Check a staged bundle file against its manifest (sizes, SHA-256). Returns the manifest."""
    with open(path, "rb") as f:
        m, off = _read_head(f)
        f.seek(off)
        buf = bytearray(_COPY_CHUNK)
        for name, size, sha in m["files"]:
            h = hashlib.sha256()
            left = size
            while left:
                n = f.readinto(memoryview(buf)[:min(_COPY_CHUNK, left)])
                if not n:
                    raise BundleError("bundle: truncated in %s" % name)
                h.update(memoryview(buf)[:n])
                left -= n
            if hexdigest(h) != sha:
                raise BundleError("bundle: SHA-256 of %s does not match the manifest" % name)
        if f.read(1):
            raise BundleError("bundle: bytes after the last file")
    return m


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def rmtree(path):
    if not _is_dir(path):
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for name in os.listdir(path):
        rmtree(path + "/" + name)
    try:
        os.rmdir(path)
    except OSError:
        pass


def clean(root):
    """Remove folders of the apps root that the marker does not name (a cut unpack, an old
    version): they are never run, and they hold flash. Returns the marker."""
    m = appboot.read(root) or {}
    keep = (m.get("run"), m.get("prev"))
    try:
        names = os.listdir(root)
    except OSError:
        return m
    for name in names:
        if name.startswith(FOLDER_PREFIX) and name not in keep:
            rmtree(root + "/" + name)
    return m


def next_folder(root):
    """The name the next install will unpack into (recorded before it starts)."""
    m = appboot.read(root) or {}
    return _new_folder(root, m)


def _new_folder(root, m):
    n = 0
    for name in os.listdir(root):
        if name.startswith(FOLDER_PREFIX) and name[len(FOLDER_PREFIX):].isdigit():
            n = max(n, int(name[len(FOLDER_PREFIX):]))
    for key in ("run", "prev", "failed"):
        v = m.get(key) or ""
        if v.startswith(FOLDER_PREFIX) and v[len(FOLDER_PREFIX):].isdigit():
            n = max(n, int(v[len(FOLDER_PREFIX):]))
    return FOLDER_PREFIX + str(n + 1)


def install(path, root, folder=None, free=None):
    """Unpack the staged bundle at `path` into a new folder of `root` (`folder`, or the
    next free name), verify what landed on flash, then switch the marker to it (trial run;
    the running folder becomes `prev`). `free`: bytes free on the filesystem (None: not
    known). Returns (folder, version)."""
    store.makedirs(root)
    m_run = clean(root)
    with open(path, "rb") as f:
        m, off = _read_head(f)
        need = flash_needed(m)
        if free is not None and free < need:
            raise NoSpace("no space left to unpack: need %d bytes, %d free" % (need, free))
        folder = folder or _new_folder(root, m_run)
        base = root + "/" + folder
        store.makedirs(base)
        f.seek(off)
        buf = bytearray(_COPY_CHUNK)
        for name, size, sha in m["files"]:
            i = name.rfind("/")
            if i > 0:
                store.makedirs(base + "/" + name[:i])
            h = hashlib.sha256()
            with open(base + "/" + name, "wb") as out:
                left = size
                while left:
                    n = f.readinto(memoryview(buf)[:min(_COPY_CHUNK, left)])
                    if not n:
                        raise BundleError("bundle: truncated in %s" % name)
                    mv = memoryview(buf)[:n]
                    h.update(mv)
                    out.write(mv)
                    left -= n
            if hexdigest(h) != sha:
                raise BundleError("bundle: SHA-256 of %s does not match the manifest" % name)
    # Read back what is on flash: a write the filesystem accepted but mangled must not run.
    for name, size, sha in m["files"]:
        h = hashlib.sha256()
        with open(base + "/" + name, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(memoryview(buf)[:n])
        if hexdigest(h) != sha:
            raise BundleError("bundle: %s reads back wrong from flash" % name)
    appboot.write(root, {"run": folder, "prev": m_run.get("run") or "", "trial": 1, "boots": 0,
                         "version": m["version"]})
    return folder, m["version"]
