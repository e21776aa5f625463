# SignedUpdateFirmware checks (Security whitepaper, "Secure firmware update"): the
# signing certificate against the installed ManufacturerRootCertificates, and the
# signature over the SHA-256 of the downloaded file, RSA-PSS (the whitepaper's) or ECDSA
# P-256 (what CSMSs commonly send for its ECSchnorr). Loaded by the firmware job on demand;
# the downloader feeds FileDigest chunk by chunk, so no file is ever in RAM. No I/O here.
from compat import const
from ocpp16.profiles import PKI_HELPERS as HELPERS  # forgotten with this module (ocpp16.profiles.unload)
import binascii
import hashlib

from pki import chain, der, x509

_MAX_SIGNATURE_BYTES = const(600)  # a decoded signature: RSA 4096 is 512 bytes, ECDSA P-256 DER at most 72


class FileDigest:
    """SHA-256 of a file as its chunks arrive (update per chunk, then digest())."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.size = 0

    def update(self, chunk):
        self.h.update(chunk)
        self.size += len(chunk)

    def digest(self):
        return self.h.digest()


def manufacturer_roots(cp):
    from ocpp16.certstore import CertStore
    return [c for _n, c in CertStore(cp.data_dir).certificates("ManufacturerRootCertificate")]


def signing_certificate(pem_text, roots, epoch):
    """(certificate, None) when pem_text (the signing certificate, intermediates after it)
    chains to one of roots at epoch (None: clock unknown, validity not checked), else
    (None, the ChainError reason or "Unreadable")."""
    try:
        certs = x509.from_pem_chain(pem_text)
        chain.verify(certs, roots, epoch)
    except chain.ChainError as e:
        return None, e.reason
    except ValueError:
        return None, "Unreadable"
    return certs[0], None


def signature_valid(cert, digest, signature_b64):
    """Whether signature_b64 (base64) signs the file whose SHA-256 is digest, under cert's key:
    RSA-PSS with MGF1-SHA-256 (any salt length) or ECDSA (DER, or raw r|s of 64 bytes)."""
    try:
        sig = binascii.a2b_base64(signature_b64)
    except ValueError:
        return False
    if not sig or len(sig) > _MAX_SIGNATURE_BYTES:
        return False
    if cert.key_kind == x509.RSA:
        from pki import rsa
        return rsa.verify_pss(cert.key, digest, sig)
    from pki import p256
    try:
        if len(sig) == 64 and sig[0] != der.SEQUENCE:
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        else:
            r, s = p256.sig_from_der(sig)
    except ValueError:
        return False
    return p256.verify(cert.key, digest, r, s)


def check(pem_text, roots, epoch, digest, signature_b64):
    """The SignedFirmwareStatusNotification status the checks end in: "SignatureVerified",
    "InvalidSignature", or "InvalidCertificate" (the signing certificate is refused)."""
    cert, why = signing_certificate(pem_text, roots, epoch)
    if cert is None:
        return "InvalidCertificate"
    return "SignatureVerified" if signature_valid(cert, digest, signature_b64) else "InvalidSignature"
