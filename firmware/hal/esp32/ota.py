# Firmware update into the next OTA app partition: streams the image in 4096-byte
# blocks, checks size, the ESP image structure as it streams (header, segments, the
# checksum byte and the SHA-256 the image carries) and an optional SHA-256 of the file,
# then selects it for the next boot; confirm() after a healthy start cancels the
# rollback. The download and the reboot belong to the caller.
from compat import const
import hashlib

import esp32

BLOCK = 4096          # flash sector: writeblocks(n, buf) erases and programs one block
IMAGE_MAGIC = 0xE9    # first byte of every ESP32 app image
_HEADER_LEN = const(24)  # esp_image_header_t (common + extended header)
_SEGMENT_HEADER_LEN = const(8)  # esp_image_segment_header_t: load address, data length (LE)
_MAX_SEGMENTS = const(16)  # ESP_IMAGE_MAX_SEGMENTS
CHECKSUM_SEED = 0xEF  # the checksum byte is 0xEF XOR every segment data byte


class OtaError(Exception):
    pass


def _xor_fold(mv):
    """XOR of all bytes of mv, folded as one big integer (C speed on both runtimes)."""
    w = len(mv)
    if not w:
        return 0
    x = int.from_bytes(mv, "little")
    while w > 1:
        h = (w + 1) // 2
        x = (x >> (8 * h)) ^ (x & ((1 << (8 * h)) - 1))
        w = h
    return x & 0xFF


class ImageCheck:
    """Follows an ESP32 app image as it streams: header, segments, checksum byte, appended
    SHA-256 (when the header says so). feed() raises OtaError at the first wrong byte;
    `end` is the image length once the segment table is through, `done` when all checked."""

    def __init__(self):
        self.pos = 0
        self.part = "header"
        self.need = _HEADER_LEN
        self.held = b""
        self.segments = 0
        self.seg_left = 0
        self.xor = CHECKSUM_SEED
        self.hash_appended = False
        self.sha = hashlib.sha256()
        self.end = None
        self.done = False

    def feed(self, data):
        mv = memoryview(data)
        if self.pos == 0 and len(mv) and mv[0] != IMAGE_MAGIC:
            raise OtaError("ota: not an ESP app image (first byte 0x%02X, expected 0xE9)" % mv[0])
        i = 0
        while i < len(mv):
            if self.done:
                raise OtaError("ota: %d bytes after the end of the image" % (len(mv) - i))
            if self.part == "data":
                n = min(self.seg_left, len(mv) - i)
                chunk = mv[i:i + n]
                self.xor ^= _xor_fold(chunk)
                self.sha.update(chunk)
                self.seg_left -= n
                self.pos += n
                i += n
                if self.seg_left == 0:
                    self._next_segment()
                continue
            n = min(self.need - len(self.held), len(mv) - i)
            self.held += bytes(mv[i:i + n])
            i += n
            self.pos += n
            if len(self.held) == self.need:
                held, self.held = self.held, b""
                if self.part != "hash":
                    self.sha.update(held)
                self._parsed(held)

    def _parsed(self, b):
        if self.part == "header":
            if b[0] != IMAGE_MAGIC:
                raise OtaError("ota: not an ESP app image (first byte 0x%02X, expected 0xE9)" % b[0])
            self.segments = b[1]
            if not 0 < self.segments <= _MAX_SEGMENTS:
                raise OtaError("ota: image header names %d segments" % self.segments)
            self.hash_appended = b[23] == 1
            self.part = "seghdr"
            self.need = _SEGMENT_HEADER_LEN
        elif self.part == "seghdr":
            self.seg_left = int.from_bytes(b[4:8], "little")
            self.segments -= 1
            self.part = "data"
            if self.seg_left == 0:
                self._next_segment()
        elif self.part == "tail":
            if b[-1] != self.xor:
                raise OtaError("ota: image checksum 0x%02X, computed 0x%02X" % (b[-1], self.xor))
            if self.hash_appended:
                self.part = "hash"
                self.need = 32
                self.end = self.pos + 32
            else:
                self.done = True
                self.end = self.pos
        elif self.part == "hash":
            if b != self.sha.digest():
                raise OtaError("ota: the image's own SHA-256 does not match its contents")
            self.done = True

    def _next_segment(self):
        if self.segments:
            self.part = "seghdr"
            self.need = _SEGMENT_HEADER_LEN
        else:
            self.part = "tail"  # zero padding to a 16-byte boundary, then the checksum byte
            self.need = 16 - (self.pos % 16)


class OtaUpdate:
    def __init__(self, size, sha256_hex=None):
        if not isinstance(size, int) or size <= 0:
            raise OtaError("ota: image size must be a positive integer, got %r" % (size,))
        try:
            self.part = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
        except OSError as e:  # no OTA partitions: the non-OTA firmware build
            raise OtaError("ota: no update partition (flash the OTA build of ESP32_GENERIC): %s" % e)
        info = self.part.info()
        self.label = info[4]
        self.capacity = info[3]
        if size > self.capacity:
            raise OtaError("ota: image of %d bytes does not fit partition %s (%d bytes)"
                           % (size, self.label, self.capacity))
        self.size = size
        self.sha256_hex = sha256_hex.lower() if sha256_hex else None
        self._hash = hashlib.sha256() if sha256_hex else None
        self.check = ImageCheck()
        self._buf = bytearray(BLOCK)
        self._fill = 0
        self._block = 0
        self.written = 0

    def write(self, data):
        """Append a chunk of the image (any length)."""
        if self.written + len(data) > self.size:
            raise OtaError("ota: more than the announced %d bytes" % self.size)
        self.check.feed(data)
        if self._hash is not None:
            self._hash.update(data)
        mv = memoryview(data)
        i = 0
        while i < len(mv):
            n = min(BLOCK - self._fill, len(mv) - i)
            self._buf[self._fill:self._fill + n] = mv[i:i + n]
            self._fill += n
            i += n
            if self._fill == BLOCK:
                self._flush()
        self.written += len(data)

    def _flush(self):
        self.part.writeblocks(self._block, self._buf)
        self._block += 1
        self._fill = 0

    def finish(self, activate=True):
        """Write the tail, verify, and (activate) make the new image boot next. Returns the
        partition label; activate() later selects a verified image."""
        if self.written != self.size:
            raise OtaError("ota: got %d of %d bytes" % (self.written, self.size))
        if not self.check.done:
            raise OtaError("ota: image incomplete (its segments end at byte %s)" % self.check.end)
        if self._fill:
            for i in range(self._fill, BLOCK):
                self._buf[i] = 0xFF  # erased flash
            self._flush()
        if self._hash is not None:
            got = "".join("%02x" % b for b in self._hash.digest())
            if got != self.sha256_hex:
                raise OtaError("ota: SHA-256 mismatch (got %s)" % got)
        if activate:
            self.part.set_boot()
        return self.label


def activate(label):
    """Select the (verified) image in partition `label` for the next boot."""
    esp32.Partition(label).set_boot()


def running_label():
    return esp32.Partition(esp32.Partition.RUNNING).info()[4]


def confirm():
    """Call once the new image runs well; without it the bootloader rolls back on the next reset."""
    try:
        esp32.Partition.mark_app_valid_cancel_rollback()
        return True
    except OSError:  # rollback not enabled in this build: nothing to cancel
        return False
