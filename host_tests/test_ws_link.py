# The connection supervisor (firmware/net/link.py) on CPython against real servers:
# events, reconnect with backoff, dead-link detection, NotConnected, stop, handler errors.
import asyncio
import io
import time

import pytest

import log
import ws_servers as S
from portable.limits import limit
from net import ws
from net.backoff import Backoff
from net.link import Link
from net.ws import WebSocketError as NotConnected  # what Link.send raises when the link is down

TEST_TIMEOUT_S = 15


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT_S))


@pytest.fixture
def logbuf():
    old = log.out
    log.out = io.StringIO()
    yield log.out
    log.out = old


class RecordingBackoff(Backoff):
    def __init__(self, **kw):
        kw.setdefault("rand", lambda: 0.0)
        super().__init__(**kw)
        self.delays = []

    def next_ms(self):
        d = super().next_ms()
        self.delays.append(d)
        return d


class Events:
    """A handler that records what the link tells it, with times."""

    def __init__(self, link=None):
        self.t0 = time.monotonic()
        self.events = []
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()

    def _add(self, *e):
        self.events.append((round(time.monotonic() - self.t0, 3),) + e)

    def event(self, kind, *args):  # net.link's handler interface, to the on_<kind> method here
        fn = getattr(self, "on_" + kind, None)
        return fn(*args) if fn else None

    def on_open(self):
        self._add("open")
        self.opened.set()

    def on_message(self, text):
        self._add("message", text)

    def on_close(self, reason):
        self._add("close", reason)
        self.closed.set()

    def kinds(self):
        return [e[1] for e in self.events]


async def wait_until(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached in %s s" % timeout
        await asyncio.sleep(0.01)


def base_url(srv):
    return "ws://127.0.0.1:%d/ocpp/" % srv.port


def test_url_events_send_and_clean_stop(logbuf):
    seen = {}

    async def handler(conn):
        seen["path"] = conn.request.path
        await conn.send('[2,"9","Reset",{"type":"Soft"}]')
        seen["got"] = await conn.recv()
        try:
            await conn.recv()
        except Exception:
            pass
        seen["close"] = conn.protocol.close_rcvd.code

    class Handler(Events):
        def on_open(self):
            super().on_open()
            return self.boot()  # a coroutine returned by a plain method is awaited

        async def boot(self):
            await link.send('[2,"1","BootNotification",{}]')

        async def on_message(self, text):  # a coroutine function
            super().on_message(text)

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0)

        async def main():
            h = Handler()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: "message" in h.kinds())
            assert link.up and link.connects == 1
            link.stop()
            await asyncio.wait_for(task, 5)
            assert not link.up
            assert h.kinds() == ["open", "message", "close"]
            assert h.events[1][2] == '[2,"9","Reset",{"type":"Soft"}]'
            assert h.events[2][2] == "stopped"
            with pytest.raises(NotConnected):
                await link.send("x")
        run(main())
        time.sleep(0.1)
    assert seen == {"path": "/ocpp/CP1", "got": '[2,"1","BootNotification",{}]', "close": 1000}
    out = logbuf.getvalue()
    assert "[info] link: connected to ws://127.0.0.1:%d/ocpp/CP1" % srv.port in out
    assert "[warning] link: disconnected from" in out and "stopped" in out


def test_send_while_down_raises_not_connected():
    link = Link("ws://127.0.0.1:1", "CP1")

    async def main():
        with pytest.raises(NotConnected, match="not connected"):
            await link.send("[2,\"1\",\"Heartbeat\",{}]")
        assert not link.up
    run(main())


def test_reconnect_after_server_drop_with_backoff(logbuf):
    conns = []

    async def handler(conn):
        conns.append(time.monotonic())
        if len(conns) == 1:
            await asyncio.sleep(0.1)
            conn.transport.abort()  # abrupt TCP drop, no close frame
            return
        await conn.send("second")
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        bo = RecordingBackoff(base_ms=300, jitter=0)
        link = Link(base_url(srv), "CP1", ping_interval_s=0, backoff=bo)

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: "message" in h.kinds())
            link.stop()
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    assert h.kinds() == ["open", "close", "open", "message", "close"]
    assert "1006" in h.events[1][2]  # connection lost
    gap = h.events[2][0] - h.events[1][0]
    assert bo.delays == [300]
    assert 0.3 <= gap < 1.5, gap
    assert link.connects == 2
    assert "next connect attempt in 300 ms" in logbuf.getvalue()


