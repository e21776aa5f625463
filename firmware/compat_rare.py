# compat's rarely used helpers (the runtime differences only the boot, the status page or a
# certificate needs): compat.__getattr__ imports this for the lookup and unloads it, so
# compat.file_exists() and `from compat import bit_length` find them here. Also the CPython
# stand-ins compat imports only where the runtime lacks the feature (never on MicroPython).
# Feature detection only, as in compat.py.
import os
import time


def file_exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def mem_free():
    """Free heap in bytes, or None where the runtime cannot tell."""
    try:
        import gc
        return gc.mem_free()
    except AttributeError:
        return None


if hasattr(0, "bit_length"):
    def bit_length(n):
        return n.bit_length()
else:  # MicroPython ints have no bit_length: count the hex digits
    def bit_length(n):
        if n < 0:
            n = -n
        if n == 0:
            return 0
        h = "%x" % n
        return (len(h) - 1) * 4 + (0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4)[int(h[0], 16)]  # bits of the top digit


# ---- CPython stand-ins (compat imports each only where the runtime has no such feature)
def const(x):
    return x


def ticks_ms():  # monotonic milliseconds, no wrap-around
    return int(time.monotonic() * 1000)


def ticks_diff(a, b):
    return a - b


def ticks_add(a, b):
    return a + b


def sleep_ms(ms):
    time.sleep(ms / 1000)


def print_exception(exc, file=None):
    import traceback
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)


def fsync(f):  # where os has fsync: the data reaches the disk before a rename
    f.flush()
    os.fsync(f.fileno())
