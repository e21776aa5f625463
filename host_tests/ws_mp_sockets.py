# Counts the open file descriptors of this process (micropython or python3) (/proc/self/fd) around
# connect failures and full connect/close cycles of firmware/net/ws.py and net/link.py,
# against the servers of host_tests/test_ws_sockets.py.
# Usage: micropython ws_mp_sockets.py WS_BASE WSS_BASE REFUSED_URL CAFILE_DER
import sys
import os
import asyncio
import ssl

from net import ws
from net import link as link_mod
from net.link import Link
from net.backoff import Backoff

FAILS_PER_KIND = 40  # 5 kinds: 200 connect failures
CLIENT_CLOSES = 30  # + 20 server closes: 50 full connect/close cycles
SERVER_CLOSES = 20
LINK_SESSIONS = 12  # sessions the supervisor ends (server close, drop, dead link)


def out(*a):
    print("RESULT", *a)


def fds():
    return len(os.listdir("/proc/self/fd"))


def tls_context(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(cafile, "rb") as f:
        ctx.load_verify_locations(cadata=f.read())
    return ctx


async def failures(ws_base, wss_base, refused, ctx):
    # (name, URL, ssl, what the error says: one of these)
    kinds = [("refused", refused, None, ("cannot connect to",)),
             ("hangup", ws_base + "/hangup", None, ("server closed the connection during the handshake",)),
             ("http500", ws_base + "/http500", None, ("server answered HTTP 500",)),
             ("silent", ws_base + "/silent", None, ("within 150 ms",)),  # connect timeout: the server says nothing
             ("untrusted", wss_base + "/untrusted", ctx, ("TLS handshake with", "cannot connect to"))]  # not trusted
    for name, url, c, want in kinds:
        wrong = 0
        for _ in range(FAILS_PER_KIND):
            try:
                s = await ws.connect(url, ssl=c, timeout_ms=150)
                await s.close()
                wrong += 1
            except ws.WebSocketError as e:
                last = str(e)
                if not [w for w in want if w in last]:
                    wrong += 1
        out("failed", name, FAILS_PER_KIND - wrong, "fds", fds())
        out("reason", name, last)


async def cycles(ws_base):
    for _ in range(CLIENT_CLOSES):
        s = await ws.connect(ws_base + "/echo")
        await s.send("hi")
        assert await s.recv() == "hi"
        await s.close()
    out("client_closes", CLIENT_CLOSES, "fds", fds())
    for _ in range(SERVER_CLOSES):
        s = await ws.connect(ws_base + "/serverclose")
        try:
            await s.recv()
        except ws.ConnectionClosed as e:
            code = e.code
        await s.wait_closed()
    out("server_closes", SERVER_CLOSES, "code", code, "fds", fds())


class Handler:
    def __init__(self, link):
        self.link = link
        self.closes = 0

    def event(self, kind, *args):  # net.link's handler interface, to the on_<kind> method here
        fn = getattr(self, "on_" + kind, None)
        return fn(*args) if fn else None

    def on_message(self, text):
        pass

    def on_close(self, reason):
        self.closes += 1
        if self.closes >= LINK_SESSIONS:
            self.link.stop()


async def link_sessions(ws_base):
    link = Link(ws_base + "/cycle", "CP1", ping_interval_s=0.1, dead_after_s=0.3,
                backoff=Backoff(base_ms=10, max_ms=20, jitter=0))
    h = Handler(link)
    await ws._wait_for_ms(link.run(h), 20000)
    out("link_sessions", h.closes, "connects", link.connects, "fds", fds())


async def main(ws_base, wss_base, refused, cafile):
    ctx = tls_context(cafile)
    start = fds()
    out("start", start)
    await failures(ws_base, wss_base, refused, ctx)
    await cycles(ws_base)
    await link_sessions(ws_base)
    await link_mod._sleep_ms(50)
    out("end", fds())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
    out("done")
