# RFC 6455 WebSocket client over asyncio streams, the same code on MicroPython and
# CPython: handshake, masking, framing, fragmentation, ping/pong, close. It knows
# nothing about OCPP and never retries or logs; the supervisor (net.link) does that. The opening
# handshake (URL, TCP/TLS connect, HTTP upgrade) is net/ws_open.py, loaded for each connect and
# unloaded: a connected link needs only the frame loop here.
import asyncio
import os
import sys

import compat
from compat import const

MAX_MESSAGE = const(65536)  # default largest message accepted (bytes of payload, all fragments)
MAX_DRAIN = const(1048576)  # a larger message is read to its end and refused, link kept; beyond this: close 1009
TOO_BIG_HEAD = const(128)  # first bytes of a refused message kept for its reader (the OCPP message id)
CONNECT_TIMEOUT_MS = const(10000)  # TCP connect + TLS + HTTP upgrade, all of it
CLOSE_TIMEOUT_MS = const(3000)  # how long close() waits for the server's close frame
FAIL_CLOSE_TIMEOUT_MS = const(1000)  # how long we try to tell the server why we are dropping it
RX_BUFFER = const(512)  # receive buffer; larger payloads are read straight into their own buffer
SEND_CHUNK = const(2048)  # payload bytes masked and written per step (bounds the heap a send needs)
MAX_CONTROL = const(125)  # RFC 6455 5.5: control frame payload limit


OP_CONT = const(0)
OP_TEXT = const(1)
OP_BINARY = const(2)
OP_CLOSE = const(8)
OP_PING = const(9)
OP_PONG = const(10)

CLOSE_NORMAL = const(1000)
CLOSE_GOING_AWAY = const(1001)
CLOSE_PROTOCOL = const(1002)
CLOSE_NO_STATUS = const(1005)  # never sent: what a close frame without a code means
CLOSE_ABNORMAL = const(1006)  # never sent: the TCP connection ended without a close frame
CLOSE_BAD_DATA = const(1007)  # text message that is not UTF-8
CLOSE_TOO_BIG = const(1009)


