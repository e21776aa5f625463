# The drivers' one-time set-up (on demand: the constructors of ModbusRtu, Watchdog and
# WifiStation, and Mfrc522.init(), load it for the call through hal.on_demand() and forget
# it): the Modbus bus timing, the hardware watchdog, the WiFi station, the MFRC522 chip's
# reset and configuration. What runs every period stays in the drivers' own modules.
import machine

import compat
from compat import const

_FAST_SILENCE_US = const(1750)  # fixed 3.5-character silence above 19200 baud
# MFRC522 registers (datasheet section 9), one `_NAME = const(...)` per line (a tuple of
# const()s would make globals).
_COMMAND = const(0x01)
_MODE = const(0x11)
_TX_CONTROL = const(0x14)
_TX_ASK = const(0x15)
_T_MODE = const(0x2A)
_T_PRESCALER = const(0x2B)
_T_RELOAD_H = const(0x2C)
_T_RELOAD_L = const(0x2D)
_VERSION = const(0x37)
_CMD_SOFT_RESET = const(0x0F)
_TIMER_PRESCALER = const(0xA9)  # 13.56 MHz / (2 x 169 + 1) = 40 kHz: 25 us per timer tick
_TIMER_RELOAD = const(200)      # no card answer within 200 x 25 us = 5 ms: TimerIRq
_RESET_WAIT_MS = const(50)      # oscillator start-up after a soft or hard reset


def silence_us(baud):
    """The inter-frame silence: 3.5 characters, fixed above 19200 baud."""
    from hal.esp32.modbus import char_us
    return _FAST_SILENCE_US if baud > 19200 else (7 * char_us(baud) + 1) // 2


def modbus(m, uart, de_pin, baud, timeout_ms, retries):
    """ModbusRtu.__init__: the DE line (driven low: receiving) and the bus timing."""
    from hal.esp32.modbus import char_us
    m.uart = uart
    m.de = None if de_pin is None else machine.Pin(de_pin, machine.Pin.OUT, value=0)
    m.baud = baud
    m.timeout_ms = timeout_ms
    m.retries = retries
    # sleep_ms granularity: round up, still below the 3.5-character silence the slave waits.
    m.char_ms = (char_us(baud) + 999) // 1000
    m.silence_ms = (silence_us(baud) + 999) // 1000
    m._idle_since = compat.ticks_ms()
    m.stats = {"requests": 0, "timeouts": 0, "crc": 0, "exceptions": 0, "retries": 0}


def watchdog(w, timeout_ms, loops):
    """Watchdog.__init__: machine.WDT started (it cannot be stopped)."""
    if not loops:
        raise ValueError("watchdog: needs at least one supervised loop name")
    w.loops = tuple(loops)
    w.timeout_ms = timeout_ms
    try:
        w.wdt = machine.WDT(timeout=timeout_ms)
    except TypeError:  # ESP8266: fixed timeout, no argument
        w.wdt = machine.WDT()
    w.seen = set()
    w.feeds = 0
    w.missed = 0   # feed() calls refused because a loop was silent


def wifi(w, ssid, password, hostname, connect_timeout_ms, backoff_min_ms, backoff_max_ms):
    """WifiStation.__init__: the station interface up, not yet joined."""
    import network
    from hal.esp32.wifi import DOWN
    if not ssid or not isinstance(ssid, str):
        raise ValueError("wifi: ssid must be a non-empty string")
    w.ssid = ssid
    w.password = password
    w.connect_timeout_ms = connect_timeout_ms
    w.backoff_min_ms = backoff_min_ms
    w.backoff_max_ms = backoff_max_ms
    w.wlan = network.WLAN(network.STA_IF)
    w.wlan.active(True)
    if hostname:
        try:
            w.wlan.config(hostname=hostname)
        except (ValueError, OSError, TypeError):  # older ports: no hostname key
            pass
    w.state = DOWN
    w.attempts = 0     # connect() calls
    w.drops = 0        # times an established link was lost
    w.last_status = None
    w.backoff_ms = backoff_min_ms
    # The deadline of the state: DOWN, when the next attempt starts (None: at once); CONNECTING,
    # when the attempt is given up.
    w._deadline = None


def init(r):
    """Mfrc522.init() of reader `r`: hard/soft reset, VersionReg check, the timer that bounds
    a card's answer, ASK and CRC preset, antenna on; HalError("ReaderFailure") when it is not
    an MFRC522 or cannot be set up."""
    from hal.esp32.mfrc522 import VERSIONS
    if r.rst is not None:
        r.rst.value(0)
        compat.sleep_ms(1)
        r.rst.value(1)
        compat.sleep_ms(_RESET_WAIT_MS)
    v = r._read(_VERSION)
    if v not in VERSIONS:
        raise r._failure("MFRC522 not answering: VersionReg 0x%02X" % v)
    r._write(_COMMAND, _CMD_SOFT_RESET)
    start = compat.ticks_ms()
    while r._read(_COMMAND) & 0x10:  # PowerDown bit stays set until the oscillator runs
        if compat.ticks_diff(compat.ticks_ms(), start) > _RESET_WAIT_MS:
            raise r._failure("MFRC522 soft reset did not finish")
    r._write(_T_MODE, 0x80)          # TAuto: the timer starts when a transmission ends
    r._write(_T_PRESCALER, _TIMER_PRESCALER)
    r._write(_T_RELOAD_H, _TIMER_RELOAD >> 8)
    r._write(_T_RELOAD_L, _TIMER_RELOAD & 0xFF)
    r._write(_TX_ASK, 0x40)          # 100 % ASK modulation (ISO 14443-A)
    r._write(_MODE, 0x3D)            # CRC preset 0x6363 (CRC_A)
    r._write(_TX_CONTROL, r._read(_TX_CONTROL) | 0x03)  # antenna on
    r.version = v
    r.failed = None
