# The meter register maps of modbus_model that the bench's esp32-devkitc session does not
# use (its SDM120 is in modbus_model): Eastron SDM630 and ABB B23. modbus_model loads this
# module on first use (`from modbus_model import Sdm630Model` works as before).
from modbus_model import ModbusSlave


class Sdm630Model(ModbusSlave):
    """Eastron SDM630: three phases, total power at 0x0034."""

    def __init__(self, address=1, voltages=(230.0, 231.0, 229.0), currents=(0.0, 0.0, 0.0),
                 power=0.0, import_kwh=0.0):
        ModbusSlave.__init__(self, address)
        for r in range(0, 0x50, 2):
            self.set_float(4, r, 0.0)
        self.set_reading(voltages, currents, power, import_kwh)

    def set_reading(self, voltages, currents, power, import_kwh):
        for i in range(3):
            self.set_float(4, 0x0000 + 2 * i, voltages[i])
            self.set_float(4, 0x0006 + 2 * i, currents[i])
        self.set_float(4, 0x0034, power)
        self.set_float(4, 0x0048, import_kwh)
        self.set_float(4, 0x0156, import_kwh)


class AbbB23Model(ModbusSlave):
    """ABB B23: holding registers, scaled integers (0.1 V, 0.01 A, 0.01 W, 0.01 kWh)."""

    def __init__(self, address=1, voltages=(230.0, 230.0, 230.0), currents=(0.0, 0.0, 0.0),
                 power=0.0, import_kwh=0.0):
        ModbusSlave.__init__(self, address)
        self.set_uint(0x5B00, 0, 0x18)
        self.set_reading(voltages, currents, power, import_kwh)

    def set_uint(self, reg, value, words):
        """An unsigned integer over `words` holding registers, high word first (a negative
        value: its two's complement)."""
        value &= (1 << (16 * words)) - 1
        for i in range(words):
            self.regs[3][reg + i] = (value >> (16 * (words - 1 - i))) & 0xFFFF

    def set_reading(self, voltages, currents, power, import_kwh):
        for i in range(3):
            self.set_uint(0x5B00 + 2 * i, int(round(voltages[i] * 10)), 2)
            self.set_uint(0x5B0C + 2 * i, int(round(currents[i] * 100)), 2)
        self.set_uint(0x5B14, int(round(power * 100)), 2)  # s32: two's complement
        self.set_uint(0x5000, int(round(import_kwh * 100)), 4)
