# Serial console log with levels, and its copy on flash: a bounded rolling log (the
# GetDiagnostics file) of timestamped lines, rotated by size. Never pass secrets
# (AuthorizationKey, WiFi password) to it: callers log names of keys, not their values. As a
# safety net, values registered with secret() are replaced by "***" in every line written.
# Resident: the line path (levels, redaction, the buffered append to flash). Setting the level,
# registering secrets, setting the flash log up, its rotation and listing, and traceback
# formatting live in logfile.py, imported for the call and unloaded: log.set_level, log.secret,
# log.forget_secrets, log.to_file, log.file_off, log.files, log.enabled and log.debug (only a
# debug run writes its lines; one call site, the status page's) are logfile's functions, found
# by __getattr__ below (no resident wrapper for each).
from compat import const
import sys

# Limits no other module names are underscore const()s: no global, no interned name.
_ERROR = const(0)  # levels: indexes into NAMES
_WARNING = const(1)
_INFO = const(2)  # debug, 3: logfile.debug
NAMES = ("error", "warning", "info", "debug")  # level names, by level
_REDACTED = const("***")  # what a registered secret looks like in the output
# Longest line written; a longer message is cut (a frame dump must not flood the UART).
_MAX_LINE = const(512)
# The line's texts as const(): a literal of 10 characters or less would be an interned name.
_LINE = const("[%s] %s")  # [level] message
_CUT = const("...")  # ends a line cut at _MAX_LINE
_BAD_ARGS = const("%s %r")  # a message whose arguments do not fit its format: both, as they are
_NO_STAMP = const("- ")  # a flash log line written before the clock was set

# The rolling log on flash (logfile.to_file): <dir>/log.0 is written, log.1 .. older (logfile._LOG_FILES).
_LOG_FILE_BYTES = const(16384)  # a log file rotates once it reaches this size
_LOG_FLUSH_BYTES = const(512)  # lines buffered in RAM before one append to flash (errors flush at once)

level = _INFO
out = sys.stdout
_secrets = []
# While the flash log is on: {"base" (<dir>/log., the files' path without the number), "stamp",
# "buf" (the lines not yet on flash), "size" (of log.0)}.
_file = None


def __getattr__(name):
    """log.<name> that is not here: logfile.<name> (the rare API above), imported for the lookup
    and unloaded; the function returned keeps logfile's code only until the caller has called
    it. Whatever the import raises (ImportError, MemoryError) goes to the caller: log.secret()
    that cannot register a value raises, so the caller does not go on to use it."""
    if name[0] == "_":  # private, or an import's probe (__path__ ...): not logfile's API
        raise AttributeError(name)
    try:
        import logfile
        return getattr(logfile, name)
    finally:
        sys.modules.pop("logfile", None)


def redact(text):
    for s in _secrets:
        if s in text:
            text = text.replace(s, _REDACTED)
    return text


def _emit(n, msg, args):
    if n <= level:
        if args:
            try:
                msg = msg % args
            except (TypeError, ValueError):
                msg = _BAD_ARGS % (msg, args)
        line = redact(_LINE % (NAMES[n], msg))
        if len(line) > _MAX_LINE:
            line = line[:_MAX_LINE] + _CUT
        out.write(line + "\n")
        f = _file
        if f is not None:
            try:
                line = f["stamp"]() + " " + line + "\n"
            except Exception:  # no clock yet: the line goes without a time
                line = _NO_STAMP + line + "\n"
            f["buf"] += line
            if len(f["buf"]) >= _LOG_FLUSH_BYTES or n <= _WARNING:
                flush()


def flush():
    """Append the buffered lines to log.0, rotating first when it is full. A flash error
    switches the flash log off (the console goes on)."""
    global _file
    f = _file
    if f is None or not f["buf"]:
        return
    data = f["buf"]
    f["buf"] = ""
    try:
        base = f["base"]
        if f["size"] > 0 and f["size"] + len(data) > _LOG_FILE_BYTES:
            try:
                __getattr__("rotate")(base)
            except (ImportError, MemoryError) as e:   # the size bound holds: console only
                out.write("[error] log: not rotated, %d bytes not kept: %r\n" % (len(data), e))
                return
            f["size"] = 0
        with open(base + "0", "a") as fh:
            fh.write(data)
        f["size"] += len(data)
    except OSError as e:
        _file = None
        out.write("[error] log: flash log off: %s\n" % e)


def error(msg, *args):
    _emit(_ERROR, msg, args)


def warning(msg, *args):
    _emit(_WARNING, msg, args)


def info(msg, *args):
    _emit(_INFO, msg, args)


def exception(msg, exc):
    """Log `msg` and the traceback of `exc` at error level, redacted like every line."""
    _emit(_ERROR, msg, ())
    try:
        __getattr__("traceback")(exc)
    except Exception as e:  # out of heap (often the very error being logged), no logfile: the caller must go on
        out.write("[error]   (traceback not shown: %s)\n" % ("out of memory" if type(e) is MemoryError else repr(e)))
