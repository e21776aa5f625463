# Captive-portal DNS responder for the setup access point: every A query, whatever the
# name, is answered with the AP's own address so a phone opens the setup page. Other
# query types get an empty answer; malformed packets are dropped. No other names served.
from compat import const
import asyncio
import socket

PORT = 53
_TTL_S = const(60)  # answer lifetime; short, so the phone asks again once setup is done
_MAX_PACKET = const(512)  # classic DNS over UDP limit (RFC 1035 4.2.1)
POLL_MS = 50              # how often the non-blocking socket is polled
_TYPE_A = const(1)
_CLASS_IN = const(1)


def _question_end(pkt):
    """Index just past the first question's name, or -1 if the name is malformed."""
    i = 12
    n = len(pkt)
    labels = 0
    while i < n:
        ln = pkt[i]
        if ln == 0:
            return i + 1
        if ln & 0xC0 or labels >= 127:  # no compression pointers in a query name
            return -1
        i += 1 + ln
        labels += 1
    return -1


def answer(pkt, ip):
    """The reply to one query packet (bytes), or None to ignore it. `ip` is "a.b.c.d"."""
    if len(pkt) < 17 or len(pkt) > _MAX_PACKET:
        return None
    flags = pkt[2]
    if flags & 0x80 or (flags >> 3) & 0x0F != 0:  # a response, or not a standard query
        return None
    if pkt[4] != 0 or pkt[5] != 1:  # exactly one question
        return None
    end = _question_end(pkt)
    if end < 0 or end + 4 > len(pkt):
        return None
    qtype = (pkt[end] << 8) | pkt[end + 1]
    qclass = (pkt[end + 2] << 8) | pkt[end + 3]
    question = pkt[12:end + 4]
    give = qtype == _TYPE_A and qclass == _CLASS_IN
    # id, flags QR|AA|RD(copied)|RA, 1 question, 0/1 answer, 0 authority, 0 additional
    head = pkt[0:2] + bytes((0x84 | (flags & 0x01), 0x80, 0, 1, 0, 1 if give else 0, 0, 0, 0, 0))
    if not give:
        return head + question
    addr = bytes([int(x) for x in ip.split(".")])
    rr = b"\xc0\x0c" + bytes((0, _TYPE_A, 0, _CLASS_IN)) + _TTL_S.to_bytes(4, "big") + b"\x00\x04" + addr
    return head + question + rr


class Responder:
    """UDP port 53 on the AP address; run() serves until stop()."""

    def __init__(self, ip, port=PORT, bind="0.0.0.0"):
        self.ip = ip
        self.port = port
        self.bind = bind
        self.answered = 0
        self.ignored = 0
        self.sock = None
        self._stop = False

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo(self.bind, self.port)[0][-1])
        s.setblocking(False)
        self.sock = s
        return s

    def poll(self):
        """Answer every packet waiting now; returns how many were read."""
        n = 0
        while True:
            try:
                pkt, addr = self.sock.recvfrom(_MAX_PACKET + 1)
            except OSError:  # EAGAIN: nothing waiting
                return n
            n += 1
            r = answer(pkt, self.ip)
            if r is None:
                self.ignored += 1
                continue
            try:
                self.sock.sendto(r, addr)
                self.answered += 1
            except OSError:
                self.ignored += 1

    async def run(self):
        if self.sock is None:
            self.open()
        try:
            while not self._stop:
                self.poll()
                await asyncio.sleep(POLL_MS / 1000)
        finally:
            self.sock.close()
            self.sock = None

    def stop(self):
        self._stop = True
