# MFRC522 RFID reader on SPI: ISO 14443-3A wake-up, anticollision and select for
# 4/7/10-byte UIDs (BCC and CRC_A checked), HALT; reports each card presentation once
# as an idTag (the chip set-up is the on-demand setup.py). Every wait has an
# explicit time bound; it does no authorization (that is the OCPP core's job).
import machine

import compat
from compat import const
from hal import HalError, on_demand

# Registers (datasheet section 9). One `_NAME = const(...)` per line: a tuple assignment
# of const()s would make each a global with an interned name.
_COMMAND = const(0x01)
_COM_IRQ = const(0x04)
_DIV_IRQ = const(0x05)
_ERROR = const(0x06)
_FIFO_DATA = const(0x09)
_FIFO_LEVEL = const(0x0A)
_BIT_FRAMING = const(0x0D)
_CRC_H = const(0x21)
_CRC_L = const(0x22)
_VERSION = const(0x37)
# Commands.
_CMD_IDLE = const(0x00)
_CMD_CALC_CRC = const(0x03)
_CMD_TRANSCEIVE = const(0x0C)
# ComIrqReg / DivIrqReg bits; ErrorReg bits that spoil a frame.
_IRQ_TIMER = const(0x01)
_IRQ_IDLE = const(0x10)
_IRQ_RX = const(0x20)
_DIV_CRC = const(0x04)
_ERR_FRAME = const(0x1B)  # BufferOvfl | CollErr | ParityErr | ProtocolErr
# ISO 14443-3A.
_PICC_WUPA = const(0x52)
_PICC_HALT = const(0x50)
_CASCADE_TAG = const(0x88)
_SEL_CODES = const((0x93, 0x95, 0x97))

VERSIONS = (0x91, 0x92, 0x88)  # MFRC522 v1.0, v2.0, common clones (also checked by setup.py)
_WAIT_MS = const(20)     # bound of a transceive wait when even the timer IRQ never comes
_CRC_WAIT_MS = const(5)  # bound of a CRC coprocessor wait (a few us on a live chip)
AWAY_POLLS = 3           # polls without the card before the same UID is reported again
REINIT_POLLS = 10        # while failed: polls between two re-initialisation attempts
_READER_FAILURE = const("ReaderFailure")  # OCPP ChargePointErrorCode of a reader that does not answer


# A frame from the card was malformed (BCC, CRC_A, collision, length): retry later. Caught
# by poll(), which only counts it: the message is a short tag. No class of its own (~230 B):
# read_uid() and transceive() raise no other ValueError.
CardError = ValueError


