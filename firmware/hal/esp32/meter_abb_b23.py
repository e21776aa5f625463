# ABB B23 register map (holding registers, scaled integers) on the common meter part of
# meters.py. Imported only by a board whose meter model is "abb_b23".
from hal.esp32.meters import ModbusMeter


def u32(data, i):
    return (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]


def s32(data, i):
    v = u32(data, i)
    return v - (1 << 32) if v & 0x80000000 else v


def u64(data, i):
    return (u32(data, i) << 32) | u32(data, i + 4)


class AbbB23(ModbusMeter):
    """ABB B23, holding registers with scaled integers (0.1 V, 0.01 A, 0.01 W, 0.01 kWh)."""

    phases = 3

    def _read(self):
        d = yield from self.bus.registers(self.address, 3, 0x5B00, 0x16)  # 0x5B00 voltages .. 0x5B14 total power (s32)
        e = yield from self.bus.registers(self.address, 3, 0x5000, 4)     # import active energy, u64
        n = self.phases
        return {"energy_wh": u64(e, 0) * 10.0, "power_w": s32(d, 0x14 * 2) / 100.0,
                "current_a": [u32(d, 0x0C * 2 + 4 * i) / 100.0 for i in range(n)],
                "voltage_v": [u32(d, 4 * i) / 10.0 for i in range(n)]}
