# A register-level MFRC522 on the fake SPI bus plus ISO 14443-3A cards in its
# field. Models the SPI address byte protocol, FIFO, Command/ComIrq/DivIrq/
# Error/Control/BitFraming registers, the CRC coprocessor and the timer's
# timeout IRQ; cards answer REQA/WUPA, anticollision, SELECT (4/7-byte UIDs,
# cascade tag 0x88) and HALT. It knows nothing about the driver.
import machine

COMMAND, COM_IEN, COM_IRQ, DIV_IRQ, ERROR = 0x01, 0x02, 0x04, 0x05, 0x06
STATUS2, FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING, COLL = 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x0E
MODE, TX_CONTROL, TX_ASK, CRC_H, CRC_L, T_MODE, VERSION = 0x11, 0x14, 0x15, 0x21, 0x22, 0x2A, 0x37

CMD_IDLE, CMD_CALC_CRC, CMD_TRANSCEIVE, CMD_SOFT_RESET = 0x00, 0x03, 0x0C, 0x0F
IRQ_TIMER, IRQ_RX, IRQ_IDLE = 0x01, 0x20, 0x10
FIFO_SIZE = 64


def crc_a(data, preset=0x6363):
    crc = preset
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def with_crc(data):
    c = crc_a(data)
    return bytes(data) + bytes([c & 0xFF, c >> 8])


class Card:
    """An ISO 14443-3A PICC. uid: 4 or 7 bytes, in transmission order."""

    IDLE, READY, ACTIVE, HALT = "IDLE", "READY", "ACTIVE", "HALT"

    def __init__(self, uid, bad_bcc=False, bad_crc=False):
        if len(uid) not in (4, 7):
            raise ValueError("card model: uid must be 4 or 7 bytes")
        self.uid = bytes(uid)
        self.bad_bcc = bad_bcc   # anticollision answers carry a wrong BCC
        self.bad_crc = bad_crc   # SAK answers carry a wrong CRC_A
        self.state = Card.IDLE
        self.level = 0           # cascade level being selected (0, 1)
        self.halts = 0

    def _cl(self, level):
        if len(self.uid) == 4:
            return self.uid
        return (b"\x88" + self.uid[:3]) if level == 0 else self.uid[3:]

    def _atqa(self):
        return b"\x04\x00" if len(self.uid) == 4 else b"\x44\x00"

    def receive(self, frame, last_bits):
        """One frame from the reader -> the answer bytes, or None (no answer)."""
        if last_bits == 7 and len(frame) == 1:
            cmd = frame[0]
            if cmd == 0x26 and self.state == Card.IDLE or cmd == 0x52 and self.state in (Card.IDLE, Card.HALT):
                self.state, self.level = Card.READY, 0
                return self._atqa()
            if self.state != Card.HALT:
                self.state = Card.IDLE
            return None
        if len(frame) == 4 and frame[0] == 0x50 and frame[1] == 0x00:
            if self.state == Card.ACTIVE and with_crc(frame[:2]) == bytes(frame):
                self.state = Card.HALT
                self.halts += 1
            return None
        if self.state != Card.READY or len(frame) < 2:
            return None
        sel = (0x93, 0x95, 0x97).index(frame[0]) if frame[0] in (0x93, 0x95, 0x97) else -1
        if sel != self.level:
            self.state = Card.IDLE
            return None
        cl = self._cl(sel)
        bcc = cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
        if frame[1] == 0x20 and len(frame) == 2:
            return cl + bytes([bcc ^ 0x5A if self.bad_bcc else bcc])
        if frame[1] == 0x70 and len(frame) == 9:
            if with_crc(frame[:7]) != bytes(frame) or frame[2:6] != cl or frame[6] != bcc:
                self.state = Card.IDLE
                return None
            if cl[0] == 0x88:
                self.level += 1
                sak = 0x04  # UID not complete
            else:
                self.state = Card.ACTIVE
                sak = 0x08 if len(self.uid) == 4 else 0x00
            ans = with_crc(bytes([sak]))
            if self.bad_crc:
                ans = ans[:1] + bytes([ans[1] ^ 0xFF]) + ans[2:]
            return ans
        self.state = Card.IDLE
        return None


