# RFC 6455 WebSocket client over asyncio streams, the same code on MicroPython and CPython: the
# frame loop of a connected link (masking, framing, fragments, ping/pong). It knows nothing about
# OCPP and never retries or logs; the supervisor (net.link) does that. What a connected link does
# not run every period is loaded when needed and unloaded (_load): the opening handshake
# (net/ws_open.py), the close handshake and protocol failures (net/ws_close.py), reading an
# oversized message to its end (net/ws_drain.py), socket open/close (net/netcompat.py).
import asyncio
import os
import sys

import compat
from compat import const

MAX_MESSAGE = const(65536)  # default largest message accepted (bytes of payload, all fragments)
CONNECT_TIMEOUT_MS = const(10000)  # TCP connect + TLS + HTTP upgrade, all of it
_RX_BUFFER = const(512)  # receive buffer; larger payloads are read straight into their own buffer
_SEND_CHUNK = const(2048)  # payload bytes masked and written per step (bounds the heap a send needs)
MAX_CONTROL = const(125)  # RFC 6455 5.5: control frame payload limit

OP_CONT = const(0)
_OP_TEXT = const(1)
_OP_BINARY = const(2)
OP_CLOSE = const(8)
_OP_PING = const(9)
_OP_PONG = const(10)

CLOSE_NORMAL = const(1000)
CLOSE_ABNORMAL = const(1006)  # never sent: the TCP connection ended without a close frame

# Protocol failures of the frame loop: an index into net/ws_close.py FAILURES (text, close code).
_F_RSV = const(0)
_F_MASKED = const(1)
_F_TOP_BIT = const(2)
_F_CONTROL_OP = const(3)
_F_CONTROL_FRAGMENT = const(4)
_F_CONTROL_SIZE = const(5)
_F_CONTINUATION = const(6)
_F_NEW_MESSAGE = const(7)
_F_DATA_OP = const(8)
_F_UTF8 = const(9)


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
    """`code` and `reason` of the close (CLOSE_ABNORMAL: no close frame)."""


def closed_error(code, reason=""):
    e = ConnectionClosed("connection closed (code %d%s)" % (code, (": " + reason) if reason else ""))
    e.code = code
    e.reason = reason
    return e


def _load(name):
    """The module net.<name>, imported now; whatever the import raises reaches the caller
    (nothing half-imported is left)."""
    try:
        __import__("net." + name)
        return sys.modules["net." + name]
    except BaseException:
        _unload(name)
        raise


def _unload(name):
    sys.modules.pop("net." + name, None)
    pkg = sys.modules.get("net")
    if pkg is not None and name in pkg.__dict__:
        del pkg.__dict__[name]


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


