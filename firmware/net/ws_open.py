# The WebSocket opening handshake (RFC 6455 4.1): URL parsing, TCP and TLS connect, the HTTP
# upgrade with Basic auth and subprotocol checks; also a Link's configuration, checked and set
# when it is made.
# Imported for one connect or check and unloaded after it (net/ws.py), so it costs no RAM while
# the link is up. Errors are ws's classes.
import asyncio
import binascii
import hashlib
import os

import compat
from compat import const
from net.ws import (CONNECT_TIMEOUT_MS, MAX_MESSAGE, ConnectionClosed, WebSocketError,
                    Unauthorized, WebSocket, _text, _wait_for_ms)

MAX_HANDSHAKE_BYTES = const(4096)  # largest HTTP response head (status line + headers) accepted
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3

# Errors name their text by its line in net/ws_texts.py (_E_*), loaded only when one is raised:
# a connect that succeeds does not carry them (~1.5 KB); _error() makes the exception.
_E_URL_TYPE = const(0)
_E_SCHEME = const(1)
_E_PATH = const(2)
_E_CREDENTIALS = const(3)
_E_BRACKET = const(4)
_E_PORT_FORM = const(5)
_E_NO_HOST = const(6)
_E_PORT = const(7)
_E_CSMS_URL = const(8)
_E_NO_CA = const(9)
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
_E_SSL_FOR_WS = const(25)
_E_TIMEOUT = const(26)

# MicroPython's asyncio.open_connection leaks its socket when the connect raises at once or is
# cancelled (timeout), and its Stream.close() does nothing (wait_closed() closes the socket): here
# the socket is ours from its creation, and WebSocket.wait_closed() closes it (and the TCP socket
# beneath a TLS one: after a failed TLS handshake, closing the TLS socket leaves that one open).
try:
    from asyncio.stream import Stream as _Stream  # MicroPython: a stream wraps a socket we own
except ImportError:  # CPython
    _Stream = None


def _error(i, args=(), status=0, kind=WebSocketError):
    """kind(text i % args); status: the HTTP status of a refused upgrade (101: the upgrade was
    answered, but wrongly)."""
    e = kind(_text(i, args))
    e.status = status
    return e


def _as_bytes(v):
    if isinstance(v, str):
        return v.encode()
    return bytes(v)


def _b64(data):
    return binascii.b2a_base64(data).strip()


def basic_auth_header(user, password):
    """Value of the Authorization header for HTTP Basic auth (RFC 7617)."""
    user = _as_bytes(user)
    if b":" in user:
        raise ValueError("basic auth user must not contain ':'")
    return "Basic " + _b64(user + b":" + _as_bytes(password)).decode()


def accept_key(key):
    """Sec-WebSocket-Accept the server must answer for our Sec-WebSocket-Key (bytes in, bytes out)."""
    return _b64(hashlib.sha1(key + GUID).digest())


def parse_url(url):
    """ws[s]://host[:port][/path][?query] -> (secure, host, port, resource)."""
    if not isinstance(url, str):
        raise _error(_E_URL_TYPE, (url,))
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme == "ws":
        secure, port = False, 80
    elif scheme == "wss":
        secure, port = True, 443
    else:
        raise _error(_E_SCHEME, url)
    rest = url[i + 3:]
    h = rest.find("#")
    if h >= 0:
        rest = rest[:h]
    end = len(rest)
    for c in "/?":
        j = rest.find(c)
        if 0 <= j < end:
            end = j
    hostport, resource = rest[:end], rest[end:]
    if not resource.startswith("/"):
        resource = "/" + resource
    for c in resource:
        if ord(c) <= 32 or ord(c) >= 127:
            raise _error(_E_PATH, url)
    if "@" in hostport:
        raise _error(_E_CREDENTIALS, url)
    if hostport.startswith("["):
        j = hostport.find("]")
        if j < 0:
            raise _error(_E_BRACKET, url)
        host, ps = hostport[1:j], hostport[j + 1:]
        if ps and not ps.startswith(":"):
            raise _error(_E_PORT_FORM, url)
        ps = ps[1:]
    else:
        j = hostport.rfind(":")
        host, ps = (hostport[:j], hostport[j + 1:]) if j >= 0 else (hostport, "")
    if not host:
        raise _error(_E_NO_HOST, url)
    if ps:
        try:
            port = int(ps)
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise _error(_E_PORT, url)
    return secure, host, port, resource


