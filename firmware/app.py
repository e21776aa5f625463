# Composition root: builds the OCPP core, the charging control and the
# network link from config.json and a board's hardware, and runs them as
# asyncio tasks. The control loop never waits for the network or the flash.
import asyncio

import compat
import log
import store
from evse.connector import Evse
from evse.interlock import SampleTimer, machine_timer
from hal import HalError
from ocpp16.chargepoint import ChargePoint, WallClock
from ocpp16.config import Config
from ocpp16.queue import MessageQueue

# One control-loop iteration: core tick, sending; the pilot sample and interlock
# too where no timer runs them every evse.interlock.SAMPLE_PERIOD_MS.
CONTROL_PERIOD_MS = 100
# Pause between two meter reads in the meter task (a read itself takes 130-400 ms).
METER_PERIOD_MS = 1000
# At start the core waits at most this long for each meter's first read to end
# (good or failed), so no transaction starts with a meterStart of 0; a dead SDM120
# at 2400 baud fails in ~0.9 s. The pilot timer already runs meanwhile.
METER_FIRST_READ_MS = 3000
# After a scenario's "end" event the simulator waits at most this long
# (simulated ms) for the queue to drain before it stops.
DRAIN_TIMEOUT_MS = 60000
# A failed TLS handshake or Basic auth is a security event, each kind at most this often (ms).
LINK_EVENT_MS = 600000
# Failed connects with a new SecurityProfile before going back to the previous one (A05.FR.08).
PROFILE_FALLBACK_ATTEMPTS = 3
LOG_DIR = "log"  # the rolling log (log.py) in data_dir


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
        self.sim_ms = 0

    def now(self):
        if self.speed is None:
            last, ms = self._base
            t = compat.ticks_ms()
            ms += compat.ticks_diff(t, last)
            self._base = (t, ms)
            return ms
        return self.sim_ms

    def advance(self, ms):
        self.sim_ms += ms

    def real_ms(self, ms):
        """Wall-clock ms that `ms` of this clock's time take."""
        return ms if self.speed is None else max(1, int(ms / self.speed))

    async def sleep_ms(self, ms):
        if self.speed is not None:
            ms = ms / self.speed
        await asyncio.sleep(ms / 1000)


