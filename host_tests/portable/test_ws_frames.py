# net.ws without a network, on both runtimes: URL parsing, RFC 6455 handshake keys,
# masking, and frame parsing fed from an in-memory stream whole, byte by byte and in
# odd chunks, through both read paths (readinto as on MicroPython, read as on CPython).
import asyncio

from net import ws, ws_drain, ws_open, ws_url
from limits import limit

MAX_MESSAGE = limit("net.ws_url", "_MAX_MESSAGE")  # the default largest message

# RFC 6455 section 1.3 worked example
RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class FakeStream:
    """Reader and writer in one, fed from `data` in pieces of `step` bytes."""

    def __init__(self, data, step, readinto):
        self.data = data
        self.pos = 0
        self.step = step
        self.written = bytearray()
        self.closed = False
        if readinto:
            self.readinto = self._readinto

    async def read(self, n):
        k = min(n, self.step, len(self.data) - self.pos)
        out = self.data[self.pos:self.pos + k]
        self.pos += k
        return out

    async def _readinto(self, buf):
        chunk = await self.read(len(buf))
        buf[:len(chunk)] = chunk
        return len(chunk)

    def write(self, b):
        self.written.extend(b)

    async def drain(self):
        pass

    def close(self):
        self.closed = True


def frame(op, payload=b"", fin=True, rsv=0):
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    if n < 126:
        head = bytes([b0, n])
    elif n < 65536:
        head = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 127]) + n.to_bytes(8, "big")
    return head + payload


def client_frames(data):
    """Parse what the client wrote: [(opcode, unmasked payload)]."""
    out = []
    i = 0
    while i < len(data):
        op = data[i] & 0x0F
        assert data[i + 1] & 0x80, "client frame not masked"
        n = data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = int.from_bytes(data[i:i + 2], "big")
            i += 2
        elif n == 127:
            n = int.from_bytes(data[i:i + 8], "big")
            i += 8
        mask = data[i:i + 4]
        i += 4
        out.append((op, bytes(data[i + j] ^ mask[j % 4] for j in range(n))))
        i += n
    return out


def receive_all(data, step, readinto, max_message=MAX_MESSAGE):
    """Run recv() until it raises; returns (messages, exception, stream)."""
    s = FakeStream(data, step, readinto)
    c = ws.WebSocket(s, s, max_message)
    got = []

    async def main():
        try:
            while True:
                got.append(await c.recv())
        except ws.WebSocketError as e:
            return e
    exc = asyncio.run(main())
    return got, exc, s


TEXT = "gr\u00fc\u00dfe \u20ac" * 40
BLOB = bytes(range(256)) * 4
STREAM = (frame(1, b"hi") + frame(9, b"ping!") + frame(1, TEXT.encode()[:7], fin=False) + frame(10, b"x")
          + frame(0, TEXT.encode()[7:300], fin=False) + frame(9, b"") + frame(0, TEXT.encode()[300:])
          + frame(2, BLOB) + frame(1, b"") + frame(8, b"\x03\xe8done"))


def test_stream_parsed_the_same_however_it_is_split():
    for readinto in (True, False):
        for step in (1, 2, 3, 5, 64, 511, 512, 513, 100000):
            got, exc, s = receive_all(STREAM, step, readinto)
            assert got == ["hi", TEXT, BLOB, ""], (step, readinto)
            assert isinstance(exc, ws.ConnectionClosed) and exc.code == 1000 and exc.reason == "done"
            assert client_frames(s.written) == [(10, b"ping!"), (10, b""), (8, b"\x03\xe8")]
            assert s.closed


def test_eof_anywhere_is_connection_closed_1006():
    for cut in range(1, len(STREAM) - 12, 7):
        got, exc, s = receive_all(STREAM[:cut], 3, cut % 2 == 0)
        assert isinstance(exc, ws.ConnectionClosed) and exc.code == 1006, (cut, exc)


def test_limit_is_checked_before_the_payload_arrives():
    # Only the header of a frame above MAX_DRAIN is in the stream: refused without waiting for (or allocating) it.
    head = bytes([0x82, 127]) + (ws_drain.MAX_DRAIN + 1).to_bytes(8, "big")
    got, exc, s = receive_all(head, 100, True)
    assert isinstance(exc, ws.MessageTooBig)
    assert client_frames(s.written)[0][0] == 8
    assert client_frames(s.written)[0][1][:2] == (1009).to_bytes(2, "big")
    got, exc, s = receive_all(frame(1, b"a" * 100), 100, False, max_message=100)
    assert got == ["a" * 100]


