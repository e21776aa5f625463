# Streaming file transfer over http://, https:// and ftp:// (passive, binary, user:password
# in the URL) on asyncio streams, the same code on MicroPython and CPython. Downloads go to a
# sink, uploads come from a source, CHUNK bytes at a time: a file never sits in RAM whole.
# No retries, no logging, no OCPP here: the caller owns attempts, statuses and the flash.
import asyncio

from compat import const

CHUNK = const(1024)              # bytes moved per read/write step (bounds the heap of a transfer)
MAX_HEAD = const(2048)           # largest HTTP response head / FTP reply line accepted
CONNECT_TIMEOUT_MS = const(15000)  # TCP connect + TLS handshake
IO_TIMEOUT_MS = const(20000)     # a read or write that stalls this long means the server is gone
MAX_REDIRECTS = const(3)         # HTTP 301/302/303/307/308 followed at most this often
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


class TransferError(Exception):
    """A transfer failed; str(e) is a readable sentence, `status` the HTTP/FTP code (0 if none)."""

    def __init__(self, msg, status=0):
        super().__init__(msg)
        self.msg = msg
        self.status = status

    def __str__(self):
        return self.msg


class NotFound(TransferError):
    """HTTP 404/410, FTP 550: there is no such file."""


class LoginRefused(TransferError):
    """HTTP 401/403, FTP 530: the server refused our credentials."""


if hasattr(asyncio, "wait_for_ms"):
    _wait_ms = asyncio.wait_for_ms
else:  # CPython
    def _wait_ms(aw, ms):
        return asyncio.wait_for(aw, ms / 1000)


def _unquote(s):
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        if b[i] == 0x25 and i + 2 < len(b):
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode()


def public(url):
    """The URL without its user:password, for log lines and error messages."""
    if not isinstance(url, str):
        return repr(url)
    i = url.find("://")
    j = url.find("@", i + 3)
    k = url.find("/", i + 3)
    if i > 0 and j > 0 and (k < 0 or j < k):
        return url[:i + 3] + "***@" + url[j + 1:]
    return url


def parse_url(url):
    """scheme://[user[:password]@]host[:port][/path] -> (scheme, user, password, host, port, path)."""
    if not isinstance(url, str):
        raise TransferError("URL must be a string, not %r" % (url,))
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in DEFAULT_PORTS:
        raise TransferError("unsupported URL scheme %r (http, https or ftp): %s" % (scheme, public(url)))
    rest = url[i + 3:]
    j = rest.find("/")
    hostpart, path = (rest[:j], rest[j:]) if j >= 0 else (rest, "/")
    user = password = None
    k = hostpart.rfind("@")
    if k >= 0:
        cred, hostpart = hostpart[:k], hostpart[k + 1:]
        c = cred.find(":")
        user, password = (cred[:c], cred[c + 1:]) if c >= 0 else (cred, "")
        user, password = _unquote(user), _unquote(password)
    port = DEFAULT_PORTS[scheme]
    c = hostpart.rfind(":")
    if c >= 0 and "]" not in hostpart[c:]:
        try:
            port = int(hostpart[c + 1:])
        except ValueError:
            raise TransferError("bad port in URL: %s" % public(url))
        hostpart = hostpart[:c]
    host = hostpart.strip("[]")
    if not host or not 0 < port < 65536:
        raise TransferError("URL has no host or a bad port: %s" % public(url))
    for ch in path:
        if ord(ch) <= 32 or ord(ch) >= 127:
            raise TransferError("URL path must be printable ASCII without spaces: %s" % public(url))
    return scheme, user, password, host, port, path