class WebSocketError(Exception):
    """Base of every error this module raises; str(e) is a readable sentence."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg

    def __str__(self):
        return self.msg


class InvalidURL(WebSocketError):
    pass


class ConnectError(WebSocketError):
    """TCP connect, DNS or TLS failed (wraps the OSError)."""
    pass


class HandshakeError(WebSocketError):
    """The HTTP upgrade was refused or answered wrongly; `status` is the HTTP status (0 if none)."""

    def __init__(self, msg, status=0):
        super().__init__(msg)
        self.status = status


class Unauthorized(HandshakeError):
    """HTTP 401: the CSMS refused our Basic auth credentials (or wanted some)."""
    pass


class ProtocolError(WebSocketError):
    pass


class MessageTooBig(WebSocketError):
    """A message above max_message. Received: read to its end and dropped, the connection stays
    open (unless `closed`), `head` is its first TOO_BIG_HEAD bytes and `size` its length."""

    def __init__(self, msg, head=b"", size=0, closed=True):
        super().__init__(msg)
        self.head = head
        self.size = size
        self.closed = closed


class ConnectionClosed(WebSocketError):
    def __init__(self, code, reason=""):
        msg = "connection closed (code %d%s)" % (code, (": " + reason) if reason else "")
        super().__init__(msg)
        self.code = code
        self.reason = reason


if hasattr(asyncio, "wait_for_ms"):
    _wait_for_ms = asyncio.wait_for_ms
else:  # CPython
    def _wait_for_ms(aw, ms):
        return asyncio.wait_for(aw, ms / 1000)


def _as_bytes(v):
    if isinstance(v, str):
        return v.encode()
    return bytes(v)


def _mask_int(mask, n):
    return int.from_bytes((mask * ((n + 3) // 4))[:n], "big")


def _masked(mv, mask_int):
    # XOR a whole chunk as one big integer: C speed on both runtimes, no per-byte objects.
    n = len(mv)
    return (int.from_bytes(mv, "big") ^ mask_int).to_bytes(n, "big")


def _valid_close_code(code):
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class WebSocket:
    """One client connection. Use connect() to make one; recv() from one task at a time."""

    def __init__(self, reader, writer, max_message=MAX_MESSAGE):
        self._r = reader
        self._w = writer
        self._readinto = getattr(reader, "readinto", None)  # MicroPython streams; CPython reads and copies
        self._rbuf = bytearray(RX_BUFFER)
        self._rmv = memoryview(self._rbuf)
        self._rpos = 0
        self._rend = 0
        self._hdr = bytearray(8)
        self._wlock = asyncio.Lock()
        self._closed_evt = asyncio.Event()
        self._released = False
        self._rx_active = False
        self._close_sent = False
        self.max_message = max_message
        self.subprotocol = None
        self.closed = False
        self.close_code = None
        self.close_reason = ""
        self.last_rx_ms = compat.ticks_ms()
        self.pongs = 0  # pongs received (answers to our ping())
        self._msg = None

    # ------------------------------------------------------------ input
    async def _fill(self):
        # Only called with the buffer empty.
        while True:
            try:
                if self._readinto is not None:
                    n = await self._readinto(self._rmv)
                else:
                    data = await self._r.read(RX_BUFFER)
                    n = len(data)
                    self._rbuf[:n] = data
            except OSError as e:
                raise self._lost("connection lost: %s" % e)
            if n is None:  # a non-blocking TLS read that produced no application data yet
                continue
            if not n:
                raise self._lost("connection lost (EOF)")
            self._rpos = 0
            self._rend = n
            self.last_rx_ms = compat.ticks_ms()
            return

    async def _read_some(self, limit):
        """A memoryview of 1..limit buffered bytes (valid until the next read)."""
        if self._rpos == self._rend:
            await self._fill()
        k = min(limit, self._rend - self._rpos)
        mv = self._rmv[self._rpos:self._rpos + k]
        self._rpos += k
        return mv

    async def _read_into(self, mv):
        """Fill the memoryview mv completely."""
        pos = 0
        n = len(mv)
        k = min(n, self._rend - self._rpos)
        if k:
            mv[:k] = self._rmv[self._rpos:self._rpos + k]
            self._rpos += k
            pos = k
        while pos < n:
            if n - pos < RX_BUFFER:
                chunk = await self._read_some(n - pos)
                mv[pos:pos + len(chunk)] = chunk
                pos += len(chunk)
                continue
            # Large payload: read straight into its buffer, no copy through ours.
            try:
                if self._readinto is not None:
                    got = await self._readinto(mv[pos:])
                else:
                    data = await self._r.read(n - pos)
                    got = len(data)
                    mv[pos:pos + got] = data
            except OSError as e:
                raise self._lost("connection lost: %s" % e)
            if got is None:
                continue
            if not got:
                raise self._lost("connection lost (EOF) in the middle of a frame")
            pos += got
            self.last_rx_ms = compat.ticks_ms()

    async def _discard(self, n):
        # Read and drop n payload bytes through the receive buffer: no allocation.
        while n:
            n -= len(await self._read_some(n))

    # ------------------------------------------------------------ output
    async def _send_frame(self, op, data):
        n = len(data)
        mask = os.urandom(4)
        hlen = 2 if n < 126 else (4 if n < 65536 else 10)
        small = n <= SEND_CHUNK
        frame = bytearray(hlen + 4 + (n if small else 0))
        frame[0] = 0x80 | op
        if n < 126:
            frame[1] = 0x80 | n
        elif n < 65536:
            frame[1] = 0x80 | 126
            frame[2:4] = n.to_bytes(2, "big")
        else:
            frame[1] = 0x80 | 127
            frame[2:10] = n.to_bytes(8, "big")
        frame[hlen:hlen + 4] = mask
        mv = memoryview(data)
        data = None
        async with self._wlock:
            if self.closed:
                raise ConnectionClosed(self.close_code, self.close_reason)
            if self._close_sent and op != OP_CLOSE:  # RFC 6455 5.5.1: nothing may follow our close
                raise ConnectionClosed(CLOSE_NORMAL, "closing")
            try:
                if small:
                    frame[hlen + 4:] = _masked(mv, _mask_int(mask, n))
                    self._w.write(frame)
                    await self._w.drain()
                else:
                    self._w.write(frame)
                    full = _mask_int(mask, SEND_CHUNK)
                    for i in range(0, n, SEND_CHUNK):
                        k = min(SEND_CHUNK, n - i)
                        self._w.write(_masked(mv[i:i + k], full if k == SEND_CHUNK else _mask_int(mask, k)))
                        await self._w.drain()
            except OSError as e:
                raise self._lost("connection lost while sending: %s" % e)
            finally:
                mv = None

    async def send(self, message):
        """Send one message: str as a text frame, bytes-like as a binary frame."""
        if isinstance(message, str):
            op = OP_TEXT
            try:
                data = memoryview(message)  # MicroPython: a str is its UTF-8 bytes, no copy needed
            except TypeError:  # CPython
                data = message.encode()
        else:
            op, data = OP_BINARY, message
        n = len(data)
        if n > self.max_message:
            raise MessageTooBig("outgoing message of %d bytes exceeds max_message %d" % (n, self.max_message))
        try:
            await self._send_frame(op, data)
        finally:
            data = None  # MicroPython's GC scans stale coroutine slots: drop the big buffer now

    async def ping(self, payload=b""):
        """Send a ping (keepalive); the pong updates last_rx_ms and `pongs`."""
        payload = _as_bytes(payload)
        if len(payload) > MAX_CONTROL:
            raise ValueError("ping payload of %d bytes exceeds %d" % (len(payload), MAX_CONTROL))
        await self._send_frame(OP_PING, payload)

    # ------------------------------------------------------------ teardown
    def _teardown(self, code, reason):
        if self.closed:
            return
        self.closed = True
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        try:
            self._w.close()
        except Exception:  # the socket may already be gone; nothing left to release
            pass
        self._closed_evt.set()

    def _lost(self, reason):
        self._teardown(CLOSE_ABNORMAL, reason)
        return ConnectionClosed(self.close_code, self.close_reason)

    def abort(self):
        """Drop the TCP connection at once, no close handshake (dead link); then await wait_closed()."""
        self._teardown(CLOSE_ABNORMAL, "aborted")

    async def wait_closed(self):
        """Release the socket (bounded wait). Whoever holds a WebSocket ends with close() or this,
        on every path: on MicroPython a stream's close() alone leaves the socket open."""
        self._teardown(CLOSE_ABNORMAL, "aborted")  # no-op when already closed
        if self._released:
            return
        self._released = True
        await compat.close_stream(self._w)

    async def _send_close(self, code, reason=""):
        if self._close_sent or self.closed:
            return
        self._close_sent = True
        payload = b"" if code == CLOSE_NO_STATUS else code.to_bytes(2, "big") + reason.encode()[:MAX_CONTROL - 2]
        await self._send_frame(OP_CLOSE, payload)

    async def _fail(self, code, exc):
        """Tell the server why (bounded), drop the connection and raise exc."""
        if not self.closed:
            try:
                await _wait_for_ms(self._send_close(code, exc.msg[:60]), FAIL_CLOSE_TIMEOUT_MS)
            except Exception:  # best effort: the connection is being dropped anyway
                pass
            self._teardown(code, exc.msg)
        raise exc

    async def close(self, code=CLOSE_NORMAL, reason=""):
        """Close handshake: send close, wait (bounded) for the server's close, drop TCP."""
        if self.closed:
            return
        try:
            await self._send_close(code, reason)
            if self._rx_active:  # the receiving task will see the server's close frame
                await _wait_for_ms(self._closed_evt.wait(), CLOSE_TIMEOUT_MS)
            else:
                await _wait_for_ms(self._drain_until_closed(), CLOSE_TIMEOUT_MS)
        except (WebSocketError, asyncio.TimeoutError):
            pass
        self._teardown(code, reason)
        await self.wait_closed()  # the TCP connection ends here, not when the server times out

    async def _drain_until_closed(self):
        try:
            while True:
                await self.recv()
        except ConnectionClosed:
            pass

    # ------------------------------------------------------------ frames
    async def _read_header(self):
        h = memoryview(self._hdr)
        await self._read_into(h[:2])
        b0 = self._hdr[0]
        b1 = self._hdr[1]
        if b0 & 0x70:
            await self._fail(CLOSE_PROTOCOL, ProtocolError("reserved bits set in a frame (no extension was agreed)"))
        if b1 & 0x80:
            await self._fail(CLOSE_PROTOCOL, ProtocolError("server sent a masked frame"))
        n = b1 & 0x7F
        if n == 126:
            await self._read_into(h[:2])
            n = int.from_bytes(h[:2], "big")
        elif n == 127:
            await self._read_into(h)
            if self._hdr[0] & 0x80:
                await self._fail(CLOSE_PROTOCOL, ProtocolError("frame length has its top bit set"))
            n = int.from_bytes(h, "big")
        return b0 & 0x80, b0 & 0x0F, n

    async def _on_close_frame(self, payload):
        code, reason = CLOSE_NO_STATUS, ""
        if len(payload) == 1:
            await self._fail(CLOSE_PROTOCOL, ProtocolError("close frame with a 1-byte payload"))
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            if not _valid_close_code(code):
                await self._fail(CLOSE_PROTOCOL, ProtocolError("invalid close code %d" % code))
            try:
                reason = str(payload[2:], "utf-8")
            except UnicodeError:
                await self._fail(CLOSE_BAD_DATA, ProtocolError("close reason is not UTF-8"))
        self.close_code = code
        self.close_reason = reason
        if not self._close_sent:  # RFC 6455 5.5.1: answer with a close, echoing the code
            try:
                await _wait_for_ms(self._send_close(code), FAIL_CLOSE_TIMEOUT_MS)
            except Exception:  # the server is closing anyway
                pass
        self._teardown(code, reason)
        raise ConnectionClosed(code, reason)

    async def recv(self):
        """Next data message: str for text, bytes for binary. Pings are answered here."""
        if self.closed:
            raise ConnectionClosed(self.close_code, self.close_reason)
        if self._rx_active:
            raise WebSocketError("recv() is already running in another task")
        self._rx_active = True
        try:
            return await self._recv()
        finally:
            self._rx_active = False

    def _take(self, op):
        # A plain function, so no coroutine frame keeps a reference to the big buffer.
        m = self._msg
        self._msg = None
        if op == OP_BINARY:
            return bytes(m)
        try:
            return str(m, "utf-8")
        except UnicodeError:
            return None

    async def _recv(self):
        self._msg = None  # the message being assembled (bytearray); an attribute, see _take
        msg_op = 0
        head = None  # first bytes of a message above max_message, being read to its end and dropped
        total = 0
        while True:
            fin, op, n = await self._read_header()
            if op >= OP_CLOSE:
                if op > OP_PONG:
                    await self._fail(CLOSE_PROTOCOL, ProtocolError("unknown control opcode %d" % op))
                if not fin:
                    await self._fail(CLOSE_PROTOCOL, ProtocolError("fragmented control frame"))
                if n > MAX_CONTROL:
                    await self._fail(CLOSE_PROTOCOL, ProtocolError("control frame of %d bytes (max %d)"
                                                                   % (n, MAX_CONTROL)))
                payload = bytearray(n)
                await self._read_into(memoryview(payload))
                if op == OP_PING:
                    if not self._close_sent:
                        await self._send_frame(OP_PONG, payload)
                elif op == OP_PONG:
                    self.pongs += 1
                else:
                    self._msg = None
                    await self._on_close_frame(payload)
                continue
            if op == OP_CONT:
                if self._msg is None and head is None:
                    await self._fail(CLOSE_PROTOCOL, ProtocolError("continuation frame without a message to continue"))
            elif op == OP_TEXT or op == OP_BINARY:
                if self._msg is not None or head is not None:
                    await self._fail(CLOSE_PROTOCOL, ProtocolError("new message started inside a fragmented one"))
                msg_op = op
            else:
                await self._fail(CLOSE_PROTOCOL, ProtocolError("unknown data opcode %d" % op))
            have = 0 if self._msg is None else len(self._msg)
            if head is None and have + n > self.max_message:
                head = bytearray(self._msg[:TOO_BIG_HEAD]) if self._msg is not None else bytearray()
                self._msg = None
                total = have
            if head is not None:
                total += n
                if total > MAX_DRAIN:
                    # Cannot be a message: refused on the header alone, the payload is never read.
                    await self._fail(CLOSE_TOO_BIG, MessageTooBig("incoming message of %d+ bytes exceeds %d"
                                                                  % (total, max(MAX_DRAIN, self.max_message))))
                k = min(n, TOO_BIG_HEAD - len(head))
                if k > 0:
                    part = bytearray(k)
                    await self._read_into(memoryview(part))
                    head.extend(part)
                    part = None
                await self._discard(n - max(k, 0))
            elif self._msg is None:
                self._msg = bytearray(n)
                await self._read_into(memoryview(self._msg))
            else:
                left = n
                while left:
                    chunk = await self._read_some(left)
                    self._msg.extend(chunk)
                    left -= len(chunk)
                chunk = None
            if fin:
                if head is not None:
                    raise MessageTooBig("incoming message of %d bytes exceeds max_message %d (dropped)"
                                        % (total, self.max_message), bytes(head), total, False)
                m = self._take(msg_op)
                if m is None:
                    await self._fail(CLOSE_BAD_DATA, ProtocolError("text message is not valid UTF-8"))
                return m

