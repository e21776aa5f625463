# A small HTTP/1.1 server on asyncio streams for the setup portal and the status page:
# one request per connection, bounded request size, a whole-request deadline against
# slow clients, malformed requests refused. Owns no page content and no config logic.
from compat import const
import asyncio
import binascii

import log

_MAX_HEAD_BYTES = const(2048)  # request line + headers; beyond it: 431
_MAX_BODY_BYTES = const(2048)  # form body (the portal's form is ~400 bytes); beyond it: 413
_MAX_HEADERS = const(24)  # header lines; beyond it: 431
_REQUEST_TIMEOUT_MS = const(5000)  # the whole request must arrive within this (slow client: 408)
_MAX_CLIENTS = const(4)  # connections served at once; more are closed at once (RAM bound)
_READ_CHUNK = const(512)  # bytes asked of the socket per read
_METHODS = const(("GET", "HEAD", "POST"))

REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}

if hasattr(asyncio, "wait_for_ms"):
    _wait_for_ms = asyncio.wait_for_ms
else:  # CPython
    def _wait_for_ms(aw, ms):
        return asyncio.wait_for(aw, ms / 1000)


class HttpError(Exception):
    def __init__(self, status, why):
        super().__init__(why)
        self.status = status
        self.why = why


class Request:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query        # raw query string ("" when none)
        self.headers = headers    # lower-case name -> value
        self.body = body          # bytes


def parse_head(head):
    """(method, path, query, headers) from the bytes before the blank line; HttpError(400/431)."""
    try:
        text = head.decode()
    except UnicodeError:
        raise HttpError(400, "request head is not UTF-8")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HttpError(400, "bad request line")
    method, target, version = parts
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        raise HttpError(400, "bad request line")
    if method not in _METHODS:
        raise HttpError(405, "method %s not allowed" % method[:16])
    if len(lines) - 1 > _MAX_HEADERS:
        raise HttpError(431, "more than %d header lines" % _MAX_HEADERS)
    headers = {}
    for line in lines[1:]:
        i = line.find(":")
        name = line[:i] if i > 0 else ""
        if not name or " " in name or "\t" in name or not _printable(line):
            raise HttpError(400, "malformed header line")
        headers[name.lower()] = line[i + 1:].strip()
    q = target.find("?")
    if q >= 0:
        return method, target[:q], target[q + 1:], headers
    return method, target, "", headers


def _printable(s):
    for ch in s:
        o = ord(ch)
        if (o < 0x20 and ch != "\t") or o == 0x7F:
            return False
    return True


