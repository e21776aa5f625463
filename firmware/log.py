# Serial console log with levels. Never pass secrets (AuthorizationKey, WiFi
# password) to it: callers log names of keys, not their values.
import sys

ERROR = 0
WARNING = 1
INFO = 2
DEBUG = 3
NAMES = ("error", "warning", "info", "debug")
LEVEL_BY_NAME = {"error": ERROR, "warning": WARNING, "info": INFO, "debug": DEBUG}

level = INFO
out = sys.stdout


def set_level(name):
    global level
    level = LEVEL_BY_NAME[name]


def _emit(lv, msg, args):
    if lv <= level:
        if args:
            msg = msg % args
        out.write("[%s] %s\n" % (NAMES[lv], msg))


def error(msg, *args):
    _emit(ERROR, msg, args)


def warning(msg, *args):
    _emit(WARNING, msg, args)


def info(msg, *args):
    _emit(INFO, msg, args)


def debug(msg, *args):
    _emit(DEBUG, msg, args)
