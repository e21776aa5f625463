# Certificate signatures and chains: a signature checked with its issuer's key
# (ECDSA P-256 or RSA PKCS#1 v1.5, both SHA-256), then a chain from leaf to an
# installed root (names chain, issuers are CAs, all valid at `now`). No I/O.
from compat import const
import hashlib

from pki import der, x509

_MAX_CHAIN = const(5)  # certificates above the leaf followed before giving up


class ChainError(ValueError):
    """Why a chain is refused; .reason is a short word for logs and events."""

    def __init__(self, reason, msg):
        super().__init__(msg)
        self.reason = reason


def signed_by(cert, issuer):
    """Whether cert's signature verifies under issuer's public key."""
    digest = hashlib.sha256(cert.tbs).digest()
    if cert.sig_alg == der.OID_ECDSA_SHA256:
        if issuer.key_kind != x509.EC:
            return False
        from pki import p256
        try:
            r, s = p256.sig_from_der(cert.signature)
        except ValueError:
            return False
        return p256.verify(issuer.key, digest, r, s)
    if cert.sig_alg == der.OID_RSA_SHA256:
        if issuer.key_kind != x509.RSA:
            return False
        from pki import rsa
        return rsa.verify_pkcs1(issuer.key, digest, cert.signature)
    return False  # other algorithms (SHA-384/512, PSS) are not supported


def verify(chain, roots, now):
    """Check chain (leaf first, then intermediates) up to one of roots at epoch `now`;
    the root that anchors it, or ChainError."""
    if not chain:
        raise ChainError("Empty", "no certificate")
    path = list(chain)
    for c in path:
        if now is not None and not c.valid_at(now):
            raise ChainError("Expired", "certificate %r not valid now" % c.subject_attrs.get("CN"))
    cert = path[0]
    rest = path[1:]
    for _ in range(_MAX_CHAIN + 1):
        for r in roots:
            if r.subject == cert.issuer and (r.der == cert.der or signed_by(cert, r)):
                if now is not None and not r.valid_at(now):
                    raise ChainError("Expired", "root %r not valid now" % r.subject_attrs.get("CN"))
                return r
        nxt = None
        for c in rest:
            if c.subject == cert.issuer and c is not cert:
                nxt = c
                break
        if nxt is None:
            raise ChainError("UnknownIssuer", "no installed root issued %r" % cert.issuer_attrs.get("CN"))
        if not nxt.ca:
            raise ChainError("NotCA", "issuer %r is not a CA" % nxt.subject_attrs.get("CN"))
        if not signed_by(cert, nxt):
            raise ChainError("BadSignature", "signature of %r does not verify" % cert.subject_attrs.get("CN"))
        rest.remove(nxt)
        cert = nxt
    raise ChainError("TooLong", "chain longer than %d" % _MAX_CHAIN)
