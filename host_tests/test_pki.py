# firmware/pki against `cryptography`, on CPython and the real micropython: every
# certificate it reads is made by cryptography, every CSR and signature it writes
# is verified by cryptography, hash data compared with cryptography's OCSP CertID.
import datetime
import hashlib
import json
import os
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

import mpy
import pkitools as pk

PROBE = os.path.join(mpy.HOST_TESTS, "pki_probe.py")
RUNTIMES = ("cpython", "micropython")
MSG = b"firmware image bytes " * 100


def run_probe(runtime, jobs, work):
    path = os.path.join(work, "jobs.json")
    with open(path, "w") as f:
        json.dump(jobs, f)
    if runtime == "cpython":
        env = dict(os.environ, PYTHONPATH=mpy.FIRMWARE)
        r = subprocess.run([sys.executable, PROBE, path], capture_output=True, text=True, env=env, timeout=300)
    else:
        r = mpy.run([PROBE, path], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


class World:
    """Certificates and keys written to a folder; named paths and the crypto objects."""

    def __init__(self, work):
        self.work = work
        self.objs = {}

    def put(self, name, data):
        p = os.path.join(self.work, name)
        with open(p, "wb") as f:
            f.write(data)
        return p


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(str(tmp_path_factory.mktemp("pki")))
    ec_root_key, ec_root = pk.root("EC Root", serial=0x00FF112233445566778899)
    rsa_root_key, rsa_root = pk.root("RSA Root", key=pk.rsa_key())
    inter_key = pk.ec_key()
    inter = pk.issue(pk.name("Sub CA", "CPO"), inter_key.public_key(), ec_root.subject, ec_root_key, ca=True, path_len=0)
    leaf_key = pk.ec_key()
    leaf = pk.issue(pk.name("CSMS", "CPO"), leaf_key.public_key(), inter.subject, inter_key, serial=1)
    rsa_leaf_key = pk.rsa_key()
    rsa_leaf = pk.issue(pk.name("RSA leaf"), rsa_leaf_key.public_key(), rsa_root.subject, rsa_root_key)
    ec_under_rsa = pk.issue(pk.name("EC under RSA"), leaf_key.public_key(), rsa_root.subject, rsa_root_key)
    expired = pk.issue(pk.name("Old"), leaf_key.public_key(), inter.subject, inter_key,
                       not_before=pk.NOW - 40 * pk.DAY, not_after=pk.NOW - pk.DAY)
    not_ca = pk.issue(pk.name("Not a CA"), inter_key.public_key(), ec_root.subject, ec_root_key)
    under_not_ca = pk.issue(pk.name("Under leaf"), leaf_key.public_key(), not_ca.subject, inter_key)
    other_key, other_root = pk.root("EC Root")  # same name, another key
    gen_time = pk.issue(pk.name("2050"), leaf_key.public_key(), ec_root.subject, ec_root_key,
                        not_after=datetime.datetime(2051, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    w.objs.update(locals())
    for n in ("ec_root", "rsa_root", "inter", "leaf", "rsa_leaf", "ec_under_rsa", "expired", "not_ca",
              "under_not_ca", "other_root", "gen_time"):
        w.put(n + ".pem", pk.pem(w.objs[n]))
    w.put("leaf_chain.pem", pk.pem(leaf, inter))
    w.put("expired_chain.pem", pk.pem(expired, inter))
    w.put("under_not_ca_chain.pem", pk.pem(under_not_ca, not_ca))
    w.put("roots.pem", pk.pem(ec_root, rsa_root))
    w.put("msg.bin", MSG)
    digest_msg = MSG
    w.put("pss.sig", rsa_leaf_key.sign(digest_msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()))
    w.put("pss_max.sig", rsa_leaf_key.sign(digest_msg, padding.PSS(padding.MGF1(hashes.SHA256()),
                                                                   padding.PSS.MAX_LENGTH), hashes.SHA256()))
    w.put("pkcs1.sig", rsa_leaf_key.sign(digest_msg, padding.PKCS1v15(), hashes.SHA256()))
    w.put("ecdsa.sig", leaf_key.sign(digest_msg, ec.ECDSA(hashes.SHA256())))
    w.put("tampered.bin", MSG[:-1] + b"X")
    # signed firmware: signing certificates under a Manufacturer root, RSA 2048 (PSS) and P-256 (ECDSA)
    mfr_key, mfr = pk.root("Maker Root")
    other_mfr_key, other_mfr = pk.root("Maker Root")  # same name, another key
    fw_rsa_key = pk.rsa_key()
    fw_ec_key = pk.ec_key()
    w.put("mfr.pem", pk.pem(mfr))
    w.put("fw_rsa.pem", pk.pem(pk.issue(pk.name("Firmware RSA"), fw_rsa_key.public_key(), mfr.subject, mfr_key)))
    w.put("fw_ec.pem", pk.pem(pk.issue(pk.name("Firmware EC"), fw_ec_key.public_key(), mfr.subject, mfr_key)))
    w.put("fw_other.pem", pk.pem(pk.issue(pk.name("Firmware EC"), fw_ec_key.public_key(), other_mfr.subject,
                                          other_mfr_key)))
    image = os.urandom(5000)
    w.put("image.bin", image)
    w.put("image_tampered.bin", image[:100] + bytes([image[100] ^ 1]) + image[101:])
    b64 = lambda b: __import__("base64").b64encode(b)  # noqa: E731
    w.put("image_pss.b64", b64(fw_rsa_key.sign(image, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())))
    w.put("image_ecdsa.b64", b64(fw_ec_key.sign(image, ec.ECDSA(hashes.SHA256()))))
    w.put("image_wrong.b64", b64(fw_ec_key.sign(image + b"!", ec.ECDSA(hashes.SHA256()))))
    w.put("garbage.pem", b"-----BEGIN CERTIFICATE-----\nMIIBAAECAwQ=\n-----END CERTIFICATE-----\n")
    der = leaf.public_bytes(serialization.Encoding.DER)
    w.put("truncated.pem", b"-----BEGIN CERTIFICATE-----\n" + __import__("base64").encodebytes(der[:-20]) +
          b"-----END CERTIFICATE-----\n")
    return w


def jobs_for(w, runtime):
    p = lambda n: os.path.join(w.work, n)  # noqa: E731
    now = int(pk.NOW.timestamp())
    key = p("device_%s.der" % runtime)
    return {
        "cert_root": ["cert", p("ec_root.pem")],
        "cert_leaf": ["cert", p("leaf.pem"), p("inter.pem")],
        "cert_inter": ["cert", p("inter.pem"), p("ec_root.pem")],
        "cert_rsa_root": ["cert", p("rsa_root.pem")],
        "cert_rsa_leaf": ["cert", p("rsa_leaf.pem"), p("rsa_root.pem")],
        "cert_gen_time": ["cert", p("gen_time.pem"), p("ec_root.pem")],
        "chain_ok": ["chain", p("leaf_chain.pem"), p("roots.pem"), now],
        "chain_rsa": ["chain", p("rsa_leaf.pem"), p("roots.pem"), now],
        "chain_ec_under_rsa": ["chain", p("ec_under_rsa.pem"), p("roots.pem"), now],
        "chain_expired": ["chain", p("expired_chain.pem"), p("roots.pem"), now],
        "chain_no_inter": ["chain", p("leaf.pem"), p("roots.pem"), now],
        "chain_wrong_root": ["chain", p("leaf_chain.pem"), p("other_root.pem"), now],
        "chain_not_ca": ["chain", p("under_not_ca_chain.pem"), p("roots.pem"), now],
        "chain_future": ["chain", p("leaf_chain.pem"), p("roots.pem"), now + 365 * 86400],
        "bad_garbage": ["bad_cert", p("garbage.pem")],
        "bad_truncated": ["bad_cert", p("truncated.pem")],
        "keygen": ["keygen", key],
        "csr": ["csr", key, "Example CPO", "SN-%s-0001" % runtime, p("csr_%s.pem" % runtime)],
        "sign": ["sign", key, p("msg.bin"), p("sig_%s.der" % runtime)],
        "ecverify": ["ecverify", p("leaf.pem"), p("msg.bin"), p("ecdsa.sig")],
        "ecverify_tampered": ["ecverify", p("leaf.pem"), p("tampered.bin"), p("ecdsa.sig")],
        "ecverify_wrong_key": ["ecverify", p("ec_root.pem"), p("msg.bin"), p("ecdsa.sig")],
        "pss": ["pss", p("rsa_leaf.pem"), p("msg.bin"), p("pss.sig")],
        "pss_max_salt": ["pss", p("rsa_leaf.pem"), p("msg.bin"), p("pss_max.sig")],
        "pss_tampered": ["pss", p("rsa_leaf.pem"), p("tampered.bin"), p("pss.sig")],
        "pss_is_not_pkcs1": ["pss", p("rsa_leaf.pem"), p("msg.bin"), p("pkcs1.sig")],
        "pkcs1": ["pkcs1", p("rsa_leaf.pem"), p("msg.bin"), p("pkcs1.sig")],
        "pkcs1_tampered": ["pkcs1", p("rsa_leaf.pem"), p("tampered.bin"), p("pkcs1.sig")],
        "fw_pss": ["fwsign", p("fw_rsa.pem"), p("mfr.pem"), p("image.bin"), p("image_pss.b64"), now],
        "fw_ecdsa": ["fwsign", p("fw_ec.pem"), p("mfr.pem"), p("image.bin"), p("image_ecdsa.b64"), now],
        "fw_wrong_sig": ["fwsign", p("fw_ec.pem"), p("mfr.pem"), p("image.bin"), p("image_wrong.b64"), now],
        "fw_pss_under_ec_cert": ["fwsign", p("fw_ec.pem"), p("mfr.pem"), p("image.bin"), p("image_pss.b64"), now],
        "fw_tampered_pss": ["fwsign", p("fw_rsa.pem"), p("mfr.pem"), p("image_tampered.bin"), p("image_pss.b64"), now],
        "fw_tampered_ecdsa": ["fwsign", p("fw_ec.pem"), p("mfr.pem"), p("image_tampered.bin"), p("image_ecdsa.b64"), now],
        "fw_other_root": ["fwsign", p("fw_other.pem"), p("mfr.pem"), p("image.bin"), p("image_ecdsa.b64"), now],
        "fw_not_under_mfr": ["fwsign", p("fw_ec.pem"), p("ec_root.pem"), p("image.bin"), p("image_ecdsa.b64"), now],
    }


@pytest.fixture(scope="module", params=RUNTIMES)
def results(request, world):
    jobs = jobs_for(world, request.param)
    out = run_probe(request.param, list(jobs.values()), world.work)
    return request.param, dict(zip(jobs, out))


def ocsp_hash(cert, issuer):
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": "%x" % req.serial_number}


def attrs(n):
    keys = {NameOID.COMMON_NAME: "CN", NameOID.ORGANIZATION_NAME: "O"}
    return {keys[a.oid]: a.value for a in n if a.oid in keys}


@pytest.mark.parametrize("name,issuer", [("cert_root", "ec_root"), ("cert_leaf", "inter"), ("cert_inter", "ec_root"),
                                         ("cert_rsa_root", "rsa_root"), ("cert_rsa_leaf", "rsa_root"),
                                         ("cert_gen_time", "ec_root")])
def test_certificate_fields_and_hash_data_match_cryptography(world, results, name, issuer):
    _rt, res = results
    got = res[name]
    cert = world.objs[{"cert_root": "ec_root", "cert_leaf": "leaf", "cert_inter": "inter", "cert_rsa_root": "rsa_root",
                       "cert_rsa_leaf": "rsa_leaf", "cert_gen_time": "gen_time"}[name]]
    assert got["hash"] == ocsp_hash(cert, world.objs[issuer])
    assert got["serial"] == "%x" % cert.serial_number
    assert got["subject"] == attrs(cert.subject) and got["issuer"] == attrs(cert.issuer)
    assert got["not_before"] == int(cert.not_valid_before_utc.timestamp())
    assert got["not_after"] == int(cert.not_valid_after_utc.timestamp())
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert got["ca"] == bc.ca and got["path_len"] == bc.path_length
    assert got["version"] == 3
    assert got["key_kind"] == ("RSA" if "rsa" in name else "EC")


def test_chain_verification(results):
    _rt, res = results
    assert res["chain_ok"] == {"root": "EC Root"}
    assert res["chain_rsa"] == {"root": "RSA Root"}
    assert res["chain_ec_under_rsa"] == {"root": "RSA Root"}
    assert res["chain_expired"] == {"error": "Expired"}
    assert res["chain_future"] == {"error": "Expired"}
    assert res["chain_no_inter"] == {"error": "UnknownIssuer"}
    assert res["chain_wrong_root"] == {"error": "UnknownIssuer"}  # same name, other key: signature refused
    assert res["chain_not_ca"] == {"error": "NotCA"}


def test_malformed_certificates_are_refused_with_a_named_error(results):
    _rt, res = results
    assert res["bad_garbage"].startswith("refused: CertError")
    assert res["bad_truncated"].startswith("refused: CertError")


def test_device_key_csr_and_signature_verified_by_cryptography(world, results):
    rt, res = results
    assert res["keygen"] and res["csr"] and res["sign"]
    with open(os.path.join(world.work, "device_%s.der" % rt), "rb") as f:
        key = serialization.load_der_private_key(f.read(), None)
    assert isinstance(key.curve, ec.SECP256R1)
    with open(os.path.join(world.work, "csr_%s.pem" % rt), "rb") as f:
        req = x509.load_pem_x509_csr(f.read())
    assert req.is_signature_valid
    assert req.signature_hash_algorithm.name == "sha256"
    assert req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example CPO"
    assert req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SN-%s-0001" % rt
    assert req.public_key().public_numbers() == key.public_key().public_numbers()
    with open(os.path.join(world.work, "sig_%s.der" % rt), "rb") as f:
        sig = f.read()
    key.public_key().verify(sig, MSG, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        key.public_key().verify(sig, MSG + b"!", ec.ECDSA(hashes.SHA256()))


def test_signature_verification(results):
    _rt, res = results
    assert res["ecverify"] is True
    assert res["ecverify_tampered"] is False
    assert res["ecverify_wrong_key"] is False
    assert res["pss"] is True and res["pss_max_salt"] is True
    assert res["pss_tampered"] is False and res["pss_is_not_pkcs1"] is False
    assert res["pkcs1"] is True and res["pkcs1_tampered"] is False


def test_signed_firmware_checks(results):
    _rt, res = results
    assert res["fw_pss"] == "SignatureVerified" and res["fw_ecdsa"] == "SignatureVerified"
    assert res["fw_wrong_sig"] == "InvalidSignature" and res["fw_pss_under_ec_cert"] == "InvalidSignature"
    assert res["fw_tampered_pss"] == "InvalidSignature" and res["fw_tampered_ecdsa"] == "InvalidSignature"
    assert res["fw_other_root"] == "InvalidCertificate" and res["fw_not_under_mfr"] == "InvalidCertificate"


def test_der_and_pem_round_trip_on_cpython():
    sys.path.insert(0, mpy.FIRMWARE)
    from pki import der, pem
    for n in (0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 200):
        b = der.integer(n)
        t, s, e = der.tlv(b, 0, want=der.INTEGER)
        assert e == len(b) and der.to_int(b, s, e) == n
    for size in (0, 1, 127, 128, 255, 256, 70000):
        b = der.enc(der.OCTET_STRING, b"x" * size)
        assert der.tlv(b, 0) == (der.OCTET_STRING, len(b) - size, len(b))
    with pytest.raises(der.DerError):
        der.tlv(b"\x30\x05\x01", 0)
    data = os.urandom(300)
    assert pem.decode(pem.encode(data, "X"), "X") == data
    assert hashlib.sha256(data).digest()  # hashlib present on both runtimes
