# X.509 v3 certificates read from DER: the fields chain checks and OCPP need
# (tbs, names, serial, validity, public key, signature, basicConstraints) and the
# OCPP certificateHashData. No I/O, no clock (times are epoch seconds for the caller).
from compat import const
import binascii
import hashlib

from pki import der
from ocpp16.timefmt import days_from_civil

EC = "EC"    # public key kinds
RSA = "RSA"
_MAX_CERT_BYTES = const(5500)  # InstallCertificate's certificate maxLength (PEM), so a DER is smaller
NAME_KEYS = {der.OID_CN: "CN", der.OID_O: "O", der.OID_OU: "OU", der.OID_C: "C"}
STRING_TAGS = (der.UTF8_STRING, der.PRINTABLE_STRING, der.IA5_STRING, 0x14, 0x1E)


class CertError(ValueError):
    """Not a certificate this module reads (bad DER, unsupported key or algorithm)."""


def _time(buf, t, s, e):
    txt = bytes(buf[s:e]).decode()
    if t == der.UTC_TIME and len(txt) == 13 and txt[-1] == "Z":
        y = int(txt[:2])
        y += 2000 if y < 50 else 1900  # RFC 5280 4.1.2.5.1
        txt = txt[2:]
    elif t == der.GENERALIZED_TIME and len(txt) == 15 and txt[-1] == "Z":
        y = int(txt[:4])
        txt = txt[4:]
    else:
        raise CertError("X.509: unsupported time %r" % txt)
    mo, d, h, mi, sec = [int(txt[i:i + 2]) for i in range(0, 10, 2)]
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec


def name_attrs(buf, s, e):
    """{"CN": ..., "O": ...} of a Name at buf[s:e] (content), known attribute types only."""
    out = {}
    for t, rs, re, _h in der.items(buf, s, e):
        for _t, as_, ae, _h2 in der.items(buf, rs, re):
            it = der.items(buf, as_, ae)
            if len(it) == 2 and it[0][0] == der.OID and it[1][0] in STRING_TAGS:
                key = NAME_KEYS.get(bytes(buf[it[0][1]:it[0][2]]))
                if key:
                    out[key] = bytes(buf[it[1][1]:it[1][2]]).decode()
    return out


def public_key(buf, s, e):
    """(kind, key, key bits) of a SubjectPublicKeyInfo at buf[s:e] (its content):
    EC key = (x, y) on P-256, RSA key = (n, e); key bits = the BIT STRING bytes."""
    from pki import p256, rsa
    it = der.items(buf, s, e)
    if len(it) != 2 or it[0][0] != der.SEQUENCE or it[1][0] != der.BIT_STRING:
        raise CertError("X.509: bad SubjectPublicKeyInfo")
    alg = der.items(buf, it[0][1], it[0][2])
    a = bytes(buf[alg[0][1]:alg[0][2]])
    bits = der.bit_string(buf, it[1][1], it[1][2])
    if a == der.OID_EC_PUBLIC_KEY:
        if len(alg) < 2 or bytes(buf[alg[1][1]:alg[1][2]]) != der.OID_P256:
            raise CertError("X.509: EC key on a curve other than P-256")
        return EC, p256.decode_point(bits), bits
    if a == der.OID_RSA:
        return RSA, rsa.public_key_from_der(bits), bits
    raise CertError("X.509: unsupported public key algorithm")


