# The hardware tasks of a real-time clock (a device), set up at each start: a task per meter
# (appmeter.py), the pilot's sample timer, and the wait for the first meter reads. appwire.start
# imports it on such a board only (a simulated clock polls the meters and the pilot in the
# control loop: the sim session never loads it) and drops it once the first reads are in.
from compat import const
import asyncio

import log
from appmeter import meter_loop

# At start the core waits at most this long for each meter's first read to end
# (good or failed), so no transaction starts with a meterStart of 0; a dead SDM120
# at 2400 baud fails in ~0.9 s. The pilot timer already runs meanwhile.
_METER_FIRST_READ_MS = const(3000)


async def start(app, out):
    """appwire.start on a real-time clock: the hardware tasks into the list `out`, then the first
    meter reads waited for."""
    out += hardware_tasks(app)
    await first_meter_reads(app)


def hardware_tasks(app):
    """A task per meter and the pilot sample timer (with the interlock), for App.run to cancel
    and stop when it ends."""
    tasks = []
    for evse in app.evses:
        if evse.meter is not None:
            evse.meter_task = True
            tasks.append(asyncio.create_task(meter_loop(app, evse)))
    if getattr(app.hw, "sim", None) is None:
        from evse.interlock import SampleTimer, machine_timer
        sampler = SampleTimer(app.evses, app.clock.now)
        if sampler.start(getattr(app, "make_timer", machine_timer)):  # tests substitute a timer
            app.sampler = sampler
        else:
            log.warning("no timer: the pilot is sampled by the control loop only")
    return tasks


async def first_meter_reads(app, ms=_METER_FIRST_READ_MS):
    """Wait until every meter task has finished its first read (or `ms` have passed)."""
    t0 = app.clock.now()
    while any(e.meter_task and e.reading is None and e.meter_fault is None for e in app.evses):
        if app.clock.now() - t0 >= ms:
            log.warning("meter: no first reading after %d ms", ms)
            return False
        await app.clock.sleep_ms(10)
    return True
