# Modbus RTU slaves on the fake UART: an RS485 bus that delivers a request only
# while the DE line drives it, slaves that answer function 0x03/0x04 reads with
# a correct CRC, and meter register maps (Eastron SDM120 here; SDM630 and ABB B23
# in modbus_meters, loaded on first use: the bench's session needs only the
# SDM120). Fault switches: silent (timeout), corrupt CRC, exception code. No
# driver logic here.
import struct

import machine


def __getattr__(name):  # Sdm630Model, AbbB23Model: modbus_meters
    if name[0] == "_":  # __path__ and the like: the import machinery asking
        raise AttributeError(name)
    return getattr(__import__("modbus_meters"), name)


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(data):
    c = crc16(data)
    return bytes(data) + bytes([c & 0xFF, c >> 8])


class Rs485Bus:
    """UART `uart_id` wired to a transceiver whose DE pin is `de_pin` (None: always driving).
    The other end of the UART's wire (machine: write, read, flush)."""

    def __init__(self, uart_id=2, de_pin=None):
        self.de_pin = de_pin
        self.slaves = {}
        self.requests = []     # every frame that reached the bus
        self.lost = []         # frames written while DE was low (never left the chip)
        self.pending = b""     # the answers not read yet
        self.line = []         # ("de", level) / ("tx", frame) / ("flush", de level) in order
        machine.attach_uart(uart_id, self)
        if de_pin is not None:
            machine.watch(de_pin, lambda v: self.log(("de", v)))

    def add(self, model):
        self.slaves[model.address] = model
        return model

    def log(self, event):
        if machine.HISTORY:  # a long bench run keeps no line log
            self.line.append(event)

    def flush(self):
        self.log(("flush", None if self.de_pin is None else machine.level(self.de_pin)))

    def write(self, data):
        self.log(("tx", bytes(data)))
        if self.de_pin is not None and machine.level(self.de_pin) != 1:
            self.lost.append(data)
            return
        if machine.HISTORY:
            self.requests.append(data)
        if len(data) < 4 or crc16(data[:-2]) != data[-2] | (data[-1] << 8):
            return  # a garbled request: slaves stay silent
        slave = self.slaves.get(data[0])
        if slave is not None:
            self.pending += slave.answer(data[:-2])

    def read(self):
        out, self.pending = self.pending, b""
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

    def set_float(self, func, reg, value):
        """A float32 over two registers, high word first."""
        b = struct.pack(">f", value)
        regs = self.regs[func]
        regs[reg] = (b[0] << 8) | b[1]
        regs[reg + 1] = (b[2] << 8) | b[3]

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
        for reg, v in ((0x0000, voltage), (0x0006, current), (0x000C, power), (0x0048, import_kwh),
                       (0x004A, export_kwh), (0x0156, import_kwh + export_kwh)):
            self.set_float(4, reg, v)