def receive_some(data, step, readinto, count, max_message):
    """recv() `count` times; returns [message or MessageTooBig], exception or None, websocket, stream."""
    s = FakeStream(data, step, readinto)
    c = ws.WebSocket(s, s, max_message)
    got = []

    async def main():
        try:
            for _ in range(count):
                try:
                    got.append(await c.recv())
                except ws.MessageTooBig as e:
                    got.append(e)
                    if e.closed:
                        raise
        except ws.WebSocketError as e:
            return e
    exc = asyncio.run(main())
    return got, exc, c, s


def test_message_above_the_limit_is_read_to_its_end_and_dropped_link_kept():
    call = b'[2,"big-42","DataTransfer",{"vendorId":"x","data":"' + b"\xc3\xa9" * 600 + b'"}]'
    frags = frame(1, call[:70], fin=False) + frame(9, b"p") + frame(0, call[70:900], fin=False) + frame(0, call[900:])
    for data in (frame(1, call), frags):
        stream = data + frame(1, b"next") + frame(8, b"\x03\xe8")
        for readinto in (True, False):
            for step in (1, 7, 512, 100000):
                got, exc, c, s = receive_some(stream, step, readinto, 3, 1000)
                assert isinstance(got[0], ws.MessageTooBig) and not got[0].closed, (step, got)
                assert got[0].size == len(call) and got[0].head == call[:ws_drain.TOO_BIG_HEAD]
                assert got[1] == "next"  # the same connection goes on
                assert isinstance(exc, ws.ConnectionClosed) and exc.code == 1000
                assert [op for op, _ in client_frames(s.written)] == ([10, 8] if data is frags else [8])


def test_protocol_errors_close_with_their_code():
    cases = [(frame(1, b"x", rsv=1), 1002), (frame(0, b"x"), 1002), (frame(7, b""), 1002),
             (frame(8, b"\x03\xe8\xff"), 1007), (frame(1, b"\xc3"), 1007), (bytes([0x81, 0x81]) + b"abcdx", 1002)]
    for data, code in cases:
        got, exc, s = receive_all(data, 1, True)
        assert type(exc) is ws.ProtocolError, (data, exc)  # a WebSocketError, not ConnectionClosed
        f = client_frames(s.written)
        assert f[0][0] == 8 and int.from_bytes(f[0][1][:2], "big") == code, (data, f)


def test_send_masks_every_length():
    for n in (0, 1, 3, 4, 5, 125, 126, 2047, 2048, 2049, 65535, 65536, 70001):
        s = FakeStream(b"", 1, True)
        c = ws.WebSocket(s, s, 1 << 20)
        payload = bytes((i * 7) & 0xFF for i in range(n))
        asyncio.run(c.send(payload))
        assert client_frames(s.written) == [(2, payload)], n
    s = FakeStream(b"", 1, False)
    c = ws.WebSocket(s, s, MAX_MESSAGE)
    asyncio.run(c.send(TEXT))
    assert client_frames(s.written) == [(1, TEXT.encode())]


class _SampleNonce:  # RFC 6455 1.3's key: base64 of "the sample nonce"
    @staticmethod
    def urandom(n):
        return b"the sample nonce"


def test_rfc_accept_key_and_basic_auth():
    saved = ws_url.os
    ws_url.os = _SampleNonce
    try:
        request, accept = ws_url.check("ws://h/x")[2:4]
    finally:
        ws_url.os = saved
    assert b"Sec-WebSocket-Key: " + RFC_KEY + b"\r\n" in request
    assert accept == RFC_ACCEPT
    assert ws_url.basic_auth_header(("Aladdin", "open sesame")) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert ws_url.basic_auth_header((b"CP1", b"\x00\xff")) == "Basic Q1AxOgD/"


def test_parse_url_table():
    good = [
        ("ws://csms.example/ocpp/CP1", (False, "csms.example", 80, "/ocpp/CP1")),
        ("wss://csms.example:8443/o?x=1", (True, "csms.example", 8443, "/o?x=1")),
        ("ws://10.0.0.2:9000", (False, "10.0.0.2", 9000, "/")),
        ("wss://[fe80::1]:444/a", (True, "fe80::1", 444, "/a")),
    ]
    for url, want in good:
        assert ws_url.parse_url(url) == want, url
    for bad in ("ftp://x/", "ws:/x", "ws://:80/", "ws://x:0/", "ws://x:65536/", "ws://a@b/", "ws://x/\u00e9",
                "ws://x/a b", None):
        try:
            ws_url.parse_url(bad)
        except ws.WebSocketError as e:
            assert "URL" in str(e), (bad, e)
        else:
            raise AssertionError("accepted %r" % (bad,))


