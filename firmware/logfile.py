# The log's rare paths, imported for the call and unloaded (log.__getattr__: log.set_level() is
# set_level() here): setting the level, registering secrets, setting the flash log up, rotating
# and listing its files, formatting a traceback. The line path and the state (log.level,
# log._secrets, log._file) stay in log.py; nothing here is needed every period.
from compat import const
import os
import log
from log import NAMES

_DEBUG = const(3)  # log.NAMES[3]
_LOG_FILES = const(4)  # files kept: the log never holds more than 4 * log._LOG_FILE_BYTES

# Most secrets kept: the AuthorizationKey, its Basic auth header form, the WiFi password, spares.
_MAX_SECRETS = const(8)
# Texts as const(): a literal of 10 characters or less would be an interned name.
_LOG_NAME = const("log.")  # the log files' name inside the log folder: log.0 (written), log.1 ...
_TRACE_LINE = const("  %s")  # a traceback line, indented under its message


def set_level(name):
    """The level by name (one of log.NAMES); ValueError for any other."""
    if name not in NAMES:
        raise ValueError("log level must be one of %s, not %r" % (", ".join(NAMES), name))
    log.level = NAMES.index(name)


def debug(msg, *args):
    """log.debug(): a line at debug level (3), written only when log.level is debug. Here, not
    resident: its one caller (net.httpd, a dropped client) is rare, so loading this is cheap."""
    log._emit(_DEBUG, msg, args)


def enabled(n):
    """True when a message at level `n` (0 error .. 3 debug) would be written (skip building costly messages)."""
    return n <= log.level


def secret(value):
    """Register a value that must never appear in the output (str or bytes). If that cannot
    be done (a full table: ValueError; out of heap) it raises: the caller must not go on
    to use the value."""
    if isinstance(value, bytes):
        value = value.decode()
    known = log._secrets
    if not value or value in known:
        return
    if len(known) >= _MAX_SECRETS:
        # Dropping one would let it leak: refuse loudly instead.
        raise ValueError("log: more than %d secrets registered" % _MAX_SECRETS)
    known.append(value)
    # Longest first, so a secret containing another is replaced whole.
    known.sort(key=len, reverse=True)


def forget_secrets():
    del log._secrets[:]


def to_file(path, stamp):
    """Copy every line written from now on to the rolling log in the folder `path` (made if
    missing), each prefixed with stamp() (a UTC timestamp such as 2026-12-01T22:00:00Z) and a space."""
    try:
        os.mkdir(path)
    except OSError:
        pass
    base = path + "/" + _LOG_NAME
    try:
        size = os.stat(base + "0")[6]
    except OSError:
        size = -1  # no log.0 yet
    log._file = {"base": base, "stamp": stamp, "buf": "", "size": size}


def file_off():
    log.flush()
    log._file = None


def files():
    """Paths of the rolling log, oldest first (those that exist)."""
    f = log._file
    if f is None:
        return []
    log.flush()  # (a flash error meanwhile turns log._file off: the files are listed anyway)
    out = []
    for i in range(_LOG_FILES - 1, -1, -1):
        p = f["base"] + str(i)
        try:
            os.stat(p)
            out.append(p)
        except OSError:
            pass
    return out


def rotate(path):
    """log.0 is full (`path`: the folder and file name prefix): drop the oldest file, shift
    the others up (log.0 -> log.1 ...)."""
    try:
        os.remove(path + str(_LOG_FILES - 1))
    except OSError:
        pass
    for i in range(_LOG_FILES - 2, -1, -1):
        try:
            os.rename(path + str(i), path + str(i + 1))
        except OSError:
            pass


def traceback(exc):
    """The traceback of exc, each line logged at error level (redacted like every line)."""
    import io
    import compat
    buf = io.StringIO()
    compat.print_exception(exc, buf)
    for line in buf.getvalue().rstrip().split("\n"):
        log.error(_TRACE_LINE, line)
