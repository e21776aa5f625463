# Serial console log with levels. Never pass secrets (AuthorizationKey, WiFi
# password) to it: callers log names of keys, not their values. As a safety net,
# values registered with secret() are replaced by "***" in every line written.
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

level = INFO
out = sys.stdout
_secrets = []


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
