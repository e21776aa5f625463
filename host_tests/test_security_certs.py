# Security extension certificate management over the wire: the whole charger (sim
# board, CPython and real micropython) against the embedded CSMS, every frame checked
# against the official schemas; hash data compared with cryptography's OCSP CertID,
# the charger's CSR parsed and verified by cryptography and signed by a test CA.
import asyncio
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from ocpp.v16 import call

import pkitools as pk
import scenario as S

RUNTIMES = ("cpython", "micropython")
SERIAL = "SN-0042"
SCN = [{"at": 3, "do": "plug"}, {"at": 1500, "do": "end"}]  # sim seconds (speed 50: 30 s)


def hash_data(cert, issuer):
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": "%x" % req.serial_number}


def camel(d):
    """A hash data dict as sent (the ocpp library hands it over with snake_case keys)."""
    return {"".join([w if i == 0 else w.title() for i, w in enumerate(k.split("_"))]): v for k, v in d.items()}


def key(d):
    return json.dumps(d, sort_keys=True)


def pem(c):
    return pk.pem(c).decode()


class Pki:
    def __init__(self):
        self.csms_key, self.csms_root = pk.root("CSMS Root")
        self.rsa_key, self.rsa_root = pk.root("RSA Root", key=pk.rsa_key())
        self.mfr_key, self.mfr_root = pk.root("Maker Root")
        self.ca_key = pk.ec_key()  # the CPO's charger CA, under the CSMS root
        self.ca = pk.issue(pk.name("Charger CA", "Example CPO"), self.ca_key.public_key(), self.csms_root.subject,
                           self.csms_key, ca=True, path_len=0)
        _k, self.leaf = pk.root("Not a CA")
        self.leaf = pk.issue(pk.name("leaf"), pk.ec_key().public_key(), self.csms_root.subject, self.csms_key)


