# The WebSocket opening handshake (RFC 6455 4.1): TCP and TLS connect, the HTTP upgrade (the
# request net/ws_url.py made) and the checks of its answer. Imported for one connect and
# unloaded after it (net/ws.py, after net.ws_url is dropped), so it costs no RAM while the link
# is up. Errors are ws's classes.
import asyncio

import compat
from compat import const
from net.ws import ConnectionClosed, WebSocketError, Unauthorized, WebSocket, _text, _wait_for_ms

_MAX_HANDSHAKE_BYTES = const(4096)  # largest HTTP response head (status line + headers) accepted
_HEAD_BUFFER = const(512)  # read size of the response head; what follows it is left to the frame loop

# Errors name their text by its line in net/ws_texts.py (_E_*), loaded only when one is raised:
# a connect that succeeds does not carry them (~1.5 KB); _error() makes the exception.
_E_HEAD_SIZE = const(10)
_E_HEADER_LINE = const(11)
_E_NOT_HTTP = const(12)
_E_401 = const(13)
_E_STATUS = const(14)
_E_UPGRADE = const(15)
_E_CONNECTION = const(16)
_E_ACCEPT = const(17)
_E_EXTENSIONS = const(18)
_E_NO_PROTOCOL = const(19)
_E_PROTOCOL = const(20)
_E_CONNECT = const(21)
_E_CLOSED = const(22)
_E_BAD_HTTP = const(23)
_E_TLS = const(24)
_E_TIMEOUT = const(26)
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_OR = const(" or ")
_NONE = const("none")
_UPGRADE = const("upgrade")  # the header, and the token Connection must hold (lowercased)
_CONNECTION = const("connection")

def _error(i, args=(), status=0, kind=WebSocketError):
    """kind(text i % args); status: the HTTP status of a refused upgrade (101: the upgrade was
    answered, but wrongly)."""
    e = kind(_text(i, args))
    e.status = status
    return e


async def _open(host, port, request, accept, subprotocols, ssl, max_message):
    """The TCP (and TLS when ssl is a context) connection, then the HTTP upgrade on it; nothing
    stays open on failure."""
    ws = None
    try:
        # MicroPython's asyncio.open_connection leaks its socket when the connect raises at once or
        # is cancelled (timeout), and its Stream.close() does nothing (wait_closed() closes the
        # socket): here the socket is ours from its creation, and WebSocket.wait_closed() closes it
        # (and the TCP socket beneath a TLS one: after a failed TLS handshake, closing the TLS
        # socket leaves that one open). Its last step is the stream's `release`, a callable.
        try:
            from asyncio.stream import Stream  # MicroPython: a stream wraps a socket we own
        except ImportError:  # CPython
            Stream = None
        if Stream is None:
            if ssl is None:
                reader, writer = await asyncio.open_connection(host, port)
            else:
                reader, writer = await asyncio.open_connection(host, port, ssl=ssl, server_hostname=host)
            # close() waits for a full send buffer to drain (a dead link never does): abort, at last
            writer.release = writer.transport.abort
        else:
            import errno
            import socket
            ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
            tcp = s = socket.socket(ai[0], ai[1], ai[2])
            try:
                s.setblocking(False)
                try:
                    s.connect(ai[-1])
                except OSError as e:
                    if e.errno != errno.EINPROGRESS:  # a non-blocking connect completes later
                        raise
                if ssl is not None:
                    s = ssl.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
                    s.setblocking(False)
                reader = writer = Stream(s)
                reader.release = tcp.close  # called by WebSocket.wait_closed() after s is closed
                await asyncio.sleep_ms(0)  # the connect completes (or fails) at the first write
            except BaseException:
                s.close()
                tcp.close()
                raise
        ws = WebSocket(reader, writer, max_message)
        # The opening handshake (RFC 6455 4.1): the request, then the answer's status line and headers.
        ws._w.write(request)
        request = None
        await ws._w.drain()

        left = _MAX_HANDSHAKE_BYTES
        buf = memoryview(bytearray(_HEAD_BUFFER))
        status_line = None
        headers = {}
        while True:
            # One line of the answer, read through buf; the input after it stays in ws._rmv.
            line = bytearray()
            while True:
                b = ws._rmv
                if not b:
                    b = buf[:await ws._read(buf)]
                i = bytes(b).find(b"\n")
                k = len(b) if i < 0 else i + 1
                if len(line) + k > left:
                    raise _error(_E_HEAD_SIZE, _MAX_HANDSHAKE_BYTES)
                line.extend(b[:k])
                ws._rmv = b[k:] or None
                if i >= 0:
                    break
            left -= len(line)
            line = bytes(line)
            if status_line is None:
                status_line = line
                continue
            line = line.strip()
            if not line:
                break
            i = line.find(b":")
            if i <= 0:
                raise _error(_E_HEADER_LINE, line[:40])
            name = line[:i].strip().lower().decode()
            value = line[i + 1:].strip().decode()
            headers[name] = (headers[name] + ", " + value) if name in headers else value

        parts = status_line.split(None, 2)
        try:
            status = int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0
        except ValueError:
            status = 0
        if status == 0:
            raise _error(_E_NOT_HTTP, status_line[:40])
        if status == 401:
            raise _error(_E_401, (), 401, Unauthorized)
        if status != 101:
            raise _error(_E_STATUS, (status, parts[2].strip().decode() if len(parts) > 2 else ""), status)
        if headers.get(_UPGRADE, "").lower() != "websocket":
            raise _error(_E_UPGRADE, headers.get(_UPGRADE), 101)
        for t in headers.get(_CONNECTION, "").lower().split(","):
            if t.strip() == _UPGRADE:
                break
        else:
            raise _error(_E_CONNECTION, (), 101)
        if headers.get("sec-websocket-accept", "").encode() != accept:
            raise _error(_E_ACCEPT, (), 101)
        ext = headers.get("sec-websocket-extensions")
        if ext:
            raise _error(_E_EXTENSIONS, ext, 101)
        proto = headers.get("sec-websocket-protocol")
        if subprotocols and not proto:
            raise _error(_E_NO_PROTOCOL, _OR.join(subprotocols), 101)
        if proto and proto not in subprotocols:
            raise _error(_E_PROTOCOL, (proto, _OR.join(subprotocols) or _NONE), 101)
        ws.subprotocol = proto
        ws.last_rx_ms = compat.ticks_ms()
        return ws
    except BaseException as e:  # the socket goes on every path, the connect timeout cancelling us too
        if ws is not None:
            await ws.wait_closed()
        if isinstance(e, ConnectionClosed):
            raise _error(_E_CLOSED, e.reason)
        # mbedTLS messages start with a newline and span lines: a log line must read as one sentence.
        t = " ".join(str(e).split()) or type(e).__name__
        if isinstance(e, OSError):
            raise _error(_E_CONNECT, (host, port, t))
        # MicroPython's ssl reports a failed TLS handshake (e.g. an untrusted certificate) as a ValueError.
        if isinstance(e, ValueError) and ws is not None:
            raise _error(_E_TLS, (host, port, t)) if ssl is not None else _error(_E_BAD_HTTP, t)
        raise  # a refused upgrade, or the connect timeout cancelling us


async def connect(host, port, request, accept, subprotocols, ssl, max_message, timeout_ms):
    """Open a WebSocket (the arguments: net.ws_url.check's) and return it connected."""
    try:
        return await _wait_for_ms(_open(host, port, request, accept, subprotocols, ssl, max_message),
                                  timeout_ms)
    except asyncio.TimeoutError:
        raise _error(_E_TIMEOUT, (host, port, timeout_ms))
