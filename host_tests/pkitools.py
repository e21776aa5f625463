# Test certificates made with `cryptography`: CAs and leaves on P-256 and RSA 2048,
# and a CA that issues a certificate from a CSR. CPython only (test side).
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(cn, o=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if o:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    return x509.Name(attrs)


def issue(subject, public_key, issuer_name, issuer_key, ca=False, path_len=None,
          not_before=None, not_after=None, serial=None, sans=None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(public_key).serial_number(serial or x509.random_serial_number())
         .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 30 * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def root(cn, key=None, **kw):
    key = key or ec_key()
    return key, issue(name(cn), key.public_key(), name(cn), key, ca=True, **kw)


def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def sign_csr(csr_pem, ca_key, ca_cert, **kw):
    """The certificate a CSMS CA issues for a CSR (subject and key taken from it)."""
    req = x509.load_pem_x509_csr(csr_pem)
    assert req.is_signature_valid
    return issue(req.subject, req.public_key(), ca_cert.subject, ca_key, **kw)
