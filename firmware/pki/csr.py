# PKCS#10 certification requests (RFC 2986) for the charger's own P-256 key:
# subject O = CpoName, CN = serial number, signed with ECDSA SHA-256. No I/O.
import hashlib

from pki import der, p256

SPKI_EC_P256 = der.seq(der.oid(der.OID_EC_PUBLIC_KEY), der.oid(der.OID_P256))


def subject_public_key_info(q):
    return der.seq(SPKI_EC_P256, der.bits(p256.encode_point(q)))


def build(d, q, cpo_name, serial):
    """The DER CertificationRequest for key (d, q) with subject O=cpo_name, CN=serial."""
    info = der.seq(der.integer(0), der.name(((der.OID_O, cpo_name), (der.OID_CN, serial))),
                   subject_public_key_info(q), b"\xa0\x00")  # no attributes
    r, s = p256.sign(d, hashlib.sha256(info).digest())
    return der.seq(info, der.seq(der.oid(der.OID_ECDSA_SHA256)), der.bits(p256.sig_to_der(r, s)))


def build_pem(d, q, cpo_name, serial):
    from pki import pem
    return pem.encode(build(d, q, cpo_name, serial), "CERTIFICATE REQUEST")
