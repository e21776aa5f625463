# The bench's `machine` for the esp32-devkitc image (tools/bench_memory.py): only a wire. Every
# peripheral object and the device models on its buses (MFRC522, SDM120, the EV's pilot) live in
# a CPython process (tools/bench_esp32_host.py, host_tests/wire_host.py) at the other end of a
# socket, this process's stdin: the host fakes of host_tests/fakes run there unchanged, out of
# the firmware's heap (on a device `machine` and `network` are C in flash, the devices hardware).
# A Hardware here is a handle on one object there (a Pin, a UART, their classes, the WLAN, a
# bound method); each attribute read and each call is one request line,
# repr((id of a new handle, target, name, args, cfg)), and one answer. network.py and ntptime.py
# forward to the same wire. This runs in the firmware's heap: its names are the firmware's own
# (each new one is interned), a handle is 32 B.
import builtins

from micropython import const

sock = open(0, "rb")  # stdin: a socket; requests are written and answers read on it
# Answer parts: a kind byte, a 5-digit length, the payload (host_tests/wire_host.py writes them).
_INT = const(73)       # I: an int (decimal)
_STR = const(83)       # S: a str (UTF-8)
_NONE = const(78)      # N
_TUPLE = const(84)     # T: the decimal count, then that many parts
_REMOTE = const(82)    # R: an object that stays there: the handle made for the request
_ERROR = const(69)     # E: "ExceptionName:argument": raised here
_REPORT = const(81)    # Q: the bench's heap sample, then the answer proper (payload: its flags)
# B (bytes) is anything else.


class Hardware:
    """An object of the other end, known there by this handle's id(). Its attribute reads are
    requests (a method's answer is a handle on the bound method, a constant's the value), and so
    are its calls. No attribute of its own."""

    def __repr__(self):
        return "%s[%d]" % ("obj", id(self))  # the other end's table of objects, by id()

    def __getattr__(self, name):
        return request(self, name)

    def __call__(self, *args, **cfg):
        return request(self, None, args, cfg)


def request(target, name, args=None, cfg=None):
    """target.name (args None) or target(*args, **cfg) on the other end; target: a Hardware or a
    module's name. A bytearray argument comes back as the other end left it (readinto)."""
    slot = Hardware()  # the answer if it is an object that stays there
    sock.write(repr((id(slot), target, name, args, cfg)) + "\n")
    for a in args or ():
        if type(a) is bytearray:
            a[:] = answer(slot)
    return answer(slot)


def answer(slot):
    head = sock.read(6)
    kind = head[0]
    v = sock.read(int(head[1:]))
    if kind == _INT:
        return int(v)
    if kind == _STR:
        return v.decode()
    if kind == _NONE:
        return None
    if kind == _TUPLE:
        return tuple([answer(slot) for _ in range(int(v))])
    if kind == _REMOTE:
        return slot
    if kind == _ERROR:
        name, _, arg = v.decode().partition(":")
        raise getattr(builtins, name, OSError)(int(arg) if arg.isdigit() else arg)
    if kind == _REPORT:  # the retained heap, on the other end's clock (a device never gets one)
        import gc
        import micropython
        import sys
        gc.collect()
        if v:
            print("[heap] modules=" + ",".join(sorted(sys.modules)))
            print("[heap] alloc=%d free=%d " % (gc.mem_alloc(), gc.mem_free()) + v.decode())
            micropython.qstr_info()
        else:  # every interned name, once
            print("[heap] names:")
            micropython.qstr_info(1)
        return answer(slot)
    return v


def __getattr__(name):
    return request(__name__, name)


class Timer:
    """A callback cannot cross the wire: nothing fires it (as the in-process fake's Timer)."""
    PERIODIC = 1

    def __init__(self, *args, **cfg):
        pass

    deinit = __init__