class Mfrc522Model:
    """The chip. Attach with machine.attach_spi(bus, model, cs=pin)."""

    def __init__(self, version=0x92, spi_id=2, cs=5, rst=None):
        self.version = version
        self.card = None
        self.dead = False        # True: the chip stops answering (MISO reads 0x00)
        self.timer_irq = True    # False: the timer never fires (a wait loop must time out itself)
        self.regs = bytearray(64)
        self.fifo = bytearray()
        self.frames = []         # every frame transmitted to the field (test helper)
        self.soft_resets = 0
        self._addr = None
        self._read = False
        self._first = True
        self._soft_reset()
        machine.attach_spi(spi_id, self, cs)
        machine.watch(cs, self._cs)
        machine.drive(cs, 1)

    # --------------------------------------------------------------- field
    def present(self, card):
        """Bring a card into the field (it powers up in IDLE)."""
        card.state = Card.IDLE
        self.card = card

    def remove(self):
        self.card = None

    # ----------------------------------------------------------------- SPI
    def _cs(self, level):
        self._first = True
        self._addr = None

    def spi_byte(self, mosi):
        if self.dead:
            return 0x00
        out = 0x00
        if self._first:
            self._first = False
            self._read = bool(mosi & 0x80)
            self._addr = (mosi >> 1) & 0x3F
            return out
        if self._read:
            out = self.read_reg(self._addr)
            self._addr = (mosi >> 1) & 0x3F  # the next address rides on this byte
        else:
            self.write_reg(self._addr, mosi)
        return out

    # ----------------------------------------------------------- registers
    def _soft_reset(self):
        self.regs = bytearray(64)
        self.regs[COMMAND] = 0x20
        self.regs[COM_IEN] = 0x80
        self.regs[COM_IRQ] = 0x14
        self.regs[CONTROL] = 0x10
        self.regs[COLL] = 0xA0
        self.regs[MODE] = 0x3F
        self.regs[TX_CONTROL] = 0x80
        self.regs[VERSION] = self.version
        self.fifo = bytearray()
        self.soft_resets += 1

    def read_reg(self, r):
        if r == FIFO_DATA:
            if not self.fifo:
                return 0x00
            b = self.fifo[0]
            self.fifo = self.fifo[1:]
            return b
        if r == FIFO_LEVEL:
            return len(self.fifo)
        if r == VERSION:
            return self.version
        return self.regs[r]

    def write_reg(self, r, v):
        if r == FIFO_DATA:
            if len(self.fifo) < FIFO_SIZE:
                self.fifo.append(v)
            else:
                self.regs[ERROR] |= 0x10  # BufferOvfl
            return
        if r == FIFO_LEVEL:
            if v & 0x80:
                self.fifo = bytearray()
                self.regs[ERROR] &= ~0x10 & 0xFF
            return
        if r in (COM_IRQ, DIV_IRQ):  # bit 7 Set1: 1 sets the marked bits, 0 clears them
            if v & 0x80:
                self.regs[r] |= v & 0x7F
            else:
                self.regs[r] &= ~v & 0x7F
            return
        if r == VERSION:
            return
        self.regs[r] = v
        if r == COMMAND:
            self._command(v & 0x0F)
        elif r == BIT_FRAMING and v & 0x80 and self.regs[COMMAND] & 0x0F == CMD_TRANSCEIVE:
            self._transceive()

    def _command(self, cmd):
        if cmd == CMD_SOFT_RESET:
            self._soft_reset()
        elif cmd == CMD_CALC_CRC:
            preset = (0x0000, 0x6363, 0xA671, 0xFFFF)[self.regs[MODE] & 0x03]
            c = crc_a(self.fifo, preset)
            self.fifo = bytearray()
            self.regs[CRC_L] = c & 0xFF
            self.regs[CRC_H] = c >> 8
            self.regs[DIV_IRQ] |= 0x04  # CRCIRq
        elif cmd == CMD_IDLE:
            self.regs[COM_IRQ] |= IRQ_IDLE

    def _transceive(self):
        frame = bytes(self.fifo)
        last_bits = self.regs[BIT_FRAMING] & 0x07
        self.fifo = bytearray()
        if machine.HISTORY:  # every frame the reader sent (test helper; off in a long bench run)
            self.frames.append(frame)
        self.regs[ERROR] = 0
        answer = None
        antenna = self.regs[TX_CONTROL] & 0x03 == 0x03
        if antenna and self.card is not None:
            answer = self.card.receive(frame, last_bits)
        if answer is None:
            if self.timer_irq and self.regs[T_MODE] & 0x80:
                self.regs[COM_IRQ] |= IRQ_TIMER
            return
        self.fifo = bytearray(answer)
        # The REQA answer (ATQA) is 16 bits, a whole number of bytes: RxLastBits 0.
        self.regs[CONTROL] = (self.regs[CONTROL] & 0xF8)
        self.regs[COM_IRQ] |= IRQ_RX
