# TLS for security profiles 2 and 3 (OCPP 1.6 Security whitepaper): a client context
# that checks the CSMS certificate against the installed CentralSystemRootCertificates
# (and the config's ca_cert) and its host name, TLS 1.2+, the whitepaper's cipher suites,
# and for profile 3 the charger's own certificate and key. Also names the security event
# of a failed handshake. Imported when a link is made and unloaded after; no sockets here.
from compat import const
from ocpp16.profiles import PKI_HELPERS as PKI

HELPERS = PKI + ("net.netcompat", "net.tls")  # unloaded with this module (ocpp16.profiles.unload)

# The whitepaper's suites (mbedTLS names, OpenSSL names): ECDSA ones for EC server keys,
# static RSA key exchange ones for RSA server keys.
SUITES = ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
          "TLS-RSA-WITH-AES-128-GCM-SHA256", "TLS-RSA-WITH-AES-256-GCM-SHA384")
OPENSSL_SUITES = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                  "AES128-GCM-SHA256", "AES256-GCM-SHA384")
_SCRATCH = const("tls_client.pem")  # CPython only: the client chain + key for load_cert_chain, removed at once
_KEY_LABELS = const(("EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY"))  # Words in a handshake error (CPython's OpenSSL reasons, MicroPython's mbedTLS messages)
# -> the security event it is. mbedTLS reports a refused version and a refused suite alike
# (a fatal alert): both count as InvalidTLSCipherSuite there.
FAILURES = (
    ("CERTIFICATE_VERIFY_FAILED", "InvalidCentralSystemCertificate"),
    ("not correctly signed", "InvalidCentralSystemCertificate"),
    ("does not match with the expected CN", "InvalidCentralSystemCertificate"),
    ("certificate", "InvalidCentralSystemCertificate"),
    ("X509", "InvalidCentralSystemCertificate"),
    ("PROTOCOL_VERSION", "InvalidTLSVersion"),
    ("UNSUPPORTED_PROTOCOL", "InvalidTLSVersion"),
    ("WRONG_VERSION", "InvalidTLSVersion"),
    ("NO_SHARED_CIPHER", "InvalidTLSCipherSuite"),
    ("HANDSHAKE_FAILURE", "InvalidTLSCipherSuite"),
    ("NO_CIPHERS", "InvalidTLSCipherSuite"),
    ("FATAL_ALERT", "InvalidTLSCipherSuite"),
)


class TlsSetupError(ValueError):
    """The profile cannot be set up (no root to trust, no client certificate)."""


def failure_event(text):
    """The security event type of a failed TLS connect (its error text), or None."""
    for word, kind in FAILURES:
        if word in text:
            return kind
    return None


def _read(path):
    with open(path) as f:
        return f.read()


def context(profile, data_dir, ca_file=None, client_files=None):
    """The SSLContext for `profile` (2 or 3) from the certificate store in data_dir
    (and the config's ca_cert / client_cert+client_key PEM files when given)."""
    from net import netcompat
    from pki import pem
    from ocpp16.certstore import CertStore
    s = CertStore(data_dir)
    roots = []
    bundle = s.roots_pem()
    if bundle:
        roots += pem.decode_all(bundle)
    if ca_file:
        from net import tls
        roots += tls.load_ca(ca_file)
    if not roots:
        raise TlsSetupError("security profile %d: no CentralSystemRootCertificate to trust" % profile)
    ctx = netcompat.tls_client_context()
    for der in roots:
        ctx.load_verify_locations(cadata=der)
    netcompat.tls_ciphers(ctx, SUITES, OPENSSL_SUITES)
    if profile >= 3:
        chain_pem = s.chain_pem()
        key_der = s.key_der()
        if chain_pem and key_der:
            key_pem = pem.encode(key_der, "EC PRIVATE KEY")
        elif client_files:
            chain_pem = _read(client_files[0])
            key_pem = _read(client_files[1])
            key_der = _key_der(key_pem)
        else:
            raise TlsSetupError("security profile 3: no charger certificate installed")
        netcompat.tls_client_cert(ctx, pem.decode(chain_pem), key_der, chain_pem, key_pem,
                               (data_dir or ".") + "/" + _SCRATCH)
    return ctx


def _key_der(text):
    from pki import pem
    for label in _KEY_LABELS:
        try:
            return pem.decode(text, label)
        except ValueError:
            pass
    raise TlsSetupError("client_key: no private key PEM block")