def _opener():
    from net import ws_open
    return ws_open


def _drop_opener():
    sys.modules.pop("net.ws_open", None)
    pkg = sys.modules.get("net")
    if pkg is not None and "ws_open" in pkg.__dict__:
        del pkg.__dict__["ws_open"]


def _via_opener(name, *args):
    try:
        return getattr(_opener(), name)(*args)
    finally:
        _drop_opener()


def parse_url(url):
    """ws[s]://host[:port][/path][?query] -> (secure, host, port, resource); InvalidURL if not."""
    return _via_opener("parse_url", url)


def basic_auth_header(user, password):
    """Value of the Authorization header for HTTP Basic auth (RFC 7617)."""
    return _via_opener("basic_auth_header", user, password)


async def connect(url, subprotocols=("ocpp1.6",), basic_auth=None, ssl=None, timeout_ms=CONNECT_TIMEOUT_MS,
                  max_message=MAX_MESSAGE):
    """Open a WebSocket to url (ws:// or wss://) and return a connected WebSocket. Whatever the
    opener raises (ConnectError, HandshakeError, InvalidURL; MemoryError or ImportError when it
    cannot be loaded) reaches the caller, which retries."""
    try:
        return await _opener().connect(url, subprotocols, basic_auth, ssl, timeout_ms, max_message)
    finally:
        _drop_opener()
