# The WebSocket client (firmware/net/ws.py) on CPython against real servers:
# the `websockets` package where it can play the part, a raw asyncio server
# (host_tests/ws_servers.py) where the server has to misbehave.
import asyncio
import base64
import os
import ssl
import time

import pytest

import ws_servers as S
from net import ws, ws_close, ws_drain, ws_open, ws_url
from portable.limits import limit

MAX_MESSAGE = limit("net.ws_url", "_MAX_MESSAGE")  # the default largest message

TEST_TIMEOUT_S = 15  # one test's whole asyncio run


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT_S))


async def echo(conn):
    async for msg in conn:
        await conn.send(msg)


def url(srv, path="/ocpp/CP1"):
    return "ws://127.0.0.1:%d%s" % (srv.port, path)


# ---------------------------------------------------------------- handshake
def test_handshake_selects_ocpp16_and_echoes_text_and_binary():
    seen = {}

    async def handler(conn):
        seen["path"] = conn.request.path
        seen["proto"] = conn.subprotocol
        seen["host"] = conn.request.headers["Host"]
        await echo(conn)

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        async def main():
            c = await ws.connect(url(srv, "/ocpp/CP1?x=1"))
            assert c.subprotocol == "ocpp1.6"
            await c.send('[2,"1","Heartbeat",{}]')
            assert await c.recv() == '[2,"1","Heartbeat",{}]'
            await c.send("grüße €")
            assert await c.recv() == "grüße €"
            await c.send(b"\x00\xff\x10")
            got = await c.recv()
            assert got == b"\x00\xff\x10" and isinstance(got, bytes)
            await c.close()
            assert c.closed and c.close_code == 1000
        run(main())
    assert seen == {"path": "/ocpp/CP1?x=1", "proto": "ocpp1.6", "host": "127.0.0.1:%d" % srv.port}


def test_basic_auth_header_reaches_server():
    from websockets.asyncio.server import basic_auth
    password = "kéy:with colon €"  # websockets decodes credentials as UTF-8; raw bytes are checked below
    seen = []

    async def check(user, pw):
        seen.append((user, pw))
        return user == "CP1" and pw == password

    with S.websockets_server(echo, subprotocols=["ocpp1.6"], process_request=basic_auth(check_credentials=check)) as srv:
        async def main():
            c = await ws.connect(url(srv), basic_auth=("CP1", password.encode()))
            await c.send("hi")
            assert await c.recv() == "hi"
            await c.close()
            with pytest.raises(ws.Unauthorized) as e:
                await ws.connect(url(srv), basic_auth=("CP1", "wrong"))
            assert str(e.value) == "authorization rejected (HTTP 401)"
            assert e.value.status == 401
        run(main())
    assert seen == [("CP1", password), ("CP1", "wrong")]


def test_basic_auth_header_value():
    assert ws_url.basic_auth_header(("CP1", "secret")) == "Basic " + base64.b64encode(b"CP1:secret").decode()
    assert ws_url.basic_auth_header((b"CP1", b"\xff")) == "Basic " + base64.b64encode(b"CP1:\xff").decode()
    with pytest.raises(ValueError):
        ws_url.basic_auth_header(("a:b", "x"))


def test_401_without_credentials():
    from websockets.asyncio.server import basic_auth
    with S.websockets_server(echo, subprotocols=["ocpp1.6"],
                             process_request=basic_auth(credentials=("CP1", "pw"))) as srv:
        async def main():
            with pytest.raises(ws.Unauthorized, match=r"authorization rejected \(HTTP 401\)"):
                await ws.connect(url(srv))
        run(main())


def test_server_without_subprotocol_is_refused():
    with S.websockets_server(echo) as srv:  # websockets selects no subprotocol
        async def main():
            with pytest.raises(ws.WebSocketError, match="server did not select subprotocol ocpp1.6"):
                await ws.connect(url(srv))
        run(main())


