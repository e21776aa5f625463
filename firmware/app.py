# Composition root: runs the charger as asyncio tasks: the control loop (core tick, pilot and
# interlock where no timer runs them, sending) and the CSMS link's handler; the meter tasks of a
# real-time clock are appmeter.py's. What runs once per start or only after a failure or a change
# (building the parts, making a link, a failed connect, a SecurityProfile change, starting a
# background job) is in appwire.py, applink.py and appjobs.py, imported for the call and dropped
# (_rare). The control loop never
# waits for the network or the flash.
from compat import const
import asyncio
import sys

import compat
import log

# After a scenario's "end" event the simulator waits at most this long
# (simulated ms) for the queue to drain before it stops.
_DRAIN_TIMEOUT_MS = const(60000)
# A new link that could not be made (applink not loadable, no TLS context): tried again after this long.
_RELINK_RETRY_MS = const(10000)
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_TRACE_IN = const("<- %s")  # trace lines: a message received, one sent
_TRACE_OUT = const("-> %s")
_SCENARIO_FIELD = const(" %s=%s")
_CONTROL_LOOP = const("control")  # the control loop's name for the watchdog
_APPJOBS = const("appjobs")
_APPLINK = const("applink")  # not loaded by a ws:// session that does not fail
_HEAPREPORT = const("heapreport")
_clocks = None  # (wall clock, monotonic clock) of the newest App: the flash log's stamps


class Clock:
    """The monotonic `now` (ms) the core sees. speed=None: real time. With a
    speed, simulated time advances by exactly one control period per loop
    iteration, so a scenario is deterministic on any runtime."""

    def __init__(self, speed=None):
        self.speed = speed
        # (last ticks_ms, ms since start). MicroPython's ticks_ms wraps (2**30 ms) and
        # ticks_diff is only right within 2**29 ms (~6.2 days): a charger runs longer,
        # so now() adds up differences into an unbounded int. One tuple store, so a
        # timer callback calling now() in between leaves a consistent pair.
        self._base = (compat.ticks_ms(), 0)
        self.ms = 0  # a simulated clock: ms since start, advanced by the control loop

    def now(self):
        if self.speed is None:
            last, ms = self._base
            t = compat.ticks_ms()
            ms += compat.ticks_diff(t, last)
            self._base = (t, ms)
            return ms
        return self.ms

    async def sleep_ms(self, ms):
        if self.speed is not None:
            ms = ms / self.speed
        await asyncio.sleep(ms / 1000)