class _Conn:
    """One TCP (or TLS) connection with timeouts on every step; close() always releases it."""

    def __init__(self, reader, writer):
        self.r = reader
        self.w = writer
        self.buf = b""

    async def read(self, n=CHUNK):
        if self.buf:
            data, self.buf = self.buf[:n], self.buf[n:]
            return data
        return await _wait_ms(self.r.read(n), IO_TIMEOUT_MS)

    async def line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return out
            if len(self.buf) > MAX_HEAD:
                raise TransferError("reply line longer than %d bytes" % MAX_HEAD)
            data = await _wait_ms(self.r.read(256), IO_TIMEOUT_MS)
            if not data:
                out, self.buf = self.buf, b""
                return out
            self.buf += data

    async def write(self, data):
        self.w.write(data)
        await _wait_ms(self.w.drain(), IO_TIMEOUT_MS)

    async def close(self):
        try:
            self.w.close()
            wc = getattr(self.w, "wait_closed", None)
            if wc is not None:
                await _wait_ms(wc(), IO_TIMEOUT_MS)
        except Exception:  # already reset by the peer: nothing left to release
            pass


async def _connect(host, port, ssl=None):
    try:
        if ssl is not None:
            r, w = await _wait_ms(asyncio.open_connection(host, port, ssl=ssl, server_hostname=host),
                                  CONNECT_TIMEOUT_MS)
        else:
            r, w = await _wait_ms(asyncio.open_connection(host, port), CONNECT_TIMEOUT_MS)
    except asyncio.TimeoutError:
        raise TransferError("connect to %s:%d timed out" % (host, port))
    except OSError as e:
        raise TransferError("cannot connect to %s:%d: %s" % (host, port, e))
    return _Conn(r, w)


def _ssl_for(scheme, ssl):
    if scheme != "https":
        return None
    if ssl is None:
        raise TransferError("https:// needs a TLS context (applink.tls_context)")
    return ssl


