# MFRC522 chip set-up (on demand: Mfrc522.init() loads it for the call and forgets it):
# hard/soft reset, VersionReg check, the timer that bounds a card's answer, ASK and CRC
# preset, antenna on. Raises the driver's ReaderFailure; no card protocol here.
import compat
from compat import const
from hal.esp32.mfrc522 import VERSIONS

# Registers (datasheet section 9), one `_NAME = const(...)` per line (a tuple of const()s
# would make globals).
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


def init(r):
    """Reset and configure the chip of reader `r`; HalError("ReaderFailure") when it is not an MFRC522."""
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
