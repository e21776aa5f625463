# compat's rarely used helpers (the runtime differences only the boot, the status page or a
# certificate needs): compat.__getattr__ imports this for the lookup and unloads it, so
# compat.file_exists() and `from compat import bit_length` find them here. Feature detection
# only, as in compat.py.
import os


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