class WebSocket:
    """One client connection. Use connect() to make one; recv() from one task at a time."""

    def __init__(self, reader, writer, max_message=MAX_MESSAGE):
        self._r = reader
        self._w = writer
        self._readinto = getattr(reader, "readinto", None)  # MicroPython streams; CPython reads and copies
        self._rbuf = bytearray(_RX_BUFFER)
        self._rmv = memoryview(self._rbuf)
        self._rpos = 0
        self._rend = 0
        self._hdr = bytearray(8)
        self._sending = False  # a frame is being written (a large one in steps): others wait for _sent
        self._sent = asyncio.Event()  # not an asyncio.Lock: that would keep asyncio.lock loaded for this alone
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
                    data = await self._r.read(_RX_BUFFER)
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
            if n - pos < _RX_BUFFER:
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

    # ------------------------------------------------------------ output
    async def _send_frame(self, op, data):
        n = len(data)
        mask = os.urandom(4)
        hlen = 2 if n < 126 else (4 if n < 65536 else 10)
        small = n <= _SEND_CHUNK
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
        while self._sending:
            await self._sent.wait()
        if self.closed:
            raise closed_error(self.close_code, self.close_reason)
        if self._close_sent and op != OP_CLOSE:  # RFC 6455 5.5.1: nothing may follow our close
            raise closed_error(CLOSE_NORMAL, "closing")
        self._sending = True
        self._sent.clear()
        try:
            if small:
                frame[hlen + 4:] = _masked(mv, _mask_int(mask, n))
                self._w.write(frame)
                await self._w.drain()
            else:
                self._w.write(frame)
                full = _mask_int(mask, _SEND_CHUNK)
                for i in range(0, n, _SEND_CHUNK):
                    k = min(_SEND_CHUNK, n - i)
                    self._w.write(_masked(mv[i:i + k], full if k == _SEND_CHUNK else _mask_int(mask, k)))
                    await self._w.drain()
        except OSError as e:
            raise self._lost("connection lost while sending: %s" % e)
        finally:
            mv = None
            self._sending = False
            self._sent.set()

    async def send(self, message):
        """Send one message: str as a text frame, bytes-like as a binary frame."""
        if isinstance(message, str):
            op = _OP_TEXT
            try:
                data = memoryview(message)  # MicroPython: a str is its UTF-8 bytes, no copy needed
            except TypeError:  # CPython
                data = message.encode()
        else:
            op, data = _OP_BINARY, message
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
        await self._send_frame(_OP_PING, payload)

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
        return closed_error(self.close_code, self.close_reason)

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
        w = self._w
        try:
            await _load("netcompat").close_stream(w)
        except Exception:  # netcompat not loaded (MemoryError): release the socket(s) unbounded
            try:
                await w.wait_closed()
                getattr(w, "tcp", w).close()
            except Exception:  # gone already
                pass
        finally:
            _unload("netcompat")

    async def close(self, code=CLOSE_NORMAL, reason=""):
        """Close handshake (net/ws_close.py): send close, wait (bounded) for the server's close, drop TCP."""
        if not self.closed:
            await self._end("close", code, reason)

    async def _end(self, name, *args):
        # Run net.ws_close.<name>(self, *args): the close handshake, a close frame received, or
        # ("fail", _F_*, arg) failing the connection (RFC 6455 7.1.7: raises ProtocolError).
        # Without ws_close (MemoryError) the connection still ends.
        try:
            mod = _load("ws_close")
        except Exception as e:
            e = self._lost("%s: %r" % (name, e))
            if name == "close":
                await self.wait_closed()
                return
            raise e
        try:
            await getattr(mod, name)(self, *args)
        finally:
            mod = None
            _unload("ws_close")

    # ------------------------------------------------------------ frames
    async def _read_header(self):
        h = memoryview(self._hdr)
        await self._read_into(h[:2])
        b0 = self._hdr[0]
        b1 = self._hdr[1]
        if b0 & 0x70:
            await self._end("fail", _F_RSV)
        if b1 & 0x80:
            await self._end("fail", _F_MASKED)
        n = b1 & 0x7F
        if n == 126:
            await self._read_into(h[:2])
            n = int.from_bytes(h[:2], "big")
        elif n == 127:
            await self._read_into(h)
            if self._hdr[0] & 0x80:
                await self._end("fail", _F_TOP_BIT)
            n = int.from_bytes(h, "big")
        return b0 & 0x80, b0 & 0x0F, n

    async def _control(self, fin, op, n):
        """A control frame (op >= OP_CLOSE) between data frames: a ping is answered, a close ends the connection."""
        if op > _OP_PONG:
            await self._end("fail", _F_CONTROL_OP, op)
        if not fin:
            await self._end("fail", _F_CONTROL_FRAGMENT)
        if n > MAX_CONTROL:
            await self._end("fail", _F_CONTROL_SIZE, n)
        payload = bytearray(n)
        await self._read_into(memoryview(payload))
        if op == _OP_PING:
            if not self._close_sent:
                await self._send_frame(_OP_PONG, payload)
        elif op == _OP_PONG:
            self.pongs += 1
        else:
            self._msg = None
            await self._end("on_close_frame", payload)

    async def _data_op(self, op, busy):
        """Check a data frame's opcode; busy: a fragmented message is being received."""
        if op == OP_CONT:
            if not busy:
                await self._end("fail", _F_CONTINUATION)
        elif op == _OP_TEXT or op == _OP_BINARY:
            if busy:
                await self._end("fail", _F_NEW_MESSAGE)
        else:
            await self._end("fail", _F_DATA_OP, op)

    async def recv(self):
        """Next data message: str for text, bytes for binary. Pings are answered here."""
        if self.closed:
            raise closed_error(self.close_code, self.close_reason)
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
        if op == _OP_BINARY:
            return bytes(m)
        try:
            return str(m, "utf-8")
        except UnicodeError:
            return None

    async def _recv(self):
        self._msg = None  # the message being assembled (bytearray); an attribute, see _take
        msg_op = 0
        while True:
            fin, op, n = await self._read_header()
            if op >= OP_CLOSE:
                await self._control(fin, op, n)
                continue
            await self._data_op(op, self._msg is not None)
            if op:
                msg_op = op
            have = 0 if self._msg is None else len(self._msg)
            if have + n > self.max_message:
                # Read to its end and dropped (net/ws_drain.py): always raises MessageTooBig.
                try:
                    mod = _load("ws_drain")
                except Exception as e:  # MemoryError: the message cannot be skipped, the connection ends
                    self._msg = None
                    raise self._lost("too big: %r" % e)
                try:
                    await mod.drain(self, have, n, fin)
                finally:
                    mod = None
                    _unload("ws_drain")
            if self._msg is None:
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
                m = self._take(msg_op)
                if m is None:
                    await self._end("fail", _F_UTF8)
                return m


def _via_opener(name, *args):
    # ws_open.<name>(*args) (parse_url, basic_auth_header) with ws_open loaded for the call.
    try:
        return getattr(_load("ws_open"), name)(*args)
    finally:
        _unload("ws_open")
        _unload("netcompat")  # ws_open imports it: a Link's URL check left it resident (7 KB)


async def connect(url, subprotocols=("ocpp1.6",), basic_auth=None, ssl=None, timeout_ms=CONNECT_TIMEOUT_MS,
                  max_message=MAX_MESSAGE):
    """Open a WebSocket to url (ws:// or wss://) and return a connected WebSocket. Whatever the
    opener raises (WebSocketError: a bad URL, a failed connect or handshake; MemoryError or ImportError when it
    cannot be loaded) reaches the caller, which retries."""
    try:
        return await _load("ws_open").connect(url, subprotocols, basic_auth, ssl, timeout_ms, max_message)
    finally:
        _unload("ws_open")
        _unload("netcompat")
