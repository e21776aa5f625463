# A fake `machine` module for host tests, on CPython and on the micropython
# unix port: GPIO levels, PWM, ADC, SPI, UART, WDT and Timer with the ESP32
# signatures and the constants the drivers use. Buses route bytes to device
# models attached by bus id; it holds no device behaviour itself (that lives in
# the *_model modules next to it). A model on a UART is the other end of the
# wire: it has write(data) (what the chip sent), read() (what it answers, b""
# for nothing) and optionally flush(); one on SPI has spi_byte(mosi) -> miso.
# The bench runs this module in the firmware's heap, where a device has C and
# flash: so it is lean (few names, each one interned), and what no driver of a
# board uses (SoftSPI, freq, reset_cause, idle) is in machine_rare, loaded on
# first use.

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# The chip's state and what is wired to it, in one dict (one interned name): ADC pin n ->
# object with read_uv(); _WATCH + pin n -> [callable(level)] (chip-select lines, DE lines);
# _SPI + bus id -> [(cs pin number, device model)]; _UART + uart id -> device model;
# _LEVEL + pin n -> the simulated GPIO level, shared by every Pin object of that number (two
# Pin(5) objects are the same wire, as on the chip); _PWM + pin n -> the PWM driving it.
_devices = {}
_WATCH = const(1000)
_SPI = const(2000)
_UART = const(3000)
_LEVEL = const(4000)
_PWM = const(5000)
wdts = []           # every WDT created (a real WDT cannot be stopped or re-created)
resets = []         # "hard"/"soft" for every reset the code asked for
HISTORY = True      # the bus models keep their test-helper logs (frames, requests); a long
                    # bench run sets False


def reset_fakes():
    """Forget every pin, bus and device (call at the start of each test)."""
    _devices.clear()
    del wdts[:]
    del resets[:]


def __getattr__(name):  # the rarely used rest of the module (not by the drivers of a board)
    if name[0] == "_":  # __path__ and the like: the import machinery asking
        raise AttributeError(name)
    return getattr(__import__(__name__ + "_rare"), name)


def level(pin):
    """The level on a GPIO (test helper)."""
    return _devices.get(_LEVEL + getattr(pin, "id", pin), 0)


def drive(pin, value):
    """Set the level of a GPIO: from outside the chip (a feedback contact, a button)
    or from inside (Pin.value); the watchers see every change."""
    n = getattr(pin, "id", pin)
    value = 1 if value else 0
    old = _devices.get(_LEVEL + n)
    _devices[_LEVEL + n] = value
    if old != value:
        for fn in _devices.get(_WATCH + n, ()):
            fn(value)


def watch(pin, fn):
    """Call fn(level) whenever the chip changes the level of this GPIO."""
    _devices.setdefault(_WATCH + getattr(pin, "id", pin), []).append(fn)


def pwm_on(pin):
    """The PWM object driving this pin, or None (test helper)."""
    return _devices.get(_PWM + getattr(pin, "id", pin))


def attach_adc(pin, device):
    """Route ADC reads of this pin to device.read_uv()."""
    _devices[getattr(pin, "id", pin)] = device


def attach_spi(spi_id, device, cs):
    """Put a device model on SPI bus `spi_id`, selected by GPIO `cs` (active low)."""
    _devices.setdefault(_SPI + spi_id, []).append((getattr(cs, "id", cs), device))


def attach_uart(uart_id, device):
    """Connect a device model to the RX/TX lines of UART `uart_id`."""
    _devices[_UART + uart_id] = device


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        if not isinstance(id, int):
            raise TypeError("fake Pin: id must be an int GPIO number")
        self.id = id
        self.mode = mode
        if _LEVEL + id not in _devices:
            _devices[_LEVEL + id] = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            drive(id, value)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if value is not None:
            drive(self.id, value)

    def value(self, v=None):
        if v is None:
            return _devices.get(_LEVEL + self.id, 0)
        drive(self.id, v)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        drive(self.id, 1)

    def off(self):
        drive(self.id, 0)

    def __repr__(self):
        return "fake Pin(%d)" % self.id


