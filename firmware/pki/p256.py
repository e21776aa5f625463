# NIST P-256 (secp256r1): key generation, ECDSA sign and verify over a SHA-256
# digest, points in Jacobian coordinates with a 4-bit fixed window (interleaved
# for u1*G + u2*Q). Pure arithmetic, no I/O; not constant-time (see README).
from compat import const
import os

from pki import der

P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296
GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5
_WINDOW = const(4)  # bits per window (must divide 256): 16-entry tables, 64 additions per scalar
_SCALAR_BYTES = const(32)


class EcError(ValueError):
    """A point not on the curve, a bad encoding, or an out-of-range scalar."""


def _double(pt):
    x, y, z = pt
    if z == 0 or y == 0:
        return (1, 1, 0)
    p = P
    delta = z * z % p
    gamma = y * y % p
    beta = x * gamma % p
    alpha = 3 * (x - delta) * (x + delta) % p
    x3 = (alpha * alpha - 8 * beta) % p
    z3 = ((y + z) * (y + z) - gamma - delta) % p
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p
    return (x3, y3, z3)


def _add(p1, p2):
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    p = P
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    if h == 0:
        if r == 0:
            return _double(p1)
        return (1, 1, 0)
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    z3 = z1 * z2 * h % p
    return (x3, y3, z3)


def _table(pt):
    t = [(1, 1, 0), pt]
    for i in range(2, 1 << _WINDOW):
        t.append(_double(t[i >> 1]) if i & 1 == 0 else _add(t[i - 1], pt))
    return t


def _affine(pt):
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, P - 2, P)
    zi2 = zi * zi % P
    return (x * zi2 % P, y * zi2 * zi % P)


def _mul2(k1, t1, k2, t2):
    """k1*T1[1] + k2*T2[1] (t2 may be None) by interleaved fixed windows."""
    acc = (1, 1, 0)
    mask = (1 << _WINDOW) - 1
    for shift in range(256 - _WINDOW, -1, -_WINDOW):
        for _ in range(_WINDOW):
            acc = _double(acc)
        a = (k1 >> shift) & mask
        if a:
            acc = _add(acc, t1[a])
        if t2 is not None:
            b = (k2 >> shift) & mask
            if b:
                acc = _add(acc, t2[b])
    return acc


def on_curve(x, y):
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x - 3 * x + B)) % P == 0


def mul_base(k):
    """k*G as affine (x, y)."""
    return _affine(_mul2(k % N, _table((GX, GY, 1)), 0, None))


def decode_point(b):
    """(x, y) from SEC1 uncompressed (04 X Y) or compressed (02/03 X) bytes, checked on the curve."""
    if len(b) == 65 and b[0] == 4:
        x = int.from_bytes(b[1:33], "big")
        y = int.from_bytes(b[33:], "big")
    elif len(b) == 33 and b[0] in (2, 3):
        x = int.from_bytes(b[1:], "big")
        if x >= P:
            raise EcError("P-256: x out of range")
        y = pow((x * x * x - 3 * x + B) % P, (P + 1) // 4, P)  # P = 3 mod 4
        if (y & 1) != (b[0] & 1):
            y = P - y
    else:
        raise EcError("P-256: unsupported point encoding")
    if not on_curve(x, y):
        raise EcError("P-256: point not on the curve")
    return (x, y)


def encode_point(pt):
    return b"\x04" + pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")


def _random_scalar():
    while True:
        k = int.from_bytes(os.urandom(_SCALAR_BYTES), "big")
        if 0 < k < N:
            return k


def generate():
    """A new key pair (d, (x, y)) from os.urandom."""
    d = _random_scalar()
    return d, mul_base(d)


def _digest_int(digest):
    return int.from_bytes(digest[:_SCALAR_BYTES], "big")


def sign(d, digest):
    """(r, s) of an ECDSA signature of the 32-byte digest with private scalar d."""
    e = _digest_int(digest)
    while True:
        k = _random_scalar()
        r = mul_base(k)[0] % N
        if r == 0:
            continue
        s = pow(k, N - 2, N) * (e + r * d) % N
        if s:
            return r, s


def verify(q, digest, r, s):
    """Whether (r, s) is an ECDSA signature of digest under the affine public point q."""
    if not (0 < r < N and 0 < s < N):
        return False
    w = pow(s, N - 2, N)
    e = _digest_int(digest)
    pt = _affine(_mul2(e * w % N, _table((GX, GY, 1)), r * w % N, _table((q[0], q[1], 1))))
    return pt is not None and pt[0] % N == r


def sig_to_der(r, s):
    return der.seq(der.integer(r), der.integer(s))


def sig_from_der(b):
    _, s0, e0 = der.tlv(b, 0, want=der.SEQUENCE)
    if e0 != len(b):
        raise EcError("ECDSA: trailing bytes after the signature")
    it = der.items(b, s0, e0)
    if len(it) != 2 or it[0][0] != der.INTEGER or it[1][0] != der.INTEGER:
        raise EcError("ECDSA: signature is not SEQUENCE { r, s }")
    return der.to_int(b, it[0][1], it[0][2]), der.to_int(b, it[1][1], it[1][2])


def private_key_der(d, q):
    """SEC1 ECPrivateKey (RFC 5915) with the curve and the public key: what TLS stacks load."""
    return der.seq(der.integer(1), der.enc(der.OCTET_STRING, d.to_bytes(32, "big")),
                   der.enc(0xA0, der.oid(der.OID_P256)), der.enc(0xA1, der.bits(encode_point(q))))


def private_key_from_der(b):
    """(d, q) from a SEC1 ECPrivateKey on P-256 (the public point recomputed if absent)."""
    _, s0, e0 = der.tlv(b, 0, want=der.SEQUENCE)
    it = der.items(b, s0, e0)
    if len(it) < 2 or it[1][0] != der.OCTET_STRING:
        raise EcError("EC key: not an ECPrivateKey")
    d = int.from_bytes(b[it[1][1]:it[1][2]], "big")
    q = None
    for t, s, e, _h in it[2:]:
        if t == 0xA0:
            _, os_, oe = der.tlv(b, s, e, want=der.OID)
            if b[os_:oe] != der.OID_P256:
                raise EcError("EC key: not on P-256")
        elif t == 0xA1:
            _, bs, be = der.tlv(b, s, e, want=der.BIT_STRING)
            q = decode_point(der.bit_string(b, bs, be))
    if not 0 < d < N:
        raise EcError("EC key: private scalar out of range")
    if q is None:
        q = mul_base(d)
    return d, q
