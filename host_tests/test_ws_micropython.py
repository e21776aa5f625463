# The same WebSocket client (firmware/net/ws.py) on real MicroPython
# (host_tests/ws_mp_client.py run with host_tests/mpy.py) against CPython test servers.
import asyncio
import hashlib
import os
import ssl

import pytest

import mpy
import ws_servers as S

SCRIPT = os.path.join(mpy.HOST_TESTS, "ws_mp_client.py")
MP_TIMEOUT_S = 60  # one micropython run


def mp(mode, srv, *args, heapsize=None, path="/ocpp/CP1", scheme="ws", host="127.0.0.1"):
    url = "%s://%s:%d%s" % (scheme, host, srv.port, path)
    r = mpy.run([SCRIPT, mode, url] + list(args), extra_path=(mpy.HOST_TESTS,), heapsize=heapsize,
                timeout=MP_TIMEOUT_S)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    results = [l.split(" ", 1)[1] if " " in l else "" for l in r.stdout.splitlines() if l.startswith("RESULT")]
    assert results and results[-1] == "done", out
    return results[:-1], out


def sha1(data):
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha1(data).hexdigest()


async def echo(conn):
    async for msg in conn:
        await conn.send(msg)


def test_mp_handshake_subprotocol_and_echo():
    seen = {}

    async def handler(conn):
        seen["proto"] = conn.subprotocol
        seen["path"] = conn.request.path
        await echo(conn)

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        res, out = mp("echo", srv, path="/ocpp/CP1?mp=1")
    assert res == ["subprotocol ocpp1.6", 'echo [2,"1","Heartbeat",{}]', "utf8 True", "closed 1000"], out
    assert seen == {"proto": "ocpp1.6", "path": "/ocpp/CP1?mp=1"}


def test_mp_ping_echo_and_own_ping():
    pongs = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(9, b"\x00csms\xff") + S.frame(1, "first"))
        await writer.drain()
        pongs.append(await S.read_frame(reader))
        fin, op, data, masked = await S.read_frame(reader)  # the client's own ping
        assert op == 9
        writer.write(S.frame(10, data) + S.frame(1, "second"))
        await writer.drain()
        fin, op, data, masked = await S.read_frame(reader)  # close
        writer.write(S.frame(8, data))
        await writer.drain()

    with S.raw_server(handler) as srv:
        res, out = mp("ping", srv)
    assert res == ["message first", "message second", "pongs 1"], out
    assert [(op, data, masked) for _, op, data, masked in pongs] == [(10, b"\x00csms\xff", True)]


def test_mp_fragments_with_interleaved_pings():
    text = "[2,\"7\",\"DataTransfer\",{\"data\":\"" + "é€" * 300 + "\"}]"
    raw = text.encode()
    blob = bytes(range(256)) * 3
    pongs = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        out = S.frame(1, raw[:5], fin=False) + S.frame(9, b"a")
        out += S.frame(0, raw[5:400], fin=False) + S.frame(10, b"x") + S.frame(9, b"b")
        out += S.frame(0, raw[400:]) + S.frame(2, blob[:100], fin=False) + S.frame(9, b"c") + S.frame(0, blob[100:])
        for i in range(0, len(out), 7):
            writer.write(out[i:i + 7])
            await writer.drain()
        for _ in range(3):
            pongs.append(await S.read_frame(reader))
        fin, op, data, masked = await S.read_frame(reader)
        writer.write(S.frame(8, data))
        await writer.drain()

    with S.raw_server(handler) as srv:
        res, out = mp("frag", srv)
    assert res == ["text %d %s" % (len(text), sha1(text)), "binary bytes %s" % sha1(blob), "pongs 1"], out
    assert [(op, data) for _, op, data, _ in pongs] == [(10, b"a"), (10, b"b"), (10, b"c")]


def test_mp_70k_messages_both_ways_in_256k_heap():
    text = "[2,\"1\",\"DataTransfer\",{\"data\":\"%s\"}]" % ("é" * 35000)  # ~70 KB of UTF-8
    blob = os.urandom(70 * 1024)
    got = {}

    async def handler(conn):
        await conn.send(text)
        got["text"] = await conn.recv()
        await conn.send(blob)
        got["blob"] = await conn.recv()
        await conn.send("ok")
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        res, out = mp("big", srv, heapsize="256K")
    n = len(text.encode())
    assert 68 * 1024 < n < 72 * 1024
    send_ms = res.pop(2).split()[1]
    assert res[1:5] == ["received %d %s" % (len(text), sha1(text)), "sent 1 2 3 4",
                        "binary %d %s" % (len(blob), sha1(blob)), "ack ok"], out
    assert got == {"text": text, "blob": blob}
    print("micropython, 256K heap: %s bytes free before connecting; %d-byte text message masked and sent in %s ms"
          % (res[0].split()[1], n, send_ms))


