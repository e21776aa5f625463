# make bench, MicroPython side of bench_pki.py: runs one firmware/pki operation
# `count` times on the inputs in a folder and prints its mean time in ms.
import gc
import hashlib
import sys
import time

from pki import csr, p256, pem, rsa, x509


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def main(op, folder, count):
    msg = _read(folder + "/msg.bin")
    digest = hashlib.sha256(msg).digest()
    fn = None
    if op == "keygen":
        fn = p256.generate
    elif op == "csr":
        d, q = p256.private_key_from_der(_read(folder + "/key.der"))
        fn = lambda: csr.build_pem(d, q, "Example CPO", "SN-000000001")  # noqa: E731
    elif op == "ecdsa_verify":
        q = x509.Certificate(pem.decode(_read(folder + "/ec.pem"))).key
        r, s = p256.sig_from_der(_read(folder + "/ec.sig"))
        fn = lambda: p256.verify(q, digest, r, s)  # noqa: E731
    elif op == "pss_verify":
        key = x509.Certificate(pem.decode(_read(folder + "/rsa.pem"))).key
        sig = _read(folder + "/pss.sig")
        fn = lambda: rsa.verify_pss(key, digest, sig)  # noqa: E731
    elif op == "tls3":  # one profile 3 handshake (client certificate) with the server in bench_pki.py
        import socket
        from net import netcompat
        port = int(_read(folder + "/port.txt"))
        chain_pem = _read(folder + "/client.pem").decode()
        cert_der = pem.decode(chain_pem)
        key_der = _read(folder + "/key.der")
        root_der = pem.decode(_read(folder + "/root.pem"))

        def fn():
            ctx = netcompat.tls_client_context()
            ctx.load_verify_locations(cadata=root_der)
            netcompat.tls_ciphers(ctx, ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",), ("ECDHE-ECDSA-AES128-GCM-SHA256",))
            netcompat.tls_client_cert(ctx, cert_der, key_der, chain_pem, "", folder + "/scratch.pem")
            s = socket.socket()
            s.connect(socket.getaddrinfo("localhost", port)[0][-1])
            t = ctx.wrap_socket(s, server_hostname="localhost")
            t.write(b"x")
            t.close()
            return True
    elif op == "cert_parse":
        der = pem.decode(_read(folder + "/ec.pem"))
        fn = lambda: x509.Certificate(der)  # noqa: E731
    if fn is None:  # "import": the modules alone
        print("ok")
        return
    gc.collect()
    t = time.ticks_ms()
    for _ in range(count):
        res = fn()
    ms = time.ticks_diff(time.ticks_ms(), t) / count
    if (op.endswith("verify") or op == "tls3") and res is not True:
        raise SystemExit("verification failed")
    print("%.1f" % ms)


main(sys.argv[1], sys.argv[2], int(sys.argv[3]))  # run by bench_pki.py with its argv set
