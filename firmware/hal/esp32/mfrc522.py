# MFRC522 RFID reader on SPI: chip set-up, ISO 14443-3A wake-up, anticollision
# and select for 4/7/10-byte UIDs (BCC and CRC_A checked), HALT; reports each card
# presentation once as an idTag. Every wait has an explicit time bound; it does no
# authorization (that is the OCPP core's job).
import machine

import compat
from hal import HalError

# Registers (datasheet section 9).
COMMAND, COM_IRQ, DIV_IRQ, ERROR = 0x01, 0x04, 0x05, 0x06
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING, COLL = 0x09, 0x0A, 0x0C, 0x0D, 0x0E
MODE, TX_CONTROL, TX_ASK, CRC_H, CRC_L = 0x11, 0x14, 0x15, 0x21, 0x22
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L, VERSION = 0x2A, 0x2B, 0x2C, 0x2D, 0x37
# Commands.
CMD_IDLE, CMD_CALC_CRC, CMD_TRANSCEIVE, CMD_SOFT_RESET = 0x00, 0x03, 0x0C, 0x0F
# ComIrqReg / DivIrqReg bits; ErrorReg bits that spoil a frame.
IRQ_TIMER, IRQ_IDLE, IRQ_RX, DIV_CRC = 0x01, 0x10, 0x20, 0x04
ERR_FRAME = 0x1B  # BufferOvfl | CollErr | ParityErr | ProtocolErr
# ISO 14443-3A.
PICC_WUPA, PICC_HALT, CASCADE_TAG = 0x52, 0x50, 0x88
SEL_CODES = (0x93, 0x95, 0x97)

VERSIONS = (0x91, 0x92, 0x88)  # MFRC522 v1.0, v2.0, common clones
TIMER_PRESCALER = 0xA9   # 13.56 MHz / (2 x 169 + 1) = 40 kHz: 25 us per timer tick
TIMER_RELOAD = 200       # no card answer within 200 x 25 us = 5 ms: TimerIRq
WAIT_MS = 20             # bound of a transceive wait when even the timer IRQ never comes
CRC_WAIT_MS = 5          # bound of a CRC coprocessor wait (a few us on a live chip)
RESET_WAIT_MS = 50       # oscillator start-up after a soft or hard reset
AWAY_POLLS = 3           # polls without the card before the same UID is reported again
REINIT_POLLS = 10        # while failed: polls between two re-initialisation attempts


class CardError(Exception):
    """A frame from the card was malformed (BCC, CRC_A, collision, length): retry later."""


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
        self.failed = HalError("ReaderFailure", info)
        return self.failed

    # ----------------------------------------------------------- chip
    def init(self):
        """Reset and configure the chip; HalError("ReaderFailure") when it is not an MFRC522."""
        if self.rst is not None:
            self.rst.value(0)
            compat.sleep_ms(1)
            self.rst.value(1)
            compat.sleep_ms(RESET_WAIT_MS)
        v = self._read(VERSION)
        if v not in VERSIONS:
            raise self._failure("MFRC522 not answering: VersionReg 0x%02X" % v)
        self._write(COMMAND, CMD_SOFT_RESET)
        start = compat.ticks_ms()
        while self._read(COMMAND) & 0x10:  # PowerDown bit stays set until the oscillator runs
            if compat.ticks_diff(compat.ticks_ms(), start) > RESET_WAIT_MS:
                raise self._failure("MFRC522 soft reset did not finish")
        self._write(T_MODE, 0x80)          # TAuto: the timer starts when a transmission ends
        self._write(T_PRESCALER, TIMER_PRESCALER)
        self._write(T_RELOAD_H, TIMER_RELOAD >> 8)
        self._write(T_RELOAD_L, TIMER_RELOAD & 0xFF)
        self._write(TX_ASK, 0x40)          # 100 % ASK modulation (ISO 14443-A)
        self._write(MODE, 0x3D)            # CRC preset 0x6363 (CRC_A)
        self._write(TX_CONTROL, self._read(TX_CONTROL) | 0x03)  # antenna on
        self.version = v
        self.failed = None

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
        self._write(COMMAND, CMD_IDLE)
        self._write(DIV_IRQ, DIV_CRC)      # clear CRCIRq
        self._write(FIFO_LEVEL, 0x80)      # flush FIFO
        for b in data:
            self._write(FIFO_DATA, b)
        self._write(COMMAND, CMD_CALC_CRC)
        self._wait(DIV_IRQ, DIV_CRC, CRC_WAIT_MS, "CRC")
        self._write(COMMAND, CMD_IDLE)
        return bytes((self._read(CRC_L), self._read(CRC_H)))

    def transceive(self, data, last_bits=0):
        """Send a frame, return the answer bytes or None when no card answered in time."""
        self._write(COMMAND, CMD_IDLE)
        self._write(COM_IRQ, 0x7F)         # clear every IRQ bit
        self._write(FIFO_LEVEL, 0x80)
        for b in data:
            self._write(FIFO_DATA, b)
        self._write(BIT_FRAMING, last_bits)
        self._write(COMMAND, CMD_TRANSCEIVE)
        self._write(BIT_FRAMING, 0x80 | last_bits)  # StartSend
        try:
            irq = self._wait(COM_IRQ, IRQ_RX | IRQ_IDLE | IRQ_TIMER, WAIT_MS, "transceive")
        finally:
            self._write(BIT_FRAMING, last_bits)
        if not irq & (IRQ_RX | IRQ_IDLE):
            return None                    # timer expired: nobody answered
        if self._read(ERROR) & ERR_FRAME:
            raise CardError("frame error 0x%02X" % self._read(ERROR))
        n = self._read(FIFO_LEVEL)
        return bytes([self._read(FIFO_DATA) for _ in range(n)])

    # ----------------------------------------------------------- card
    def read_uid(self):
        """Wake, select and halt the card in the field -> UID bytes, or None.
        WUPA (not REQA) so a card we halted and that is still held answers again."""
        if self.transceive(bytes((PICC_WUPA,)), 7) is None:
            return None
        uid = bytearray()
        for sel in SEL_CODES:
            cl = self.transceive(bytes((sel, 0x20)))
            if cl is None or len(cl) != 5:
                raise CardError("anticollision answer of %s bytes" % (None if cl is None else len(cl)))
            if cl[0] ^ cl[1] ^ cl[2] ^ cl[3] != cl[4]:
                raise CardError("bad BCC")
            frame = bytes((sel, 0x70)) + cl
            sak = self.transceive(frame + self.crc(frame))
            if sak is None or len(sak) != 3:
                raise CardError("SELECT answer of %s bytes" % (None if sak is None else len(sak)))
            if self.crc(sak[:1]) != sak[1:]:
                raise CardError("SAK CRC_A mismatch")
            if cl[0] != CASCADE_TAG:
                uid += cl[:4]
                break
            if not sak[0] & 0x04:
                raise CardError("cascade tag without the cascade bit in SAK")
            uid += cl[1:4]
        else:
            raise CardError("UID longer than three cascade levels")
        self.halt()
        return bytes(uid)

    def halt(self):
        frame = bytes((PICC_HALT, 0x00))
        self.transceive(frame + self.crc(frame))  # a halted card does not answer

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
        v = self._read(VERSION)
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
        return "".join("%02X" % b for b in uid)
