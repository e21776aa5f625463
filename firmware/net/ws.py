# RFC 6455 WebSocket client over asyncio streams, the same code on MicroPython and CPython: the
# frame loop of a connected link (masking, framing, ping/pong, the socket's release). It knows
# nothing about OCPP and never retries or logs; the supervisor (net.link) does that. What a
# connected link does not run every period is loaded when needed and unloaded (_via, _end): a
# connect's checks (net/ws_url.py) and its opening handshake (net/ws_open.py), the close handshake
# and protocol failures (net/ws_close.py), a fragmented message or one above the size limit
# (net/ws_drain.py), the texts (net/ws_texts.py, net/link_texts.py).
import asyncio
import os
import sys

import compat
from compat import const

_SEND_CHUNK = const(2048)  # payload bytes masked and written per step (bounds the heap a send needs)
_TX_WAIT_MS = const(10)  # how often a send waits for the frame being written to be done
_STREAM_CLOSE_MS = const(1000)  # longest wait_closed() waits for the runtime to release a socket
_MAX_CONTROL = const(125)  # RFC 6455 5.5: control frame payload limit

_OP_CONT = const(0)
_OP_TEXT = const(1)
_OP_BINARY = const(2)
_OP_CLOSE = const(8)
_OP_PING = const(9)
_OP_PONG = const(10)

_CLOSE_NORMAL = const(1000)
_CLOSE_ABNORMAL = const(1006)  # never sent: the TCP connection ended without a close frame

# The error texts are net/link_texts.py's (_T_*, see _text), but the one every disconnect makes.
_CLOSED_TEXT = const("connection closed (code %d%s)")
# Short texts as const(): a literal of 10 characters or less would be an interned name, never
# freed (not for the modules every session loads: importing one interns its name anyway).
_PACKAGE = const("net.")
_ABORTED = const("aborted")
_COLON = const(": ")
_WS_TEXTS = const("ws_texts")
_WS_CLOSE = const("ws_close")
_WS_DRAIN = const("ws_drain")
_ON_CLOSE = const("on_close")  # net.ws_close's answer to a close frame
_LINK_TEXTS = const(27)  # _text(i) from this line on: net/link_texts.py's
_T_LOST = const(27)
_T_EOF = const(28)
_T_LOST_SENDING = const(29)
_T_PING_SIZE = const(30)
_T_TOO_BIG = const(31)
_T_RECV_BUSY = const(32)
_T_AFTER_CLOSE = const(53)


# One error class with a sentence (str(e)), and a subclass only where a caller acts on the kind
# (each class costs resident heap). Attributes are set by whoever raises.
class WebSocketError(Exception):
    """Every error of the network layer: a bad URL, a failed connect or handshake, a protocol error."""
    status = 0  # handshake refused: the HTTP status (0 if none)


ProtocolError = WebSocketError  # the kinds, told apart by their text


class Unauthorized(WebSocketError):
    """HTTP 401: the CSMS refused our Basic auth credentials (or wanted some)."""


class MessageTooBig(WebSocketError):
    """A message above max_message. Received: read to its end and dropped, the connection stays
    open (unless `closed`), `head` is its first bytes (ws_drain.TOO_BIG_HEAD) and `size` its length."""
    head = b""
    size = 0
    closed = True


class ConnectionClosed(WebSocketError):
    """`code` and `reason` of the close (1006: no close frame, the TCP connection ended)."""
    code = _CLOSE_NORMAL
    reason = ""


def _unload(name):
    sys.modules.pop(_PACKAGE + name, None)
    pkg = sys.modules.get("net")
    if pkg is not None and name in pkg.__dict__:
        del pkg.__dict__[name]


def _via(name, fn, *args, **kw):
    """net.<name>.<fn>(*args, **kw), the module imported for the call and unloaded after it (a
    Link's set-up, a Backoff, a text). Whatever the import raises (MemoryError, ImportError)
    reaches the caller; nothing half-imported is left. The coroutines (connect, _end) keep their
    module in sys.modules until they end, so a nested call uses the same copy."""
    try:
        __import__(_PACKAGE + name)
        return getattr(sys.modules[_PACKAGE + name], fn)(*args, **kw)
    finally:
        _unload(name)


def _text(i, args=()):
    """Line i % args of the network layer's texts, loaded for the call (a connected link does not
    carry them): net/ws_texts.py's (a connect's errors), from line _LINK_TEXTS on
    net/link_texts.py's (the link's, the frame loop's, a Backoff's). Without the module
    (MemoryError) a text that still says which line it is and its arguments."""
    m = _WS_TEXTS if i < _LINK_TEXTS else "link_texts"
    try:
        t = _via(m, "text", i)
    except Exception:
        t, args = "net.%s line %d: %r", (m, i, args)
    return t % args


try:
    _wait_for_ms = asyncio.wait_for_ms
    _sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython
    def _wait_for_ms(aw, ms):
        return asyncio.wait_for(aw, ms / 1000)

    def _sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


