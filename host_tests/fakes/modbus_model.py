# Modbus RTU slaves on the fake UART: an RS485 bus that delivers a request only
# while the DE line drives it, slaves that answer function 0x03/0x04 reads with
# a correct CRC, and meter register maps (Eastron SDM120/SDM630, ABB B23). Fault
# switches: silent (timeout), corrupt CRC, exception code. No driver logic here.
import struct

import machine


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(body):
    c = crc16(body)
    return bytes(body) + bytes([c & 0xFF, c >> 8])


class Rs485Bus:
    """UART `uart_id` wired to a transceiver whose DE pin is `de_pin` (None: always driving)."""

    def __init__(self, uart_id=2, de_pin=None):
        self.de_pin = de_pin
        self.slaves = {}
        self.requests = []     # every frame that reached the bus
        self.lost = []         # frames written while DE was low (never left the chip)
        self._pending = b""
        self.line = []         # ("de", level) / ("tx", frame) / ("flush", de level) in order
        machine.attach_uart(uart_id, self)
        if de_pin is not None:
            machine.watch(de_pin, lambda v: self._log(("de", v)))

    def add(self, slave):
        self.slaves[slave.address] = slave
        return slave

    def _log(self, event):
        if machine.HISTORY:  # a long bench run keeps no line log
            self.line.append(event)

    def uart_flush(self):
        self._log(("flush", None if self.de_pin is None else machine.level(self.de_pin)))

    def uart_tx(self, data, uart):
        self._log(("tx", bytes(data)))
        if self.de_pin is not None and machine.level(self.de_pin) != 1:
            self.lost.append(data)
            return
        if machine.HISTORY:
            self.requests.append(data)
        if len(data) < 4 or crc16(data[:-2]) != data[-2] | (data[-1] << 8):
            return  # a garbled request: slaves stay silent
        slave = self.slaves.get(data[0])
        if slave is not None:
            self._pending += slave.answer(data[:-2])

    def uart_rx(self):
        out, self._pending = self._pending, b""
        return out


class ModbusSlave:
    """Holds 16-bit registers per function (3 holding, 4 input)."""

    def __init__(self, address=1):
        self.address = address
        self.regs = {3: {}, 4: {}}
        self.silent = 0          # the next N requests get no answer
        self.bad_crc = 0         # the next N answers carry a wrong CRC
        self.exception = None    # answer every request with this exception code
        self.answered = 0

    def set_words(self, func, reg, words):
        for i, w in enumerate(words):
            self.regs[func][reg + i] = w & 0xFFFF

    def set_float(self, func, reg, value):
        b = struct.pack(">f", value)
        self.set_words(func, reg, [(b[0] << 8) | b[1], (b[2] << 8) | b[3]])

    def set_uint(self, func, reg, value, words):
        value &= (1 << (16 * words)) - 1
        self.set_words(func, reg, [(value >> (16 * (words - 1 - i))) & 0xFFFF for i in range(words)])

    def answer(self, req):
        if self.silent > 0:
            self.silent -= 1
            return b""
        func = req[1]
        if self.exception is not None:
            out = frame(bytes([self.address, func | 0x80, self.exception]))
        elif func not in (3, 4) or len(req) != 6:
            out = frame(bytes([self.address, func | 0x80, 1]))  # illegal function
        else:
            reg = (req[2] << 8) | req[3]
            count = (req[4] << 8) | req[5]
            regs = self.regs[func]
            if not 1 <= count <= 125 or any((reg + i) not in regs for i in range(count)):
                out = frame(bytes([self.address, func | 0x80, 2]))  # illegal data address
            else:
                data = bytearray([self.address, func, 2 * count])
                for i in range(count):
                    w = regs[reg + i]
                    data.append(w >> 8)
                    data.append(w & 0xFF)
                out = frame(data)
        if self.bad_crc > 0:
            self.bad_crc -= 1
            out = out[:-1] + bytes([out[-1] ^ 0xFF])
        self.answered += 1
        return out


class Sdm120Model(ModbusSlave):
    """Eastron SDM120: input registers, float32 (hardware.md)."""

    def __init__(self, address=1, voltage=230.0, current=0.0, power=0.0, import_kwh=0.0):
        ModbusSlave.__init__(self, address)
        for r in range(0, 0x50, 2):
            self.set_float(4, r, 0.0)
        self.set_reading(voltage, current, power, import_kwh)

    def set_reading(self, voltage, current, power, import_kwh, export_kwh=0.0):
        self.set_float(4, 0x0000, voltage)
        self.set_float(4, 0x0006, current)
        self.set_float(4, 0x000C, power)
        self.set_float(4, 0x0048, import_kwh)
        self.set_float(4, 0x004A, export_kwh)
        self.set_float(4, 0x0156, import_kwh + export_kwh)


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
        self.set_words(3, 0x5B00, [0] * 0x18)
        self.set_reading(voltages, currents, power, import_kwh)

    def set_reading(self, voltages, currents, power, import_kwh):
        for i in range(3):
            self.set_uint(3, 0x5B00 + 2 * i, int(round(voltages[i] * 10)), 2)
            self.set_uint(3, 0x5B0C + 2 * i, int(round(currents[i] * 100)), 2)
        self.set_uint(3, 0x5B14, int(round(power * 100)), 2)  # s32: two's complement
        self.set_uint(3, 0x5000, int(round(import_kwh * 100)), 4)
