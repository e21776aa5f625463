# A register-level MFRC522 on the fake SPI bus plus ISO 14443-3A cards in its
# field. Models the SPI address byte protocol, FIFO, Command/ComIrq/DivIrq/
# Error/Control/BitFraming registers, the CRC coprocessor and the timer's
# timeout IRQ; cards answer REQA/WUPA, anticollision, SELECT (4/7-byte UIDs,
# cascade tag 0x88) and HALT. It knows nothing about the driver.
# Test-only code in the bench's heap: registers and states are const()s (no
# interned names) and its methods reuse the driver's words (reset, transceive).
import machine

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# Registers (MFRC522 datasheet, table 20).
_COMMAND = const(0x01)
_COM_IEN = const(0x02)
_COM_IRQ = const(0x04)
_DIV_IRQ = const(0x05)
_ERROR = const(0x06)
_FIFO_DATA = const(0x09)
_FIFO_LEVEL = const(0x0A)
_CONTROL = const(0x0C)
_BIT_FRAMING = const(0x0D)
_COLL = const(0x0E)
_MODE = const(0x11)
_TX_CONTROL = const(0x14)
_T_MODE = const(0x2A)
_CRC_H = const(0x21)
_CRC_L = const(0x22)
_VERSION = const(0x37)
# Commands (low nibble of CommandReg) and ComIrqReg bits.
_CMD_IDLE = const(0x00)
_CMD_CALC_CRC = const(0x03)
_CMD_TRANSCEIVE = const(0x0C)
_CMD_SOFT_RESET = const(0x0F)
_IRQ_TIMER = const(0x01)
_IRQ_IDLE = const(0x10)
_IRQ_RX = const(0x20)
_FIFO_SIZE = const(64)
# Card states (ISO 14443-3 figure 7); Card.HALT is the one tests set and check.
_IDLE = const(0)
_READY = const(1)
_ACTIVE = const(2)
_HALT = const(3)