def test_backoff_grows_while_connect_fails_and_stop_ends_the_wait(logbuf):
    bo = RecordingBackoff(base_ms=20, max_ms=100, jitter=0)
    link = Link("ws://127.0.0.1:1/", "CP1", backoff=bo)  # nothing listens on port 1

    async def main():
        task = asyncio.create_task(link.run(Events()))
        await wait_until(lambda: len(bo.delays) >= 5)
        link.stop()
        t = time.monotonic()
        await asyncio.wait_for(task, 2)
        assert time.monotonic() - t < 0.5
    run(main())
    assert bo.delays[:5] == [20, 40, 80, 100, 100]
    assert "[warning] link: connect to ws://127.0.0.1:1/CP1 failed: cannot connect" in logbuf.getvalue()


def test_backoff_reset_after_a_connection_that_stayed_up():
    conns = []

    async def handler(conn):
        conns.append(1)
        await asyncio.sleep(0.4 if len(conns) == 3 else 0.02)
        conn.transport.abort()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        bo = RecordingBackoff(base_ms=50, jitter=0)
        link = Link(base_url(srv), "CP1", ping_interval_s=0, backoff=bo)
        link.stable_ms = 250

        async def main():
            task = asyncio.create_task(link.run(Events()))
            await wait_until(lambda: len(bo.delays) >= 4)
            link.stop()
            await asyncio.wait_for(task, 5)
        run(main())
    # two short connections: growing; the third stayed up 0.4 s > stable_ms: back to base
    assert bo.delays[:4] == [50, 100, 50, 100]


def test_dead_link_detected_when_server_goes_silent(logbuf):
    pings = []
    conns = []

    async def handler(reader, writer):
        conns.append(1)
        await S.handshake(reader, writer)
        while True:  # swallow everything, answer nothing (no pong): a half-dead link
            try:
                fin, op, data, masked = await S.read_frame(reader)
            except asyncio.IncompleteReadError:
                return
            pings.append(op)
            if op == 8:  # answers a close, so stop() at the end is quick
                writer.write(S.frame(8, data))
                await writer.drain()

    with S.raw_server(handler) as srv:
        bo = RecordingBackoff(base_ms=50, jitter=0)
        link = Link(base_url(srv), "CP1", ping_interval_s=0.1, dead_after_s=0.5, backoff=bo)

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await h.closed.wait()
            await wait_until(lambda: len(conns) >= 2)
            link.stop()
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    close = [e for e in h.events if e[1] == "close"][0]
    opened = [e for e in h.events if e[1] == "open"][0]
    assert "dead link" in close[2]
    assert 0.5 <= close[0] - opened[0] < 1.5, h.events
    assert pings.count(9) >= 3  # our keepalive pings went out
    assert len(conns) >= 2  # and it reconnected


def test_pongs_keep_a_quiet_link_alive():
    async def handler(conn):  # websockets answers our pings; sends nothing else
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"], ping_interval=None) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0.1, dead_after_s=0.6)

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await h.opened.wait()
            await asyncio.sleep(1.5)  # 2.5 dead_after_s of otherwise total silence
            assert link.up and h.kinds() == ["open"] and link.connects == 1
            link.stop()
            await asyncio.wait_for(task, 5)
        run(main())


def test_handler_exception_is_logged_not_fatal(logbuf):
    async def handler(conn):
        await conn.send("boom")
        await conn.send("fine")
        await conn.wait_closed()

    class Fragile(Events):
        def on_message(self, text):
            super().on_message(text)
            if text == "boom":
                raise ValueError("handler bug")

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0)

        async def main():
            h = Fragile()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: len(h.events) >= 3)
            assert link.up and link.connects == 1
            link.stop()
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    assert [e[1:] for e in h.events[:3]] == [("open",), ("message", "boom"), ("message", "fine")]
    out = logbuf.getvalue()
    assert "[error] link: handler failed on message: ValueError('handler bug')" in out
    assert "Traceback" in out


class OutOfHeapLog:
    """log.out while the heap is exhausted: every line written raises MemoryError."""

    def write(self, text):
        raise MemoryError("no heap for a log line")


def test_out_of_heap_in_handlers_log_lines_and_a_ping_never_ends_the_link(monkeypatch):
    # At the smallest heap a handler, the log line telling its error and a ping can all raise
    # MemoryError: the link's task must live on, drop that connection and reconnect.
    conns = []

    async def handler(conn):
        conns.append(1)
        await conn.send("boom")
        await conn.send("m%d" % len(conns))
        await conn.wait_closed()

    class Starved(Events):
        def on_open(self):
            super().on_open()
            raise MemoryError("no heap in on_open")

        def on_message(self, text):
            super().on_message(text)
            if text == "boom":
                raise MemoryError("no heap in on_message")

    pings = []
    real_ping = ws.WebSocket.ping

    def ping(sock, payload=b""):
        pings.append(1)
        if len(pings) == 1:
            raise MemoryError("no heap for a ping")
        return real_ping(sock, payload)

    monkeypatch.setattr(ws.WebSocket, "ping", ping)
    monkeypatch.setattr(log, "out", OutOfHeapLog())
    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0.3, dead_after_s=30,
                    backoff=RecordingBackoff(base_ms=50, jitter=0))

        async def main():
            h = Starved()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: ("message", "m2") in [e[1:] for e in h.events])
            await wait_until(lambda: len(pings) >= 2)  # pings work again on the new connection
            assert not task.done() and link.up and link.connects == 2
            link.stop()
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    assert h.kinds() == ["open", "message", "message", "close", "open", "message", "message", "close"], h.events
    assert isinstance(h.events[3][2], MemoryError)  # the reason of the dropped connection
    assert link.backoff.delays == [50]
    assert len(conns) == 2


