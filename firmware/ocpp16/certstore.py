# Certificates on flash for the Security extension: installed CSMS and Manufacturer
# roots (one state file each under <data_dir>/certs) and the charger's own P-256 key
# and certificate chain (the key is a secret: never sent, never logged). Loaded on
# demand; files through store.save (atomic); no protocol logic here.
from compat import const
import binascii
import hashlib
import os

import store
from ocpp16.config import CERTIFICATE_STORE_MAX
from pki import pem, x509

DIR = "certs"
# certificateType -> file name prefix
USES = {"CentralSystemRootCertificate": "csms", "ManufacturerRootCertificate": "mfr"}
KEY_FILE = "cp_key.json"          # the charger's private key in use (SEC1 DER, hex)
PENDING_KEY_FILE = "cp_key_new.json"  # key of the CSR sent, until CertificateSigned installs it
_CHAIN_FILE = const("cp_chain.json")  # the charger certificate and its intermediates (PEM)
_ID_HEX = const(16)  # hex digits of the SHA-256 of the DER naming a root's file


class CertStore:
    def __init__(self, data_dir):
        self.dir = (data_dir or ".") + "/" + DIR
        store.makedirs(self.dir)

    def _path(self, name):
        return self.dir + "/" + name

    def names(self, use=None):
        """File names of the installed roots of `use` (all uses when None), sorted."""
        prefixes = [USES[use]] if use else list(USES.values())
        out = []
        for n in os.listdir(self.dir):
            head, _, tail = n.partition("_")
            if head in prefixes and len(tail) == _ID_HEX + 5 and tail.endswith(".json"):
                out.append(n)
        out.sort()
        return out

    def load(self, name):
        rec = store.load(self._path(name))
        return x509.Certificate(pem.decode(rec["pem"])) if rec else None

    def certificates(self, use):
        out = []
        for n in self.names(use):
            c = self.load(n)
            if c is not None:
                out.append((n, c))
        return out

    def install(self, use, cert):
        """Store a root: "Accepted" (also when already there) or "Failed" (store full, flash error)."""
        name = "%s_%s.json" % (USES[use], _hex(hashlib.sha256(cert.der).digest()[:_ID_HEX // 2]))
        if name in self.names(use):
            return "Accepted"
        if len(self.names()) >= CERTIFICATE_STORE_MAX:
            return "Failed"
        try:
            store.save(self._path(name), {"use": use, "pem": pem.encode(cert.der)})
        except (OSError, store.StoreError):
            return "Failed"
        return "Accepted"

    def find(self, hash_data):
        """(name, use) of the installed root whose certificateHashData matches, or None."""
        if hash_data.get("hashAlgorithm") != "SHA256":
            return None  # only SHA-256 hashes are kept (MicroPython has no SHA-384/512)
        want = (hash_data["issuerNameHash"].lower(), hash_data["issuerKeyHash"].lower(),
                hash_data["serialNumber"].lower().lstrip("0"))
        for use in USES:
            for n, c in self.certificates(use):
                h = x509.hash_data(c)
                if (h["issuerNameHash"], h["issuerKeyHash"], h["serialNumber"].lstrip("0")) == want:
                    return n, use
        return None

    def delete(self, name):
        os.remove(self._path(name))

    def roots_pem(self, use="CentralSystemRootCertificate"):
        """The installed roots of `use` as one PEM bundle (what a TLS stack loads), or ""."""
        out = []
        for n in self.names(use):
            rec = store.load(self._path(n))
            if rec:
                out.append(rec["pem"])
        return "".join(out)

    # ---------------------------------------------------------------- the charger's own key
    def save_key(self, der_bytes, pending=True):
        store.save(self._path(PENDING_KEY_FILE if pending else KEY_FILE), {"key": _hex(der_bytes)})

    def key_der(self, pending=False):
        rec = store.load(self._path(PENDING_KEY_FILE if pending else KEY_FILE))
        return _unhex(rec["key"]) if rec else None

    def chain_pem(self):
        rec = store.load(self._path(_CHAIN_FILE))
        return rec["pem"] if rec else None

    def install_chain(self, chain_text, from_pending):
        """Make chain_text the charger's certificate; its key becomes the one in use."""
        if from_pending:
            key = self.key_der(pending=True)
            store.save(self._path(KEY_FILE), {"key": _hex(key)})
        store.save(self._path(_CHAIN_FILE), {"pem": chain_text})
        if from_pending:
            try:
                os.remove(self._path(PENDING_KEY_FILE))
            except OSError:
                pass


def _hex(b):
    return binascii.hexlify(b).decode()


def _unhex(s):
    return binascii.unhexlify(s)