def link_init(link, url, charge_point_id, basic_auth=None, ssl=None, ping_interval_s=None, dead_after_s=None,
              backoff=None, max_message=MAX_MESSAGE, sleep_ms=None, connect_timeout_ms=CONNECT_TIMEOUT_MS):
    """A net.link.Link's configuration, checked (ValueError, WebSocketError) and set when it is
    made: its URL (the CSMS URL, then the charge point's id), Basic auth, TLS, timing, backoff."""
    if not isinstance(charge_point_id, str) or not charge_point_id or "/" in charge_point_id:
        raise ValueError("charge_point_id must be a non-empty string without '/', not %r" % (charge_point_id,))
    if not isinstance(url, str):
        raise _error(_E_CSMS_URL, (url,))
    link.url = url = url.rstrip("/") + "/" + charge_point_id  # OCPP-J
    parse_url(url)
    if basic_auth:
        secret = basic_auth_header(basic_auth[0], basic_auth[1])[6:]
        import log
        try:  # safety net: the header form never appears in a log line, even by mistake
            log.secret(secret)
        except ValueError as e:  # log's secret table is full; the header is never logged by us anyway
            log.warning("link: %s", e)
    link.ssl = ssl
    link._opts = (("ocpp1.6",), basic_auth, ssl, connect_timeout_ms, max_message)  # ws.connect's, after the URL
    link._explicit_dead = dead_after_s
    link.set_ping_interval(ping_interval_s)  # None: the default interval
    link.backoff = backoff  # a net.backoff.Backoff; None: one is made at the first failure
    link._own = backoff is None  # ours: dropped (and its module freed) once a connection is stable
    link._sleep = sleep_ms  # None: asyncio's
    link.up = False
    link.connects = 0  # successful connections so far
    link._ws = None
    link._stopping = False
    link._rx_reason = None
    link._wake = None  # set when the receiver ends or stop() is called: the supervisor acts at once
    link._verify_ms = 0  # verify(): ping now, and drop the link when no pong comes within this


def _one_line(e):
    # mbedTLS messages start with a newline and span lines: a log line must read as one sentence.
    return " ".join(str(e).split()) or type(e).__name__


def _tls_context(ssl):
    """The context for a wss:// connection: the caller's, or the runtime's verifying default."""
    if ssl is not None and ssl is not True:
        return ssl
    import ssl as ssl_mod
    make = getattr(ssl_mod, "create_default_context", None)
    if make is None:
        raise _error(_E_NO_CA)
    return make()


async def _read_line(ws, limit):
    line = bytearray()
    while True:
        await ws._read_some(0)  # input in the receive buffer, none taken
        i = bytes(ws._rmv[ws._rpos:ws._rend]).find(b"\n")
        k = ws._rend - ws._rpos if i < 0 else i + 1
        if len(line) + k > limit:
            raise _error(_E_HEAD_SIZE, MAX_HANDSHAKE_BYTES)
        line.extend(await ws._read_some(k))
        if i >= 0:
            return bytes(line)


