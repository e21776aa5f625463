# The GetDiagnostics job (a background task of the app, unloaded when it ends): selects the
# lines of the rolling flash log (log.py) between startTime and stopTime and streams them to
# `location` (HTTP(S) PUT or FTP STOR, net.fetch) with retries; DiagnosticsStatusNotification
# for each step. Reads the log files, writes nothing.
import log
from net import fetch
from ocpp16 import timefmt


def notify(cp, status):
    cp.diagnostics_status = status
    cp._ram("DiagnosticsStatusNotification", {"status": status}, None)
    log.info("diagnostics: %s", status)


def _line_time(line):
    sp = line.find(" ")
    if sp <= 0:
        return None
    try:
        return timefmt.parse_datetime(line[:sp])
    except ValueError:
        return None


class Selection:
    """The selected log lines as a byte stream: size() counts them (one pass), read(n) gives
    them in order (a second pass), holding one line at a time. close() closes the file."""

    def __init__(self, paths, start=None, stop=None):
        self.paths = paths
        self.start = start
        self.stop = stop
        self.f = None
        self.i = 0
        self.pending = b""

    def _wanted(self, line):
        if self.start is None and self.stop is None:
            return True
        t = _line_time(line)
        if t is None:
            return False
        return (self.start is None or t >= self.start) and (self.stop is None or t <= self.stop)

    def _lines(self):
        for p in self.paths:
            with open(p) as f:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    if self._wanted(line):
                        yield line

    def size(self):
        n = 0
        for line in self._lines():
            n += len(line.encode())
        return n

    def read(self, n):
        while len(self.pending) < n:
            line = self._next_line()
            if line is None:
                break
            self.pending += line.encode()
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def _next_line(self):
        while True:
            if self.f is None:
                if self.i >= len(self.paths):
                    return None
                self.f = open(self.paths[self.i])
                self.i += 1
            line = self.f.readline()
            if not line:
                self.close()
                continue
            if self._wanted(line):
                return line

    def close(self):
        if self.f is not None:
            f, self.f = self.f, None
            f.close()


def target(location, name):
    """A location ending in "/" is a folder: the file goes in it under its fileName."""
    return location + name if location.endswith("/") else location


async def run(app, a):
    try:
        await _run(app, a)
    finally:
        from ocpp16 import profiles
        profiles.unload(("net.fetch",))


async def _run(app, a):
    cp = app.cp
    url = target(a["loc"], a["name"])
    ssl = None
    if url.startswith("https:"):
        import app as app_module
        ssl = app_module._rare("applink", "tls_context", app.cfg)  # applink for the call
    tries = 0
    while True:
        notify(cp, "Uploading")
        paths = log.files()   # flushes the buffered lines first
        src = Selection(paths, a.get("start"), a.get("stop"))
        try:
            size = src.size()
            sent = await fetch.upload(url, src, size, None, ssl)
            log.info("diagnostics: %d bytes sent to %s", sent, fetch.public(url))
            notify(cp, "Uploaded")
            cp.diagnostics_status = "Idle"   # TriggerMessage: no upload in progress (1.6 errata)
            return
        except Exception as e:  # TransferError, OSError
            tries += 1
            log.warning("diagnostics: upload attempt %d failed: %s", tries, e)
            if tries > a["retries"]:
                notify(cp, "UploadFailed")
                cp.diagnostics_status = "Idle"
                return
        finally:
            src.close()
        await app.clock.sleep_ms(a["interval"] * 1000)
