# File servers on 127.0.0.1 for the firmware download / diagnostics upload tests: HTTP and
# HTTPS (CPython http.server + ssl) with Range, PUT and POST, and FTP (pyftpdlib), each in
# a thread, with injected faults (an error status, a server that drops the connection in
# the middle of a body, a refused STOR). Test helper only; never imported by firmware.
import http.server
import logging
import os
import socket
import struct
import threading
import time


class HttpFiles:
    """`with HttpFiles({"/fw.bin": data}) as srv:` -> srv.url("/fw.bin"). srv.faults is a list
    consumed one per request: None (serve), an int (answer that status), "gone" (send half
    the body, then reset the connection), "slow" (4 KB every 20 ms). srv.requests: (method, path, Range header)."""

    def __init__(self, files=None, ssl_ctx=None, no_range=False):
        self.files = dict(files or {})
        self.uploads = {}
        self.faults = []
        self.requests = []
        self.no_range = no_range
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _fault(self):
                outer.requests.append((self.command, self.path, self.headers.get("Range")))
                f = outer.faults.pop(0) if outer.faults else None
                if isinstance(f, int):
                    self.send_response(f)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return True
                return f

            def do_GET(self):
                f = self._fault()
                if f is True:
                    return
                data = outer.files.get(self.path)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and not outer.no_range and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if f == "gone":
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    _reset(self.connection)
                    return
                if f == "slow":   # a slow link: 4 KB every 20 ms
                    for i in range(0, len(body), 4096):
                        try:
                            self.wfile.write(body[i:i + 4096])
                            self.wfile.flush()
                        except OSError:   # the client went away
                            return
                        time.sleep(0.02)
                    return
                self.wfile.write(body)

            def _body(self):
                n = int(self.headers.get("Content-Length", "0"))
                chunks = []
                while n > 0:
                    c = self.rfile.read(min(n, 65536))
                    if not c:
                        break
                    chunks.append(c)
                    n -= len(c)
                return b"".join(chunks)

            def do_PUT(self):
                f = self._fault()
                if f is True:
                    return
                body = self._body()
                if f == "gone":
                    _reset(self.connection)
                    return
                outer.uploads[self.path] = body
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if ssl_ctx is not None:
            self.httpd.socket = ssl_ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if ssl_ctx is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path, host="127.0.0.1"):
        return "%s://%s:%d%s" % (self.scheme, host, self.port, path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _reset(sock):
    """Close with RST (SO_LINGER 0): the server is gone, not finished."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class FtpFiles:
    """pyftpdlib on 127.0.0.1 in a thread: user `user`, password `secret`, home `home`.
    fail_stor: refuse that many STORs (451) first. cut_retr: send only half of the file for
    that many RETRs. commands: every command received, in order."""

    def __init__(self, home, user="user", password="secret"):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer
        logging.getLogger("pyftpdlib").setLevel(logging.ERROR)
        self.home = home
        self.user = user
        self.password = password
        self.fail_stor = 0
        self.cut_retr = 0
        self.commands = []
        outer = self
        auth = DummyAuthorizer()
        auth.add_user(user, password, home, perm="elradfmwMT")

        class Handler(FTPHandler):
            def process_command(self, cmd, *args, **kwargs):
                outer.commands.append(cmd)
                return FTPHandler.process_command(self, cmd, *args, **kwargs)

            def ftp_RETR(self, file):
                if outer.cut_retr:
                    # send only the first half (then 226): the client sees fewer bytes than SIZE
                    outer.cut_retr -= 1
                    with open(file, "rb") as f:
                        data = f.read()
                    half = os.path.join(outer.home, ".half")
                    with open(half, "wb") as f:
                        f.write(data[:len(data) // 2])
                    return FTPHandler.ftp_RETR(self, half)
                return FTPHandler.ftp_RETR(self, file)

            def ftp_STOR(self, file, mode="w"):
                if outer.fail_stor:
                    outer.fail_stor -= 1
                    self.respond("451 Injected failure.")
                    return
                return FTPHandler.ftp_STOR(self, file, mode)

        Handler.authorizer = auth
        Handler.banner = "test ftp ready"
        from pyftpdlib.ioloop import IOLoop
        # its own event loop: pyftpdlib's default one is shared by every server of the process
        self.server = ThreadedFTPServer(("127.0.0.1", 0), Handler, ioloop=IOLoop())
        self.port = self.server.address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)

    def url(self, path, user=None, password=None):
        return "ftp://%s:%s@127.0.0.1:%d%s" % (user or self.user, password or self.password, self.port, path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.close_all()
        self.thread.join(5)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
