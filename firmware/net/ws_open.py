# The WebSocket opening handshake (RFC 6455 4.1): URL parsing, TCP and TLS connect, the HTTP
# upgrade with Basic auth and subprotocol checks; also a Link's URL, checked when it is made.
# Imported for one connect or check and unloaded after it (net/ws.py), so it costs no RAM while
# the link is up. Errors are ws's classes.
import asyncio
import binascii
import hashlib
import os

import compat
from compat import const
from net.ws import (CONNECT_TIMEOUT_MS, MAX_MESSAGE, ConnectionClosed, WebSocketError,
                    Unauthorized, WebSocket, _wait_for_ms)

MAX_HANDSHAKE_BYTES = const(4096)  # largest HTTP response head (status line + headers) accepted
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3


def _refused(text, status=101, kind=WebSocketError):
    e = kind(text)
    e.status = status
    return e


# MicroPython's asyncio.open_connection leaks its socket when the connect raises at once or is
# cancelled (timeout), and its Stream.close() does nothing (wait_closed() closes the socket): here
# the socket is ours from its creation, and WebSocket.wait_closed() closes it (and the TCP socket
# beneath a TLS one: after a failed TLS handshake, closing the TLS socket leaves that one open).
try:
    from asyncio.stream import Stream as _Stream  # MicroPython: a stream wraps a socket we own
except ImportError:  # CPython
    _Stream = None


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
        raise WebSocketError("URL must be a string, not %r" % (url,))
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme == "ws":
        secure, port = False, 80
    elif scheme == "wss":
        secure, port = True, 443
    else:
        raise WebSocketError("URL must start with ws:// or wss://: %r" % url)
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
            raise WebSocketError("URL path must be printable ASCII without spaces: %r" % url)
    if "@" in hostport:
        raise WebSocketError("credentials in the URL are not supported (use basic_auth): %r" % url)
    if hostport.startswith("["):
        j = hostport.find("]")
        if j < 0:
            raise WebSocketError("unclosed '[' in URL host: %r" % url)
        host, ps = hostport[1:j], hostport[j + 1:]
        if ps and not ps.startswith(":"):
            raise WebSocketError("bad port in URL: %r" % url)
        ps = ps[1:]
    else:
        j = hostport.rfind(":")
        host, ps = (hostport[:j], hostport[j + 1:]) if j >= 0 else (hostport, "")
    if not host:
        raise WebSocketError("URL has no host: %r" % url)
    if ps:
        try:
            port = int(ps)
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise WebSocketError("URL port must be 1..65535: %r" % url)
    return secure, host, port, resource


def link_target(url, charge_point_id, basic_auth):
    """net.link's configuration checked when a Link is made: (the URL of the charger's link, the
    Basic auth credentials as they appear in the header, or None)."""
    if not isinstance(charge_point_id, str) or not charge_point_id or "/" in charge_point_id:
        raise ValueError("charge_point_id must be a non-empty string without '/', not %r" % (charge_point_id,))
    if not isinstance(url, str):
        raise WebSocketError("CSMS URL must be a string, not %r" % (url,))
    url = url.rstrip("/") + "/" + charge_point_id  # OCPP-J: the CSMS URL, then the charge point's id
    parse_url(url)
    return url, basic_auth_header(basic_auth[0], basic_auth[1])[6:] if basic_auth else None


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
        raise WebSocketError("this runtime has no default CA store: pass an SSLContext that trusts the CSMS "
                           "certificate (SSLContext(PROTOCOL_TLS_CLIENT) + load_verify_locations)")
    return make()


async def _read_line(ws, limit):
    line = bytearray()
    while True:
        await ws._read_some(0)  # input in the receive buffer, none taken
        i = bytes(ws._rmv[ws._rpos:ws._rend]).find(b"\n")
        k = ws._rend - ws._rpos if i < 0 else i + 1
        if len(line) + k > limit:
            raise WebSocketError("HTTP response head longer than %d bytes" % MAX_HANDSHAKE_BYTES)
        line.extend(await ws._read_some(k))
        if i >= 0:
            return bytes(line)


