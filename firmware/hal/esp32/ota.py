# Firmware update into the next OTA app partition: streams the image in 4096-byte
# blocks, checks size, the ESP image magic and an optional SHA-256, then selects it
# for the next boot; confirm() after a healthy start cancels the rollback. The
# download and the reboot belong to the caller.
import hashlib

import esp32

BLOCK = 4096          # flash sector: writeblocks(n, buf) erases and programs one block
IMAGE_MAGIC = 0xE9    # first byte of every ESP32 app image


class OtaError(Exception):
    pass


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
        self._buf = bytearray(BLOCK)
        self._fill = 0
        self._block = 0
        self.written = 0

    def write(self, data):
        """Append a chunk of the image (any length)."""
        if self.written == 0 and len(data) and data[0] != IMAGE_MAGIC:
            raise OtaError("ota: not an ESP app image (first byte 0x%02X, expected 0xE9)" % data[0])
        if self.written + len(data) > self.size:
            raise OtaError("ota: more than the announced %d bytes" % self.size)
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

    def finish(self):
        """Write the tail, verify, and make the new image boot next. Returns the partition label."""
        if self.written != self.size:
            raise OtaError("ota: got %d of %d bytes" % (self.written, self.size))
        if self._fill:
            for i in range(self._fill, BLOCK):
                self._buf[i] = 0xFF  # erased flash
            self._flush()
        if self._hash is not None:
            got = "".join("%02x" % b for b in self._hash.digest())
            if got != self.sha256_hex:
                raise OtaError("ota: SHA-256 mismatch (got %s)" % got)
        self.part.set_boot()
        return self.label


def confirm():
    """Call once the new image runs well; without it the bootloader rolls back on the next reset."""
    try:
        esp32.Partition.mark_app_valid_cancel_rollback()
        return True
    except OSError:  # rollback not enabled in this build: nothing to cancel
        return False