class App:
    def __init__(self, cfg, hw, clock=None, trace=None):
        global _clocks
        _rare("appwire", "build", self, cfg, hw, clock, trace)  # every attribute
        _clocks = (self.cp.clock, self.clock)

    def _make_link(self):
        # Link() loads net.ws_url: only once appwire (which says its arguments) is dropped.
        args, kw = _rare("appwire", "link_args", self)
        from net.link import Link  # resident
        return Link(*args, **kw)

    # -------------------------------------------------------------- link handler
    def event(self, kind, arg=None, size=0):
        """The link's handler (net.link Link.run): kind "message" (arg: its text), "open",
        "discard" (arg: the first bytes of a message above the size limit, read and dropped;
        size: its length), "close" (arg: why), "error" (arg: why a connect failed). A coroutine
        (the sending) after the core took a message."""
        cp = self.cp
        if kind == "message":
            cp.receive(arg, self.clock.now())
            if self.trace:  # after receive: a new AuthorizationKey in it is already a registered secret
                print(log.redact(_TRACE_IN % arg))
        elif kind == "open":
            self.link_since = compat.unix_time()
            self.fallback = None  # connected: a new SecurityProfile is kept
            cp.on_connect(self.clock.now())
        elif kind == "discard":
            cp.receive_too_large(arg, size, self.clock.now())
        elif kind == "close":
            if arg:
                self.link_error = str(arg)
            cp.on_disconnect(self.clock.now())
            return
        else:
            # applink only when it has something to do: a security event (Basic auth refused, a
            # TLS link) or a SecurityProfile fallback counting; a plain ws:// link failing during
            # an outage loads nothing.
            from net.ws import Unauthorized
            if (self.fallback is not None or getattr(self.link, "ssl", None) is not None
                    or isinstance(arg, Unauthorized)):
                _rare(_APPLINK, "connect_failed", self, arg)
            return
        return self.flush()

    async def flush(self):
        if self._flushing:
            return
        self._flushing = True
        try:
            while self.cp.outbox:
                text = self.cp.outbox.pop(0)
                if self.trace:
                    print(log.redact(_TRACE_OUT % text))
                try:
                    await self.link.send(text)
                except Exception as e:  # the link down or lost: the core redelivers on reconnect
                    log.warning("send failed: %s", e)
                    del self.cp.outbox[:]
                    break
        finally:
            self._flushing = False

    # -------------------------------------------------------------- loops
    async def control_loop(self):
        sim = getattr(self.hw, "sim", None)
        ended_at = None
        wd = self.hw.watchdog
        if wd is not None and _CONTROL_LOOP not in getattr(wd, "loops", (_CONTROL_LOOP,)):
            wd = None  # a board whose watchdog does not supervise the control loop
        simcfg = self.cfg.get("sim") or {}
        heap_report_ms = int(simcfg.get("heap_report_s", 0) * 1000)  # sim boards: the bench's figures
        next_heap = 0
        ping_s = self.config.get("WebSocketPingInterval")  # the link's, made with the value in force
        last_ticks = -1
        cp, clock = self.cp, self.clock
        while True:
            now = clock.now()
            if heap_report_ms and now >= next_heap:
                next_heap = now + heap_report_ms
                _rare(_HEAPREPORT, "report", self)
            if sim is not None:
                for e in sim.step(now):
                    line = ""
                    for k in sorted(e):
                        if k != "at":
                            line += _SCENARIO_FIELD % (k, e[k])
                    log.info("scenario:%s", line)
            if clock.speed is not None:  # simulated clock: the meters are polled here
                for evse in self.evses:
                    evse.poll_meter(now)
            sampler = self.sampler
            if sampler is None:
                for evse in self.evses:
                    evse.step(now)
            else:
                if sampler.ticks == last_ticks:
                    sampler.run(now)  # the timer has not ticked for a whole period: sample here
                last_ticks = sampler.ticks
            # A MemoryError out of the core ends the app on purpose (main: the safe state, then a
            # new App that rebuilds the core from flash, as after a power cut). Skipping the core
            # for a period would keep a half-done step: the core does not undo what it changed
            # before an allocation failed (aligned.start has the transaction in cp.tx and tx.json
            # before its StartTransaction is queued and the EV permitted), and the failures it
            # expects (an on-demand module that cannot load, a frame not encoded) it handles itself.
            cp.tick(now)
            if cp.link_suspect:  # a CALL was not answered: ping, reconnect without a pong
                cp.link_suspect = False
                if self.link is not None:  # a simulated clock runs faster: the wait is shorter
                    self.link.verify(clock.speed or 1)
            if cp.jobs:
                try:
                    _rare(_APPJOBS, "start", self)  # a task each (ocpp16.profiles)
                except Exception as e:  # cannot load: the jobs are lost, as when their own module cannot
                    log.error("jobs %s failed: %r", cp.jobs, e)
                    del cp.jobs[:]
            relink = self.relink  # None, or when to make a new link (0: at once)
            if (relink is not None or cp.profile_change is not None) and now >= (relink or 0):
                try:  # applink first: when it cannot load, the old link stays
                    await _rare(_APPLINK, "relink", self)
                except Exception as e:  # offline meanwhile; charging goes on
                    log.error("link not made: %r", e)
                    self.relink = now + _RELINK_RETRY_MS
            ping = self.config.get("WebSocketPingInterval")
            if ping != ping_s and self.link is not None:
                ping_s = ping
                self.link.set_ping_interval(ping)
            if cp.outbox and self.link is not None:
                await self.flush()
            if wd is not None:
                wd.alive(_CONTROL_LOOP)
            if cp.reboot:
                return "reboot"
            if sim is not None and sim.ended:
                if ended_at is None:
                    ended_at = now
                if cp.idle() or now - ended_at > _DRAIN_TIMEOUT_MS:
                    return "end"
            # Clock.sleep_ms inline: no generator made (and left as garbage) every period
            ms = self.period_ms
            if clock.speed is not None:
                clock.ms += ms
                ms /= clock.speed
            await asyncio.sleep(ms / 1000)

    async def run(self):
        # The hardware first, then the link: appwire (appmeter's first meter reads wait up to 3 s in
        # real time) is dropped before net.link and net.ws load and the first connect runs
        # (ws_open, TLS): the start-up peak holds only one of them.
        tasks = []  # appwire.start puts the meter tasks here
        try:
            await _rare("appwire", "start", self, tasks)  # sample timer, status page, first reads
            self.link = self._make_link()
            asyncio.create_task(self.link.run(self))
            result = await self.control_loop()
            await self.flush()
        finally:
            if self.sampler is not None:
                self.sampler.stop()
            for t in tasks + self.job_tasks:
                t.cancel()
            if self.link is not None:
                await self.link.close()
            self.queue.close()
            log.flush()
        return result


def _rare(name, fn, *args):
    """fn(*args) of the on-demand part `name` of the app (appwire, applink, appjobs): imported
    for the call and dropped from sys.modules after it, unless an outer call still uses it
    (a coroutine it returns keeps the module until it ends). Import errors go to the caller."""
    outer = name in sys.modules
    try:
        return getattr(__import__(name), fn)(*args)
    finally:
        if not outer:
            sys.modules.pop(name, None)


def _log_stamp():
    """The flash log's time stamp (given to log.to_file by appwire.build): the newest App's
    clocks. It holds only them: a bound method kept by the log held a replaced App (its core,
    queue, connectors: ~9 KB) while a Reset built the next one."""
    return _clocks[0].stamp(_clocks[1].now())


async def run(cfg, hw, clock=None):
    """Run the charger until a scenario ends; a Reset restarts it in place (the same clock)."""
    app = _rare("appwire", "first_app", cfg, hw, clock)  # the scenario, StartupOfTheDevice
    while await app.run() == "reboot" and not (cfg.get("sim") or {}).get("exit_on_reboot"):
        # exit_on_reboot (sim boards): a reboot ends the process, the test starts it
        # again, so new code (a firmware update) is really loaded.
        reset = (app.cp.reboot, app.clock)
        app = None  # garbage before the next App's parts are built: a Reset never holds two
        app = _rare("appwire", "first_app", cfg, hw, reset[1], reset[0])
    return app