async def _handshake(ws, host_header, resource, subprotocols, auth_header):
    key = _b64(os.urandom(16))
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (resource, host_header, key.decode()))
    if subprotocols:
        req += "Sec-WebSocket-Protocol: %s\r\n" % ", ".join(subprotocols)
    if auth_header:
        req += "Authorization: %s\r\n" % auth_header
    ws._w.write((req + "\r\n").encode())
    req = None
    await ws._w.drain()

    left = MAX_HANDSHAKE_BYTES
    status_line = await _read_line(ws, left)
    left -= len(status_line)
    headers = {}
    while True:
        line = await _read_line(ws, left)
        left -= len(line)
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
    if headers.get("upgrade", "").lower() != "websocket":
        raise _error(_E_UPGRADE, headers.get("upgrade"), 101)
    for t in headers.get("connection", "").lower().split(","):
        if t.strip() == "upgrade":
            break
    else:
        raise _error(_E_CONNECTION, (), 101)
    if headers.get("sec-websocket-accept", "").encode() != accept_key(key):
        raise _error(_E_ACCEPT, (), 101)
    ext = headers.get("sec-websocket-extensions")
    if ext:
        raise _error(_E_EXTENSIONS, ext, 101)
    proto = headers.get("sec-websocket-protocol")
    if subprotocols and not proto:
        raise _error(_E_NO_PROTOCOL, " or ".join(subprotocols), 101)
    if proto and proto not in subprotocols:
        raise _error(_E_PROTOCOL, (proto, " or ".join(subprotocols) or "none"), 101)
    ws.subprotocol = proto
    ws.last_rx_ms = compat.ticks_ms()


async def _open_stream(host, port, ssl):
    """(reader, writer) of a TCP connection (TLS when ssl is a context); nothing stays open on failure."""
    if _Stream is None:
        if ssl is None:
            return await asyncio.open_connection(host, port)
        return await asyncio.open_connection(host, port, ssl=ssl, server_hostname=host)
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
        st = _Stream(s)
        st.tcp = tcp  # closed by WebSocket.wait_closed() with s
        await asyncio.sleep_ms(0)  # the connect completes (or fails) at the first write
        return st, st
    except BaseException:
        s.close()
        tcp.close()
        raise


async def _open(secure, host, port, resource, subprotocols, auth_header, ctx, max_message):
    try:
        reader, writer = await _open_stream(host, port, ctx)
    except OSError as e:
        raise _error(_E_CONNECT, (host, port, _one_line(e)))
    ws = WebSocket(reader, writer, max_message)
    name = ("[%s]" % host) if ":" in host else host
    host_header = name if port == (443 if secure else 80) else "%s:%d" % (name, port)
    try:
        await _handshake(ws, host_header, resource, subprotocols, auth_header)
    except BaseException as e:  # the socket goes on every path, the connect timeout cancelling us too
        await ws.wait_closed()
        if isinstance(e, ConnectionClosed):
            raise _error(_E_CLOSED, e.reason)
        if isinstance(e, OSError):
            raise _error(_E_CONNECT, (host, port, _one_line(e)))
        # MicroPython's ssl reports a failed TLS handshake (e.g. an untrusted certificate) as a ValueError.
        if isinstance(e, ValueError):
            if not secure:
                raise _error(_E_BAD_HTTP, _one_line(e))
            raise _error(_E_TLS, (host, port, _one_line(e)))
        raise  # a refused upgrade, or the connect timeout cancelling us
    return ws


async def connect(url, subprotocols=("ocpp1.6",), basic_auth=None, ssl=None, timeout_ms=CONNECT_TIMEOUT_MS,
                  max_message=MAX_MESSAGE):
    """Open a WebSocket to url (ws:// or wss://) and return a connected WebSocket."""
    secure, host, port, resource = parse_url(url)
    if isinstance(subprotocols, str):
        subprotocols = (subprotocols,)
    subprotocols = tuple(subprotocols or ())
    if not (isinstance(max_message, int) and max_message > 0):
        raise ValueError("max_message must be a positive int, not %r" % (max_message,))
    ctx = None
    if secure:
        ctx = _tls_context(ssl)
    elif ssl not in (None, False):
        raise _error(_E_SSL_FOR_WS, url)
    auth_header = basic_auth_header(basic_auth[0], basic_auth[1]) if basic_auth else None
    try:
        return await _wait_for_ms(_open(secure, host, port, resource, subprotocols, auth_header, ctx, max_message),
                                  timeout_ms)
    except asyncio.TimeoutError:
        raise _error(_E_TIMEOUT, (host, port, timeout_ms))