class Certificate:
    """One parsed certificate; `der` is the whole DER, `tbs` the signed part."""

    def __init__(self, data):
        if len(data) > _MAX_CERT_BYTES:
            raise CertError("X.509: %d bytes, over %d" % (len(data), _MAX_CERT_BYTES))
        b = bytes(data)
        self.der = b
        try:
            self._parse(b)
        except (der.DerError, IndexError, ValueError) as e:
            if isinstance(e, CertError):
                raise
            raise CertError("X.509: %s" % e)

    def _parse(self, b):
        _, s, e = der.tlv(b, 0, want=der.SEQUENCE)
        if e != len(b):
            raise CertError("X.509: trailing bytes after the certificate")
        top = der.items(b, s, e)
        if len(top) != 3 or top[0][0] != der.SEQUENCE or top[2][0] != der.BIT_STRING:
            raise CertError("X.509: not SEQUENCE { tbs, algorithm, signature }")
        self.tbs = b[top[0][3]:top[0][2]]
        alg = der.items(b, top[1][1], top[1][2])
        self.sig_alg = b[alg[0][1]:alg[0][2]]
        self.signature = der.bit_string(b, top[2][1], top[2][2])
        f = der.items(b, top[0][1], top[0][2])
        i = 0
        self.version = 1
        if f[0][0] == 0xA0:
            _, vs, ve = der.tlv(b, f[0][1], f[0][2], want=der.INTEGER)
            self.version = der.to_int(b, vs, ve) + 1
            i = 1
        t, ss, se, _h = f[i]
        if t != der.INTEGER:
            raise CertError("X.509: no serial number")
        self.serial = int.from_bytes(b[ss:se], "big")  # RFC 5280: positive, at most 20 bytes
        inner = der.items(b, f[i + 1][1], f[i + 1][2])
        if bytes(b[inner[0][1]:inner[0][2]]) != self.sig_alg:
            raise CertError("X.509: signature algorithm differs inside and outside tbs")
        self.issuer = b[f[i + 2][3]:f[i + 2][2]]     # whole Name TLV: compared and hashed as is
        v = der.items(b, f[i + 3][1], f[i + 3][2])
        self.not_before = _time(b, v[0][0], v[0][1], v[0][2])
        self.not_after = _time(b, v[1][0], v[1][1], v[1][2])
        self.subject = b[f[i + 4][3]:f[i + 4][2]]
        self.subject_attrs = name_attrs(b, f[i + 4][1], f[i + 4][2])
        self.issuer_attrs = name_attrs(b, f[i + 2][1], f[i + 2][2])
        self.key_kind, self.key, self.key_bits = public_key(b, f[i + 5][1], f[i + 5][2])
        self.ca = False
        self.path_len = None
        for t, s, e, _h in f[i + 6:]:
            if t == 0xA3:
                self._extensions(b, s, e)

    def _extensions(self, b, s, e):
        _, s, e = der.tlv(b, s, e, want=der.SEQUENCE)
        for _t, xs, xe, _h in der.items(b, s, e):
            x = der.items(b, xs, xe)
            if bytes(b[x[0][1]:x[0][2]]) != der.OID_BASIC_CONSTRAINTS:
                continue
            _, bs, be = der.tlv(b, x[-1][1], x[-1][2], want=der.SEQUENCE)
            for t, vs, ve, _h2 in der.items(b, bs, be):
                if t == der.BOOLEAN:
                    self.ca = ve > vs and b[vs] != 0
                elif t == der.INTEGER:
                    self.path_len = der.to_int(b, vs, ve)

    def self_issued(self):
        return self.issuer == self.subject

    def valid_at(self, epoch):
        return self.not_before <= epoch <= self.not_after


def _hex(b):
    return binascii.hexlify(b).decode()


def hash_data(cert, issuer=None):
    """OCPP CertificateHashDataType of `cert`: SHA-256 of its issuer Name (DER) and
    of its issuer's public key bits (its own for a self-issued root), serial in hex."""
    key_bits = (issuer or cert).key_bits
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": _hex(hashlib.sha256(cert.issuer).digest()),
        "issuerKeyHash": _hex(hashlib.sha256(key_bits).digest()),
        "serialNumber": "%x" % cert.serial,
    }


def from_pem_chain(text):
    """[Certificate] of every CERTIFICATE block in the PEM text, in order."""
    from pki import pem
    return [Certificate(d) for d in pem.decode_all(text)]