def test_server_selecting_other_subprotocol_is_refused():
    async def handler(reader, writer):
        await S.handshake(reader, writer, protocol="ocpp2.0.1")
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError, match="selected subprotocol 'ocpp2.0.1'"):
                await ws.connect(url(srv))
        run(main())


def test_wrong_accept_is_refused():
    async def handler(reader, writer):
        await S.handshake(reader, writer, accept=base64.b64encode(b"x" * 20).decode())
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError, match="Sec-WebSocket-Accept"):
                await ws.connect(url(srv))
        run(main())


@pytest.mark.parametrize("status,expect", [(403, "HTTP 403"), (200, "HTTP 200")])
def test_non_101_status_is_refused(status, expect):
    async def handler(reader, writer):
        await S.handshake(reader, writer, status=status)
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError, match=expect) as e:
                await ws.connect(url(srv))
            assert e.value.status == status
        run(main())


def test_oversized_handshake_response_is_refused():
    async def handler(reader, writer):
        await S.read_request(reader)
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\n" + b"X-Junk: " + b"a" * 100000)
        await writer.drain()
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError, match="longer than %d" % ws_open._MAX_HANDSHAKE_BYTES):
                await ws.connect(url(srv))
        run(main())


def test_handshake_timeout_and_refused_port():
    async def handler(reader, writer):
        await reader.read()  # never answers

    with S.raw_server(handler) as srv:
        async def main():
            t = time.monotonic()
            with pytest.raises(ws.WebSocketError, match="within 300 ms"):
                await ws.connect(url(srv), timeout_ms=300)
            assert time.monotonic() - t < 2
        run(main())
    port = srv.port  # closed now

    async def refused():
        with pytest.raises(ws.WebSocketError, match="cannot connect"):
            await ws.connect("ws://127.0.0.1:%d/x" % port, timeout_ms=2000)
    run(refused())


@pytest.mark.parametrize("bad", ["http://h/x", "ws://", "ws://h:0/x", "ws://h:99999/", "ws://h:p/",
                                 "ws://u:p@h/x", "ws://h/a b", "ws://[::1/x", 42])
def test_bad_urls_are_named_errors(bad):
    with pytest.raises(ws.WebSocketError, match="URL"):
        ws_url.parse_url(bad)


def test_parse_url():
    assert ws_url.parse_url("ws://h/x") == (False, "h", 80, "/x")
    assert ws_url.parse_url("WSS://h.example:8443/a/b?c=1#frag") == (True, "h.example", 8443, "/a/b?c=1")
    assert ws_url.parse_url("ws://h?q") == (False, "h", 80, "/?q")
    assert ws_url.parse_url("wss://[::1]:9000") == (True, "::1", 9000, "/")
    assert ws_url.parse_url("wss://[::1]/p") == (True, "::1", 443, "/p")


# ---------------------------------------------------------------- ping / pong
def test_server_ping_with_payload_is_answered_and_not_delivered():
    result = {}

    async def handler(conn):
        waiter = await conn.ping(b"\x00\x01payload\xff")
        result["latency"] = await asyncio.wait_for(waiter, 5)  # websockets checks the pong payload matches
        await conn.send("after-ping")
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"], ping_interval=None) as srv:
        async def main():
            c = await ws.connect(url(srv))
            assert await c.recv() == "after-ping"
            await c.close()
        run(main())
    assert result["latency"] >= 0


def test_raw_ping_pong_payload_is_identical():
    got = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(9, b"\x7fabc\x00") + S.frame(9, b"") + S.frame(1, "msg"))
        await writer.drain()
        for _ in range(2):
            got.append(await S.read_frame(reader))
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            assert await c.recv() == "msg"
            await asyncio.sleep(0.1)
            c.abort()
        run(main())
    assert [(op, data, m) for _, op, data, m in got] == [(10, b"\x7fabc\x00", True), (10, b"", True)]