class PWM:
    def __init__(self, dest, freq=5000, duty_u16=32768):
        self.pin = dest if isinstance(dest, Pin) else Pin(dest)
        self.init(freq, duty_u16)
        _devices[_PWM + self.pin.id] = self

    def init(self, freq=None, duty_u16=None):
        if freq is not None:
            if not 1 <= freq <= 40000000:
                raise ValueError("frequency out of range")
            self.f = freq  # Hz
        if duty_u16 is not None:
            if not 0 <= duty_u16 <= 65535:
                raise ValueError("duty_u16 must be 0..65535")
            self.duty = duty_u16

    def freq(self, f=None):
        if f is None:
            return self.f
        self.init(f)

    def duty_u16(self, d=None):
        if d is None:
            return self.duty
        self.init(None, d)

    def deinit(self):
        if _devices.get(_PWM + self.pin.id) is self:
            del _devices[_PWM + self.pin.id]


class ADC:
    ATTN_11DB = 3  # read_uv() saturates near 3.1 V (the fake reads as at this attenuation)

    def __init__(self, pin, atten=None):
        # ESP32 style ADC(Pin(n)): 0..3.1 V; an int id is the ESP8266 style ADC(0): 0..1.0 V.
        self.limit = 3100000 if isinstance(pin, Pin) else 1000000  # the highest read_uv()
        self.pin = getattr(pin, "id", pin)

    def atten(self, a):
        pass

    def read_uv(self):
        src = _devices.get(self.pin)
        if src is None:
            return 0
        uv = int(src.read_uv())
        return 0 if uv < 0 else (self.limit if uv > self.limit else uv)

    def read_u16(self):
        return self.read_uv() * 65535 // self.limit


class SPI:
    def __init__(self, id, baudrate=1000000, polarity=0, phase=0, bits=8, sck=None, mosi=None, miso=None,
                 **kw):  # kw: firstbit and the rest, accepted, not modelled
        if not isinstance(id, int):
            raise TypeError("fake SPI: pass a bus id")
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.transferred = 0  # bytes clocked (test helper)

    def init(self, baudrate=1000000, **kw):
        self.baudrate = baudrate

    def deinit(self):
        pass

    def write_readinto(self, out, buf):
        """Clocks `out` out and what MISO reads into `buf`: the device whose chip select is
        low answers; with none, MISO idles high."""
        dev = None
        for cs, d in _devices.get(_SPI + self.id, ()):
            if _devices.get(_LEVEL + cs, 1) == 0:
                dev = d
        self.transferred += len(out)
        for i in range(len(out)):
            buf[i] = 0xFF if dev is None else dev.spi_byte(out[i]) & 0xFF

    def write(self, buf):
        self.write_readinto(buf, bytearray(len(buf)))

    def readinto(self, buf, write=0x00):
        self.write_readinto(bytes([write]) * len(buf), buf)

    def read(self, n, write=0x00):
        buf = bytearray(n)
        self.readinto(buf, write)
        return bytes(buf)


class UART:
    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, tx=None, rx=None,
                 timeout=0, timeout_char=0, rxbuf=256):
        self.id = id
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop
        self.timeout = timeout
        self.rxbuf = rxbuf
        self._buf = bytearray()  # received, not read yet
        self.flushes = 0

    def init(self, baudrate=115200, **kw):
        self.baudrate = baudrate

    def any(self):
        dev = _devices.get(_UART + self.id)
        if dev is not None:
            data = dev.read()
            if data:
                self._buf.extend(data)
                if len(self._buf) > self.rxbuf:  # the ring buffer overflows: oldest bytes lost
                    self._buf = self._buf[-self.rxbuf:]
        return len(self._buf)

    def write(self, buf):
        buf = bytes(buf)
        dev = _devices.get(_UART + self.id)
        if dev is not None:
            dev.write(buf)
        return len(buf)

    def flush(self):
        self.flushes += 1
        dev = _devices.get(_UART + self.id)
        if dev is not None and hasattr(dev, "flush"):
            dev.flush()

    def read(self, n=None):
        if not self.any():
            return None
        b = self._buf
        if n is None or n >= len(b):
            n = len(b)
        self._buf = b[n:]
        return bytes(b[:n])

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)

    def deinit(self):
        pass


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        wdts.append(self)

    def feed(self):
        self.feeds += 1


class Timer:
    """Holds its callback; nothing fires it (the firmware's loop must not depend on it)."""
    PERIODIC = 1

    def __init__(self, id=-1, mode=1, period=-1, callback=None, freq=None):
        self.id = id
        self.init(mode=mode, period=period, callback=callback)

    def init(self, mode=1, period=-1, callback=None, freq=None):
        self.mode = mode
        self.period = period
        self.callback = callback

    def deinit(self):
        self.callback = None


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def reset():
    resets.append("hard")


def soft_reset():
    resets.append("soft")
