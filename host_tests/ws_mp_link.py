# Runs firmware/net/link.py under the real micropython command against a test server
# started by host_tests/test_ws_micropython.py. Usage: micropython ws_mp_link.py MODE URL
# Prints "RESULT ..." lines; the pytest side asserts on them.
import sys
import asyncio

from net.link import Link
from net.ws import WebSocketError as NotConnected  # what Link.send raises when the link is down
from net.backoff import Backoff

RUN_LIMIT_MS = 8000  # the whole scenario; a hang is a failure, not a stuck test


def out(*a):
    print("RESULT", *a)


class Handler:
    def __init__(self, link, stop_on):
        self.link = link
        self.stop_on = stop_on
        self.opens = 0

    def event(self, kind, *args):  # net.link's handler interface, to the on_<kind> method here
        fn = getattr(self, "on_" + kind, None)
        return fn(*args) if fn else None

    async def on_open(self):
        self.opens += 1
        out("open", self.opens)
        await self.link.send("hello %d" % self.opens)

    def on_message(self, text):
        out("message", text)
        if text == self.stop_on:
            self.link.stop()

    def on_close(self, reason):
        out("close", reason)
        if self.opens >= 2 and self.stop_on is None:
            self.link.stop()


class Starved(Handler):
    # At the smallest heap: the handler and the log line telling its error raise MemoryError.
    def on_message(self, text):
        Handler.on_message(self, text)
        if text == "boom":
            raise MemoryError("no heap in on_message")


class NoHeapLog:
    def write(self, text):
        raise MemoryError("no heap for a log line")


def starve(link):
    # Every log line fails, and so does the link's first ping: the link must reconnect.
    import log
    from net import ws
    real_ping = ws.WebSocket.ping
    pings = []

    def ping(sock, payload=b""):
        pings.append(1)
        if len(pings) == 1:
            raise MemoryError("no heap for a ping")
        return real_ping(sock, payload)
    ws.WebSocket.ping = ping
    log.out = NoHeapLog()
    return Starved(link, "second")


async def main(mode, url):
    if mode == "starved":
        link = Link(url, "CP1", ping_interval_s=0.2, dead_after_s=30, backoff=Backoff(base_ms=200, jitter=0))
        h = starve(link)
    elif mode == "reconnect":
        link = Link(url, "CP1", ping_interval_s=0, backoff=Backoff(base_ms=200, jitter=0))
        h = Handler(link, "second")
    else:  # dead: the server never answers our pings
        link = Link(url, "CP1", ping_interval_s=0.1, dead_after_s=0.5, backoff=Backoff(base_ms=100, jitter=0))
        h = Handler(link, None)
    try:
        await link.send("too early")
    except NotConnected as e:
        out("send_before", "NotConnected")
    t0 = asyncio.ticks()
    await asyncio.wait_for_ms(link.run(h), RUN_LIMIT_MS)
    out("ran_ms", asyncio.ticks_diff(asyncio.ticks(), t0))
    out("up", link.up, "connects", link.connects)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    out("done")