def test_client_ping_gets_pong_and_updates_last_rx():
    with S.websockets_server(echo, subprotocols=["ocpp1.6"], ping_interval=None) as srv:
        async def main():
            c = await ws.connect(url(srv))
            before = c.last_rx_ms
            await asyncio.sleep(0.05)
            await c.ping(b"keepalive")
            await c.send("x")  # the echo follows the pong on the wire
            assert await c.recv() == "x"
            assert c.pongs == 1
            assert c.last_rx_ms > before
            with pytest.raises(ValueError):
                await c.ping(b"x" * 126)
            await c.close()
        run(main())


# ---------------------------------------------------------------- fragmentation
def test_fragmented_message_with_interleaved_control_frames():
    pongs = []
    text = "[2,\"42\",\"DataTransfer\",{\"data\":\"" + "é€" * 50 + "\"}]"
    raw = text.encode()
    # split inside multi-byte characters on purpose
    parts = [raw[:7], raw[7:8], raw[8:100], raw[100:]]

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        out = S.frame(1, parts[0], fin=False) + S.frame(9, b"p1")
        out += S.frame(0, parts[1], fin=False) + S.frame(10, b"unsolicited") + S.frame(9, b"p2")
        out += S.frame(0, parts[2], fin=False) + S.frame(0, b"", fin=False)
        out += S.frame(0, parts[3], fin=True) + S.frame(2, b"\x01\x02", fin=False) + S.frame(0, b"\x03")
        for i in range(0, len(out), 5):  # dribble: frame boundaries never match TCP reads
            writer.write(out[i:i + 5])
            await writer.drain()
        for _ in range(2):
            pongs.append(await S.read_frame(reader))
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            assert await c.recv() == text
            assert await c.recv() == b"\x01\x02\x03"
            assert c.pongs == 1
            await asyncio.sleep(0.1)
            c.abort()
        run(main())
    assert [(op, data) for _, op, data, _ in pongs] == [(10, b"p1"), (10, b"p2")]


# ---------------------------------------------------------------- sizes
def test_70k_messages_both_ways_with_raised_limit():
    big = ("[2,\"1\",\"DataTransfer\",{\"data\":\"%s\"}]" % ("x" * 70000))
    blob = os.urandom(70 * 1024)

    with S.websockets_server(echo, subprotocols=["ocpp1.6"]) as srv:
        async def main():
            c = await ws.connect(url(srv), max_message=80 * 1024)
            await c.send(big)
            assert await c.recv() == big
            await c.send(blob)
            assert await c.recv() == blob
            await c.close()
        run(main())


def test_message_above_default_limit_is_dropped_and_the_connection_kept():
    got = []

    async def handler(conn):
        await conn.send('[2,"too-big-1","DataTransfer",{"data":"' + "y" * MAX_MESSAGE + '"}]')
        await conn.send("after")
        got.append(await conn.recv())
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"], max_size=None) as srv:
        async def main():
            c = await ws.connect(url(srv))
            with pytest.raises(ws.MessageTooBig, match="exceeds max_message 65536") as e:
                await c.recv()
            assert not e.value.closed and not c.closed
            assert e.value.size == MAX_MESSAGE + 42 and e.value.head.startswith(b'[2,"too-big-1","DataTransfer"')
            assert await c.recv() == "after"
            await c.send("still here")
            # outgoing: refused locally, nothing sent
            with pytest.raises(ws.MessageTooBig):
                await c.send("z" * (MAX_MESSAGE + 1))
            await c.close()
            assert c.close_code == 1000
        run(main())
        time.sleep(0.2)
    assert got == ["still here"]


def test_huge_announced_length_is_refused_without_allocating():
    seen = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(2, b"", length=1 << 40))  # header only: a terabyte announced
        await writer.drain()
        seen.append(await S.read_frame(reader))
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            with pytest.raises(ws.MessageTooBig):
                await c.recv()
        run(main())
        time.sleep(0.1)
    assert seen[0][1] == 8 and S.close_code(seen[0][2]) == 1009


