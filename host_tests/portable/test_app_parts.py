# app.py keeps only the periodic loops resident: its one-time wiring (appwire), the link's
# rare work (applink) and the job runner (appjobs) are imported for the call and dropped, and a
# part that cannot load costs the operation, never the control loop: a relink is tried again
# RELINK_RETRY_MS later, jobs are dropped with a log line. Both runtimes.
import asyncio
import io
import sys

import app
import log
import scratch
from limits import limit
from hal import sim

PARTS = ("appwire", "applink", "appjobs")


class FakeLink:
    ssl = None

    def __init__(self):
        self.stopped = False

    async def run(self, handler):
        self.task = asyncio.current_task()
        while not self.stopped:
            await asyncio.sleep(0.001)

    def stop(self):
        self.stopped = True

    async def close(self):
        self.stop()
        await self.task

    def set_ping_interval(self, s):
        pass


def _write(path, text):
    f = open(path, "w")
    f.write(text)
    f.close()


def _setup(name):
    """A sim-board App on a fast simulated clock, the parts unloaded first (another test
    module may hold one), a log buffer, and a folder first on sys.path for test modules."""
    saved = {}
    for n in PARTS:
        if n in sys.modules:
            saved[n] = sys.modules.pop(n)
    d = scratch.folder("app_parts_" + name)
    lib = d + "/lib"
    scratch.rmtree(lib)
    import os
    os.mkdir(lib)
    sys.path.insert(0, lib)
    buf = io.StringIO()
    log.out = buf
    cfg = {"charge_point_id": "P1", "csms_url": "ws://127.0.0.1:9/ocpp", "data_dir": d + "/data",
           "sim": {"speed": 1000}}
    a = app.App(cfg, sim.build({"name": "sim", "kind": "sim", "connectors": 1, "max_current_a": 16}))
    return a, lib, buf, saved


def _teardown(a, lib, saved):
    a.queue.close()
    sys.path.remove(lib)
    for n in PARTS:
        sys.modules.pop(n, None)
    sys.modules.update(saved)
    log.out = sys.stdout


async def _run_until(a, ms):
    """The control loop until the simulated clock reaches `ms`; it must still be running."""
    t = asyncio.create_task(a.control_loop())
    while a.clock.now() < ms:
        await asyncio.sleep(0)
    assert not t.done(), "the control loop ended"
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        pass


def test_the_wiring_and_the_link_parts_are_not_kept_after_use():
    a, lib, buf, saved = _setup("unloaded")
    try:
        assert a.cp is not None and len(a.evses) == 1 and a.link is None and a.job_tasks == []
        for n in PARTS:
            assert n not in sys.modules, n
        from net import ws
        via, seen = ws._via, []

        def spy(name, fn, *args, **kw):  # Link() sets itself up in net.ws_url
            seen.append((name, "appwire" in sys.modules or "applink" in sys.modules))
            return via(name, fn, *args, **kw)
        ws._via = spy
        try:
            link = a._make_link()
        finally:
            ws._via = via
        assert link.url.endswith("/ocpp/P1") and "applink" not in sys.modules and "appwire" not in sys.modules
        assert ("ws_url", False) in seen, seen  # appwire dropped before: never both in the heap
    finally:
        _teardown(a, lib, saved)


def test_the_flash_log_stamp_holds_the_clocks_not_the_app():
    # A bound method kept by the log held a replaced App (its core, queue, connectors) while a
    # Reset built the next one: two Apps at once.
    a, lib, buf, saved = _setup("stamp")
    try:
        stamp = log._file["stamp"]
        assert stamp is app._log_stamp  # a plain function, not a bound method of `a`
        assert stamp() == a.cp.clock.stamp(a.clock.now())
    finally:
        _teardown(a, lib, saved)


