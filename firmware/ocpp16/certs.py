# Security extension certificate management, the CSMS-initiated side:
# InstallCertificate, GetInstalledCertificateIds, DeleteCertificate and
# CertificateSigned (on_<Action>(cp, payload, now) -> result). Imported for one call
# and removed again; the certificates live in ocpp16.certstore on flash.
from compat import const
import log
from ocpp16.certstore import CertStore
from ocpp16.profiles import PKI_HELPERS as PKI
from pki import chain, x509

HELPERS = PKI + ("ocpp16.secevents",)  # forgotten with this module (ocpp16.profiles.unload)

_CSMS_ROOT = const("CentralSystemRootCertificate")


def _now_epoch(cp, now):
    return cp.clock.epoch(now) if cp.clock.known() else None  # no clock: validity not checkable


def on_InstallCertificate(cp, p, now):
    try:
        certs = x509.from_pem_chain(p["certificate"])
    except ValueError as e:
        log.warning("InstallCertificate: %s", e)
        return {"status": "Rejected"}
    cert = certs[0]
    epoch = _now_epoch(cp, now)
    if len(certs) != 1 or not cert.ca or not cert.self_issued() or not chain.signed_by(cert, cert):
        log.warning("InstallCertificate: not one self-signed CA certificate")
        return {"status": "Rejected"}
    if epoch is not None and not cert.valid_at(epoch):
        return {"status": "Rejected"}
    status = CertStore(cp.data_dir).install(p["certificateType"], cert)
    if status == "Accepted":
        cp._event(("certificate-installed", p["certificateType"]))
    return {"status": status}


def on_GetInstalledCertificateIds(cp, p, now):
    found = [x509.hash_data(c) for _n, c in CertStore(cp.data_dir).certificates(p["certificateType"])]
    if not found:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashData": found}


def on_DeleteCertificate(cp, p, now):
    s = CertStore(cp.data_dir)
    hit = s.find(p["certificateHashData"])
    if hit is None:
        return {"status": "NotFound"}
    name, use = hit
    # The running TLS link (profile 2/3) is verified with the CSMS roots: never delete the last.
    if use == _CSMS_ROOT and cp.config.get("SecurityProfile") >= 2 and len(s.names(use)) <= 1:
        log.warning("DeleteCertificate: the last CentralSystemRootCertificate is in use")
        return {"status": "Failed"}
    try:
        s.delete(name)
    except OSError:
        return {"status": "Failed"}
    return {"status": "Accepted"}


def on_CertificateSigned(cp, p, now):
    text = p["certificateChain"]
    if len(text) > cp.config.get("CertificateSignedMaxChainSize"):
        return _refused(cp, now, "chain of %d characters over CertificateSignedMaxChainSize" % len(text))
    try:
        certs = x509.from_pem_chain(text)
    except ValueError as e:
        return _refused(cp, now, "unreadable chain: %s" % e)
    s = CertStore(cp.data_dir)
    leaf = certs[0]
    pending = s.key_der(pending=True)
    current = s.key_der()
    from pki import p256
    from_pending = None
    for der, is_pending in ((pending, True), (current, False)):
        if der is not None and leaf.key_kind == x509.EC and p256.private_key_from_der(der)[1] == leaf.key:
            from_pending = is_pending
            break
    if from_pending is None:
        return _refused(cp, now, "certificate does not match the charger's key")
    if leaf.subject_attrs.get("CN") != _serial(cp):
        return _refused(cp, now, "CN %r is not the serial number" % leaf.subject_attrs.get("CN"))
    why = _chain_fault(certs, [c for _n, c in s.certificates(_CSMS_ROOT)], _now_epoch(cp, now))
    if why:
        return _refused(cp, now, why)
    s.install_chain(text, from_pending)
    cp._event(("certificate-signed",))
    if cp.config.get("SecurityProfile") == 3:
        cp.profile_change = (3, 3)  # reconnect with the new client certificate
    return {"status": "Accepted"}


def _chain_fault(certs, roots, epoch):
    """Why the charger chain `certs` (leaf first) is refused, or None: each certificate valid
    now and signed by the next, a CA; when an installed CSMS root issued the top one, that
    signature is checked too (a CPO's charger CA need not be one of the server roots)."""
    if certs[0].self_issued():
        return "self-signed charger certificate"
    for i, c in enumerate(certs):
        if epoch is not None and not c.valid_at(epoch):
            return "certificate %d not valid now" % i
        if i + 1 < len(certs):
            up = certs[i + 1]
            if up.subject != c.issuer or not up.ca or not chain.signed_by(c, up):
                return "certificate %d not issued by the next one" % i
    top = certs[-1]
    issuers = [r for r in roots if r.subject == top.issuer and not top.self_issued()]
    if issuers and not [r for r in issuers if chain.signed_by(top, r)]:
        return "not signed by the installed root %r" % issuers[0].subject_attrs.get("CN")
    return None


def _serial(cp):
    return cp.device.get("serial") or cp.device.get("charge_point_id")


def _refused(cp, now, why):
    log.warning("CertificateSigned refused: %s", why)
    from ocpp16 import secevents
    secevents.report(cp, "InvalidChargePointCertificate", now, why)
    return {"status": "Rejected"}
