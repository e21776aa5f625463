# Connection supervisor: keeps one WebSocket to the CSMS up (connect, keepalive
# pings, dead-link detection from the time of the last received byte, backoff,
# reconnect) and hands text messages to a handler. No OCPP knowledge here, and it
# never blocks other tasks: every wait is an asyncio wait, every network wait bounded.
# Whatever one connection attempt raises (a handler's error, a MemoryError in a log line or a
# ping) ends that attempt only: the task lives on and reconnects after the pause.
# The backoff (net/backoff.py) is loaded only while the link is down or not yet stable.
from compat import const
import asyncio

import compat
import log
from net import ws

_STABLE_MS = const(30000)  # a connection that stayed up this long resets the backoff
_SEND_TIMEOUT_MS = const(10000)  # a send or ping stuck this long (full TCP window) means the link is dead
_POLL_MS = const(250)  # longest the supervisor sleeps between stop/verify/ping/dead-link checks
_PAUSE_MS = const(10000)  # pause between connect attempts when net.backoff cannot be loaded: MemoryError

# The log lines and reasons are net/link_texts.py's (_T_*: net.ws _LINK_TEXTS + its line), loaded for one (ws._text).
_T_HANDLER = const(33)
_T_DOWN = const(35)
_T_STUCK = const(36)
_T_LOST = const(37)
_T_PAUSE = const(38)
_T_FAILED = const(39)
_T_UP = const(40)
_T_CLOSED = const(41)
_T_NO_PONG = const(42)
_T_SILENT = const(43)
_T_BINARY = const(44)
_T_RX_FAILED = const(45)
_T_R = const(46)
_T_S = const(47)


_sleep_ms = ws._sleep_ms
_wait_for_ms = ws._wait_for_ms


async def _call(handler, kind, *args):
    """handler.event(kind, *args) (see Link.run), awaited if it returned a coroutine. Its errors
    are logged, not raised."""
    try:
        r = handler.event(kind, *args)
        if r is not None and hasattr(r, "send"):  # a coroutine / generator-based coroutine
            await r
    except Exception as e:
        try:  # out of heap for the line too (a MemoryError being logged): the link goes on
            log.exception(ws._text(_T_HANDLER, (kind, e)), e)
        except Exception:
            pass


def _emit(fn, i, *args):
    # fn (log.info, log.warning) with text i % args: never raises. At the smallest heap making
    # or writing a line can raise MemoryError, which must not end the link's task (no reconnect).
    try:
        fn(ws._text(i, args))
    except Exception:
        pass


