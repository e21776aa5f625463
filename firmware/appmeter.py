# The meter task of a real-time clock (a device): reads one connector's meter for ever. Loaded by
# apphw.py (the hardware tasks' set-up) on such a board only and resident there while the tasks
# run; a simulated clock polls the meters in the control loop: the sim session never loads it.
from compat import const
import asyncio

import log
from hal import HalError

# Pause between two meter reads in the meter task (a read itself takes 130-400 ms).
_METER_PERIOD_MS = const(1000)


async def meter_loop(app, evse):
    """Reads one connector's meter for ever; evse uses the latest reading."""
    meter = evse.meter
    read_async = getattr(meter, "read_async", None)
    while True:
        try:
            if read_async is not None:
                r = await read_async()
            else:
                r = meter.read()
            evse.meter_read(r, app.clock.now())
        except HalError as e:
            evse.meter_failed(e.code, app.clock.now())
        except Exception as e:  # a driver bug is a meter failure, not a dead task
            log.error("meter on connector %d: %r", evse.id, e)
            evse.meter_failed(None, app.clock.now())
        await asyncio.sleep(_METER_PERIOD_MS / 1000)
