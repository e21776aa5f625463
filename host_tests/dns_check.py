# Test helper (CPython): decodes the A records of a DNS reply with the standard library
# only, independent of firmware/net/dns.py, so the tests do not check it with itself.
import socket
import struct


def _name(buf, i):
    labels = []
    jumped = None
    while True:
        n = buf[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0 == 0xC0:
            if jumped is None:
                jumped = i + 2
            i = struct.unpack(">H", buf[i:i + 2])[0] & 0x3FFF
            continue
        labels.append(buf[i + 1:i + 1 + n].decode())
        i += 1 + n
    return ".".join(labels), (jumped if jumped is not None else i)


def a_records(buf):
    qd, an = struct.unpack(">HH", buf[4:8])
    i = 12
    for _ in range(qd):
        _, i = _name(buf, i)
        i += 4
    out = []
    for _ in range(an):
        name, i = _name(buf, i)
        rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", buf[i:i + 10])
        i += 10
        if rtype == 1 and rclass == 1 and rdlen == 4:
            out.append((name, socket.inet_ntoa(buf[i:i + 4])))
        i += rdlen
    return out