async def security_script(csms, st, pki, result):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification")
    ok = "CentralSystemRootCertificate"
    r = await st.call(call.GetInstalledCertificateIds(certificate_type=ok))
    assert r.status == "NotFound"
    for cert, use in ((pki.csms_root, ok), (pki.rsa_root, ok), (pki.mfr_root, "ManufacturerRootCertificate")):
        r = await st.call(call.InstallCertificate(certificate_type=use, certificate=pem(cert)))
        assert r.status == "Accepted", use
    # the same root again is no second entry; a leaf, garbage and an expired root are refused
    assert (await st.call(call.InstallCertificate(certificate_type=ok, certificate=pem(pki.csms_root)))).status == "Accepted"
    assert (await st.call(call.InstallCertificate(certificate_type=ok, certificate=pem(pki.leaf)))).status == "Rejected"
    bad = "-----BEGIN CERTIFICATE-----\nMIIBAAECAwQ=\n-----END CERTIFICATE-----\n"
    assert (await st.call(call.InstallCertificate(certificate_type=ok, certificate=bad))).status == "Rejected"
    _k, old = pk.root("Old Root", not_before=pk.NOW - 40 * pk.DAY, not_after=pk.NOW - pk.DAY)
    assert (await st.call(call.InstallCertificate(certificate_type=ok, certificate=pem(old)))).status == "Rejected"
    r = await st.call(call.GetInstalledCertificateIds(certificate_type=ok))
    want = [hash_data(pki.csms_root, pki.csms_root), hash_data(pki.rsa_root, pki.rsa_root)]
    assert r.status == "Accepted" and sorted(map(key, map(camel, r.certificate_hash_data))) == sorted(map(key, want))
    r = await st.call(call.GetInstalledCertificateIds(certificate_type="ManufacturerRootCertificate"))
    assert list(map(camel, r.certificate_hash_data)) == [hash_data(pki.mfr_root, pki.mfr_root)]
    # delete the RSA root; a second time it is gone
    h = hash_data(pki.rsa_root, pki.rsa_root)
    assert (await st.call(call.DeleteCertificate(certificate_hash_data=h))).status == "Accepted"
    assert (await st.call(call.DeleteCertificate(certificate_hash_data=h))).status == "NotFound"
    r = await st.call(call.GetInstalledCertificateIds(certificate_type=ok))
    assert list(map(camel, r.certificate_hash_data)) == [hash_data(pki.csms_root, pki.csms_root)]
    # no CpoName yet: no CSR
    r = await st.call(call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"))
    assert r.status == "Rejected"
    assert (await st.call(call.ChangeConfiguration(key="CpoName", value="Example CPO"))).status == "Accepted"
    r = await st.call(call.GetConfiguration(key=["CpoName", "CertificateStoreMaxLength", "SecurityProfile",
                                                 "CertificateSignedMaxChainSize", "AdditionalRootCertificateCheck"]))
    vals = {k["key"]: k["value"] for k in r.configuration_key}
    assert vals == {"CpoName": "Example CPO", "CertificateStoreMaxLength": "8", "SecurityProfile": "0",
                    "CertificateSignedMaxChainSize": "10000", "AdditionalRootCertificateCheck": "false"}
    r = await st.call(call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"))
    assert r.status == "Accepted"
    m = await csms.wait_for("SignCertificate", timeout=60)
    req = x509.load_pem_x509_csr(m[3]["csr"].encode())
    assert req.is_signature_valid
    assert req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example CPO"
    assert req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SERIAL
    # a certificate for another key is refused and reported
    other = pk.issue(req.subject, pk.ec_key().public_key(), pki.ca.subject, pki.ca_key)
    r = await st.call(call.CertificateSigned(certificate_chain=pem(other) + pem(pki.ca)))
    assert r.status == "Rejected"
    ev = await csms.wait_for("SecurityEventNotification")
    assert ev[3]["type"] == "InvalidChargePointCertificate"
    # a chain whose CA is not the issuer, and an expired certificate, are refused too
    mine = pk.sign_csr(m[3]["csr"].encode(), pki.ca_key, pki.ca)
    r = await st.call(call.CertificateSigned(certificate_chain=pem(mine) + pem(pki.mfr_root)))
    assert r.status == "Rejected"
    late = pk.sign_csr(m[3]["csr"].encode(), pki.ca_key, pki.ca, not_before=pk.NOW - 9 * pk.DAY,
                       not_after=pk.NOW - 8 * pk.DAY)
    assert (await st.call(call.CertificateSigned(certificate_chain=pem(late) + pem(pki.ca)))).status == "Rejected"
    r = await st.call(call.CertificateSigned(certificate_chain=pem(mine) + pem(pki.ca)))
    assert r.status == "Accepted"
    result["csr"] = req
    # ExtendedTriggerMessage of every other message: each one comes
    for what, action in (("Heartbeat", "Heartbeat"), ("StatusNotification", "StatusNotification"),
                         ("BootNotification", "BootNotification"), ("MeterValues", "MeterValues"),
                         ("FirmwareStatusNotification", "FirmwareStatusNotification"),
                         ("LogStatusNotification", "LogStatusNotification")):
        r = await st.call(call.ExtendedTriggerMessage(requested_message=what, connector_id=1))
        assert r.status == "Accepted", what
        got = await csms.wait_for(action)
        if action == "StatusNotification":
            assert got[3]["connectorId"] == 1
    assert (await st.call(call.ExtendedTriggerMessage(requested_message="StatusNotification",
                                                      connector_id=9))).status == "Rejected"
    result["done"] = True


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_certificate_management_against_the_csms(runtime):
    pki = Pki()
    result = {}
    station, lines, rc = asyncio.run(S.run_session(
        runtime, SCN, script=lambda csms, st: security_script(csms, st, pki, result), speed=50,
        extra_cfg={"serial": SERIAL}))
    assert result.get("done"), "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    assert len(station.csrs) == 1
    text = "\n".join(lines)
    assert "PRIVATE KEY" not in text and "cp_key" not in text


async def getlog_script(csms, st, srv, result):
    await csms.wait_for("SecurityEventNotification")  # StartupOfTheDevice is in the security log
    r = await st.call(call.GetLog(log_type="SecurityLog", request_id=7, log={"remote_location": srv.url("/logs/")}))
    assert r.status == "Accepted" and r.filename.startswith("securitylog-CP1-")
    # a second request at once replaces the first (unless it was already done)
    r2 = await st.call(call.GetLog(log_type="SecurityLog", request_id=8, log={"remote_location": srv.url("/logs/")}))
    done_first = [m for _s, d, raw in csms.log if d == "in" and '"LogStatusNotification"' in raw and '"Uploaded"' in raw]
    assert r2.status == ("Accepted" if done_first else "AcceptedCanceled")
    m = await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "LogStatusNotification" and m[3]["requestId"] == 8
                            and m[3]["status"] in ("Uploaded", "UploadFailure"), timeout=60)
    assert m[3]["status"] == "Uploaded"
    result["name"] = r2.filename
    # nothing there to upload: a URL that refuses is UploadFailure after the retries
    srv.faults = [500, 500]
    r = await st.call(call.GetLog(log_type="SecurityLog", request_id=9, retries=1, retry_interval=1,
                                  log={"remote_location": srv.url("/logs/x.log")}))
    assert r.status == "Accepted"
    m = await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "LogStatusNotification" and m[3]["requestId"] == 9
                            and m[3]["status"] in ("Uploaded", "UploadFailure"), timeout=60)
    assert m[3]["status"] == "UploadFailure"
    r = await st.call(call.ExtendedTriggerMessage(requested_message="LogStatusNotification"))
    assert r.status == "Accepted"
    m = await csms.wait_for("LogStatusNotification")
    assert m[3]["status"] == "Idle"
    result["done"] = True


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_getlog_uploads_the_security_log(runtime):
    from fw_servers import HttpFiles
    result = {}
    with HttpFiles() as srv:
        station, lines, rc = asyncio.run(S.run_session(
            runtime, SCN, script=lambda csms, st: getlog_script(csms, st, srv, result), speed=50))
        uploads = dict(srv.uploads)
    assert result.get("done"), "\n".join(lines[-40:])
    assert S.check_schemas(station) == len(S.firmware_frames(station))
    text = uploads["/logs/" + result["name"]].decode()
    assert " StartupOfTheDevice " in text