def test_fragments_adding_up_above_limit_are_dropped():
    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(1, b"a" * 600, fin=False) + S.frame(0, b"b" * 600) + S.frame(1, b"ok"))
        await writer.drain()
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv), max_message=1000)
            with pytest.raises(ws.MessageTooBig, match="1200") as e:
                await c.recv()
            assert e.value.head == b"a" * ws_drain.TOO_BIG_HEAD and e.value.size == 1200
            assert await c.recv() == "ok"
            c.abort()
            await c.wait_closed()
        run(main())


def test_message_above_the_drain_bound_closes_with_1009():
    seen = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(1, b"[2,", length=ws_drain.MAX_DRAIN + 1))
        await writer.drain()
        seen.append(await S.read_frame(reader))
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            with pytest.raises(ws.MessageTooBig, match="exceeds 1048576") as e:
                await c.recv()
            assert e.value.closed and c.closed and c.close_code == 1009
        run(main())
        time.sleep(0.1)
    assert seen[0][1] == 8 and S.close_code(seen[0][2]) == 1009


# ---------------------------------------------------------------- protocol errors
@pytest.mark.parametrize("frames,expect,code", [
    (S.frame(1, b"x", rsv=4), "reserved bits", 1002),
    (S.frame(1, b"x", mask=b"abcd"), "masked frame", 1002),
    (S.frame(3, b"x"), "unknown data opcode 3", 1002),
    (S.frame(11, b"x"), "unknown control opcode 11", 1002),
    (S.frame(9, b"p" * 126), "control frame of 126 bytes", 1002),
    (S.frame(9, b"p", fin=False), "fragmented control frame", 1002),
    (S.frame(0, b"x"), "continuation frame without", 1002),
    (S.frame(1, b"x", fin=False) + S.frame(1, b"y"), "new message started", 1002),
    (S.frame(1, b"\xff\xfe"), "not valid UTF-8", 1007),
    (S.frame(8, b"\x03"), "1-byte payload", 1002),
    (S.frame(8, b"\x03\xed"), "invalid close code 1005", 1002),
])
def test_protocol_violations(frames, expect, code):
    seen = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(frames)
        await writer.drain()
        try:
            seen.append(await S.read_frame(reader))
        except asyncio.IncompleteReadError:
            seen.append(None)
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            with pytest.raises(ws.ProtocolError, match=expect):
                await c.recv()
            assert c.closed and c.close_code == code
        run(main())
        time.sleep(0.1)
    assert seen[0][1] == 8 and S.close_code(seen[0][2]) == code


# ---------------------------------------------------------------- closing
def test_abrupt_drop_mid_frame_raises_connection_closed():
    async def handler(reader, writer):
        await S.handshake(reader, writer)
        writer.write(S.frame(1, "complete") + S.frame(1, b"x" * 100)[:30])
        await writer.drain()
        writer.transport.abort()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            assert await c.recv() == "complete"
            with pytest.raises(ws.ConnectionClosed) as e:
                await c.recv()
            assert e.value.code == 1006
            assert c.closed
            with pytest.raises(ws.ConnectionClosed):
                await c.send("x")
            await c.close()  # harmless on a dead connection
        run(main())


def test_server_initiated_close_is_echoed():
    rcvd = {}

    async def handler(conn):
        await conn.send("bye soon")
        await conn.close(4000, "server says bye")
        rcvd["code"] = conn.protocol.close_rcvd.code if conn.protocol.close_rcvd else None

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        async def main():
            c = await ws.connect(url(srv))
            assert await c.recv() == "bye soon"
            with pytest.raises(ws.ConnectionClosed) as e:
                await c.recv()
            assert (e.value.code, e.value.reason) == (4000, "server says bye")
            assert "4000" in str(e.value) and "server says bye" in str(e.value)
        run(main())
        time.sleep(0.1)
    assert rcvd == {"code": 4000}


