# SignCertificate (Security extension): a new P-256 key pair made on the charger,
# a PKCS#10 CSR with O = CpoName and CN = the serial number, sent to the CSMS. The
# private key is kept as the pending key (ocpp16.certstore) until CertificateSigned
# installs its certificate; it never leaves the device. Loaded on demand (a job).
from ocpp16.profiles import PKI_HELPERS as HELPERS  # forgotten with this module (ocpp16.profiles.unload)
import log
from ocpp16.certstore import CertStore


def prerequisites(cp):
    """None, or why a CSR cannot be made now."""
    if not cp.config.get("CpoName"):
        return "CpoName not set"
    if not _serial(cp):
        return "no serial number"
    return None


def _serial(cp):
    return cp.device.get("serial") or cp.device.get("charge_point_id")


def make_csr(cp):
    """The CSR PEM for a fresh key, the key saved as pending (the running one stays in use)."""
    from pki import csr, p256
    d, q = p256.generate()
    CertStore(cp.data_dir).save_key(p256.private_key_der(d, q), pending=True)
    return csr.build_pem(d, q, cp.config.get("CpoName"), _serial(cp))


def request(cp, now):
    """Make the CSR and queue the SignCertificate call (in RAM: a lost one is triggered again)."""
    text = make_csr(cp)

    def answered(payload, now, cp=cp):
        status = payload.get("status") if payload else "no answer"
        cp._event(("sign-certificate", status))
        if status != "Accepted":
            log.warning("SignCertificate: %s", status)
    cp._ram("SignCertificate", {"csr": text}, answered)
    cp._event(("csr-sent",))


async def run(app, args):
    """Background job: key generation takes about a second on an ESP32, off the core tick."""
    import asyncio
    await asyncio.sleep(0)
    request(app.cp, app.clock.now())
