# Runs firmware/pki operations listed in a JSON job file and prints their results
# as one JSON list: the same script under CPython and the real micropython, so
# host_tests/test_pki.py can check both runtimes against `cryptography`.
# Portable subset; files only (paths in the job file), no network.
import hashlib
import json
import sys

from pki import chain, csr, p256, pem, rsa, x509


def _read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def _write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def _certs(path):
    return x509.from_pem_chain(_read(path, "r"))


def op_cert(path, issuer_path=None):
    c = _certs(path)[0]
    issuer = _certs(issuer_path)[0] if issuer_path else None
    return {"serial": "%x" % c.serial, "subject": c.subject_attrs, "issuer": c.issuer_attrs,
            "not_before": c.not_before, "not_after": c.not_after, "ca": c.ca,
            "path_len": c.path_len, "key_kind": c.key_kind, "version": c.version,
            "hash": x509.hash_data(c, issuer)}


def op_chain(chain_path, roots_path, now):
    try:
        root = chain.verify(_certs(chain_path), _certs(roots_path), now)
        return {"root": root.subject_attrs.get("CN")}
    except chain.ChainError as e:
        return {"error": e.reason}


def op_bad_cert(path):
    try:
        x509.Certificate(pem.decode(_read(path, "r")))
        return "parsed"
    except ValueError as e:
        return "refused: %s" % type(e).__name__


def op_keygen(out):
    d, q = p256.generate()
    _write(out, p256.private_key_der(d, q))
    return True


def op_csr(key_path, cpo, serial, out):
    d, q = p256.private_key_from_der(_read(key_path))
    _write(out, csr.build_pem(d, q, cpo, serial))
    return True


def op_sign(key_path, msg_path, out):
    d, _q = p256.private_key_from_der(_read(key_path))
    r, s = p256.sign(d, hashlib.sha256(_read(msg_path)).digest())
    _write(out, p256.sig_to_der(r, s))
    return True


def op_ecverify(cert_path, msg_path, sig_path):
    c = _certs(cert_path)[0]
    r, s = p256.sig_from_der(_read(sig_path))
    return p256.verify(c.key, hashlib.sha256(_read(msg_path)).digest(), r, s)


def op_pss(cert_path, msg_path, sig_path):
    c = _certs(cert_path)[0]
    return rsa.verify_pss(c.key, hashlib.sha256(_read(msg_path)).digest(), _read(sig_path))


def op_pkcs1(cert_path, msg_path, sig_path):
    c = _certs(cert_path)[0]
    return rsa.verify_pkcs1(c.key, hashlib.sha256(_read(msg_path)).digest(), _read(sig_path))


def op_fwsign(cert_path, roots_path, file_path, sig_path, now):
    from ocpp16 import fwsign
    d = fwsign.FileDigest()
    with open(file_path, "rb") as f:
        while True:
            chunk = f.read(1024)
            if not chunk:
                break
            d.update(chunk)
    return fwsign.check(_read(cert_path, "r"), _certs(roots_path), now, d.digest(), _read(sig_path, "r"))


OPS = {"fwsign": op_fwsign, "cert": op_cert, "chain": op_chain, "bad_cert": op_bad_cert, "keygen": op_keygen,
       "csr": op_csr, "sign": op_sign, "ecverify": op_ecverify, "pss": op_pss, "pkcs1": op_pkcs1}


def main(job_path):
    jobs = json.loads(_read(job_path, "r"))
    print(json.dumps([OPS[j[0]](*j[1:]) for j in jobs]))


if __name__ == "__main__":
    main(sys.argv[1])