async def _io(coro, what):
    """Turn the runtime's socket failures into TransferError naming the step."""
    try:
        return await coro
    except TransferError:
        raise
    except asyncio.TimeoutError:
        raise TransferError("%s: no data for %d s (server gone?)" % (what, IO_TIMEOUT_MS // 1000))
    except OSError as e:
        raise TransferError("%s: %s" % (what, e))


# ---------------------------------------------------------------------------- HTTP
def _http_error(status, reason, url):
    msg = "HTTP %d %s: %s" % (status, reason, public(url))
    if status in (404, 410):
        return NotFound(msg, status)
    if status in (401, 403):
        return LoginRefused(msg, status)
    return TransferError(msg, status)


async def _http_head(conn):
    line = await conn.line()
    parts = line.decode().split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise TransferError("not an HTTP response: %r" % line[:60])
    status = int(parts[1])
    reason = parts[2].strip() if len(parts) > 2 else ""
    headers = {}
    total = len(line)
    while True:
        h = await conn.line()
        total += len(h)
        if total > MAX_HEAD:
            raise TransferError("HTTP response head longer than %d bytes" % MAX_HEAD)
        if not h:
            raise TransferError("connection closed in the HTTP response head")
        h = h.decode().strip()
        if not h:
            return status, reason, headers
        c = h.find(":")
        if c > 0:
            headers[h[:c].strip().lower()] = h[c + 1:].strip()


def _request(method, host, port, path, user, password, extra):
    default = 443 if port == 443 else 80
    hosthdr = host if port == default else "%s:%d" % (host, port)
    req = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: ocpp-cp\r\n" % (method, path, hosthdr)
    if user is not None:
        import binascii
        tok = binascii.b2a_base64(("%s:%s" % (user, password)).encode()).decode().strip()
        req += "Authorization: Basic %s\r\n" % tok
    return (req + extra + "\r\n").encode()


async def _http_get(url, sink, offset, progress, ssl, redirects=0):
    scheme, user, password, host, port, path = parse_url(url)
    conn = await _connect(host, port, _ssl_for(scheme, ssl))
    try:
        extra = "Range: bytes=%d-\r\n" % offset if offset else ""
        await _io(conn.write(_request("GET", host, port, path, user, password, extra)), "HTTP request")
        status, reason, headers = await _io(_http_head(conn), "HTTP response")
        if status in (301, 302, 303, 307, 308) and "location" in headers:
            if redirects >= MAX_REDIRECTS:
                raise TransferError("more than %d redirects: %s" % (MAX_REDIRECTS, public(url)))
            loc = headers["location"]
            if loc.startswith("/"):
                loc = "%s://%s:%d%s" % (scheme, host, port, loc)
            await conn.close()
            return await _http_get(loc, sink, offset, progress, ssl, redirects + 1)
        if status == 206:
            start = offset
        elif status == 200:
            start = 0          # the server ignored Range: the file comes again from its start
        elif status == 416 and offset:
            start = offset     # nothing after offset: the file is complete
            total = offset
            sink.begin(total, start)
            return total
        else:
            raise _http_error(status, reason, url)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise TransferError("chunked HTTP bodies are not supported (need Content-Length): %s" % public(url))
        length = headers.get("content-length")
        length = int(length) if length is not None else None
        total = start + length if length is not None else None
        rng = headers.get("content-range", "")
        if status == 206 and "/" in rng and rng.rsplit("/", 1)[1].strip().isdigit():
            total = int(rng.rsplit("/", 1)[1])
        sink.begin(total, start)
        got = await _pump(conn, sink, start, total, progress, "HTTP body")
        if length is not None and got - start < length:
            raise TransferError("download truncated: %d of %d bytes" % (got, total))
        return got
    finally:
        await conn.close()


async def _pump(conn, sink, done, total, progress, what):
    while total is None or done < total:
        data = await _io(conn.read(CHUNK if total is None else min(CHUNK, total - done)), what)
        if not data:
            break
        sink.write(data)
        done += len(data)
        if progress is not None:
            progress(done, total)
    return done


async def _http_put(url, source, size, progress, ssl):
    scheme, user, password, host, port, path = parse_url(url)
    conn = await _connect(host, port, _ssl_for(scheme, ssl))
    try:
        hdr = "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % size
        await _io(conn.write(_request("PUT", host, port, path, user, password, hdr)), "HTTP request")
        sent = 0
        while sent < size:
            data = source.read(min(CHUNK, size - sent))
            if not data:
                raise TransferError("upload source ended at %d of %d bytes" % (sent, size))
            await _io(conn.write(data), "HTTP upload")
            sent += len(data)
            if progress is not None:
                progress(sent, size)
        status, reason, headers = await _io(_http_head(conn), "HTTP response")
        if not 200 <= status < 300:
            raise _http_error(status, reason, url)
        return sent
    finally:
        await conn.close()


# ---------------------------------------------------------------------------- FTP
async def _ftp_reply(conn):
    """(code, text) of one FTP reply, multi-line replies (RFC 959 4.2) read whole."""
    line = (await conn.line()).decode()
    if len(line) < 4 or not line[:3].isdigit():
        raise TransferError("bad FTP reply %r" % line[:60])
    code = int(line[:3])
    if line[3] == "-":
        while True:
            more = (await conn.line()).decode()
            if not more:
                raise TransferError("FTP connection closed in a reply")
            if more[:3] == line[:3] and more[3:4] == " ":
                break
    return code, line[4:].strip()


async def _ftp_cmd(conn, cmd, ok):
    await _io(conn.write((cmd + "\r\n").encode()), "FTP " + cmd.split()[0])
    code, text = await _io(_ftp_reply(conn), "FTP " + cmd.split()[0])
    if code // 100 not in ok:
        word = cmd.split()[0]
        msg = "FTP %s: %d %s" % ("PASS ***" if word == "PASS" else cmd, code, text)
        if code == 530:
            raise LoginRefused(msg, code)
        if code == 550:
            raise NotFound(msg, code)
        raise TransferError(msg, code)
    return code, text


async def _ftp_login(url, ssl):
    scheme, user, password, host, port, path = parse_url(url)
    conn = await _connect(host, port)
    try:
        code, text = await _io(_ftp_reply(conn), "FTP greeting")
        if code != 220:
            raise TransferError("FTP greeting %d %s" % (code, text), code)
        code, _ = await _ftp_cmd(conn, "USER " + (user or "anonymous"), (2, 3))
        if code == 331:
            await _ftp_cmd(conn, "PASS " + (password or "anonymous@"), (2,))
        await _ftp_cmd(conn, "TYPE I", (2,))
    except BaseException:
        await conn.close()
        raise
    return conn, host, _unquote(path)


async def _ftp_data(conn, host):
    _, text = await _ftp_cmd(conn, "PASV", (2,))
    a = text.find("(")
    b = text.find(")", a)
    try:
        nums = [int(x) for x in text[a + 1:b].split(",")]
        port = nums[4] * 256 + nums[5]
    except (ValueError, IndexError):
        raise TransferError("FTP PASV reply not understood: %s" % text)
    # The control connection's host, not the address in the reply (wrong behind NAT).
    return await _connect(host, port)


async def _ftp_get(url, sink, offset, progress, ssl):
    conn, host, path = await _ftp_login(url, ssl)
    data = None
    try:
        total = None
        try:
            _, text = await _ftp_cmd(conn, "SIZE " + path, (2,))
            total = int(text.split()[-1])
        except TransferError as e:
            if isinstance(e, NotFound):
                raise
        start = 0
        if offset and total is not None and offset >= total:
            sink.begin(total, offset)
            return offset
        data = await _ftp_data(conn, host)
        if offset:
            try:
                await _ftp_cmd(conn, "REST %d" % offset, (3,))
                start = offset
            except TransferError:
                start = 0      # no restart support: the file comes again from its start
        await _ftp_cmd(conn, "RETR " + path, (1,))
        sink.begin(total, start)
        got = await _pump(data, sink, start, total, progress, "FTP data")
        await data.close()
        data = None
        code, text = await _io(_ftp_reply(conn), "FTP RETR")
        if code // 100 != 2:
            raise TransferError("FTP RETR ended with %d %s" % (code, text), code)
        if total is not None and got < total:
            raise TransferError("download truncated: %d of %d bytes" % (got, total))
        return got
    finally:
        if data is not None:
            await data.close()
        await conn.close()


async def _ftp_put(url, source, size, progress, ssl):
    conn, host, path = await _ftp_login(url, ssl)
    data = None
    try:
        data = await _ftp_data(conn, host)
        await _ftp_cmd(conn, "STOR " + path, (1,))
        sent = 0
        while sent < size:
            chunk = source.read(min(CHUNK, size - sent))
            if not chunk:
                raise TransferError("upload source ended at %d of %d bytes" % (sent, size))
            await _io(data.write(chunk), "FTP upload")
            sent += len(chunk)
            if progress is not None:
                progress(sent, size)
        await data.close()
        data = None
        code, text = await _io(_ftp_reply(conn), "FTP STOR")
        if code // 100 != 2:
            raise TransferError("FTP STOR ended with %d %s" % (code, text), code)
        return sent
    finally:
        if data is not None:
            await data.close()
        await conn.close()


# ---------------------------------------------------------------------------- API
async def download(url, sink, offset=0, progress=None, ssl=None):
    """Stream the file at `url` into `sink`, from byte `offset` where the server allows
    (HTTP Range, FTP REST). Calls sink.begin(total, start) once (total: the whole file's size
    or None; start: the offset the data begins at, 0 when the server sends it all again), then
    sink.write(chunk) for each chunk; progress(done, total) after each. The caller closes the
    sink. Returns the bytes the file has up to its end; raises TransferError (NotFound,
    LoginRefused) or what the sink raises."""
    scheme = parse_url(url)[0]
    if scheme == "ftp":
        return await _ftp_get(url, sink, offset, progress, ssl)
    return await _http_get(url, sink, offset, progress, ssl)


async def upload(url, source, size, progress=None, ssl=None):
    """Send `size` bytes read from source.read(n) to `url`: HTTP(S) PUT with a
    Content-Length, or FTP STOR. Returns the bytes sent; raises TransferError."""
    scheme = parse_url(url)[0]
    if scheme == "ftp":
        return await _ftp_put(url, source, size, progress, ssl)
    return await _http_put(url, source, size, progress, ssl)