def test_mp_drops_oversized_message_in_256k_heap_and_keeps_the_connection():
    closes = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(1, b'[2,"big-7","Data' + b"y" * (70 * 1024)) + S.frame(1, b"next"))
        writer.write(S.frame(2, b"", length=1 << 40))
        await writer.drain()
        fin, op, data, masked = await S.read_frame(reader)
        closes.append((op, S.close_code(data)))
        writer.close()

    with S.raw_server(handler) as srv:
        res, out = mp("toobig", srv, heapsize="256K")
    assert res[0] == ("toobig False 71696 [2,\"big-7\",\"Datayyyy "
                      "incoming message of 71696 bytes exceeds max_message 65536 (dropped)"), out
    assert res[1:] == ["next next", "huge True 1009"], out
    assert closes == [(8, 1009)]


def test_mp_abrupt_drop_mid_frame():
    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(1, "complete") + S.frame(1, b"x" * 300)[:40])
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.transport.abort()

    with S.raw_server(handler) as srv:
        res, out = mp("drop", srv)
    assert res == ["message complete", "drop 1006"], out


def test_mp_heap_of_connected_websocket():
    with S.websockets_server(echo, subprotocols=["ocpp1.6"]) as srv:
        res, out = mp("heap", srv, heapsize="256K")
    connected, after_msg = res[0].split()[1:]
    assert int(connected) > 0
    # A figure, not an assertion: bytes of heap a connected ws:// WebSocket holds on micropython.
    print("micropython heap used by a connected WebSocket: %s bytes (after one 100-byte echo: %s)"
          % (connected, after_msg))


def test_mp_wss_with_self_signed_certificate(tmp_path):
    made = S.make_self_signed(tmp_path)
    if made is None:
        pytest.skip("neither the cryptography package nor the openssl CLI is available to make a certificate")
    certfile, keyfile, pem = made
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    with S.websockets_server(echo, subprotocols=["ocpp1.6"], ssl=server_ctx) as srv:
        der = os.path.join(str(tmp_path), "cert.der")
        with open(der, "wb") as f:
            f.write(ssl.PEM_cert_to_DER_cert(pem.decode()))
        res, out = mp("wss", srv, der, scheme="wss", host="localhost")
    assert res[1:] == ["echo over tls", "big_echo True", "default_ctx refused"], out
    print("micropython heap used by a connected wss:// WebSocket: %s bytes" % res[0].split()[1])


# ---------------------------------------------------------------- the supervisor on micropython
LINK_SCRIPT = os.path.join(mpy.HOST_TESTS, "ws_mp_link.py")


def mp_link(mode, srv):
    r = mpy.run([LINK_SCRIPT, mode, "ws://127.0.0.1:%d/ocpp/" % srv.port], extra_path=(mpy.HOST_TESTS,),
                timeout=MP_TIMEOUT_S)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    results = [l.split(" ", 1)[1] for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert results[-1] == "done", out
    return results[:-1], out


def test_mp_link_reconnects_after_drop():
    got = []

    async def handler(conn):
        got.append((conn.request.path, await conn.recv()))
        if len(got) == 1:
            conn.transport.abort()
            return
        await conn.send("second")
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        res, out = mp_link("reconnect", srv)
    assert res[:4] == ["send_before NotConnected", "open 1", "close connection closed (code 1006: connection lost (EOF))",
                       "open 2"], out
    assert res[4:6] == ["message second", "close stopped"], out
    ran = int(res[6].split()[1])
    assert ran >= 200  # the backoff wait happened
    assert res[7] == "up False connects 2"
    assert got == [("/ocpp/CP1", "hello 1"), ("/ocpp/CP1", "hello 2")]
    assert "[info] link: next connect attempt in 200 ms" in out


def test_mp_link_survives_out_of_heap_in_handler_log_and_ping():
    conns = []

    async def handler(conn):
        conns.append(await conn.recv())
        await conn.send("boom")
        if len(conns) == 2:
            await conn.send("second")
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        res, out = mp_link("starved", srv)
    assert res[:7] == ["send_before NotConnected", "open 1", "message boom", "close no heap for a ping",
                       "open 2", "message boom", "message second"], out
    assert res[7:] == ["close stopped", res[8], "up False connects 2"], out
    assert conns == ["hello 1", "hello 2"]
    assert "Task exception" not in out and "Traceback" not in out, out


def test_mp_link_detects_dead_link():
    conns = []
    ops = []

    async def handler(reader, writer):
        conns.append(1)
        await S.handshake(reader, writer)
        while True:  # never answers: no pong
            try:
                fin, op, data, masked = await S.read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            ops.append(op)

    with S.raw_server(handler) as srv:
        res, out = mp_link("dead", srv)
    assert res[:3] == ["send_before NotConnected", "open 1", "close nothing received for %s ms (dead link)"
                       % res[2].split()[4]], out
    assert 500 < int(res[2].split()[4]) < 1500, out
    assert res[3] == "open 2", out
    assert len(conns) == 2 and ops.count(9) >= 3 and ops.count(1) == 2
