# Modbus RTU master on a UART with an RS485 transceiver: frames with CRC-16/MODBUS,
# inter-frame silence, DE pin timing, response timeout, retries, exception replies.
# It reads registers only; what they mean is meters.py's business. The protocol is
# one generator that yields the milliseconds it wants to wait: run() sleeps them
# (blocking), run_async() awaits them so the control loop keeps running.
import compat
from compat import const
from hal import on_demand

_MAX_FRAME = const(256)       # Modbus RTU frame limit (bytes)
_MAX_REGISTERS = const(125)   # registers per read request (Modbus application protocol)
RESPONSE_TIMEOUT_MS = 100  # slave latency allowed on top of the reply's own transmission time
_RETRIES = const(2)           # extra attempts after a timeout, CRC error or garbled reply
_RETRY_EXCEPTIONS = const((5, 6))  # ACKNOWLEDGE, SLAVE DEVICE BUSY: worth asking again


class ModbusError(Exception):
    """A failed attempt. `stat`, the ModbusRtu.stats counter it adds to, says which kind:
    "timeouts" (no complete reply in time), "crc" (a reply that fails its CRC or does not
    answer the request: address, function, length), "exceptions" (the slave answered with an
    exception response; `code` is its exception code). One class, not one per kind: ~230 B each."""


def _error(stat, text, code=None):
    e = ModbusError(text)
    e.stat = stat
    e.code = code
    return e


def crc16(data):
    """CRC-16/MODBUS (init 0xFFFF, reflected polynomial 0xA001)."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


def request(addr, func, reg, count):
    """The 8-byte read request frame, CRC low byte first."""
    body = bytes((addr, func, reg >> 8, reg & 0xFF, count >> 8, count & 0xFF))
    c = crc16(body)
    return body + bytes((c & 0xFF, c >> 8))


def char_us(baud, bits_per_char=11):
    """Time of one character on the line (start + 8 data + parity or 2nd stop + stop)."""
    return (bits_per_char * 1000000 + baud - 1) // baud


def run(gen):
    """Drive a protocol generator to its result, sleeping the waits it yields (blocking)."""
    try:
        while True:
            compat.sleep_ms(next(gen))
    except StopIteration as e:
        return e.value


async def run_async(gen):
    """Drive a protocol generator from asyncio: the waits yield to other tasks."""
    import asyncio
    try:
        while True:
            await asyncio.sleep(next(gen) / 1000)
    except StopIteration as e:
        return e.value


class ModbusRtu:
    def __init__(self, uart, de_pin=None, baud=9600, timeout_ms=RESPONSE_TIMEOUT_MS,
                 retries=_RETRIES):
        # The DE line and the bus timing (silence, character time): hal/esp32/setup.py, for the call.
        on_demand("PowerMeterFailure", "hal.esp32.setup", "modbus", self, uart, de_pin, baud,
                  timeout_ms, retries)

    def registers(self, addr, func, reg, count):
        """Generator: function 3 (holding) or 4 (input) read of `count` registers; yields
        milliseconds to wait, returns 2*count big-endian bytes. Use with run()/run_async()
        or `yield from` in another protocol generator. Each attempt sends the request, then
        receives the reply (one generator, not three: ~100 B each)."""
        # Functions 3/4 only, slave 1..247, 1..125 registers inside the 16-bit address space.
        if func not in (3, 4) or not 1 <= addr <= 247 or not 1 <= count <= _MAX_REGISTERS or not 0 <= reg <= 0xFFFF:
            raise ValueError("modbus: bad read: slave %r, function %r, %r registers at %r" % (addr, func, count, reg))
        frame = request(addr, func, reg, count)
        n_expected = 5 + 2 * count
        uart = self.uart
        ch_us = char_us(self.baud)
        attempt = 0
        while True:
            self.stats["requests"] += 1
            try:
                # Send: after the inter-frame silence, DE high while the frame goes out.
                wait = self.silence_ms - compat.ticks_diff(compat.ticks_ms(), self._idle_since)
                if wait > 0:
                    yield wait
                while uart.any():  # drop a late reply to an earlier request
                    uart.read()
                if self.de is not None:
                    self.de.value(1)
                uart.write(frame)
                # Let the frame go out without holding the CPU (floor: flush() waits the rest),
                # then flush() returns once the FIFO is empty; the last char is still shifting out.
                tx_ms = len(frame) * ch_us // 1000
                if tx_ms:
                    yield tx_ms
                uart.flush()
                if self.de is not None:
                    compat.sleep_ms(self.char_ms)  # too short to yield: the slave answers after 3.5 chars
                    self.de.value(0)
                # Receive: the reply needs its own transmission time (11 bits per byte) plus
                # the slave's latency.
                buf = b""
                start = compat.ticks_ms()
                limit = self.timeout_ms + (n_expected * ch_us + 999) // 1000
                while True:
                    n = uart.any()
                    if n:
                        buf += uart.read(n)
                        if len(buf) >= 5 and buf[1] == func | 0x80:
                            break  # an exception reply is 5 bytes
                        if len(buf) >= n_expected or len(buf) > _MAX_FRAME:
                            break
                    elif compat.ticks_diff(compat.ticks_ms(), start) > limit:
                        self._idle_since = compat.ticks_ms()
                        raise _error("timeouts", "modbus: slave %d: no complete reply within %d ms (%d bytes)"
                                     % (addr, limit, len(buf)))
                    else:
                        yield 1
                self._idle_since = compat.ticks_ms()
                # The reply: an exception (5 bytes) or the data; its CRC, then that it answers the request.
                exc = buf[1] == func | 0x80
                rep = buf[:5] if exc else buf[:n_expected]
                if len(rep) < 5 or crc16(rep[:-2]) != rep[-2] | (rep[-1] << 8):
                    raise _error("crc", "modbus: slave %d: CRC mismatch in reply" % addr)
                if rep[0] != addr or not exc and (rep[1] != func or rep[2] != 2 * count):
                    raise _error("crc", "modbus: slave %d: reply of slave %d, function %d, %d data bytes; expected"
                                 " function %d, %d bytes" % (addr, rep[0], rep[1], rep[2], func, 2 * count))
                if exc:
                    raise _error("exceptions", "modbus: slave %d: exception %d for function %d"
                                 % (addr, rep[2], func), rep[2])
                return rep[3:-2]
            except ModbusError as e:
                self.stats[e.stat] += 1
                # An exception reply is definite (not asked again) unless the slave is busy.
                if attempt >= self.retries or e.stat == "exceptions" and e.code not in _RETRY_EXCEPTIONS:
                    raise
            attempt += 1
            self.stats["retries"] += 1

    def read_registers(self, addr, func, reg, count):
        """Blocking form of registers()."""
        return run(self.registers(addr, func, reg, count))
