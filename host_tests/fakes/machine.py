# A fake `machine` module for host tests, on CPython and on the micropython
# unix port: GPIO levels, PWM, ADC, SPI, UART, WDT and Timer with the ESP32
# signatures. Buses route bytes to device models attached by bus id; it holds
# no device behaviour itself (that lives in the *_model modules next to it).

# Simulated GPIO levels by pin number, shared by every Pin object of that number
# (two Pin(5) objects are the same wire, as on the chip).
_levels = {}
_watchers = {}      # pin number -> [callable(level)] (chip-select lines, DE lines)
_pwms = {}          # pin number -> the PWM driving it
_adc_sources = {}   # pin number -> object with read_uv()
_spi_devices = {}   # spi id -> [(cs pin number, device model)]
_uart_devices = {}  # uart id -> device model
wdts = []           # every WDT created (a real WDT cannot be stopped or re-created)
resets = []         # "hard"/"soft" for every reset the code asked for
HISTORY = True      # keep the test-helper logs (PWM.history, UART.written, the bus models' frames);
                    # a long bench run sets False


def reset_fakes():
    """Forget every pin, bus and device (call at the start of each test)."""
    _levels.clear()
    _watchers.clear()
    _pwms.clear()
    _adc_sources.clear()
    _spi_devices.clear()
    _uart_devices.clear()
    del wdts[:]
    del resets[:]


def _pin_id(pin):
    return pin.id if isinstance(pin, Pin) else pin


def level(pin):
    """The level on a GPIO (test helper)."""
    return _levels.get(_pin_id(pin), 0)


def drive(pin, value):
    """Drive a GPIO from outside the chip (a feedback contact, a button)."""
    _set_level(_pin_id(pin), 1 if value else 0)


def watch(pin, fn):
    """Call fn(level) whenever the chip changes the level of this GPIO."""
    _watchers.setdefault(_pin_id(pin), []).append(fn)


def pwm_on(pin):
    """The PWM object driving this pin, or None (test helper)."""
    return _pwms.get(_pin_id(pin))


def attach_adc(pin, source):
    """Route ADC reads of this pin to source.read_uv()."""
    _adc_sources[_pin_id(pin)] = source


def attach_spi(spi_id, device, cs):
    """Put a device model on SPI bus `spi_id`, selected by GPIO `cs` (active low)."""
    _spi_devices.setdefault(spi_id, []).append((_pin_id(cs), device))


def attach_uart(uart_id, device):
    """Connect a device model to the RX/TX lines of UART `uart_id`."""
    _uart_devices[uart_id] = device


