# Energy meters over ModbusRtu: the common part (one read() = a few register blocks, all
# or nothing, producing the HAL Meter dict, blocking or awaiting the bus) with the Eastron
# SDM120 map, one class. SDM630 and ABB B23 maps: meter_sdm630.py, meter_abb_b23.py (only the model a
# board uses is imported). A meter that cannot be read raises HalError("PowerMeterFailure");
# it never reports zeros in place of a reading.
import struct

from compat import const
from hal import HalError
from hal.esp32.modbus import ModbusError, run, run_async

_POWER_METER_FAILURE = const("PowerMeterFailure")


def f32(data, i):
    return struct.unpack(">f", data[i:i + 4])[0]


class Sdm120:
    """Eastron SDM120, single phase, float32 input registers; and the common part of every
    Modbus meter (ModbusMeter below, the base of the other maps): one read() = a few register
    blocks, all or nothing. One class for both: a class costs ~230 B."""

    phases = 1

    def __init__(self, bus, address=1, phases=None):
        self.bus = bus
        self.address = address
        if phases is not None:
            self.phases = phases
        self.last = None       # the last good reading (dict), kept across failures
        self.failures = 0      # consecutive failed reads

    def read(self):
        """The HAL Meter read(): blocks for the bus transactions (see README for times)."""
        try:
            r = run(self._read())
        except ModbusError as e:
            raise self._failed(e)
        self.failures = 0
        self.last = r
        return r

    async def read_async(self):
        """Same reading, awaiting the bus so other asyncio tasks run meanwhile."""
        try:
            r = await run_async(self._read())
        except ModbusError as e:
            raise self._failed(e)
        self.failures = 0
        self.last = r
        return r

    def _failed(self, e):
        self.failures += 1
        return HalError(_POWER_METER_FAILURE, "%s at address %d: %s" % (type(self).__name__, self.address, e))

    def _read(self):  # the SDM120 map (the other models' classes have their own)
        d = yield from self.bus.registers(self.address, 4, 0x0000, 14)   # 0x0000 voltage .. 0x000C power
        e = yield from self.bus.registers(self.address, 4, 0x0048, 2)    # import active energy, kWh
        return {"energy_wh": f32(e, 0) * 1000.0, "power_w": f32(d, 0x0C * 2),
                "current_a": [f32(d, 0x06 * 2)], "voltage_v": [f32(d, 0)]}


ModbusMeter = Sdm120  # the common part, as the other models' maps name it