def test_a_relink_whose_part_cannot_load_is_tried_again_later_and_the_loop_goes_on():
    a, lib, buf, saved = _setup("relink")
    try:
        made = []

        def make():
            made.append(FakeLink())
            return made[-1]
        a._make_link = make
        _write(lib + "/applink.py", "raise MemoryError('no room for applink')\n")
        a.cp.profile_change = (0, 1)  # a CSMS raised the SecurityProfile (ocpp16.secprofile)

        async def go():
            await _run_until(a, limit("app", "_RELINK_RETRY_MS") // 2)
            text = buf.getvalue()
            assert text.count("link not made:") == 1 and "no room for applink" in text, text
            assert a.relink and not made and "applink" not in sys.modules
            import os
            os.remove(lib + "/applink.py")  # the real applink is found again
            await _run_until(a, limit("app", "_RELINK_RETRY_MS") + 2000)
            assert len(made) == 1 and a.link is made[0] and not a.relink
            assert a.cp.profile_change is None and a.fallback == [0, 0]  # counting towards the fallback
            assert "applink" not in sys.modules
            a.link.stop()
        asyncio.run(go())
    finally:
        _teardown(a, lib, saved)


def test_jobs_run_as_tasks_and_are_dropped_when_the_runner_cannot_load():
    a, lib, buf, saved = _setup("jobs")
    try:
        import os
        os.mkdir(lib + "/jobpkg")
        _write(lib + "/jobpkg/__init__.py", "")
        _write(lib + "/jobpkg/fakejob.py", "async def run(app, args):\n    app.job_ran = args\n")
        _write(lib + "/appjobs.py", "raise MemoryError('no room for appjobs')\n")
        a.cp.jobs.append(("jobpkg.fakejob", 1))

        async def go():
            await _run_until(a, 1000)
            assert a.cp.jobs == [] and not hasattr(a, "job_ran")
            assert "jobs [('jobpkg.fakejob', 1)] failed" in buf.getvalue() and "no room for appjobs" in buf.getvalue()
            os.remove(lib + "/appjobs.py")
            a.cp.jobs.append(("jobpkg.fakejob", 2))
            await _run_until(a, 2000)
            for t in list(a.job_tasks):
                await t
            assert a.job_tasks == []  # an ended job leaves no task behind (it would hold appjobs)
            assert a.job_ran == 2 and "jobpkg.fakejob" not in sys.modules and "appjobs" not in sys.modules
        asyncio.run(go())
    finally:
        _teardown(a, lib, saved)


def test_a_failed_connect_loads_applink_only_when_it_has_something_to_do():
    # Plain ws:// during an outage: nothing to report, no fallback counting, so applink is not
    # loaded at every attempt; Basic auth refused is a security event; after a SecurityProfile
    # change each failure counts towards the fallback.
    a, lib, buf, saved = _setup("connect_failed")
    try:
        from net import ws
        events = []
        a.cp.security_event = lambda kind, now, text=None: events.append(kind)
        a.link = FakeLink()
        _write(lib + "/applink.py", "raise MemoryError('applink loaded')\n")
        a.event("error", OSError(111, "refused"))
        assert events == [] and "applink" not in sys.modules
        try:
            a.event("error", ws.Unauthorized("401"))
            raise AssertionError("applink was not loaded")
        except MemoryError:
            pass
        import os
        os.remove(lib + "/applink.py")  # the real applink is found again
        if hasattr(a, "link_events"):
            del a.link_events  # applink makes it at the first event
        a.event("error", ws.Unauthorized("401"))
        assert events == ["FailedToAuthenticateAtCentralSystem"] and "applink" not in sys.modules
        a.event("error", ws.Unauthorized("401"))  # the same kind again at once: not reported
        assert events == ["FailedToAuthenticateAtCentralSystem"]
        a.fallback = [0, 0]
        a.event("error", OSError(111, "refused"))
        assert a.fallback == [0, 1] and events == ["FailedToAuthenticateAtCentralSystem"]
    finally:
        _teardown(a, lib, saved)


def test_a_memory_error_out_of_the_core_ends_the_control_loop():
    # Not skipped for a period: the core's state may be half-changed; main then puts the safe
    # state and starts a new App, which rebuilds the core from flash (app.py, control_loop).
    a, lib, buf, saved = _setup("core_memory")
    try:
        def tick(now):
            raise MemoryError("no room in tick")
        a.cp.tick = tick

        async def go():
            try:
                await asyncio.wait_for(a.control_loop(), 5)
            except MemoryError as e:
                return str(e)
        assert asyncio.run(go()) == "no room in tick"
    finally:
        _teardown(a, lib, saved)
