# Eastron SDM630 register map (three phases, float32 input registers) on the common
# meter part of meters.py. Imported only by a board whose meter model is "sdm630".
from hal.esp32.meters import ModbusMeter, f32


class Sdm630(ModbusMeter):
    """Eastron SDM630, three phases, float32 input registers."""

    phases = 3

    def _read(self):
        d = yield from self.bus.registers(self.address, 4, 0x0000, 12)   # voltage L1-L3, current L1-L3
        p = yield from self.bus.registers(self.address, 4, 0x0034, 2)    # total system power, W
        e = yield from self.bus.registers(self.address, 4, 0x0048, 2)    # import active energy, kWh
        n = self.phases
        return {"energy_wh": f32(e, 0) * 1000.0, "power_w": f32(p, 0),
                "current_a": [f32(d, 12 + 4 * i) for i in range(n)],
                "voltage_v": [f32(d, 4 * i) for i in range(n)]}
