# Runs firmware/net/link.py under the real micropython command against a test server
# started by host_tests/test_ws_micropython.py. Usage: micropython ws_mp_link.py MODE URL
# Prints "RESULT ..." lines; the pytest side asserts on them.
import sys
import asyncio

from net.link import Link, NotConnected
from net.backoff import Backoff

RUN_LIMIT_MS = 8000  # the whole scenario; a hang is a failure, not a stuck test


def out(*a):
    print("RESULT", *a)


class Handler:
    def __init__(self, link, stop_on):
        self.link = link
        self.stop_on = stop_on
        self.opens = 0

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


async def main(mode, url):
    if mode == "reconnect":
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