def crc_a(data, crc=0x6363):
    """CRC_A of ISO 14443-3 (`crc`: the preset; the coprocessor's MODE register picks it)."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


class Card:
    """An ISO 14443-3A PICC. id: its UID, 4 or 7 bytes, in transmission order."""

    HALT = _HALT

    def __init__(self, id, bad_bcc=False, bad_crc=False):
        if len(id) not in (4, 7):
            raise ValueError("card model: uid must be 4 or 7 bytes")
        self.id = bytes(id)
        self.bad_bcc = bad_bcc   # anticollision answers carry a wrong BCC
        self.bad_crc = bad_crc   # SAK answers carry a wrong CRC_A
        self.state = _IDLE
        self.level = 0           # cascade level being selected (0, 1)

    def receive(self, frame, last_bits):
        """One frame from the reader -> the answer bytes, or None (no answer)."""
        four = len(self.id) == 4
        if last_bits == 7 and len(frame) == 1:
            cmd = frame[0]
            if cmd == 0x26 and self.state == _IDLE or cmd == 0x52 and self.state in (_IDLE, _HALT):
                self.state, self.level = _READY, 0
                return b"\x04\x00" if four else b"\x44\x00"  # ATQA
            if self.state != _HALT:
                self.state = _IDLE
            return None
        if len(frame) == 4 and frame[0] == 0x50 and frame[1] == 0x00:
            if self.state == _ACTIVE and crc_a(frame[:2]) == frame[2] | frame[3] << 8:
                self.state = _HALT
            return None
        if self.state != _READY or len(frame) < 2:
            return None
        sel = (0x93, 0x95, 0x97).index(frame[0]) if frame[0] in (0x93, 0x95, 0x97) else -1
        if sel != self.level:
            self.state = _IDLE
            return None
        # This level's UID part: a 7-byte UID is cascade tag 0x88 + 3 bytes, then 4 bytes.
        cl = self.id if four else (b"\x88" + self.id[:3]) if sel == 0 else self.id[3:]
        bcc = cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
        if frame[1] == 0x20 and len(frame) == 2:
            return cl + bytes([bcc ^ 0x5A if self.bad_bcc else bcc])
        if frame[1] == 0x70 and len(frame) == 9:
            if crc_a(frame[:7]) != frame[7] | frame[8] << 8 or frame[2:6] != cl or frame[6] != bcc:
                self.state = _IDLE
                return None
            if cl[0] == 0x88:
                self.level += 1
                sak = 0x04  # UID not complete
            else:
                self.state = _ACTIVE
                sak = 0x08 if four else 0x00
            c = crc_a(bytes([sak])) ^ (0xFF if self.bad_crc else 0)  # CRC_A, low byte first
            return bytes([sak, c & 0xFF, c >> 8])
        self.state = _IDLE
        return None


class Mfrc522Model:
    """The chip on SPI bus `spi_id`, selected by GPIO `cs`."""

    def __init__(self, version=0x92, spi_id=2, cs=5, rst=None):
        self.version = version
        self.card = None
        self.dead = False        # True: the chip stops answering (MISO reads 0x00)
        self.timer_irq = True    # False: the timer never fires (a wait loop must time out itself)
        self.frames = []         # every frame transmitted to the field (test helper)
        self.soft_resets = 0
        self.reg = None          # the address byte of this transfer; None: the next byte is one
        self.reset()
        machine.attach_spi(spi_id, self, cs)
        machine.watch(cs, lambda level: setattr(self, "reg", None))  # a CS edge starts a transfer
        machine.drive(cs, 1)

    # --------------------------------------------------------------- field
    def present(self, card):
        """Bring a card into the field (it powers up in IDLE)."""
        card.state = _IDLE
        self.card = card

    def remove(self):
        self.card = None

    # ----------------------------------------------------------------- SPI
    def spi_byte(self, mosi):
        if self.dead:
            return 0x00
        a = self.reg
        if a is None:
            self.reg = mosi
            return 0x00
        if a & 0x80:  # a read: the next address rides on this byte (a read still)
            self.reg = 0x80 | mosi
            return self._read((a >> 1) & 0x3F)
        self._write((a >> 1) & 0x3F, mosi)
        return 0x00

    # ----------------------------------------------------------- registers
    def reset(self):
        """A soft reset: the registers' reset values, an empty FIFO."""
        r = self.regs = bytearray(64)
        r[_COMMAND] = 0x20
        r[_COM_IEN] = 0x80
        r[_COM_IRQ] = 0x14
        r[_CONTROL] = 0x10
        r[_COLL] = 0xA0
        r[_MODE] = 0x3F
        r[_TX_CONTROL] = 0x80
        r[_VERSION] = self.version
        self.fifo = bytearray()
        self.soft_resets += 1

    def _read(self, r):
        if r == _FIFO_DATA:
            if not self.fifo:
                return 0x00
            b = self.fifo[0]
            self.fifo = self.fifo[1:]
            return b
        if r == _FIFO_LEVEL:
            return len(self.fifo)
        if r == _VERSION:
            return self.version
        return self.regs[r]

    def _write(self, r, v):
        regs = self.regs
        if r == _FIFO_DATA:
            if len(self.fifo) < _FIFO_SIZE:
                self.fifo.append(v)
            else:
                regs[_ERROR] |= 0x10  # BufferOvfl
        elif r == _FIFO_LEVEL:
            if v & 0x80:
                self.fifo = bytearray()
                regs[_ERROR] &= ~0x10 & 0xFF
        elif r in (_COM_IRQ, _DIV_IRQ):  # bit 7 Set1: 1 sets the marked bits, 0 clears them
            if v & 0x80:
                regs[r] |= v & 0x7F
            else:
                regs[r] &= ~v & 0x7F
        elif r != _VERSION:
            regs[r] = v
            if r == _BIT_FRAMING and v & 0x80 and regs[_COMMAND] & 0x0F == _CMD_TRANSCEIVE:
                self.transceive()
            elif r == _COMMAND:
                cmd = v & 0x0F
                if cmd == _CMD_SOFT_RESET:
                    self.reset()
                elif cmd == _CMD_CALC_CRC:
                    c = crc_a(self.fifo, (0x0000, 0x6363, 0xA671, 0xFFFF)[regs[_MODE] & 0x03])
                    self.fifo = bytearray()
                    regs[_CRC_L] = c & 0xFF
                    regs[_CRC_H] = c >> 8
                    regs[_DIV_IRQ] |= 0x04  # CRCIRq
                elif cmd == _CMD_IDLE:
                    regs[_COM_IRQ] |= _IRQ_IDLE

    def transceive(self):
        """StartSend with the Transceive command: the FIFO goes to the card in the field."""
        regs = self.regs
        frame = bytes(self.fifo)
        self.fifo = bytearray()
        if machine.HISTORY:  # every frame the reader sent (test helper; off in a long bench run)
            self.frames.append(frame)
        regs[_ERROR] = 0
        answer = None
        if regs[_TX_CONTROL] & 0x03 == 0x03 and self.card is not None:  # the antenna is on
            answer = self.card.receive(frame, regs[_BIT_FRAMING] & 0x07)
        if answer is None:
            if self.timer_irq and regs[_T_MODE] & 0x80:
                regs[_COM_IRQ] |= _IRQ_TIMER
            return
        self.fifo = bytearray(answer)
        # The answers are whole bytes (the ATQA too): RxLastBits 0.
        regs[_CONTROL] &= 0xF8
        regs[_COM_IRQ] |= _IRQ_RX