def _set_level(n, v):
    old = _levels.get(n)
    _levels[n] = v
    if old != v:
        for fn in _watchers.get(n, ()):
            fn(v)


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        if not isinstance(id, int):
            raise TypeError("fake Pin: id must be an int GPIO number")
        self.id = id
        self.mode = mode
        self.pull = pull
        if id not in _levels:
            _levels[id] = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            _set_level(id, 1 if value else 0)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if value is not None:
            _set_level(self.id, 1 if value else 0)

    def value(self, v=None):
        if v is None:
            return _levels.get(self.id, 0)
        _set_level(self.id, 1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        _set_level(self.id, 1)

    def off(self):
        _set_level(self.id, 0)

    def __repr__(self):
        return "Pin(%d)" % self.id


class PWM:
    def __init__(self, dest, freq=None, duty_u16=None, duty_ns=None):
        self.pin = dest if isinstance(dest, Pin) else Pin(dest)
        self._freq = 5000 if freq is None else freq
        self._duty = 32768 if duty_u16 is None else duty_u16
        self.history = []  # every (freq, duty_u16) the driver set, in order (when HISTORY)
        self._log()
        _pwms[self.pin.id] = self

    def freq(self, f=None):
        if f is None:
            return self._freq
        if not 1 <= f <= 40000000:
            raise ValueError("frequency out of range")
        self._freq = f
        self._log()

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 must be 0..65535")
        self._duty = d
        self._log()

    def _log(self):
        if HISTORY:
            self.history.append((self._freq, self._duty))

    def deinit(self):
        if _pwms.get(self.pin.id) is self:
            del _pwms[self.pin.id]


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3
    ESP32_TOP_UV = 3100000    # ATTN_11DB: read_uv() saturates near 3.1 V
    ESP8266_TOP_UV = 1000000  # ESP8266 ADC(0): 0..1.0 V

    def __init__(self, pin, atten=None):
        # ESP32 style ADC(Pin(n)); an int id is the ESP8266 style ADC(0).
        self.top_uv = ADC.ESP32_TOP_UV if isinstance(pin, Pin) else ADC.ESP8266_TOP_UV
        self.pin = _pin_id(pin)
        self._atten = atten
        self.reads = 0

    def atten(self, a):
        self._atten = a

    def read_uv(self):
        src = _adc_sources.get(self.pin)
        self.reads += 1
        if src is None:
            return 0
        uv = int(src.read_uv())
        return 0 if uv < 0 else (self.top_uv if uv > self.top_uv else uv)

    def read_u16(self):
        return self.read_uv() * 65535 // self.top_uv


class SPI:
    MSB = 0
    LSB = 1
    CONTROLLER = 0

    def __init__(self, id, baudrate=1000000, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None, miso_idle=0xFF):
        if not isinstance(id, int):
            raise TypeError("fake SPI: pass a bus id")
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.miso_idle = miso_idle  # what MISO reads with nobody driving it
        self.transferred = 0

    def init(self, baudrate=1000000, **kw):
        self.baudrate = baudrate

    def deinit(self):
        pass

    def _xfer(self, out):
        dev = None
        for cs, d in _spi_devices.get(self.id, ()):
            if _levels.get(cs, 1) == 0:
                dev = d
        self.transferred += 1
        if dev is None:
            return self.miso_idle
        return dev.spi_byte(out) & 0xFF

    def write(self, buf):
        for b in buf:
            self._xfer(b)

    def read(self, n, write=0x00):
        return bytes([self._xfer(write) for _ in range(n)])

    def readinto(self, buf, write=0x00):
        for i in range(len(buf)):
            buf[i] = self._xfer(write)

    def write_readinto(self, wbuf, rbuf):
        for i in range(len(wbuf)):
            rbuf[i] = self._xfer(wbuf[i])


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, polarity=0, phase=0, sck=None, mosi=None, miso=None, **kw):
        SPI.__init__(self, -1, baudrate, polarity, phase)


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
        self._rx = bytearray()
        self.written = []  # every write() as bytes (test helper, when HISTORY)
        self.flushes = 0

    def init(self, baudrate=115200, **kw):
        self.baudrate = baudrate

    def _pump(self):
        dev = _uart_devices.get(self.id)
        if dev is not None:
            data = dev.uart_rx()
            if data:
                self._rx.extend(data)
                if len(self._rx) > self.rxbuf:  # the ring buffer overflows: oldest bytes lost
                    self._rx = self._rx[-self.rxbuf:]

    def write(self, buf):
        buf = bytes(buf)
        if HISTORY:
            self.written.append(buf)
        dev = _uart_devices.get(self.id)
        if dev is not None:
            dev.uart_tx(buf, self)
        return len(buf)

    def flush(self):
        self.flushes += 1
        dev = _uart_devices.get(self.id)
        if dev is not None and hasattr(dev, "uart_flush"):
            dev.uart_flush()

    def any(self):
        self._pump()
        return len(self._rx)

    def read(self, n=None):
        self._pump()
        if not self._rx:
            return None
        if n is None or n >= len(self._rx):
            out = bytes(self._rx)
            self._rx = bytearray()
        else:
            out = bytes(self._rx[:n])
            self._rx = self._rx[n:]
        return out

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if not data:
            return None
        for i in range(len(data)):
            buf[i] = data[i]
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
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=1, period=-1, callback=None, freq=None):
        self.id = id
        self.init(mode=mode, period=period, callback=callback)

    def init(self, mode=1, period=-1, callback=None, freq=None):
        self.mode = mode
        self.period = period
        self.callback = callback

    def fire(self):
        """Run the callback as the timer would (test helper)."""
        if self.callback is not None:
            self.callback(self)

    def deinit(self):
        self.callback = None


def freq(f=None):
    return 240000000


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def reset():
    resets.append("hard")


def reset_cause():
    return 1


def soft_reset():
    resets.append("soft")


def idle():
    pass
