# The app's meter task against the real Modbus SDM120 driver on the fake RS485
# bus: evse gets the latest reading without I/O, the event loop keeps running
# while the bus is awaited (also while the meter is dead and every read times
# out with retries), a dead meter gives PowerMeterFailure and the last good
# reading stays. Plus the control loop's fallback when the sample timer stalls
# and its watchdog report.
import asyncio
import sys
import types

sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/fakes")

from hal_rig import modbus_rig
from modbus_model import Sdm120Model
from hal import Connector
from hal.sim import SimConnector
from hal.esp32.meters import Sdm120
from evse.connector import Evse
import app as app_mod
import apphw  # the hardware tasks of a real-time clock, first meter reads
import appmeter  # the meter task


def test_meter_task_feeds_evse_without_blocking_the_loop_and_keeps_the_last_reading():
    slave = Sdm120Model(current=16.0, power=3680.0, import_kwh=12.5)
    bus, rs485 = modbus_rig(slave, baud=9600, timeout_ms=30)
    meter = Sdm120(bus, 1)
    sc = SimConnector()  # the sim's pilot and relay, with its car (the meter: the real driver)
    e = Evse(1, Connector(sc, sc, meter, 16))
    e.meter_task = True
    fake_app = types.SimpleNamespace(clock=app_mod.Clock())
    gaps = []

    async def main():
        task = asyncio.create_task(appmeter.meter_loop(fake_app, e))
        loop = asyncio.get_event_loop()
        last = loop.time()

        async def ticker(ms):
            nonlocal last
            end = loop.time() + ms / 1000
            while loop.time() < end:
                await asyncio.sleep(0.005)
                now = loop.time()
                gaps.append(now - last)
                last = now
        await ticker(300)
        good = e.read_meter()
        assert good is not None and abs(good["energy_wh"] - 12500.0) < 0.01 and e.meter_fault is None
        slave.silent = 10 ** 6  # the meter stops answering
        t0 = loop.time()
        while e.meter_fault is None and loop.time() - t0 < 5:
            await ticker(20)
        assert e.meter_fault == "PowerMeterFailure"
        assert e.read_meter() is good and e.energy_wh() == 12500  # never replaced by zeros
        await ticker(200)
        slave.silent = 0
        t0 = loop.time()
        while e.meter_fault is not None and loop.time() - t0 < 5:
            await ticker(20)
        assert e.meter_fault is None
        task.cancel()

    asyncio.run(main())
    # A blocking read() would stall the loop for the whole bus transaction (>= 30 ms
    # timeout x 3 tries when dead); read_async yields at every wait.
    assert max(gaps) < 0.06, max(gaps)


def test_control_loop_samples_itself_when_the_timer_stalls_and_reports_alive():
    import tempfile
    from hal import Hardware
    ev = SimConnector()  # the sim's pilot and relay in one object, with its car
    ev.plug()
    relay = pilot = ev
    hw = Hardware([Connector(pilot, relay, None, 16)])
    alive = []
    hw.watchdog = types.SimpleNamespace(loops=("main", "control"), alive=alive.append)
    d = tempfile.mkdtemp()
    a = app_mod.App({"charge_point_id": "W", "csms_url": "ws://127.0.0.1:9/x", "data_dir": d}, hw)

    class DeadTimer:  # created, never fires (a stalled or missing hardware timer)
        def deinit(self):
            pass
    a.make_timer = lambda period, cb: DeadTimer()
    apphw.hardware_tasks(a)
    assert a.sampler is not None
    a.cp.reboot = None

    async def main():
        t = asyncio.create_task(a.control_loop())
        await asyncio.sleep(0.35)
        t.cancel()
    asyncio.run(main())
    # the EV is in B: samples happened although the timer never fired
    assert a.sampler.ticks >= 3 and a.evses[0].state == "B"
    assert alive.count("control") >= 3


def test_a_watchdog_that_does_not_supervise_the_control_loop_is_not_told_about_it():
    import tempfile
    from hal import Hardware

    class Wd:
        loops = ("main",)

        def alive(self, name):
            if name not in self.loops:
                raise ValueError(name)
    hw = Hardware([Connector(SimConnector(), SimConnector(), None, 16)], watchdog=Wd())
    a = app_mod.App({"charge_point_id": "W", "csms_url": "ws://127.0.0.1:9/x",
                     "data_dir": tempfile.mkdtemp()}, hw)

    async def main():
        t = asyncio.create_task(a.control_loop())
        await asyncio.sleep(0.15)
        assert not t.done(), t.exception()
        t.cancel()
    asyncio.run(main())


def test_the_core_waits_for_the_first_meter_reading_but_not_for_ever():
    import tempfile
    from hal import Hardware

    class SlowMeter:
        def __init__(self, delay_s):
            self.delay_s = delay_s

        async def read_async(self):
            await asyncio.sleep(self.delay_s)
            return {"energy_wh": 5000.0, "power_w": 0.0, "current_a": [0.0], "voltage_v": [230.0]}

    def make(delay_s):
        hw = Hardware([Connector(SimConnector(), SimConnector(), SlowMeter(delay_s), 16)])
        a = app_mod.App({"charge_point_id": "W", "csms_url": "ws://127.0.0.1:9/x",
                         "data_dir": tempfile.mkdtemp()}, hw)
        return a

    async def main(a, limit_ms):
        tasks = apphw.hardware_tasks(a)
        assert a.evses[0].meter_task and a.evses[0].read_meter() is None
        ok = await apphw.first_meter_reads(a, limit_ms)
        for t in tasks:
            t.cancel()
        return ok, a.evses[0].read_meter()

    ok, r = asyncio.run(main(make(0.1), 2000))
    assert ok and r["energy_wh"] == 5000.0
    a = make(10)
    t0 = a.clock.now()
    ok, r = asyncio.run(main(a, 200))
    assert not ok and r is None and 200 <= a.clock.now() - t0 < 1000
