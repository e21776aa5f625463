# Every socket of the WebSocket client and the link supervisor is released on every path
# (failed connect, refused upgrade, connect timeout, TLS failure, close handshake from
# either side, dropped and dead links): the open file descriptors of the real micropython
# process return to their starting count, and after a close handshake the TCP connection
# is closed by the charger, not left for the server to time out.
import asyncio
import os
import socket
import ssl

import subprocess
import sys

import pytest

import mpy
import ws_servers as S

SCRIPT = os.path.join(mpy.HOST_TESTS, "ws_mp_sockets.py")
EOF_WAIT_S = 3  # how long the server waits for the client's TCP close after the close handshake
MP_TIMEOUT_S = 120


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Servers:
    def __init__(self):
        self.eof_s = []  # per close handshake: seconds until the client closed TCP (None: it never did)
        self.cycle = 0

    async def wait_eof(self, reader, writer):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            while await asyncio.wait_for(reader.read(100), EOF_WAIT_S):
                pass
            self.eof_s.append(loop.time() - t0)
        except (asyncio.TimeoutError, ConnectionError):
            self.eof_s.append(None)
        writer.close()

    async def handler(self, reader, writer):
        try:
            line, headers = await S.read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        path = line.split()[1]
        mode = path.rsplit("/", 2)[-2] if path.endswith("/CP1") else path.rsplit("/", 1)[-1]
        if mode == "cycle":
            mode = ("serverclose", "drop", "dead")[self.cycle % 3]
            self.cycle += 1
        if mode == "hangup":
            writer.close()
            return
        if mode == "http500":
            writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            await self.wait_eof(reader, writer)
            return
        if mode == "silent":
            await self.wait_eof(reader, writer)
            return
        acc = S.accept_for(headers["sec-websocket-key"])
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n" % acc).encode())
        await writer.drain()
        try:
            if mode == "drop":
                await asyncio.sleep(0.05)
                writer.transport.abort()
                return
            if mode == "dead":
                while await reader.read(100):  # never answers pings: the link declares it dead
                    pass
                writer.close()
                return
            if mode == "serverclose":
                writer.write(S.frame(8, b"\x03\xe8bye"))
                await writer.drain()
                fin, op, data, masked = await S.read_frame(reader)
                assert op == 8
                await self.wait_eof(reader, writer)
                return
            while True:  # echo until the client's close
                fin, op, data, masked = await S.read_frame(reader)
                if op == 8:
                    writer.write(S.frame(8, data))
                    await writer.drain()
                    await self.wait_eof(reader, writer)
                    return
                writer.write(S.frame(op, data))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def run_python(args, timeout):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((mpy.FIRMWARE, mpy.HOST_TESTS)))
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_sockets_released_after_200_failures_and_50_cycles(tmp_path, runtime):
    server_dir, other_dir = tmp_path / "server", tmp_path / "other"
    server_dir.mkdir()
    other_dir.mkdir()
    made = S.make_self_signed(server_dir)
    other = S.make_self_signed(other_dir)
    if made is None or other is None:
        pytest.skip("neither the cryptography package nor the openssl CLI is available to make a certificate")
    certfile, keyfile, _ = made
    untrusted_ca = str(tmp_path / "other.der")  # the client trusts another CA than the server's
    with open(untrusted_ca, "wb") as f:
        f.write(ssl.PEM_cert_to_DER_cert(other[2].decode()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    plain, tls = Servers(), Servers()
    with S.raw_server(plain.handler) as srv, S.raw_server(tls.handler, ssl=server_ctx) as tsrv:
        run = mpy.run if runtime == "micropython" else run_python
        r = run([SCRIPT, "ws://127.0.0.1:%d/t" % srv.port, "wss://localhost:%d/t" % tsrv.port,
                     "ws://127.0.0.1:%d/t" % closed_port(), untrusted_ca], timeout=MP_TIMEOUT_S)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    res = [l.split(" ", 1)[1] for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert res[-1] == "done", out
    reasons = dict(l.split(" ", 2)[1:] for l in res if l.startswith("reason "))
    res = [l for l in res if not l.startswith("reason ")]
    # One-line reasons (mbedTLS messages start with a newline): what the console shows after "failed: ".
    assert reasons["untrusted"].startswith("TLS handshake with localhost:%d failed: " % tsrv.port) or \
        reasons["untrusted"].startswith("cannot connect to localhost:%d: [SSL: CERTIFICATE_VERIFY_FAILED]" % tsrv.port), reasons
    assert all("\n" not in v and not v.startswith(" ") for v in reasons.values()), reasons
    start = int(res[0].split()[1])
    assert [l.rsplit(" ", 2)[0] for l in res[1:6]] == [
        "failed refused 40", "failed hangup 40", "failed http500 40", "failed silent 40", "failed untrusted 40"], out
    assert [l.rsplit(" ", 2)[0] for l in res[6:9]] == [
        "client_closes 30", "server_closes 20 code 1000", "link_sessions 12 connects 12"], out
    counts = [int(l.rsplit(" ", 1)[1]) for l in res[1:10]]
    assert counts == [start] * len(counts), out  # after every group, back to the starting count
    # Each close handshake (30 by us, 20 + 4 by the server) ended with our TCP close, well before the server's wait ran out.
    assert len(plain.eof_s) >= 54 + 80, plain.eof_s
    assert None not in plain.eof_s, plain.eof_s
    assert max(plain.eof_s) < EOF_WAIT_S - 1, plain.eof_s