async def _handshake(ws, host_header, resource, subprotocols, auth_header):
    key = _b64(os.urandom(16))
    lines = [
        "GET %s HTTP/1.1" % resource,
        "Host: %s" % host_header,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: %s" % key.decode(),
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(subprotocols))
    if auth_header:
        lines.append("Authorization: %s" % auth_header)
    ws._w.write(("\r\n".join(lines) + "\r\n\r\n").encode())
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
            raise WebSocketError("malformed HTTP header line %r" % line[:40])
        name = line[:i].strip().lower().decode()
        value = line[i + 1:].strip().decode()
        headers[name] = (headers[name] + ", " + value) if name in headers else value

    parts = status_line.split(None, 2)
    try:
        status = int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0
    except ValueError:
        status = 0
    if status == 0:
        raise WebSocketError("not an HTTP response: %r" % status_line[:40])
    if status == 401:
        raise _refused("authorization rejected (HTTP 401)", 401, Unauthorized)
    if status != 101:
        text = parts[2].strip().decode() if len(parts) > 2 else ""
        raise _refused("server answered HTTP %d %s instead of 101 Switching Protocols" % (status, text), status)
    if headers.get("upgrade", "").lower() != "websocket":
        raise _refused("server did not upgrade to websocket (Upgrade: %r)" % headers.get("upgrade"))
    if "upgrade" not in [t.strip() for t in headers.get("connection", "").lower().split(",")]:
        raise _refused("server answered without Connection: Upgrade")
    if headers.get("sec-websocket-accept", "").encode() != accept_key(key):
        raise _refused("wrong Sec-WebSocket-Accept from server")
    if headers.get("sec-websocket-extensions"):
        raise _refused("server enabled extensions we did not ask for: %s" % headers["sec-websocket-extensions"])
    proto = headers.get("sec-websocket-protocol")
    if subprotocols:
        if not proto:
            raise _refused("server did not select subprotocol %s" % " or ".join(subprotocols))
        if proto not in subprotocols:
            raise _refused("server selected subprotocol %r, we asked for %s" % (proto, " or ".join(subprotocols)))
    elif proto:
        raise _refused("server selected subprotocol %r, we asked for none" % proto)
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
        raise WebSocketError("cannot connect to %s:%d: %s" % (host, port, _one_line(e)))
    ws = WebSocket(reader, writer, max_message)
    default = 443 if secure else 80
    name = ("[%s]" % host) if ":" in host else host
    host_header = name if port == default else "%s:%d" % (name, port)
    try:
        await _handshake(ws, host_header, resource, subprotocols, auth_header)
    except BaseException as e:  # the socket goes on every path, the connect timeout cancelling us too
        await ws.wait_closed()
        if isinstance(e, ConnectionClosed):
            raise WebSocketError("server closed the connection during the handshake (%s)" % e.reason)
        if isinstance(e, OSError):
            raise WebSocketError("cannot connect to %s:%d: %s" % (host, port, _one_line(e)))
        if isinstance(e, ValueError):  # MicroPython's ssl reports a failed TLS handshake (e.g. untrusted certificate) so
            if not secure:
                raise WebSocketError("bad HTTP response: %s" % _one_line(e))
            raise WebSocketError("TLS handshake with %s:%d failed: %s" % (host, port, _one_line(e)))
        raise  # HandshakeError, or the connect timeout cancelling us
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
        raise WebSocketError("an ssl context was given for a ws:// URL (use wss://): %r" % url)
    auth_header = basic_auth_header(basic_auth[0], basic_auth[1]) if basic_auth else None
    try:
        return await _wait_for_ms(_open(secure, host, port, resource, subprotocols, auth_header, ctx, max_message),
                                  timeout_ms)
    except asyncio.TimeoutError:
        raise WebSocketError("no WebSocket connection to %s:%d within %d ms" % (host, port, timeout_ms))