def without(names, fn):
    """Run fn() while net.<name> for each of names fails to import (as a MemoryError would)."""
    real = __import__

    def failing(name, *args):
        if name[4:] in names:  # "net.<name>"
            raise MemoryError("no heap for " + name)
        return real(name, *args)
    ws.__import__ = failing  # a global of net.ws: found before the builtin by its on-demand loads
    try:
        return fn()
    finally:
        del ws.__dict__["__import__"]


def test_on_demand_modules_that_fail_to_load_still_end_the_connection():
    # Protocol error without net.ws_close: no close frame, but the connection ends (1006).
    got, exc, s = without(("ws_close",), lambda: receive_all(frame(1, b"x", rsv=1), 1, True))
    assert isinstance(exc, ws.ConnectionClosed) and exc.code == 1006 and "MemoryError" in exc.reason, exc
    assert s.closed and s.written == bytearray()
    # The server's close frame: the same.
    got, exc, s = without(("ws_close",), lambda: receive_all(frame(1, b"hi") + frame(8, b"\x03\xe8"), 3, False))
    assert got == ["hi"] and isinstance(exc, ws.ConnectionClosed) and exc.code == 1006 and s.closed
    # An oversized message without net.ws_drain: the connection ends instead of skipping it.
    got, exc, s = without(("ws_drain",), lambda: receive_all(frame(1, b"a" * 200), 7, True, max_message=100))
    assert got == [] and isinstance(exc, ws.ConnectionClosed) and exc.code == 1006 and s.closed

    # close() without ws_close, and the socket released without net.netcompat.
    async def close_without():
        st = FakeStream(b"", 1, True)
        c = ws.WebSocket(st, st, MAX_MESSAGE)
        await c.close()
        return c, st
    c, st = without(("ws_close", "netcompat"), lambda: asyncio.run(close_without()))
    assert c.closed and c.close_code == 1006 and st.closed and st.written == bytearray()

    # A bad URL without net.ws_texts: still the WebSocketError, naming the text's line and the URL.
    try:
        without(("ws_texts",), lambda: ws_url.parse_url("ftp://x/"))
    except ws.WebSocketError as e:
        assert "ws_texts line 1" in str(e) and "ftp://x/" in str(e), e
    else:
        raise AssertionError("accepted ftp://x/")
    import sys
    assert "net.ws_texts" not in sys.modules


def test_close_handshake_and_release_with_every_module():
    class Released(FakeStream):
        waited = False

        async def wait_closed(self):
            self.waited = True

    async def main():
        st = Released(frame(8, b"\x03\xe8"), 100, True)
        c = ws.WebSocket(st, st, MAX_MESSAGE)
        await c.close(1000, "bye")
        return c, st
    c, st = asyncio.run(main())
    assert client_frames(st.written) == [(8, b"\x03\xe8bye")]
    assert c.closed and c.close_code == 1000 and st.closed and st.waited
    import sys
    assert "net.ws_close" not in sys.modules and "net.netcompat" not in sys.modules


def test_frames_from_concurrent_senders_never_interleave():
    class SlowDrain(FakeStream):
        # Like a socket with a full window: every drain lets the other tasks run a few times.
        async def drain(self):
            for _ in range(3):
                await asyncio.sleep(0)

    big = [bytes([65 + i]) * 5000 for i in range(3)]  # each written in three steps (SEND_CHUNK)

    async def main():
        st = SlowDrain(b"", 1, True)
        c = ws.WebSocket(st, st, 1 << 20)
        await asyncio.gather(*([c.send(b) for b in big] + [c.ping(b"p%d" % i) for i in range(3)]
                               + [c.send("t%d" % i) for i in range(3)]))
        return st
    st = asyncio.run(main())
    frames = client_frames(st.written)
    assert sorted(frames) == sorted([(2, b) for b in big] + [(9, b"p%d" % i) for i in range(3)]
                                    + [(1, b"t%d" % i) for i in range(3)])