class WebSocket:
    """One client connection. Use connect() to make one; recv() from one task at a time."""

    def __init__(self, reader, writer, max_message):
        self._r = getattr(reader, "readinto", None) or reader  # MicroPython streams; CPython reads and copies
        self._w = writer
        self._rmv = None  # input read but not yet taken (a memoryview): what followed the handshake's answer
        self._sent = True  # False while a frame is being written (a large one in steps): the next send waits
        self._rx_active = False
        self._close_sent = False
        self.max_message = max_message
        self.subprotocol = None
        self.closed = False
        self.close_code = None
        self.close_reason = ""
        self.last_rx_ms = compat.ticks_ms()
        self.pongs = 0  # pongs received (answers to our ping())
        self._msg = None  # the message being received (bytearray); an attribute, see recv

    # ------------------------------------------------------------ input
    async def _read(self, buf):
        # One read from the stream into the memoryview buf: the count (> 0) of bytes read.
        r = self._r
        while True:
            try:
                if callable(r):  # the stream's readinto
                    n = await r(buf)
                else:  # CPython's reader
                    data = await r.read(len(buf))
                    n = len(data)
                    buf[:n] = data
            except OSError as e:
                raise self._lost(_text(_T_LOST, e))
            if n:
                self.last_rx_ms = compat.ticks_ms()
                return n
            if n is not None:  # None: a non-blocking TLS read that produced no application data yet
                raise self._lost(_text(_T_EOF))

    async def _read_into(self, buf):
        """Fill buf (a bytearray or a memoryview of one) completely, straight from the stream (no
        receive buffer is kept: a frame's header and payload are read as they are needed); buf."""
        mv = memoryview(buf)
        pos = 0
        n = len(mv)
        while pos < n:
            b = self._rmv
            if b:  # what the handshake's reading left, taken first
                k = min(n - pos, len(b))
                mv[pos:pos + k] = b[:k]
                self._rmv = b[k:] or None  # consumed: its buffer goes
                pos += k
            else:
                pos += await self._read(mv[pos:])
        return buf

    # ------------------------------------------------------------ output
    def ping(self, payload=b""):
        """Send a ping (keepalive, a coroutine); the pong updates last_rx_ms and `pongs`."""
        return self._send(payload, _OP_PING)

    async def _send(self, data, op=0):
        # One frame, masked (RFC 6455 5.3); a str is sent as its UTF-8 bytes. op 0: a message,
        # text for a str, binary for bytes-like (send()).
        if isinstance(data, str):
            op = op or _OP_TEXT
            try:
                data = memoryview(data)  # MicroPython: a str is its UTF-8 bytes, no copy needed
            except TypeError:  # CPython
                data = data.encode()
        op = op or _OP_BINARY
        n = len(data)
        if op & 8 and n > _MAX_CONTROL:
            raise ValueError(_text(_T_PING_SIZE, (n, _MAX_CONTROL)))
        if n > self.max_message:
            raise MessageTooBig(_text(_T_TOO_BIG, (n, self.max_message)))
        mask = os.urandom(4)
        head = bytearray((0x80 | op, 0x80 | (n if n < 126 else 126 if n < 65536 else 127)))
        if n > 125:
            head += n.to_bytes(2 if n < 65536 else 8, "big")
        head += mask
        mv = memoryview(data)
        data = None  # MicroPython's GC scans stale coroutine slots: only mv holds the payload, dropped below
        while not self._sent:  # polled, not an asyncio.Event or Lock: those would keep asyncio.event/lock loaded
            await _sleep_ms(_TX_WAIT_MS)
        if self.closed:
            raise self._lost()
        if self._close_sent and op != _OP_CLOSE:  # RFC 6455 5.5.1: nothing may follow our close
            raise ConnectionClosed(_text(_T_AFTER_CLOSE))
        self._sent = False
        w = self._w
        try:
            for i in range(0, n or 1, _SEND_CHUNK):  # no payload: one step, for the header
                k = min(_SEND_CHUNK, n - i)
                # XOR a whole chunk as one big integer: C speed on both runtimes, no per-byte objects.
                w.write(head + (int.from_bytes(mv[i:i + k], "big")
                                ^ int.from_bytes((mask * ((k + 3) // 4))[:k], "big")).to_bytes(k, "big"))
                head = b""  # the header goes with the first chunk: one write for a small frame
                await w.drain()
        except OSError as e:
            raise self._lost(_text(_T_LOST_SENDING, e))
        finally:
            mv = None
            self._sent = True

    # send(message): send one message, str as a text frame, bytes-like as a binary frame (a coroutine).
    send = _send

    # ------------------------------------------------------------ teardown
    def _lost(self, reason=_ABORTED, code=_CLOSE_ABNORMAL):
        # End the connection now (the socket closed, no close handshake; a no-op once closed):
        # the ConnectionClosed for the close, for the caller to raise.
        if not self.closed:
            self.closed = True
            self._msg = None
            if self.close_code is None:
                self.close_code = code
                self.close_reason = reason
            try:
                self._w.close()
            except Exception:  # the socket may already be gone; nothing left to release
                pass
        reason = self.close_reason
        e = ConnectionClosed(_CLOSED_TEXT % (self.close_code, (_COLON + reason) if reason else ""))
        e.code = self.close_code
        e.reason = reason
        return e

    # abort(): drop the TCP connection at once, no close handshake (dead link); then await wait_closed().
    abort = _lost

    async def wait_closed(self):
        """Release the socket (bounded wait). Whoever holds a WebSocket ends with close() or this,
        on every path: on MicroPython a stream's close() alone leaves the socket open."""
        self._lost()  # no-op when already closed
        w = self._w
        if w is None:  # released (or being released) by an earlier call: CPython's stream would
            return  # wait again on a close future a timed-out first wait cancelled
        self._w = None
        try:
            await _wait_for_ms(w.wait_closed(), _STREAM_CLOSE_MS)  # MicroPython: closes the socket, never blocks
        except Exception:  # a reset or timed-out TLS shutdown still leaves the socket closed
            pass
        w = getattr(w, "release", None)  # net/ws_open.py's last step: the TCP socket beneath a TLS one closed
        if w is not None:  # (a failed TLS handshake leaves it open), CPython's transport aborted
            w()

    def close(self, code=_CLOSE_NORMAL, reason=""):
        """Close handshake (net/ws_close.py; a coroutine, nothing to do once closed): send close,
        wait (bounded) for the server's close, drop TCP."""
        return self._end("close", code, reason)

    async def _end(self, name, *args):
        # Run net.ws_close.<name>(self, *args): the close handshake, a close frame received, or
        # failing the connection (RFC 6455 7.1.7: raises ProtocolError); or net.ws_drain.drain.
        # Without the module (MemoryError) the connection still ends.
        m = _WS_DRAIN if name == "drain" else _WS_CLOSE
        try:
            __import__(_PACKAGE + m)
            f = getattr(sys.modules[_PACKAGE + m], name)
        except Exception as e:
            _unload(m)
            e = self._lost("%s: %r" % (name, e))
            if name == "close":
                await self.wait_closed()
                return
            raise e
        try:
            await f(self, *args)
        finally:
            f = None
            _unload(m)

    # ------------------------------------------------------------ frames
    async def _frame(self):
        """(fin, opcode, payload length) of the next data frame. Control frames before it are handled
        here: a ping answered, a pong counted, a close ends the connection. A protocol violation
        fails the connection (net/ws_close.py fail)."""
        busy = self._msg is not None  # a fragmented message is being received (net/ws_drain.py's _msg)
        while True:
            b = int.from_bytes(await self._read_into(bytearray(2)), "big")
            if b & 0x7080:  # reserved bits (no extension was agreed) or a masked frame
                await self._end("fail", b)
            n = b & 0x7F
            if n > 125:
                n = int.from_bytes(await self._read_into(bytearray(2 if n == 126 else 8)), "big")
            op = b >> 8 & 0x0F
            if n >> 63 or (op > _OP_PONG or not b & 0x8000 or n > _MAX_CONTROL if op & 8
                           else op > _OP_BINARY or (op == _OP_CONT) != busy):
                await self._end("fail", b, n, busy)
            if op < _OP_CLOSE:
                return b & 0x8000, op, n
            payload = bytearray(n)
            await self._read_into(memoryview(payload))
            if op == _OP_PING:
                if not self._close_sent:
                    await self._send(payload, _OP_PONG)
            elif op == _OP_PONG:
                self.pongs += 1
            else:
                await self._end(_ON_CLOSE, payload)

    async def recv(self):
        """Next data message: str for text, bytes for binary. Pings are answered here."""
        if self.closed:
            raise self._lost()
        if self._rx_active:
            raise WebSocketError(_text(_T_RECV_BUSY))
        self._rx_active = True
        try:
            fin, op, n = await self._frame()
            if fin and n <= self.max_message:
                self._msg = bytearray(n)
                await self._read_into(memoryview(self._msg))
            else:  # fragments (assembled into _msg), or a message above max_message (raises MessageTooBig)
                await self._end("drain", n, fin)
            # Taken from _msg into a local only now: when recv() has returned, its caller's slot
            # holds the message, not this coroutine (which would hold the buffer).
            m = self._msg
            self._msg = None
            if op == _OP_BINARY:
                return bytes(m)
            try:
                return str(m, "utf-8")
            except UnicodeError:
                m = None
            await self._end("fail", None)  # text that is not UTF-8
        finally:
            self._msg = None
            self._rx_active = False


def connect(url, *args, **kw):
    """Open a WebSocket to url (ws:// or wss://): a coroutine returning a connected WebSocket. The
    arguments are net.ws_url.check's, checked now (net.ws_url is dropped before net.ws_open, which
    makes the connection, loads: the two never load together). Whatever they raise (WebSocketError:
    a bad URL, a failed connect or handshake; MemoryError or ImportError when one cannot be loaded)
    reaches the caller, which retries. net.ws_open leaves sys.modules at once; the coroutine holds
    it until it ends (nothing else loads it meanwhile)."""
    return _via("ws_open", "connect", *_via("ws_url", "check", url, *args, **kw))
