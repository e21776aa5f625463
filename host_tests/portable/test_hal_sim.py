# hal.sim: the scenario's events take effect through the on-demand hal.sim.setup; when that
# module cannot be loaded (missing, out of heap) the due events wait for the next tick with a
# warning, and the simulated charging and the app's control loop go on. Both runtimes.
import asyncio
import builtins
import io
import sys

import app
import log
import scratch
from hal import sim
from evse.connector import Evse

SETUP = "hal.sim.setup"


class Refused:
    """builtins.__import__ refusing hal.sim.setup with `error` while installed (an import
    that finds no file, or one out of heap); every other import is the real one."""

    def __init__(self, error):
        self.error = error
        self.real = builtins.__import__

    def __enter__(self):
        real, error = self.real, self.error

        def refuse(name, *args):
            if name == SETUP:
                raise error
            return real(name, *args)
        builtins.__import__ = refuse
        return self

    def __exit__(self, *exc):
        builtins.__import__ = self.real


def _charging():
    hw = sim.build({"connectors": 1, "max_current_a": 16})
    world = hw.sim
    e = Evse(1, hw.connectors[0])
    world.connectors[0].plug()
    e.permit(True)
    t = 0
    while t <= 4000:
        world.step(t)
        e.step(t)
        t += 100
    assert e.contactor_closed and e.status(True) == "Charging"
    return world, e, t


def test_a_scenario_step_whose_module_cannot_load_waits_and_charging_goes_on():
    world, e, t = _charging()
    world.load_scenario([{"at": 5, "do": "card", "id": "cafe"}, {"at": 6, "do": "ev_pause"}])
    buf, out = io.StringIO(), log.out
    log.out = buf
    try:
        for error in (MemoryError("memory allocation failed"), ImportError("no module named 'hal.sim.setup'")):
            with Refused(error):
                end = t + 3000
                wh = world.connectors[0].energy_wh
                while t < end:
                    assert world.step(t) == ()     # never raises out of the step
                    e.step(t)
                    t += 100
            assert e.contactor_closed and world.connectors[0].energy_wh > wh  # still charging
            assert world.pending == () and world.connectors[0].wants_charge   # nothing applied yet
            assert len(world.scenario) == 2 and SETUP not in sys.modules and world.waiting
            text = buf.getvalue()                  # tried every tick, logged once
            assert text.count("[warning] scenario events wait:") == 1 and "MemoryError" in text, text
        fired = world.step(t)                      # loads again: every due event, in order
        assert [x["do"] for x in fired] == ["card", "ev_pause"] and world.scenario == []
        assert world.poll() == "CAFE" and not world.connectors[0].wants_charge
        assert SETUP not in sys.modules and not world.waiting
        world.load_scenario([{"at": 0, "do": "unplug"}])
        with Refused(ImportError("no module named 'hal.sim.setup'")):
            assert world.step(t) == () and world.connectors[0].state != "A"  # plugged
        text = buf.getvalue()                      # a new refusal: logged again
        assert text.count("[warning] scenario events wait:") == 2 and "ImportError" in text, text
    finally:
        log.out = out


def test_the_control_loop_goes_on_while_the_scenario_module_cannot_load():
    d = scratch.folder("hal_sim_loop")
    buf, out = io.StringIO(), log.out
    log.out = buf
    cfg = {"charge_point_id": "S1", "csms_url": "ws://127.0.0.1:9/ocpp", "data_dir": d + "/data",
           "sim": {"speed": 1000}}
    a = app.App(cfg, sim.build({"name": "sim", "kind": "sim", "connectors": 1, "max_current_a": 16}))
    world = a.hw.sim
    world.load_scenario([{"at": 1, "do": "plug"}])

    async def until(ms):
        task = asyncio.create_task(a.control_loop())
        while a.clock.now() < ms and not task.done():
            await asyncio.sleep(0)
        if task.done():
            await task                             # what ended it, raised here
            raise AssertionError("the control loop ended")
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    try:
        with Refused(MemoryError("memory allocation failed")):
            asyncio.run(until(3000))
        assert world.connectors[0].state == "A" and len(world.scenario) == 1
        assert "[warning] scenario events wait:" in buf.getvalue()
        asyncio.run(until(4000))
        assert world.connectors[0].state != "A" and world.scenario == [] and a.evses[0].plugged
        assert "scenario: do=plug" in buf.getvalue()
    finally:
        log.out = out
        a.queue.close() if hasattr(a.queue, "close") else None