def test_client_close_handshake():
    rcvd = {}

    async def handler(conn):
        try:
            await conn.recv()
        except Exception:
            pass
        rcvd["code"] = conn.protocol.close_rcvd.code
        rcvd["reason"] = conn.protocol.close_rcvd.reason

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        async def main():
            c = await ws.connect(url(srv))
            t = time.monotonic()
            await c.close(1000, "done")
            assert time.monotonic() - t < ws_close.CLOSE_TIMEOUT_MS / 1000 / 2  # server answered, no timeout
            assert c.closed and c.close_code == 1000
        run(main())
        time.sleep(0.1)
    assert rcvd == {"code": 1000, "reason": "done"}


def test_client_close_while_another_task_receives():
    async def handler(conn):
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        async def main():
            c = await ws.connect(url(srv))
            rx = asyncio.create_task(c.recv())
            await asyncio.sleep(0.05)
            with pytest.raises(ws.WebSocketError, match="already running"):
                await c.recv()
            t = time.monotonic()
            await c.close()
            assert time.monotonic() - t < 1
            with pytest.raises(ws.ConnectionClosed) as e:
                await rx
            assert e.value.code == 1000
        run(main())


def test_close_times_out_when_server_never_answers():
    async def handler(reader, writer):
        await S.handshake(reader, writer)
        await reader.read()  # reads our close, never answers

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            t = time.monotonic()
            await c.close()
            took = time.monotonic() - t
            assert ws_close.CLOSE_TIMEOUT_MS / 1000 - 0.2 <= took < ws_close.CLOSE_TIMEOUT_MS / 1000 + 1
            assert c.closed
        run(main())


# ---------------------------------------------------------------- TLS
@pytest.fixture
def cert(tmp_path):
    made = S.make_self_signed(tmp_path)
    if made is None:
        pytest.skip("neither the cryptography package nor the openssl CLI is available to make a certificate")
    return made


def test_wss_with_self_signed_certificate(cert):
    certfile, keyfile, pem = cert
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    with S.websockets_server(echo, subprotocols=["ocpp1.6"], ssl=server_ctx) as srv:
        async def main():
            ctx = ssl.create_default_context(cadata=pem.decode())
            c = await ws.connect("wss://localhost:%d/ocpp/CP1" % srv.port, ssl=ctx)
            await c.send("over tls")
            assert await c.recv() == "over tls"
            await c.send("z" * 30000)
            assert await c.recv() == "z" * 30000
            await c.close()
            # the default context does not trust our self-signed certificate
            with pytest.raises(ws.WebSocketError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
                await ws.connect("wss://localhost:%d/ocpp/CP1" % srv.port, ssl=True)
        run(main())


def test_ssl_context_for_plain_ws_is_refused():
    async def main():
        with pytest.raises(ws.WebSocketError, match="wss://"):
            await ws.connect("ws://127.0.0.1:1/x", ssl=ssl.create_default_context())
    run(main())


# ---------------------------------------------------------------- input split anywhere
def _handshake_bytes(key, extra=""):
    return ("HTTP/1.1 101 Switching Protocols\r\nuPgRaDe: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
            "sec-websocket-accept: %s\r\nSec-WebSocket-Protocol: ocpp1.6\r\n%s\r\n" % (S.accept_for(key), extra)).encode()


@pytest.mark.parametrize("step", [1, 2, 3, 13, 10 ** 6])
def test_handshake_and_frames_split_at_any_position(step):
    text = "ü" * 200  # 400 bytes: 16-bit length
    blob = bytes(range(256)) * 300  # 76800 bytes: 64-bit length

    async def handler(reader, writer):
        _, headers = await S.read_request(reader)
        out = _handshake_bytes(headers["sec-websocket-key"])
        out += S.frame(1, "a") + S.frame(9, b"pp") + S.frame(1, text) + S.frame(2, blob) + S.frame(1, "")
        out += S.frame(8, b"\x03\xe8bye")
        for i in range(0, len(out), step):  # the whole response in one write, or dribbled
            writer.write(out[i:i + step])
            if step < 10:
                await writer.drain()
                if i % 512 == 0:
                    await asyncio.sleep(0)
        await writer.drain()
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv), max_message=80000)
            assert c.subprotocol == "ocpp1.6"
            assert await c.recv() == "a"
            assert await c.recv() == text
            assert await c.recv() == blob
            assert await c.recv() == ""
            with pytest.raises(ws.ConnectionClosed) as e:
                await c.recv()
            assert (e.value.code, e.value.reason) == (1000, "bye")
        run(main())