class Mfrc522:
    def __init__(self, spi, cs_pin, rst_pin=None, away_polls=AWAY_POLLS):
        self.spi = spi
        self.cs = machine.Pin(cs_pin, machine.Pin.OUT, value=1)
        self.rst = None if rst_pin is None else machine.Pin(rst_pin, machine.Pin.OUT, value=1)
        self.away_polls = away_polls
        self._buf = bytearray(2)
        self.version = None
        self.errors = 0        # malformed card frames seen (not reader failures)
        self._last = None      # UID reported for the card now on the reader
        self._away = 0
        self._after_error = False
        self._failed_polls = 0
        self.failed = None     # HalError while the chip is not answering
        try:
            self.init()
        except HalError as e:  # the charger still boots; poll() reports the failure
            self.failed = e

    # ------------------------------------------------------------- SPI
    def _write(self, reg, val):
        b = self._buf
        b[0] = (reg << 1) & 0x7E
        b[1] = val
        self.cs.value(0)
        self.spi.write(b)
        self.cs.value(1)

    def _read(self, reg):
        b = self._buf
        b[0] = ((reg << 1) & 0x7E) | 0x80
        b[1] = 0
        self.cs.value(0)
        self.spi.write_readinto(b, b)
        self.cs.value(1)
        return b[1]

    def _failure(self, info):
        self.failed = HalError(_READER_FAILURE, info)
        return self.failed

    # ----------------------------------------------------------- chip
    def init(self):
        """Reset and configure the chip (hal/esp32/setup.py, loaded for the call);
        HalError("ReaderFailure") when it is not an MFRC522 or cannot be set up."""
        on_demand(_READER_FAILURE, "hal.esp32.setup", "init", self)

    def _wait(self, reg, mask, bound_ms, what):
        """Read `reg` until a bit of `mask` is set; ReaderFailure after bound_ms.
        (Public drivers loop on `~` of a bool, which never ends; this one is bounded.)"""
        start = compat.ticks_ms()
        while True:
            v = self._read(reg)
            if v & mask:
                return v
            if compat.ticks_diff(compat.ticks_ms(), start) > bound_ms:
                raise self._failure("MFRC522 %s: no IRQ within %d ms" % (what, bound_ms))

    def crc(self, data):
        """CRC_A of data from the chip's coprocessor, as the 2 bytes sent after a frame."""
        self._write(_COMMAND, _CMD_IDLE)
        self._write(_DIV_IRQ, _DIV_CRC)     # clear CRCIRq
        self._write(_FIFO_LEVEL, 0x80)     # flush FIFO
        for b in data:
            self._write(_FIFO_DATA, b)
        self._write(_COMMAND, _CMD_CALC_CRC)
        self._wait(_DIV_IRQ, _DIV_CRC, _CRC_WAIT_MS, "CRC")
        self._write(_COMMAND, _CMD_IDLE)
        return bytes((self._read(_CRC_L), self._read(_CRC_H)))

    def transceive(self, data, last_bits=0):
        """Send a frame, return the answer bytes or None when no card answered in time."""
        self._write(_COMMAND, _CMD_IDLE)
        self._write(_COM_IRQ, 0x7F)        # clear every IRQ bit
        self._write(_FIFO_LEVEL, 0x80)
        for b in data:
            self._write(_FIFO_DATA, b)
        self._write(_BIT_FRAMING, last_bits)
        self._write(_COMMAND, _CMD_TRANSCEIVE)
        self._write(_BIT_FRAMING, 0x80 | last_bits)  # StartSend
        try:
            irq = self._wait(_COM_IRQ, _IRQ_RX | _IRQ_IDLE | _IRQ_TIMER, _WAIT_MS, "transceive")
        finally:
            self._write(_BIT_FRAMING, last_bits)
        if not irq & (_IRQ_RX | _IRQ_IDLE):
            return None                    # timer expired: nobody answered
        if self._read(_ERROR) & _ERR_FRAME:
            raise CardError("frame")
        b = bytearray(self._read(_FIFO_LEVEL))
        for i in range(len(b)):
            b[i] = self._read(_FIFO_DATA)
        return bytes(b)

    # ----------------------------------------------------------- card
    def read_uid(self):
        """Wake, select and halt the card in the field -> UID bytes, or None.
        WUPA (not REQA) so a card we halted and that is still held answers again."""
        if self.transceive(bytes((_PICC_WUPA,)), 7) is None:
            return None
        uid = bytearray()
        for sel in _SEL_CODES:
            cl = self.transceive(bytes((sel, 0x20)))
            if cl is None or len(cl) != 5:
                raise CardError("anticoll")
            if cl[0] ^ cl[1] ^ cl[2] ^ cl[3] != cl[4]:
                raise CardError("BCC")
            frame = bytes((sel, 0x70)) + cl
            sak = self.transceive(frame + self.crc(frame))
            if sak is None or len(sak) != 3:
                raise CardError("SELECT")
            if self.crc(sak[:1]) != sak[1:]:
                raise CardError("SAK CRC")
            if cl[0] != _CASCADE_TAG:
                uid += cl[:4]
                break
            if not sak[0] & 0x04:
                raise CardError("cascade")
            uid += cl[1:4]
        else:
            raise CardError("UID size")
        frame = bytes((_PICC_HALT, 0x00))
        self.transceive(frame + self.crc(frame))  # HALT: a halted card does not answer
        return bytes(uid)

    def poll(self):
        """idTag (uppercase hex UID) once per card presentation, else None.
        HalError("ReaderFailure") while the chip does not answer (re-initialised every
        REINIT_POLLS polls)."""
        if self.failed is not None:
            # Re-initialising costs a reset (~50 ms with RST): only every REINIT_POLLS polls.
            self._failed_polls += 1
            if self._failed_polls < REINIT_POLLS:
                raise self.failed
            self._failed_polls = 0
            self.init()
        v = self._read(_VERSION)
        if v not in VERSIONS:
            raise self._failure("MFRC522 stopped answering: VersionReg 0x%02X" % v)
        try:
            uid = self.read_uid()
        except CardError:
            self.errors += 1
            self._after_error = True
            return None
        if uid is None:
            if self._after_error:
                # A card left in READY by a spoilt frame ignores the next WUPA (ISO 14443-3
                # sends it back to IDLE): that silence does not mean it was taken away.
                self._after_error = False
                return None
            self._away += 1
            if self._away >= self.away_polls:
                self._last = None
            return None
        self._away = 0
        self._after_error = False
        if uid == self._last:
            return None
        self._last = uid
        tag = ""
        for b in uid:
            tag += "%02X" % b
        return tag