class App:
    def __init__(self, cfg, hw, clock=None, trace=None):
        if not cfg.get("serial") and getattr(hw, "chip_id", None):
            import version
            cfg = dict(cfg)
            cfg["serial"] = version.serial(hw.chip_id)  # chargePointSerialNumber unless config.json sets one
        self.cfg = cfg
        self.hw = hw
        simcfg = cfg.get("sim") or {}
        self.clock = clock or Clock(simcfg.get("speed"))
        self.trace = trace if trace is not None else simcfg.get("trace", False)
        self.heap_report_ms = int(simcfg.get("heap_report_s", 0) * 1000)
        # A long simulated outage may use a coarser control period (sim boards only).
        self.period_ms = int(simcfg.get("period_ms", CONTROL_PERIOD_MS))
        data = cfg.get("data_dir", "data")
        store.makedirs(data)
        n = len(hw.connectors)
        overrides = {"NumberOfConnectors": n}  # SupportedFeatureProfiles: set by the core
        self.config = Config(data + "/config.json", overrides)
        # SecurityProfile starts at config.json's security_profile; a CSMS may only have raised it.
        if self.config.get("SecurityProfile") < cfg.get("security_profile", 0):
            self.config.set_internal("SecurityProfile", cfg.get("security_profile", 0))
        self.evses = [Evse(i + 1, c) for i, c in enumerate(hw.connectors)]
        cap = cfg.get("max_current_a")  # set in the setup portal; never above the board's
        for e in self.evses:
            e.max_amps = min(e.max_amps, cap) if cap else e.max_amps
        self.queue = MessageQueue(data + "/queue")
        now = self.clock.now()
        self.cp = ChargePoint(cfg, self.config, self.evses, self.queue,
                              clock=WallClock(compat.unix_time(), now), data_dir=data,
                              reader=hw.reader, now=now, id_prefix=_boot_prefix(data),
                              board=hw.board)
        # Every log line also goes to the rolling log on flash (the GetDiagnostics file).
        log.to_file(data + "/" + LOG_DIR, self._log_stamp)
        self.link = None
        self.ping_s = self.config.get("WebSocketPingInterval")
        self._flushing = False
        self.result = None
        # Real-time clock: pilot sampling + interlock on a timer, meters in their own
        # tasks. Deterministic (simulated) clock: both inline in the control loop.
        self.realtime = self.clock.speed is None
        self.make_timer = machine_timer  # tests substitute a preemptive timer
        self.sampler = None
        self.job_tasks = []           # background jobs asked for by the core (cp.jobs)
        self.link_since = None        # Unix time the CSMS link last came up (status page)
        self.link_error = None        # why it last went down (status page)
        self.link_task = None
        self.relink = False           # make a new link at the next control step
        self.fallback = None          # [previous SecurityProfile, failed attempts] after a change
        self.link_events = {}         # security event kind -> when a failed connect last reported it

    def _log_stamp(self):
        return self.cp.clock.stamp(self.clock.now())

    def _make_link(self):
        from net.link import Link
        key = _password(self.config.get("AuthorizationKey")) or self.cfg.get("authorization_key")
        profile = self.config.get("SecurityProfile")
        auth = (self.cfg["charge_point_id"], key) if profile in (1, 2) and key else None
        ssl = None
        if profile >= 2:
            ssl = _profile_tls(self.cfg, profile)
        elif self.cfg["csms_url"].startswith("wss:"):
            ssl = _tls_context(self.cfg)
        # Pauses between connect attempts follow the (possibly simulated) clock.
        return Link(self.cfg["csms_url"], self.cfg["charge_point_id"], basic_auth=auth, ssl=ssl,
                    ping_interval_s=self.config.get("WebSocketPingInterval"), sleep_ms=self.clock.sleep_ms)

    # -------------------------------------------------------------- link handler
    def on_open(self):
        self.link_since = compat.unix_time()
        self.fallback = None  # connected: a new SecurityProfile is kept
        self.cp.on_connect(self.clock.now())
        return self.flush()

    def on_message(self, text):
        self.cp.receive(text, self.clock.now())
        if self.trace:  # after receive: a new AuthorizationKey in it is already a registered secret
            print(log.redact("<- " + text))
        return self.flush()

    def on_too_big(self, head, size):
        self.cp.receive_too_large(head, size, self.clock.now())
        return self.flush()

    def on_close(self, reason=None):
        if reason:
            self.link_error = str(reason)
        self.cp.on_disconnect(self.clock.now())

    def on_connect_failed(self, error):
        """A failed connect: a security event when it was the TLS handshake or Basic auth
        (each kind at most every LINK_EVENT_MS), and after a SecurityProfile change the
        count towards falling back to the previous profile."""
        from net import ws
        now = self.clock.now()
        text = str(error)
        kind = None
        if isinstance(error, ws.Unauthorized):
            kind = "FailedToAuthenticateAtCentralSystem"
        elif self.link is not None and self.link.ssl is not None:
            from ocpp16 import profiles
            try:
                kind = profiles.load("net.tlsprofile").failure_event(text)
            finally:
                profiles.unload("net.tlsprofile")
        last = self.link_events.get(kind)
        if kind and (last is None or now - last >= LINK_EVENT_MS):
            self.link_events[kind] = now
            self.cp.security_event(kind, now, text)
        fb = self.fallback
        if fb is not None:
            fb[1] += 1
            if fb[1] >= PROFILE_FALLBACK_ATTEMPTS:
                log.warning("SecurityProfile %d cannot connect: back to %d", self.config.get("SecurityProfile"), fb[0])
                self.config.set_internal("SecurityProfile", fb[0])
                self.fallback = None
                self.relink = True

    async def _relink(self):
        """Stop the link and make a new one (a SecurityProfile change, a new client certificate)."""
        if self.link is not None:
            self.link.stop()
            try:
                await asyncio.wait_for(self.link_task, 5)
            except Exception:
                pass
        try:
            self.link = self._make_link()
        except Exception as e:  # the new profile cannot even be set up: back to the previous one
            log.error("link not made: %s", e)
            if self.fallback is None:
                raise
            self.config.set_internal("SecurityProfile", self.fallback[0])
            self.fallback = None
            self.link = self._make_link()
        self.link_task = asyncio.create_task(self.link.run(self))

    async def flush(self):
        if self._flushing:
            return
        self._flushing = True
        try:
            while self.cp.outbox:
                text = self.cp.outbox.pop(0)
                if self.trace:
                    print(log.redact("-> " + text))
                try:
                    await self.link.send(text)
                except Exception as e:  # NotConnected / closed: the core redelivers on reconnect
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
        if wd is not None and "control" not in getattr(wd, "loops", ("control",)):
            wd = None  # a board whose watchdog does not supervise the control loop
        next_heap = 0
        last_ticks = -1
        while True:
            now = self.clock.now()
            if self.heap_report_ms and now >= next_heap:
                next_heap = now + self.heap_report_ms
                _report_heap(self.cp)
            if sim is not None:
                for e in sim.step(now):
                    log.info("scenario: %s", _describe(e))
            if not self.realtime:
                for evse in self.evses:
                    evse.poll_meter(now)
            sampler = self.sampler
            if sampler is None:
                for evse in self.evses:
                    evse.step(now)
            elif sampler.ticks == last_ticks:
                sampler.run(now)  # the timer has not ticked for a whole period: sample here
            if sampler is not None:
                last_ticks = sampler.ticks
            self.cp.tick(now)
            if self.cp.link_suspect:  # a CALL was not answered: ping, reconnect without a pong
                self.cp.link_suspect = False
                if self.link is not None:
                    from net.link import PONG_GRACE_S
                    self.link.verify(self.clock.real_ms(PONG_GRACE_S * 1000))
            if self.cp.jobs:
                self._start_jobs()
            if self.cp.profile_change is not None:
                old, _new = self.cp.profile_change
                self.cp.profile_change = None
                self.fallback = [old, 0]
                self.relink = True
            if self.relink:
                self.relink = False
                await self._relink()
            ping = self.config.get("WebSocketPingInterval")
            if ping != self.ping_s and self.link is not None:
                self.ping_s = ping
                self.link.set_ping_interval(ping)
            if self.cp.outbox and self.link is not None:
                await self.flush()
            if wd is not None:
                wd.alive("control")
            if self.cp.reboot:
                self.result = "reboot"
                return
            if sim is not None and sim.ended:
                if ended_at is None:
                    ended_at = now
                if self.cp.idle() or now - ended_at > DRAIN_TIMEOUT_MS:
                    self.result = "end"
                    return
            if self.clock.speed is not None:
                self.clock.advance(self.period_ms)
            await self.clock.sleep_ms(self.period_ms)

    def _start_status_page(self):
        """The local status page (net/status.py) runs as a job while the app runs: only when
        config.json sets status_password and the board file does not turn it off."""
        if self.cfg.get("status_password") and (self.hw.board.get("portal") or {}).get("status_page", True):
            self.cp.jobs.append(("net.status", (self.cfg.get("sim") or {}).get("status_port")))

    def _start_jobs(self):
        self.job_tasks = [t for t in self.job_tasks if not t.done()]
        while self.cp.jobs:
            name, args = self.cp.jobs.pop(0)
            self.job_tasks.append(asyncio.create_task(self._job(name, args)))

    async def _job(self, name, args):
        """One background job (ocpp16.profiles): a failure is logged, never fatal."""
        from ocpp16 import profiles
        try:
            await profiles.load(name).run(self, args)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # ImportError, MemoryError, OSError: the job reports its own status
            log.error("job %s failed: %r", name, e)
        finally:
            profiles.unload(name)

    async def meter_loop(self, evse):
        """Reads one connector's meter for ever; evse uses the latest reading."""
        meter = evse.meter
        read_async = getattr(meter, "read_async", None)
        while True:
            try:
                if read_async is not None:
                    r = await read_async()
                else:
                    r = meter.read()
                evse.meter_read(r, self.clock.now())
            except HalError as e:
                evse.meter_failed(e.code, self.clock.now())
            except Exception as e:  # a driver bug is a meter failure, not a dead task
                log.error("meter on connector %d: %r", evse.id, e)
                evse.meter_failed(None, self.clock.now())
            await self.clock.sleep_ms(METER_PERIOD_MS)

    async def first_meter_reads(self, limit_ms=METER_FIRST_READ_MS):
        """Wait until every meter task has finished its first read (or limit_ms).
        With a simulated clock meters are polled inline: nothing to wait for."""
        if not self.realtime:
            return True
        t0 = self.clock.now()
        while any(e.meter_task and e.reading is None and e.meter_fault is None for e in self.evses):
            if self.clock.now() - t0 >= limit_ms:
                log.warning("meter: no first reading after %d ms", limit_ms)
                return False
            await self.clock.sleep_ms(10)
        return True

    def _start_hardware_tasks(self):
        tasks = []
        if not self.realtime:
            for evse in self.evses:
                evse.meter_task = evse.meter is not None  # polled inline, every period
            return tasks
        for evse in self.evses:
            if evse.meter is not None:
                evse.meter_task = True
                tasks.append(asyncio.create_task(self.meter_loop(evse)))
        if getattr(self.hw, "sim", None) is None:
            sampler = SampleTimer(self.evses, self.clock.now)
            if sampler.start(self.make_timer):
                self.sampler = sampler
            else:
                log.warning("no timer: the pilot is sampled by the control loop only")
        return tasks

    async def run(self):
        self.link = self._make_link()
        self.link_task = asyncio.create_task(self.link.run(self))
        tasks = self._start_hardware_tasks()
        self._start_status_page()
        try:
            await self.first_meter_reads()
            await self.control_loop()
            await self.flush()
        finally:
            if self.sampler is not None:
                self.sampler.stop()
            for t in tasks + self.job_tasks:
                t.cancel()
            self.link.stop()
            try:
                await asyncio.wait_for(self.link_task, 5)
            except Exception:
                pass
            self.queue.close() if hasattr(self.queue, "close") else None
            log.flush()
        return self.result