class Link:
    stable_ms = _STABLE_MS  # per instance: tests shorten it
    send_timeout_ms = _SEND_TIMEOUT_MS

    def __init__(self, url, charge_point_id, **kw):
        # The arguments (basic_auth, ssl, ping_interval_s, dead_after_s, backoff, max_message,
        # sleep_ms, connect_timeout_ms) and the state they set: net/ws_url.py link_init, which
        # checks them (a configuration error is said now, not on every retry).
        ws._via("ws_url", "link_init", self, url, charge_point_id, **kw)

    def set_ping_interval(self, ping_interval_s):
        """Change WebSocketPingInterval (seconds, 0 = off); the dead-link time follows unless set
        explicitly (net/ws_url.py: the periods checked and set, ValueError when not seconds >= 0)."""
        ws._via("ws_url", "set_ping_interval", self, ping_interval_s)

    async def send(self, text):
        """Send one text message now; ws.WebSocketError when the link is down (not connected, or
        lost while sending: told apart by its text)."""
        sock = self.sock
        if not self.up or sock is None:
            raise ws.WebSocketError(ws._text(_T_DOWN))
        try:
            await _wait_for_ms(sock.send(text), self.send_timeout_ms)
        except asyncio.TimeoutError:
            # A half-written frame cannot be continued: the supervisor drops the link now.
            reason = ws._text(_T_STUCK, ("send", self.send_timeout_ms))
            self.up = False
            if self._rx_reason is None:
                self._rx_reason = reason
            raise ws.WebSocketError(reason)
        except ws.ConnectionClosed as e:
            raise ws.WebSocketError(ws._text(_T_LOST, e))

    def verify(self, speed=1):
        """The link is suspect (a CALL was not answered): ping at once and reconnect when no pong
        arrives within pong_wait_ms (net/ws_url.py), divided by a simulated clock's speed."""
        if self.up:
            self._verify_ms = max(1, int(self.pong_wait_ms / speed))

    def stop(self):
        """Make run() close the connection cleanly and return."""
        self._stopping = True

    async def close(self):
        """stop(), then wait at most 5 s for the task running run() to end."""
        self.stop()
        try:
            await asyncio.wait_for(self.task, 5)
        except Exception:  # timed out, or never started
            pass

    async def run(self, handler):
        """Stay connected until stop(), calling handler.event(kind, ...) with kind "open", "message"
        (text), "discard" (head, size: a message above max_message, read to its end and dropped,
        the link kept), "close" (reason) and "error" (error: a connect attempt failed)."""
        self.task = asyncio.current_task()  # what close() waits for
        try:
            while not self._stopping:
                # One attempt: whatever it raises (MemoryError in a handler, a log line, a ping)
                # ends it; the link retries after the pause.
                sock = None
                try:
                    try:
                        sock = await ws.connect(self.url, *self._opts)
                    except Exception as e:  # every failure is retried; the log says why
                        _emit(log.warning, _T_FAILED, self.url, e)
                        await _call(handler, "error", e)
                    else:
                        await self._session(sock, handler)
                except Exception as e:
                    _emit(log.warning, _T_R, e)
                    if sock is not None:  # e.g. no heap for the session's coroutine: the socket still goes
                        try:
                            await sock.wait_closed()
                        except Exception:
                            pass
                sock = e = None
                if self._stopping:
                    break
                try:  # the pause before the next attempt
                    if self.backoff is None:
                        self.backoff = ws._via("backoff", "Backoff")
                    d = self.backoff.next_ms()
                except Exception as e:  # net.backoff not loaded: a fixed pause, the link still retries
                    _emit(log.warning, _T_R, e)
                    d = _PAUSE_MS
                _emit(log.info, _T_PAUSE, d)
                while d > 0 and not self._stopping:
                    t = min(d, _POLL_MS)
                    await (self.sleep_ms or _sleep_ms)(t)
                    d -= t
        finally:
            self.up = False
            self.sock = None
            self._stopping = False

    async def _session(self, sock, handler):
        # The receiving side runs here, the supervision beside it (_supervise, a task): the session
        # ends the moment the receiver does, whoever ended the link.
        started = compat.ticks_ms()
        sup = None
        try:
            self.connects += 1
            self.sock = sock
            self.up = True
            self._rx_reason = None
            self._verify_ms = 0
            _emit(log.info, _T_UP, self.url)
            await _call(handler, "open")
            sup = asyncio.create_task(self._supervise(sock, started))
            while True:  # messages to the handler until the link is gone
                try:
                    msg = await sock.recv()
                except ws.MessageTooBig as e:
                    if e.closed:
                        raise
                    # Read to its end and dropped; the link stays: the handler answers it from its first bytes.
                    _emit(log.warning, _T_S, e)
                    await _call(handler, "discard", e.head, e.size)
                    e = None
                    continue
                if not isinstance(msg, str):
                    _emit(log.warning, _T_BINARY, len(msg))
                    continue
                # msg is dropped here, before the next sock.recv(): MicroPython's GC scans stale
                # coroutine slots, and a 64 KB message must not stay alive while the next one is
                # being received.
                await _call(handler, "message", msg)
                msg = None
        except Exception as e:  # the link is gone; or MemoryError (in the handler, the supervisor task)
            reason = e
            try:
                if isinstance(e, ws.WebSocketError):
                    reason = str(e)
                else:  # never expected (out of heap?): dropped, retried after the pause
                    reason = ws._text(_T_RX_FAILED, e)
                    log.exception(ws._text(_T_S, reason), e)
            except Exception:
                pass
            e = None
        finally:
            self.up = False
            self.sock = None
            if sup is not None:
                if self._rx_reason is None:  # else it is ending the link (releasing the socket): let it
                    sup.cancel()
                try:
                    await sup
                except BaseException:  # CancelledError of the supervisor, expected here
                    pass
            await sock.wait_closed()  # releases the socket on every path (no-op after a clean close)
        if self._rx_reason is not None:  # the supervisor's or a stuck send's, which ended the receiver
            reason = self._rx_reason
        _emit(log.warning, _T_CLOSED, self.url, reason)
        await _call(handler, "close", reason)

    async def _supervise(self, sock, started):
        # stop(), verify(), pings, dead-link detection, each seen within a quarter of the shortest
        # period (ping, dead-link time), at most _POLL_MS (polled, not an asyncio.Event: that would
        # keep asyncio.event loaded). It ends the link by setting _rx_reason and closing the socket,
        # which ends the receiver's read (with an error).
        last_ping = started
        check = None  # (ping sent at, pongs before it, wait ms) while verifying the link
        try:
            while True:
                p, d = self.ping_ms, self.dead_ms
                poll = max(1, min(_POLL_MS, p // 4 if p else _POLL_MS, d // 4 if d else _POLL_MS))
                await _sleep_ms(poll if check is None else min(poll, check[2]))
                if self._rx_reason is not None:  # a stuck send, a failed ping
                    break
                if self._stopping:
                    self._rx_reason = "stopped"
                    await sock.close()  # 1000, normal closure
                    break
                now = compat.ticks_ms()
                if self.backoff is not None and compat.ticks_diff(now, started) >= self.stable_ms:
                    # Stable (up this long when last seen): the next failure starts from the first delay
                    # again; ours is dropped (and its module freed), one given to Link is reset.
                    if self._own:
                        self.backoff = None
                    else:
                        self.backoff.reset()
                if check is not None:
                    if sock.pongs > check[1]:
                        check = None  # the link is alive: the CSMS was slow
                    elif compat.ticks_diff(now, check[0]) >= check[2]:
                        self._rx_reason = ws._text(_T_NO_PONG, check[2])
                        break
                if self._verify_ms and check is None:
                    check = (now, sock.pongs, self._verify_ms)
                    self._verify_ms = 0
                elif self.dead_ms and compat.ticks_diff(now, sock.last_rx_ms) > self.dead_ms:
                    self._rx_reason = ws._text(_T_SILENT, compat.ticks_diff(now, sock.last_rx_ms))
                    break
                elif not (self.ping_ms and compat.ticks_diff(now, last_ping) >= self.ping_ms):
                    continue
                last_ping = now
                try:
                    await _wait_for_ms(sock.ping(), self.send_timeout_ms)
                except asyncio.TimeoutError:
                    if self._rx_reason is None:
                        self._rx_reason = ws._text(_T_STUCK, ("ping", self.send_timeout_ms))
                except ws.WebSocketError as e:
                    if self._rx_reason is None:
                        self._rx_reason = str(e)
        except Exception as e:  # MemoryError in a ping, a text: the link is dropped, retried after the pause
            if self._rx_reason is None:
                self._rx_reason = e
        await sock.wait_closed()
