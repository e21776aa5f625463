# Serial console log with levels, and its copy on flash: a bounded rolling log (the
# GetDiagnostics file) of timestamped lines, rotated by size. Never pass secrets
# (AuthorizationKey, WiFi password) to it: callers log names of keys, not their values. As a
# safety net, values registered with secret() are replaced by "***" in every line written.
import sys

ERROR = 0
WARNING = 1
INFO = 2
DEBUG = 3
NAMES = ("error", "warning", "info", "debug")
LEVEL_BY_NAME = {"error": ERROR, "warning": WARNING, "info": INFO, "debug": DEBUG}
REDACTED = "***"  # what a registered secret looks like in the output
# Longest line written; a longer message is cut (a frame dump must not flood the UART).
MAX_LINE = 512
# Most secrets kept: the AuthorizationKey, its Basic auth header form, the WiFi password, spares.
MAX_SECRETS = 8

# The rolling log on flash (to_file): <dir>/log.0 is written, log.1 .. log.<LOG_FILES-1> older.
LOG_FILE_BYTES = 16384   # a log file rotates once it reaches this size
LOG_FILES = 4            # files kept: the log never holds more than LOG_FILES * LOG_FILE_BYTES
LOG_FLUSH_BYTES = 512    # lines buffered in RAM before one append to flash (errors flush at once)
LOG_NAME = "log."        # file name prefix inside the log folder

level = INFO
out = sys.stdout
_secrets = []
_file = None             # {"dir", "stamp", "buf", "n", "size"} while the flash log is on


def set_level(name):
    global level
    if name not in LEVEL_BY_NAME:
        raise ValueError("log level must be one of %s, not %r" % (", ".join(NAMES), name))
    level = LEVEL_BY_NAME[name]


def enabled(lv):
    """True when a message at `lv` would be written (skip building costly messages)."""
    return lv <= level


def secret(value):
    """Register a value that must never appear in the output (str or bytes)."""
    if isinstance(value, bytes):
        value = value.decode()
    if not value or value in _secrets:
        return
    if len(_secrets) >= MAX_SECRETS:
        # Dropping one would let it leak: refuse loudly instead.
        raise ValueError("log: more than %d secrets registered" % MAX_SECRETS)
    _secrets.append(value)
    # Longest first, so a secret containing another is replaced whole.
    _secrets.sort(key=len, reverse=True)


def forget_secrets():
    del _secrets[:]


def redact(text):
    for s in _secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    return text


def _emit(lv, msg, args):
    if lv <= level:
        if args:
            try:
                msg = msg % args
            except (TypeError, ValueError):
                msg = "%s %r" % (msg, args)
        line = redact("[%s] %s" % (NAMES[lv], msg))
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE] + "..."
        out.write(line + "\n")
        if _file is not None:
            _to_file(lv, line)


def to_file(folder, stamp):
    """Copy every line written from now on to the rolling log in `folder`, each prefixed
    with stamp() (a UTC timestamp such as 2026-12-01T22:00:00Z) and a space."""
    global _file
    try:
        import os
        os.mkdir(folder)
    except OSError:
        pass
    _file = {"dir": folder, "stamp": stamp, "buf": [], "n": 0, "size": _size(folder + "/" + LOG_NAME + "0")}


def file_off():
    global _file
    flush()
    _file = None


def files():
    """Paths of the rolling log, oldest first (those that exist)."""
    if _file is None:
        return []
    flush()
    out = []
    for i in range(LOG_FILES - 1, -1, -1):
        p = "%s/%s%d" % (_file["dir"], LOG_NAME, i)
        if _size(p) >= 0:
            out.append(p)
    return out


def _size(path):
    try:
        import os
        return os.stat(path)[6]
    except OSError:
        return -1


def _to_file(lv, line):
    f = _file
    try:
        text = f["stamp"]() + " " + line + "\n"
    except Exception:  # no clock yet: the line goes without a time
        text = "-" + " " + line + "\n"
    f["buf"].append(text)
    f["n"] += len(text)
    if f["n"] >= LOG_FLUSH_BYTES or lv <= WARNING:
        flush()


def flush():
    """Append the buffered lines to log.0, rotating first when it is full. A flash error
    switches the flash log off (the console goes on)."""
    global _file
    f = _file
    if f is None or not f["buf"]:
        return
    data = "".join(f["buf"])
    f["buf"] = []
    f["n"] = 0
    try:
        import os
        base = f["dir"] + "/" + LOG_NAME
        if f["size"] > 0 and f["size"] + len(data) > LOG_FILE_BYTES:
            try:
                os.remove(base + str(LOG_FILES - 1))
            except OSError:
                pass
            for i in range(LOG_FILES - 2, -1, -1):
                try:
                    os.rename(base + str(i), base + str(i + 1))
                except OSError:
                    pass
            f["size"] = 0
        with open(base + "0", "a") as fh:
            fh.write(data)
        f["size"] += len(data)
    except OSError as e:
        _file = None
        out.write("[error] log: flash log off: %s\n" % e)


def error(msg, *args):
    _emit(ERROR, msg, args)


def warning(msg, *args):
    _emit(WARNING, msg, args)


def info(msg, *args):
    _emit(INFO, msg, args)


def debug(msg, *args):
    _emit(DEBUG, msg, args)


def exception(msg, exc):
    """Log `msg` and the traceback of `exc` at error level, redacted like every line."""
    _emit(ERROR, msg, ())
    try:
        import io
        import compat

        buf = io.StringIO()
        compat.print_exception(exc, buf)
        for line in buf.getvalue().rstrip().split("\n"):
            _emit(ERROR, "  %s", (line,))
    except MemoryError:  # out of heap (often the very error being logged): the caller must go on
        out.write("[error]   (traceback not shown: out of memory)\n")
