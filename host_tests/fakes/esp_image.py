# Builds ESP32 app images the way esptool's elf2image lays them out (header, segments,
# checksum byte at a 16-byte boundary, optional appended SHA-256), for the OTA tests and
# benchmarks. Portable (CPython and MicroPython); test data only.
import hashlib

SEGMENT_MAX = 65536


def make_image(payload, hash_appended=True, segments=None):
    """An app image of about `payload` bytes of segment data (int) split into segments."""
    body = bytes((i * 7 + 3) & 0xFF for i in range(payload))
    if segments is None:
        segments = max(1, (payload + SEGMENT_MAX - 1) // SEGMENT_MAX)
    step = (payload + segments - 1) // segments
    parts = [body[i:i + step] for i in range(0, payload, step)] or [b""]
    hdr = bytearray(24)
    hdr[0] = 0xE9
    hdr[1] = len(parts)
    hdr[2] = 2
    hdr[3] = 0x20
    hdr[4:8] = (0x400D0000).to_bytes(4, "little")
    hdr[12:14] = (0).to_bytes(2, "little")   # chip id ESP32
    hdr[23] = 1 if hash_appended else 0
    out = bytearray(hdr)
    x = 0xEF
    addr = 0x3F400020
    for p in parts:
        out += addr.to_bytes(4, "little") + len(p).to_bytes(4, "little") + p
        addr += len(p)
        for b in p:
            x ^= b
    out += b"\x00" * (15 - len(out) % 16)
    out.append(x)
    if hash_appended:
        out += hashlib.sha256(bytes(out)).digest()
    return bytes(out)
