# ASN.1 DER: reading a TLV at an offset (no copies: offsets into one buffer) and
# building TLVs from bytes. Only the tags X.509 and PKCS#10 need; no I/O here.
from compat import bit_length, const

INTEGER = const(0x02)
BIT_STRING = const(0x03)
OCTET_STRING = const(0x04)
NULL = const(0x05)
OID = const(0x06)
UTF8_STRING = const(0x0C)
PRINTABLE_STRING = const(0x13)
IA5_STRING = const(0x16)
UTC_TIME = const(0x17)
GENERALIZED_TIME = const(0x18)
SEQUENCE = const(0x30)
SET = const(0x31)
BOOLEAN = const(0x01)
MAX_LENGTH_BYTES = const(3)  # a length field of at most 3 bytes (16 MB): anything longer is refused

# Object identifiers as their DER content bytes (what follows tag 06 and the length).
OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"          # 1.2.840.10045.2.1
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"                # 1.2.840.10045.3.1.7 prime256v1
OID_ECDSA_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"        # 1.2.840.10045.4.3.2
OID_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"             # 1.2.840.113549.1.1.1
OID_RSA_SHA256 = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"      # 1.2.840.113549.1.1.11
OID_RSA_PSS = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"         # 1.2.840.113549.1.1.10
OID_SHA256 = b"\x60\x86\x48\x01\x65\x03\x04\x02\x01"          # 2.16.840.1.101.3.4.2.1
OID_CN = b"\x55\x04\x03"                                      # 2.5.4.3 commonName
OID_C = b"\x55\x04\x06"                                       # 2.5.4.6 countryName
OID_O = b"\x55\x04\x0a"                                       # 2.5.4.10 organizationName
OID_OU = b"\x55\x04\x0b"                                      # 2.5.4.11
OID_BASIC_CONSTRAINTS = b"\x55\x1d\x13"                       # 2.5.29.19
OID_KEY_USAGE = b"\x55\x1d\x0f"                               # 2.5.29.15


class DerError(ValueError):
    """The bytes are not the DER this module reads (truncated, bad length, wrong tag)."""


def tlv(buf, pos, end=None, want=None):
    """(tag, content start, content end) of the TLV at buf[pos]; it must end by `end`.
    With `want`, a different tag is a DerError."""
    if end is None:
        end = len(buf)
    if pos + 2 > end:
        raise DerError("DER: truncated at %d" % pos)
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > MAX_LENGTH_BYTES or pos + k > end:
            raise DerError("DER: bad length at %d" % pos)
        n = 0
        for i in range(k):
            n = (n << 8) | buf[pos + i]
        pos += k
    if pos + n > end:
        raise DerError("DER: content runs past its container at %d" % pos)
    if want is not None and tag != want:
        raise DerError("DER: tag 0x%02x where 0x%02x was expected" % (tag, want))
    return tag, pos, pos + n


def items(buf, start, end):
    """[(tag, start, end, header start)] of the TLVs in buf[start:end]."""
    out = []
    while start < end:
        t, s, e = tlv(buf, start, end)
        out.append((t, s, e, start))
        start = e
    return out


def to_int(buf, s, e):
    """A non-negative INTEGER's value (a negative one is a DerError: none is allowed here)."""
    if e <= s or buf[s] & 0x80:
        raise DerError("DER: empty or negative INTEGER")
    return int.from_bytes(bytes(buf[s:e]), "big")


def bit_string(buf, s, e):
    """The bytes of a BIT STRING with no unused bits (keys and signatures)."""
    if e <= s or buf[s] != 0:
        raise DerError("DER: BIT STRING with unused bits")
    return bytes(buf[s + 1:e])


def length(n):
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes(4, "big")
    i = 0
    while b[i] == 0:
        i += 1
    return bytes((0x80 | (4 - i),)) + b[i:]


def enc(tag, content):
    return bytes((tag,)) + length(len(content)) + content


def seq(*parts):
    return enc(SEQUENCE, b"".join(parts))


def integer(n):
    b = n.to_bytes((bit_length(n) + 8) // 8, "big")  # one spare bit keeps it positive
    return enc(INTEGER, b)


def oid(content):
    return enc(OID, content)


def bits(b):
    return enc(BIT_STRING, b"\x00" + b)


def name(pairs):
    """An X.501 Name from (OID content, text) pairs, one RDN each, UTF8String values."""
    return seq(*[enc(SET, seq(oid(o), enc(UTF8_STRING, v.encode()))) for o, v in pairs])