def test_a_connection_whose_session_cannot_start_is_released_and_the_link_reconnects(logbuf):
    # Out of heap right after a connect (the session's coroutine cannot be made): the socket is
    # released at once, and the link connects again after the pause.
    ended = []

    async def handler(conn):
        await conn.send("m")
        await conn.wait_closed()
        ended.append(1)

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0, backoff=RecordingBackoff(base_ms=50, jitter=0))
        real = link._session
        held = []  # the first socket: CPython's GC would close an unreferenced one

        def session(sock, h):
            if link._session is session:
                del link._session  # the class's method from now on
                held.append(sock)
                raise MemoryError("no heap for the session")
            return real(sock, h)
        link._session = session

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: "message" in h.kinds())
            assert ended == [1] and link.connects == 1  # the first connection was closed, not leaked
            link.stop()
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    assert h.kinds() == ["open", "message", "close"]
    assert "no heap for the session" in logbuf.getvalue()


def test_link_never_blocks_other_tasks():
    async def handler(reader, writer):
        await reader.read()  # accepts TCP, never answers the handshake

    with S.raw_server(handler) as srv:
        link = Link(base_url(srv), "CP1", connect_timeout_ms=300, backoff=Backoff(base_ms=50, jitter=0))

        async def main():
            gaps = []
            task = asyncio.create_task(link.run(Events()))
            last = time.monotonic()
            end = last + 1.0
            while time.monotonic() < end:  # the "charging control loop"
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now
            link.stop()
            await asyncio.wait_for(task, 2)
            return gaps
        gaps = run(main())
    assert max(gaps) < 0.25, max(gaps)  # a blocking connect would show the 300 ms timeout


def test_cancelling_run_drops_the_connection():
    closed = []

    async def handler(conn):
        try:
            await conn.wait_closed()
        finally:
            closed.append(1)

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0)

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await h.opened.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not link.up
            await wait_until(lambda: closed)
        run(main())


def test_configuration_errors_are_named():
    with pytest.raises(ValueError, match="charge_point_id"):
        Link("ws://h/", "")
    with pytest.raises(ValueError, match="charge_point_id"):
        Link("ws://h/", "a/b")
    with pytest.raises(ws.WebSocketError, match="must start with ws://"):
        Link("http://h/", "CP1")
    with pytest.raises(ws.WebSocketError, match="printable ASCII"):
        Link("ws://h/", "CP 1")
    with pytest.raises(ValueError, match="ping_interval_s"):
        Link("ws://h/", "CP1", ping_interval_s="often")
    with pytest.raises(ValueError, match="dead_after_s"):
        Link("ws://h/", "CP1", dead_after_s=-1)
    link = Link("ws://h/ocpp//", "CP1", ping_interval_s=None)
    assert link.url == "ws://h/ocpp/CP1"
    assert link.ping_ms == 60000 and link.dead_ms == 130000
    link.set_ping_interval("0")
    assert link.ping_ms == 0 and link.dead_ms == 0
    assert Link("ws://h", "CP1", ping_interval_s=30, dead_after_s=5).dead_ms == 5000


def test_backoff_waits_use_the_given_sleep_ms():
    slept = []

    async def scaled_sleep_ms(ms):  # simulated time running 100x faster
        slept.append(ms)
        await asyncio.sleep(ms / 100000)

    bo = RecordingBackoff(base_ms=2000, max_ms=8000, jitter=0)
    link = Link("ws://127.0.0.1:1/", "CP1", ping_interval_s=0, backoff=bo, sleep_ms=scaled_sleep_ms)

    async def main():
        t = time.monotonic()
        task = asyncio.create_task(link.run(Events()))
        await wait_until(lambda: len(bo.delays) >= 4)
        link.stop()
        await asyncio.wait_for(task, 2)
        return time.monotonic() - t
    took = run(main())
    assert bo.delays[:4] == [2000, 4000, 8000, 8000]
    assert sum(slept) >= 2000 + 4000 + 8000  # the waits went through sleep_ms, in slices
    assert took < 2.0  # not in real time