_modules_reported = 0


def _boot_prefix(data):
    """Message ids must stay unique across reboots: prefix them with a boot counter."""
    import store
    path = data + "/boots.json"
    n = store.load(path, {}).get("n", 0) + 1
    store.save(path, {"n": n})
    return "%d." % n


def _report_heap(cp):
    """Retained heap after a collection (the benchmark reads these lines)."""
    import gc
    import sys
    global _modules_reported
    if _modules_reported != len(sys.modules):  # each time the set changes
        _modules_reported = len(sys.modules)
        print("[heap] modules=" + ",".join(sorted(sys.modules)))
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        print("[heap] alloc=%d free=%d booted=%d tx=%d" % (gc.mem_alloc(), gc.mem_free(),
              cp.boot_status == "Accepted", len(cp.tx)))
        try:
            import micropython
            micropython.qstr_info()  # "qstr pool: ... n_total_bytes=N": interned names never freed
        except (ImportError, AttributeError):
            pass


def _describe(e):
    return " ".join("%s=%s" % (k, e[k]) for k in sorted(e) if k != "at")


def _password(key):
    """The Basic auth password of an OCPP AuthorizationKey: its hex form (32 to 40 hex
    digits, 16-20 bytes, Security whitepaper) decoded, any other text as it is."""
    if not key or len(key) % 2 or not 32 <= len(key) <= 40:
        return key
    try:
        import binascii
        return binascii.unhexlify(key)
    except ValueError:
        return key


