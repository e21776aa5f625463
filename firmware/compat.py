# The only module that knows MicroPython from CPython. Everything else imports
# time, const, exception printing and file syncing from here. Feature detection
# only (hasattr / try-import), never platform names. How TLS contexts differ is
# net/netcompat.py: needed only to set up TLS, so it is loaded then, not kept here. What only
# the boot, a status page or a certificate needs (file_exists, mem_free, bit_length) is in
# compat_rare.py, found by __getattr__ below: compat.file_exists is compat_rare.file_exists.
import sys
import time

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
else:  # CPython: monotonic milliseconds, no wrap-around
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        time.sleep(ms / 1000)

try:
    from sys import print_exception
except ImportError:  # CPython
    import traceback

    def print_exception(exc, file=None):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)

import os

if hasattr(os, "fsync"):
    def fsync(f):
        f.flush()
        os.fsync(f.fileno())
else:  # MicroPython: close() commits a LittleFS file; flush is the most we can ask before that
    def fsync(f):
        f.flush()

if hasattr(os, "replace"):
    replace = os.replace
else:  # MicroPython's rename overwrites an existing target on LittleFS and POSIX
    replace = os.rename


# Seconds from 1970-01-01 to 2000-01-01: MicroPython on a device counts from 2000.
_UNIX_2000 = const(946684800)


def unix_time():
    """time.time() as Unix epoch seconds, also on ports whose epoch is 2000."""
    t = int(time.time())
    if time.gmtime(0)[0] == 2000:
        t += _UNIX_2000
    return t


def __getattr__(name):
    """compat.<name> that is not here: compat_rare's, imported for the lookup and unloaded (the
    function returned keeps its code while it is referenced, e.g. by `from compat import`)."""
    if name[0] == "_":  # private, or an import's probe (__path__ ...): not compat_rare's
        raise AttributeError(name)
    try:
        import compat_rare
        return getattr(compat_rare, name)
    finally:
        sys.modules.pop("compat_rare", None)
