# The TLS context of a wss:// link from config.json: the CA certificates of ca_cert
# (PEM with one or several certificates, or DER) turned into what every runtime's
# ssl accepts (DER, one certificate per load). No sockets, no logging: app.py logs.
from compat import const
import binascii

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
PEM_END = b"-----END CERTIFICATE-----"
_MAX_CA_BYTES = const(16384)  # largest ca_cert file read (a few certificates; each is ~1-2 KB)


class CAError(ValueError):
    pass


def _der_ok(der):
    # An X.509 certificate is one DER SEQUENCE (0x30) whose length covers the whole buffer.
    if len(der) < 4 or der[0] != 0x30:
        return False
    n = der[1]
    if n < 0x80:
        return 2 + n == len(der)
    k = n & 0x7F
    if k < 1 or k > 3 or len(der) < 2 + k:
        return False
    return 2 + k + int.from_bytes(der[2:2 + k], "big") == len(der)


def read_ca(data):
    """The DER certificates in `data` (bytes of a PEM or DER file). Raises CAError."""
    if PEM_BEGIN in data:
        out = []
        i = 0
        while True:
            b = data.find(PEM_BEGIN, i)
            if b < 0:
                break
            e = data.find(PEM_END, b)
            if e < 0:
                raise CAError("PEM certificate %d has no END line" % (len(out) + 1))
            body = b"".join(data[b + len(PEM_BEGIN):e].split())
            try:
                der = binascii.a2b_base64(body)
            except ValueError:  # binascii.Error is one on CPython
                raise CAError("PEM certificate %d is not valid base64" % (len(out) + 1))
            if not _der_ok(der):
                raise CAError("PEM certificate %d is not an X.509 certificate" % (len(out) + 1))
            out.append(der)
            i = e + len(PEM_END)
        return out
    if not _der_ok(data):
        raise CAError("neither a PEM certificate file nor one DER certificate")
    return [data]


def load_ca(path):
    """DER certificates of the CA file at path. Raises CAError (OSError when it cannot be read)."""
    with open(path, "rb") as f:
        data = f.read(_MAX_CA_BYTES + 1)
    if len(data) > _MAX_CA_BYTES:
        raise CAError("larger than %d bytes" % _MAX_CA_BYTES)
    certs = read_ca(data)
    if not certs:
        raise CAError("no certificate in it")
    return certs


def context(ca_path):
    """A client SSLContext that verifies the server against the CAs of ca_path, or
    (ca_path None) one that does not verify at all."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_path:
        for der in load_ca(ca_path):
            ctx.load_verify_locations(cadata=der)
    if hasattr(ctx, "verify_mode"):
        if not ca_path and hasattr(ctx, "check_hostname"):
            ctx.check_hostname = False  # CPython refuses CERT_NONE while it checks the host name
        ctx.verify_mode = ssl.CERT_REQUIRED if ca_path else ssl.CERT_NONE
    return ctx
