"""The CPython end of host_tests/fakes/wire (the bench's thin `machine`, `network` and
`ntptime` in a micropython process): the host fakes of host_tests/fakes (machine, network,
ntptime) and the device models on their buses run here, unchanged, and answer every request
the firmware's drivers make over the wire (fakes/wire/machine.py describes the requests and
the answer parts). Test-only code, out of the firmware's heap.

    host = WireHost(sock)                 # sock: the other end of the micropython's stdin
    host.serve(tick=None, period_s=1.0)   # until the micropython process closes the wire;
                                          # tick(t) every period_s from the first request
"""
import builtins
import os
import select
import sys
import time
import traceback

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)
import machine  # noqa: E402  (the CPython fakes)
import network  # noqa: E402
import ntptime  # noqa: E402

MODULES = {"machine": machine, "network": network, "ntptime": ntptime}


def part(kind, payload=b""):
    return kind + b"%05d" % len(payload) + payload


class WireHost:
    """Serves one wire. objects: the handle id -> the object it names (what stays here)."""

    def __init__(self, sock):
        self.sock = sock
        self.objects = {}
        self.ns = {"obj": self.objects}  # a Hardware handle's repr: obj[its id()]
        self.requests = 0
        self.reports = []    # payloads of heap-report parts to put before the next answer
        self._buf = b""

    # ---------------------------------------------------------------- one request
    def encode(self, value, new):
        if value is None:
            return part(b"N")
        if isinstance(value, (bool, int)):
            return part(b"I", b"%d" % value)
        if isinstance(value, str):
            return part(b"S", value.encode())
        if isinstance(value, (bytes, bytearray)):
            return part(b"B", bytes(value))
        if isinstance(value, (tuple, list)):
            return part(b"T", b"%d" % len(value)) + b"".join(self.encode(v, None) for v in value)
        if new is None:
            raise TypeError("wire: %r cannot be a tuple item" % (value,))
        self.objects[new] = value  # an object, class or method: it stays here
        return part(b"R")

    def answer(self, line):
        """The answer to one request line (bytes)."""
        self.requests += 1
        try:
            new, target, name, args, kw = eval(line, self.ns)
            obj = MODULES[target] if isinstance(target, str) else target
            if args is None:
                value = getattr(obj, name)
            else:
                value = obj(*args, **(kw or {}))
            out = b"".join(part(b"B", bytes(a)) for a in args or () if isinstance(a, bytearray))
            out += self.encode(value, new)
        except Exception as e:  # raised on the other end as the nearest builtin exception
            cls = next(c for c in type(e).__mro__ if getattr(builtins, c.__name__, None) is c)
            arg = e.args[0] if len(e.args) == 1 and isinstance(e.args[0], (int, str)) else str(e)
            if not isinstance(e, (OSError, ValueError, TypeError, AttributeError)):
                traceback.print_exc()  # not a fake's ordinary refusal: show it
            out = part(b"E", ("%s:%s" % (cls.__name__, arg)).encode())
        while self.reports:
            out = part(b"Q", self.reports.pop().encode()) + out
        return out

    # ---------------------------------------------------------------- the loop
    def serve(self, tick=None, period_s=1.0):
        """Answer requests until the wire closes; tick(t) (t: whole periods since the first
        request) runs between two requests once a period and may add to self.reports."""
        t0 = None
        due = None  # when tick runs next
        t = 0
        while True:
            while b"\n" not in self._buf:
                timeout = None if due is None else max(0.0, due - time.time())
                if select.select([self.sock], [], [], timeout)[0]:
                    data = self.sock.recv(65536)
                    if not data:
                        return
                    self._buf += data
                if due is not None and time.time() >= due:
                    break
            if b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                if t0 is None and tick is not None:
                    t0 = time.time()
                    due = t0 + period_s
                self.sock.sendall(self.answer(line.decode()))
            if due is not None and time.time() >= due:
                t = int((time.time() - t0) / period_s)
                due = t0 + (t + 1) * period_s
                tick(t)