def test_basic_auth_reaches_server_and_never_reaches_the_log(logbuf):
    from websockets.asyncio.server import basic_auth
    import base64
    key = "0123456789abcdef0123"

    with S.websockets_server(lambda c: c.wait_closed(), subprotocols=["ocpp1.6"],
                             process_request=basic_auth(credentials=("CP9", key))) as srv:
        link = Link(base_url(srv), "CP9", basic_auth=("CP9", key), ping_interval_s=0)

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await h.opened.wait()
            header = base64.b64encode(("CP9:" + key).encode()).decode()
            log.info("a careless line with %s in it", header)
            link.stop()
            await asyncio.wait_for(task, 5)
            return header
        header = run(main())
    out = logbuf.getvalue()
    assert "[info] link: connected to" in out
    assert header not in out and "a careless line with *** in it" in out
    log.forget_secrets()


def test_send_stuck_on_a_full_tcp_window_drops_the_link():
    async def handler(reader, writer):
        await S.handshake(reader, writer)
        await asyncio.sleep(30)  # never reads: the client's socket buffer fills up

    with S.raw_server(handler) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0, max_message=1 << 24,
                    backoff=Backoff(base_ms=5000, jitter=0))
        link.send_timeout_ms = 300

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await h.opened.wait()
            t = time.monotonic()
            with pytest.raises(NotConnected, match="send stuck for 300 ms"):
                for _ in range(50):  # tens of MB: more than any socket buffer holds
                    await link.send("x" * (1 << 20))
            assert time.monotonic() - t < 5
            assert not link.up
            await h.closed.wait()
            link.stop()
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    assert h.kinds() == ["open", "close"]
    assert h.events[1][2] == "send stuck for 300 ms (dead link)"


def test_own_backoff_is_loaded_while_down_and_dropped_once_stable():
    import sys
    conns = []

    async def handler(conn):
        conns.append(1)
        if len(conns) == 1:
            conn.transport.abort()  # a first short connection: the link must pause with backoff
            return
        await conn.wait_closed()

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0)
        link.stable_ms = 200
        assert link.backoff is None

        async def main():
            h = Events()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: len(conns) == 2 and link.up)
            assert link.backoff is not None and link.backoff.attempts == 1  # made at the failure
            assert "net.backoff" not in sys.modules  # held by the link only, while it needs it
            await wait_until(lambda: link.backoff is None)  # stable: dropped (the next delay is the first again)
            link.stop()
            await asyncio.wait_for(task, 5)
        run(main())


def test_backoff_that_cannot_be_loaded_gives_a_fixed_pause(logbuf):
    from net import link as link_mod
    slept = []

    async def fast_sleep_ms(ms):
        slept.append(ms)
        await asyncio.sleep(0)

    real = __import__

    def failing(name, *args):
        if name == "net.backoff":
            raise MemoryError("no heap for net.backoff")
        return real(name, *args)
    ws.__import__ = failing  # a global of net.ws: found before the builtin by its on-demand loads
    try:
        link = Link("ws://127.0.0.1:1/", "CP1", ping_interval_s=0, sleep_ms=fast_sleep_ms)

        async def main():
            task = asyncio.create_task(link.run(Events()))
            await wait_until(lambda: sum(slept) >= 2 * limit("net.link", "_PAUSE_MS"))
            link.stop()
            await asyncio.wait_for(task, 2)
        run(main())
    finally:
        del ws.__dict__["__import__"]
    out = logbuf.getvalue()
    assert "next connect attempt in %d ms" % limit("net.link", "_PAUSE_MS") in out and "MemoryError" in out
    assert link.backoff is None


def test_nothing_of_the_on_demand_network_code_stays_loaded():
    import sys
    ON_DEMAND = ("net.ws_url", "net.ws_open", "net.ws_texts", "net.link_texts", "net.ws_close", "net.ws_drain", "net.netcompat", "net.backoff")
    for m in ON_DEMAND:  # test modules import some of them at the top
        sys.modules.pop(m, None)
    conns = []

    async def handler(conn):
        conns.append(1)
        if len(conns) == 1:
            await conn.send("y" * 300)  # above max_message: drained, the link kept
            await conn.send("after")
            await conn.close(4000, "go away")  # the server's close: answered
            return
        await conn.wait_closed()

    class Big(Events):
        def on_discard(self, head, size):
            self._add("too_big", size)

    with S.websockets_server(handler, subprotocols=["ocpp1.6"]) as srv:
        link = Link(base_url(srv), "CP1", ping_interval_s=0, max_message=100)

        async def main():
            h = Big()
            task = asyncio.create_task(link.run(h))
            await wait_until(lambda: len(conns) == 2 and link.up)  # after a backoff pause
            link.stop()  # our close handshake
            await asyncio.wait_for(task, 5)
            return h
        h = run(main())
    assert h.kinds() == ["open", "too_big", "message", "close", "open", "close"], h.events
    assert "4000" in h.events[3][2]
    assert [m for m in ON_DEMAND if m in sys.modules] == []
