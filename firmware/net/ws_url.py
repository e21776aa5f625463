# A WebSocket connection's parameters, checked before any socket is opened: the URL parsed
# (RFC 6455 3), the Basic auth header (RFC 7617), the TLS context of wss://, the opening
# handshake's request and the answer it must get; and a net.link.Link's
# configuration, checked and set when it is made. No I/O: net.ws loads it for one call and drops
# it before net/ws_open.py opens the connection, so the two never load together. Errors are ws's
# classes, their texts lines of net/ws_texts.py (_E_*).
import binascii
import hashlib
import os

from compat import const
from net.ws import WebSocketError, _text

_MAX_MESSAGE = const(65536)  # default largest message accepted: bytes of payload, all fragments
_CONNECT_TIMEOUT_MS = const(10000)  # TCP connect + TLS + HTTP upgrade, all of it
_GUID = const(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")  # RFC 6455 1.3
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_SCHEME_END = const("://")
_SECURE_SCHEME = const("wss")
_RESOURCE_START = const("/?")  # either ends the host[:port] part
_BASIC = const("Basic ")  # RFC 7617 2
_BRACKETED = const("[%s]")  # an IPv6 address in the Host header
_HOST_PORT = const("%s:%d")
_LOG_LINK = const("link: %s")

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
_E_SSL_FOR_WS = const(25)
_T_SECONDS = const(34)

# A Link's periods (set_ping_interval):
_PING_INTERVAL_S = const(60)  # keepalive ping period when none is configured (WebSocketPingInterval; 0 = off)
_DEAD_AFTER_PINGS = const(2)  # default dead_after_s: this many silent ping intervals, plus _PONG_GRACE_S
_PONG_GRACE_S = const(10)  # margin for a pong to arrive (net.link verify(); the default dead-link time)


def basic_auth_header(basic_auth):
    """Value of the Authorization header for HTTP Basic auth (RFC 7617) of basic_auth, a
    (user, password) pair."""
    b = []
    for v in basic_auth:
        b.append(v.encode() if isinstance(v, str) else bytes(v))
    if b":" in b[0]:
        raise ValueError("basic auth user must not contain ':'")
    return _BASIC + binascii.b2a_base64(b[0] + b":" + b[1]).strip().decode()


def parse_url(url):
    """ws[s]://host[:port][/path][?query] -> (secure, host, port, resource)."""
    if not isinstance(url, str):
        raise WebSocketError(_text(_E_URL_TYPE, (url,)))
    i = url.find(_SCHEME_END)
    scheme = url[:i].lower() if i > 0 else ""
    if scheme == "ws":
        secure, port = False, 80
    elif scheme == _SECURE_SCHEME:
        secure, port = True, 443
    else:
        raise WebSocketError(_text(_E_SCHEME, url))
    rest = url[i + 3:]
    h = rest.find("#")
    if h >= 0:
        rest = rest[:h]
    end = len(rest)
    for c in _RESOURCE_START:
        j = rest.find(c)
        if 0 <= j < end:
            end = j
    hostport, resource = rest[:end], rest[end:]
    if not resource.startswith("/"):
        resource = "/" + resource
    for c in resource.encode():  # bytes: iterating a str would intern each character
        if c <= 32 or c >= 127:
            raise WebSocketError(_text(_E_PATH, url))
    if "@" in hostport:
        raise WebSocketError(_text(_E_CREDENTIALS, url))
    if hostport.startswith("["):
        j = hostport.find("]")
        if j < 0:
            raise WebSocketError(_text(_E_BRACKET, url))
        host, ps = hostport[1:j], hostport[j + 1:]
        if ps and not ps.startswith(":"):
            raise WebSocketError(_text(_E_PORT_FORM, url))
        ps = ps[1:]
    else:
        j = hostport.rfind(":")
        host, ps = (hostport[:j], hostport[j + 1:]) if j >= 0 else (hostport, "")
    if not host:
        raise WebSocketError(_text(_E_NO_HOST, url))
    if ps:
        try:
            port = int(ps)
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise WebSocketError(_text(_E_PORT, url))
    return secure, host, port, resource


def check(url, subprotocols=("ocpp1.6",), basic_auth=None, ssl=None, timeout_ms=_CONNECT_TIMEOUT_MS,
          max_message=_MAX_MESSAGE):
    """ws.connect's arguments checked, as net.ws_open.connect takes them: (host, port, the
    opening handshake's request (RFC 6455 4.1, bytes), the Sec-WebSocket-Accept it must be answered
    with, subprotocols, TLS context (None for ws://), max_message, timeout_ms)."""
    secure, host, port, resource = parse_url(url)
    if isinstance(subprotocols, str):
        subprotocols = (subprotocols,)
    subprotocols = tuple(subprotocols or ())
    if not (isinstance(max_message, int) and max_message > 0):
        raise ValueError("max_message must be a positive int, not %r" % (max_message,))
    ctx = None
    if secure:  # the TLS context: the caller's, or the runtime's verifying default
        ctx = ssl
        if ssl is None or ssl is True:
            import ssl as ssl_mod
            ctx = getattr(ssl_mod, "create_default_context", None)
            if ctx is None:
                raise WebSocketError(_text(_E_NO_CA))
            ctx = ctx()
    elif ssl not in (None, False):
        raise WebSocketError(_text(_E_SSL_FOR_WS, url))
    key = binascii.b2a_base64(os.urandom(16)).strip()
    name = (_BRACKETED % host) if ":" in host else host
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           % (resource, name if port == (443 if secure else 80) else _HOST_PORT % (name, port), key.decode()))
    if subprotocols:
        req += "Sec-WebSocket-Protocol: %s\r\n" % ", ".join(subprotocols)
    if basic_auth:
        req += "Authorization: %s\r\n" % basic_auth_header(basic_auth)
    # The Sec-WebSocket-Accept the server must answer for our Sec-WebSocket-Key (RFC 6455 4.2.2).
    accept = binascii.b2a_base64(hashlib.sha1(key + _GUID).digest()).strip()
    return (host, port, (req + "\r\n").encode(), accept, subprotocols, ctx, max_message,
            timeout_ms)