@pytest.mark.parametrize("extra,expect", [
    ("Sec-WebSocket-Extensions: permessage-deflate\r\n", "extensions"),
])
def test_unrequested_extension_is_refused(extra, expect):
    async def handler(reader, writer):
        _, headers = await S.read_request(reader)
        writer.write(_handshake_bytes(headers["sec-websocket-key"], extra))
        await writer.drain()
        await reader.read()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError, match=expect):
                await ws.connect(url(srv))
        run(main())


@pytest.mark.parametrize("response,expect", [
    (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", "did not upgrade to websocket"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "Connection: Upgrade"),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP response"),
    (b"HTTP/1.1 101 OK\r\nno colon here\r\n\r\n", "malformed HTTP header"),
    (b"HTTP/1.1 101 OK\r\n", "server closed the connection during the handshake"),
])
def test_malformed_handshake_responses(response, expect):
    async def handler(reader, writer):
        await S.read_request(reader)
        writer.write(response)
        await writer.drain()
        writer.close()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError, match=expect):
                await ws.connect(url(srv))
        run(main())


def test_request_carries_rfc6455_headers():
    seen = {}

    async def handler(reader, writer):
        line, headers = await S.read_request(reader)
        seen["line"] = line
        seen.update(headers)
        writer.close()

    with S.raw_server(handler) as srv:
        async def main():
            with pytest.raises(ws.WebSocketError):
                await ws.connect("ws://127.0.0.1:%d/a/b?c=d" % srv.port, subprotocols=("ocpp1.6", "ocpp1.5"))
        run(main())
    assert seen["line"] == "GET /a/b?c=d HTTP/1.1"
    assert seen["host"] == "127.0.0.1:%d" % srv.port
    assert seen["upgrade"] == "websocket" and seen["connection"] == "Upgrade"
    assert seen["sec-websocket-version"] == "13"
    assert seen["sec-websocket-protocol"] == "ocpp1.6, ocpp1.5"
    assert len(base64.b64decode(seen["sec-websocket-key"])) == 16
    assert "authorization" not in seen


def test_nothing_is_sent_after_our_close_frame():
    frames = []

    async def handler(reader, writer):
        await S.handshake(reader, writer)
        frames.append(await S.read_frame(reader))
        await asyncio.sleep(0.3)  # answer late: the client is still in close()
        writer.write(S.frame(8, frames[0][2]))
        await writer.drain()
        try:
            frames.append(await S.read_frame(reader))
        except asyncio.IncompleteReadError:
            pass

    with S.raw_server(handler) as srv:
        async def main():
            c = await ws.connect(url(srv))
            closing = asyncio.create_task(c.close(1000, "bye"))
            await asyncio.sleep(0.1)
            with pytest.raises(ws.ConnectionClosed, match="closing"):
                await c.send("too late")
            await closing
            assert c.close_code == 1000
        run(main())
        time.sleep(0.1)
    assert [(f[1], S.close_code(f[2]), f[2][2:]) for f in frames] == [(8, 1000, b"bye")]