def _profile_tls(cfg, profile):
    """The TLS context of security profile 2/3 (net.tlsprofile, loaded for the call)."""
    from ocpp16 import profiles
    try:
        client = (cfg["client_cert"], cfg["client_key"]) if cfg.get("client_cert") else None
        return profiles.load("net.tlsprofile").context(profile, cfg.get("data_dir", "data"), cfg.get("ca_cert"), client)
    finally:
        profiles.unload("net.tlsprofile")


def _tls_context(cfg):
    from net import tls
    ca = cfg.get("ca_cert")
    if not ca:
        log.warning("wss without ca_cert: the server certificate is NOT verified")
    return tls.context(ca)


async def run(cfg, hw, clock=None):
    """Run the charger until a scenario ends; a Reset restarts it in place."""
    simcfg = cfg.get("sim") or {}
    clock = clock or Clock(simcfg.get("speed"))
    world = getattr(hw, "sim", None)
    if world is not None and simcfg.get("scenario"):
        import json
        with open(simcfg["scenario"]) as f:
            world.load_scenario(json.load(f))
    powered_up = True
    while True:
        app = App(cfg, hw, clock)
        if powered_up:  # a soft reset restarts in place: that is ResetOrReboot, reported at the Reset
            app.cp.security_event("StartupOfTheDevice", clock.now())
            powered_up = False
        result = await app.run()
        if result != "reboot" or simcfg.get("exit_on_reboot"):
            # exit_on_reboot (sim boards): a reboot ends the process, the test starts it
            # again, so new code (a firmware update) is really loaded.
            return app
        reset = getattr(hw, "reset", None)
        if reset is not None:
            reset(app.cp.reboot)
        log.info("%s reset: restarting", app.cp.reboot)
