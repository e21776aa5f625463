# RSA signature verification over a SHA-256 digest: PKCS#1 v1.5 (certificates)
# and PSS with MGF1-SHA-256 (signed firmware, RFC 8017 9.1.2). Verify only: the
# charger holds no RSA key. Pure arithmetic, no I/O.
from compat import const
import hashlib

from compat import bit_length
from pki import der

_HASH_BYTES = const(32)
_MIN_MODULUS_BITS = const(2048)  # the whitepaper's floor for RSA keys
# DigestInfo prefix of SHA-256 (RFC 8017 9.2 note 1).
SHA256_PREFIX = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


class RsaError(ValueError):
    """An RSA public key this module refuses (too short, malformed)."""


def public_key_from_der(b, s=0, e=None):
    """(n, e) from an RSAPublicKey SEQUENCE { modulus, publicExponent } at b[s:e]."""
    _, s0, e0 = der.tlv(b, s, e, want=der.SEQUENCE)
    it = der.items(b, s0, e0)
    if len(it) != 2 or it[0][0] != der.INTEGER or it[1][0] != der.INTEGER:
        raise RsaError("RSA: public key is not SEQUENCE { n, e }")
    n = der.to_int(b, it[0][1], it[0][2])
    if bit_length(n) < _MIN_MODULUS_BITS:
        raise RsaError("RSA: modulus of %d bits, under %d" % (bit_length(n), _MIN_MODULUS_BITS))
    return n, der.to_int(b, it[1][1], it[1][2])


def _open(key, sig):
    n, e = key
    k = (bit_length(n) + 7) // 8
    if len(sig) != k:
        return None, k
    m = int.from_bytes(sig, "big")
    if m >= n:
        return None, k
    return pow(m, e, n), k


def verify_pkcs1(key, digest, sig):
    m, k = _open(key, sig)
    if m is None:
        return False
    t = SHA256_PREFIX + digest
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return m.to_bytes(k, "big") == em


def _mgf1(seed, n):
    out = b""
    c = 0
    while len(out) < n:
        out += hashlib.sha256(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:n]


def verify_pss(key, digest, sig, salt_len=None):
    """PSS with MGF1-SHA-256; salt_len None accepts any salt length (recovered from the block)."""
    m, _k = _open(key, sig)
    if m is None:
        return False
    em_bits = bit_length(key[0]) - 1
    em_len = (em_bits + 7) // 8
    if bit_length(m) > em_bits or em_len < _HASH_BYTES + 2:
        return False
    em = m.to_bytes(em_len, "big")
    if em[-1] != 0xBC:
        return False
    db_len = em_len - _HASH_BYTES - 1
    h = em[db_len:-1]
    mask = _mgf1(h, db_len)
    db = bytearray(db_len)
    for i in range(db_len):
        db[i] = em[i] ^ mask[i]
    db[0] &= 0xFF >> (8 * em_len - em_bits)
    i = 0
    while i < db_len and db[i] == 0:
        i += 1
    if i == db_len or db[i] != 1:
        return False
    salt = bytes(db[i + 1:])
    if salt_len is not None and len(salt) != salt_len:
        return False
    return hashlib.sha256(b"\x00" * 8 + digest + salt).digest() == h