async def read_request(reader, max_head=_MAX_HEAD_BYTES, max_body=_MAX_BODY_BYTES):
    """One Request from the stream; HttpError for anything oversized or malformed."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buf) > max_head:
            raise HttpError(431, "request head over %d bytes" % max_head)
        chunk = await reader.read(_READ_CHUNK)
        if not chunk:
            raise HttpError(400, "connection closed mid-request")
        buf += chunk
    if end > max_head:
        raise HttpError(431, "request head over %d bytes" % max_head)
    method, path, query, headers = parse_head(buf[:end])
    body = buf[end + 4:]
    n = headers.get("content-length")
    if n is None:
        if method == "POST":
            raise HttpError(400, "POST without Content-Length")
        return Request(method, path, query, headers, b"")
    if not n.isdigit():
        raise HttpError(400, "bad Content-Length")
    n = int(n)
    if n > max_body:
        raise HttpError(413, "body over %d bytes" % max_body)
    while len(body) < n:
        chunk = await reader.read(min(_READ_CHUNK, n - len(body)))
        if not chunk:
            raise HttpError(400, "connection closed mid-body")
        body += chunk
    return Request(method, path, query, headers, body[:n])


def unquote(s):
    """application/x-www-form-urlencoded value -> str (UTF-8); bad escapes kept as they are."""
    s = s.replace("+", " ")
    if "%" not in s:
        return s
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        c = b[i]
        v = _hex2(b[i + 1:i + 3]) if c == 0x25 else None
        if v is not None:
            out.append(v)
            i += 3
        else:
            out.append(c)
            i += 1
    try:
        return bytes(out).decode()
    except UnicodeError:
        return s


def _hex2(two):
    if len(two) != 2:
        return None
    for c in two:
        if c not in b"0123456789abcdefABCDEF":
            return None
    return int(two.decode(), 16)


def parse_form(body):
    """name -> value of an urlencoded body or query string (the last value of a repeated name)."""
    if isinstance(body, bytes):
        try:
            body = body.decode()
        except UnicodeError:
            raise HttpError(400, "form is not UTF-8")
    out = {}
    for part in body.split("&"):
        if not part:
            continue
        i = part.find("=")
        if i < 0:
            out[unquote(part)] = ""
        else:
            out[unquote(part[:i])] = unquote(part[i + 1:])
    return out


def escape(s):
    """Text -> HTML-safe text (element content and quoted attribute values)."""
    s = str(s)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        s = s.replace(a, b)
    return s


def basic_password(req):
    """The password of an HTTP Basic Authorization header, or None."""
    h = req.headers.get("authorization", "")
    if not h[:6].lower() == "basic ":
        return None
    try:
        raw = binascii.a2b_base64(h[6:].strip()).decode()
    except (ValueError, UnicodeError):
        return None
    i = raw.find(":")
    return raw[i + 1:] if i >= 0 else None


def same(a, b):
    """String compare whose time does not depend on where the first difference is."""
    if a is None or b is None:
        return False
    a = a.encode()
    b = b.encode()
    diff = len(a) ^ len(b)
    for i in range(min(len(a), len(b))):
        diff |= a[i] ^ b[i]
    return diff == 0


def response(status, body=b"", ctype="text/html; charset=utf-8", headers=None):
    """(status, headers list, body bytes) as handlers return them."""
    if isinstance(body, str):
        body = body.encode()
    h = [("Content-Type", ctype)]
    if headers:
        h.extend(headers)
    return status, h, body


def unauthorized(realm):
    return response(401, "<h1>401 Unauthorized</h1>", headers=[("WWW-Authenticate", 'Basic realm="%s"' % realm)])


class Server:
    """serve(handler): handler(request) -> (status, headers, body), plain or async."""

    def __init__(self, handler, host="0.0.0.0", port=80, timeout_ms=_REQUEST_TIMEOUT_MS,
                 max_head=_MAX_HEAD_BYTES, max_body=_MAX_BODY_BYTES):
        self.handler = handler
        self.host = host
        self.port = port
        self.timeout_ms = timeout_ms
        self.max_head = max_head
        self.max_body = max_body
        self.server = None
        self.clients = 0
        self.served = 0           # requests answered (any status)
        self.refused = {}         # status -> count of requests refused before the handler

    async def start(self):
        self.server = await asyncio.start_server(self._client, self.host, self.port)
        return self

    def close(self):
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _client(self, reader, writer):
        if self.clients >= _MAX_CLIENTS:
            await _close(writer)
            return
        self.clients += 1
        try:
            try:
                req = await _wait_for_ms(read_request(reader, self.max_head, self.max_body), self.timeout_ms)
                status, headers, body = await self._handle(req)
                head_only = req.method == "HEAD"
            except asyncio.TimeoutError:
                status, headers, body = self._refuse(408, "request not complete within %d ms" % self.timeout_ms)
                head_only = False
            except HttpError as e:
                status, headers, body = self._refuse(e.status, e.why)
                head_only = False
            await self._write(writer, status, headers, b"" if head_only else body, len(body))
            self.served += 1
        except Exception as e:  # a broken client connection is its own problem
            log.debug("http: client dropped: %r", e)
        finally:
            self.clients -= 1
            await _close(writer)

    def _refuse(self, status, why):
        self.refused[status] = self.refused.get(status, 0) + 1
        return response(status, "%d %s: %s\n" % (status, REASONS.get(status, ""), why), "text/plain")

    async def _handle(self, req):
        try:
            r = self.handler(req)
            if r is not None and hasattr(r, "send"):
                r = await r
            return r
        except HttpError as e:
            return self._refuse(e.status, e.why)
        except Exception as e:
            log.error("http: %s %s failed: %r", req.method, req.path, e)
            return response(500, "500 Internal Server Error\n", "text/plain")

    async def _write(self, writer, status, headers, body, length):
        head = "HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Unknown"))
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" % length
        # One write: a separate small body segment can wait for a delayed ACK (Nagle).
        writer.write(head.encode() + body if body else head.encode())
        await _wait_for_ms(writer.drain(), self.timeout_ms)


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass
