# Test servers for the WebSocket client and link tests: a `websockets` server or a
# hand-written raw asyncio TCP server (for misbehaviour websockets will not produce),
# each run on its own event loop in a thread so CPython and micropython clients can
# both connect to it. Test helper only; never imported by firmware.
import asyncio
import base64
import hashlib
import os
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
START_TIMEOUT_S = 10  # a server thread that is not listening by then is a test failure
STOP_TIMEOUT_S = 2  # closing the server and its connections at the end of a test


class ServerThread:
    """Runs `await start()` (returns an asyncio Server-like object with .sockets and .close())
    on a private loop in a daemon thread. Use as a context manager; .port is the bound port."""

    def __init__(self, start):
        self._start = start
        self.loop = None
        self.server = None
        self.port = None
        self.error = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.server = self.loop.run_until_complete(self._start())
            self.port = self.server.sockets[0].getsockname()[1]
        except BaseException as e:  # reported to the test thread
            self.error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._shutdown())
        self.loop.close()

    async def _shutdown(self):
        self.server.close()
        try:
            await asyncio.wait_for(self.server.wait_closed(), STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            pass
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for t in rest:  # raw handlers still blocked on a read
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("test server did not start")
        if self.error:
            raise self.error
        return self

    def call(self, coro, timeout=10):
        """Run a coroutine on the server loop from the test thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_TIMEOUT_S + 3)


def websockets_server(handler, **kw):
    """ServerThread around websockets.asyncio.server.serve(handler, 127.0.0.1, random port, **kw)."""
    from websockets.asyncio.server import serve

    async def start():
        return await serve(handler, "127.0.0.1", 0, **kw)

    return ServerThread(start)


def raw_server(handler, host="127.0.0.1", ssl=None):
    """ServerThread around asyncio.start_server(handler(reader, writer))."""

    async def start():
        return await asyncio.start_server(handler, host, 0, ssl=ssl)

    return ServerThread(start)


# ---------------------------------------------------------------- raw protocol pieces
async def read_request(reader):
    """Read an HTTP request head; returns (request_line, {lower name: value})."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


async def handshake(reader, writer, protocol="ocpp1.6", accept=None, status=101, extra=""):
    """Answer the client's upgrade request; returns the request headers."""
    _, headers = await read_request(reader)
    if status != 101:
        writer.write(("HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n" % status).encode())
        await writer.drain()
        return headers
    acc = accept if accept is not None else accept_for(headers["sec-websocket-key"])
    resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    resp += "Sec-WebSocket-Accept: %s\r\n" % acc
    if protocol:
        resp += "Sec-WebSocket-Protocol: %s\r\n" % protocol
    resp += extra
    writer.write((resp + "\r\n").encode())
    await writer.drain()
    return headers


def frame(op, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """One server->client frame (unmasked unless mask is given); length overrides the announced size."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


async def read_frame(reader):
    """One client->server frame: (fin, opcode, unmasked payload, was_masked)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    masked = bool(b1 & 0x80)
    key = await reader.readexactly(4) if masked else b"\0\0\0\0"
    data = await reader.readexactly(n)
    if masked:
        data = unmask(data, key)
    return bool(b0 & 0x80), b0 & 0x0F, data, masked


def unmask(data, key):
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def make_self_signed(tmpdir, names=("localhost",)):
    """A self-signed server certificate for localhost/127.0.0.1 -> (certfile, keyfile, pem bytes).
    Uses `cryptography` if importable, else the openssl CLI; None if neither is available."""
    certfile = os.path.join(str(tmpdir), "cert.pem")
    keyfile = os.path.join(str(tmpdir), "key.pem")
    try:
        import datetime
        import ipaddress
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return _openssl_self_signed(certfile, keyfile, names)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    with open(certfile, "wb") as f:
        f.write(pem)
    with open(keyfile, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return certfile, keyfile, pem


def _openssl_self_signed(certfile, keyfile, names):
    import shutil
    import subprocess
    if not shutil.which("openssl"):
        return None
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "30", "-subj", "/CN=%s" % names[0], "-keyout", keyfile, "-out", certfile,
                    "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % names[0]],
                   check=True, capture_output=True)
    with open(certfile, "rb") as f:
        return certfile, keyfile, f.read()
