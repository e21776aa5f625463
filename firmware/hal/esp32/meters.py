# Energy meter register maps (Eastron SDM120/SDM630, ABB B23) over ModbusRtu,
# producing the HAL Meter read() dict (blocking) or read_async() (awaits the bus).
# A meter that cannot be read raises HalError("PowerMeterFailure"); it never
# reports zeros in place of a reading.
import struct

from hal import HalError
from hal.esp32.modbus import ModbusError, run, run_async

POWER_METER_FAILURE = "PowerMeterFailure"


def f32(data, i):
    return struct.unpack(">f", data[i:i + 4])[0]


def u32(data, i):
    return (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]


def s32(data, i):
    v = u32(data, i)
    return v - (1 << 32) if v & 0x80000000 else v


def u64(data, i):
    return (u32(data, i) << 32) | u32(data, i + 4)


class ModbusMeter:
    """Common part: one read() = a few register blocks, all or nothing."""

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
        return self._good(r)

    async def read_async(self):
        """Same reading, awaiting the bus so other asyncio tasks run meanwhile."""
        try:
            r = await run_async(self._read())
        except ModbusError as e:
            raise self._failed(e)
        return self._good(r)

    def _good(self, r):
        self.failures = 0
        self.last = r
        return r

    def _failed(self, e):
        self.failures += 1
        return HalError(POWER_METER_FAILURE, "%s at address %d: %s" % (type(self).__name__, self.address, e))

    def _block(self, func, reg, count):
        return self.bus.registers(self.address, func, reg, count)  # a generator: `yield from` it


class Sdm120(ModbusMeter):
    """Eastron SDM120, single phase, float32 input registers."""

    def _read(self):
        d = yield from self._block(4, 0x0000, 14)   # 0x0000 voltage .. 0x000C power
        e = yield from self._block(4, 0x0048, 2)    # import active energy, kWh
        return {"energy_wh": f32(e, 0) * 1000.0, "power_w": f32(d, 0x0C * 2),
                "current_a": [f32(d, 0x06 * 2)], "voltage_v": [f32(d, 0)]}


class Sdm630(ModbusMeter):
    """Eastron SDM630, three phases, float32 input registers."""

    phases = 3

    def _read(self):
        d = yield from self._block(4, 0x0000, 12)   # voltage L1-L3, current L1-L3
        p = yield from self._block(4, 0x0034, 2)    # total system power, W
        e = yield from self._block(4, 0x0048, 2)    # import active energy, kWh
        n = self.phases
        return {"energy_wh": f32(e, 0) * 1000.0, "power_w": f32(p, 0),
                "current_a": [f32(d, 12 + 4 * i) for i in range(n)],
                "voltage_v": [f32(d, 4 * i) for i in range(n)]}


class AbbB23(ModbusMeter):
    """ABB B23, holding registers with scaled integers (0.1 V, 0.01 A, 0.01 W, 0.01 kWh)."""

    phases = 3

    def _read(self):
        d = yield from self._block(3, 0x5B00, 0x16)  # 0x5B00 voltages .. 0x5B14 total power (s32)
        e = yield from self._block(3, 0x5000, 4)     # import active energy, u64
        n = self.phases
        return {"energy_wh": u64(e, 0) * 10.0, "power_w": s32(d, 0x14 * 2) / 100.0,
                "current_a": [u32(d, 0x0C * 2 + 4 * i) / 100.0 for i in range(n)],
                "voltage_v": [u32(d, 4 * i) / 10.0 for i in range(n)]}


MODELS = {"sdm120": Sdm120, "sdm630": Sdm630, "abb_b23": AbbB23}