def link_init(link, url, charge_point_id, basic_auth=None, ssl=None, ping_interval_s=None, dead_after_s=None,
              backoff=None, max_message=_MAX_MESSAGE, sleep_ms=None, connect_timeout_ms=_CONNECT_TIMEOUT_MS):
    """A net.link.Link's configuration, checked (ValueError, WebSocketError) and set when it is
    made: its URL (the CSMS URL, then the charge point's id), Basic auth, TLS, timing, backoff."""
    if not isinstance(charge_point_id, str) or not charge_point_id or "/" in charge_point_id:
        raise ValueError("charge_point_id must be a non-empty string without '/', not %r" % (charge_point_id,))
    if not isinstance(url, str):
        raise WebSocketError(_text(_E_CSMS_URL, (url,)))
    link.url = url = url.rstrip("/") + "/" + charge_point_id  # OCPP-J
    parse_url(url)
    if basic_auth:
        secret = basic_auth_header(basic_auth)[6:]
        import log
        try:  # safety net: the header form never appears in a log line, even by mistake
            log.secret(secret)
        except ValueError as e:  # log's secret table is full; the header is never logged by us anyway
            log.warning(_LOG_LINK, e)
    link.ssl = ssl
    link._opts = (("ocpp1.6",), basic_auth, ssl, connect_timeout_ms, max_message)  # ws.connect's, after the URL
    link.dead_after_s = dead_after_s
    link.pong_wait_ms = _PONG_GRACE_S * 1000  # verify(): the wait for a pong
    set_ping_interval(link, ping_interval_s)  # None: the default interval
    link.backoff = backoff  # a net.backoff.Backoff; None: one is made at the first failure
    link._own = backoff is None  # ours: dropped (and its module freed) once a connection is stable
    link.sleep_ms = sleep_ms  # None: asyncio's
    link.task = None  # the task running run()
    link.up = False
    link.connects = 0  # successful connections so far
    link.sock = None  # the WebSocket while connected
    link._stopping = False
    link._rx_reason = None
    link._verify_ms = 0  # verify(): ping now, and drop the link when no pong comes within this


def set_ping_interval(link, ping_interval_s):
    """A Link's ping interval (seconds, 0 = off; None: the default) and the dead-link time that
    follows it unless set explicitly (dead_after_s), in ms."""
    ms = []
    for name, v in (("ping_interval_s", ping_interval_s), ("dead_after_s", link.dead_after_s)):
        # Each setting in seconds as ms (None: its default, below); ValueError naming it when it
        # is not a number >= 0.
        if v is not None:
            try:
                v = float(v)
            except (TypeError, ValueError):
                v = -1
            if v < 0:
                raise ValueError(_text(_T_SECONDS, name))
            v = int(v * 1000)
        ms.append(v)
    p, d = ms
    if p is None:
        p = _PING_INTERVAL_S * 1000
    if d is None:
        d = (_DEAD_AFTER_PINGS * p + _PONG_GRACE_S * 1000) if p else 0
    link.ping_ms = p
    link.dead_ms = d
