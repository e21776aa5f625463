# OTA writer (hal/esp32/ota.py) against the fake esp32.Partition flash: block
# streaming, padding, size/magic/SHA-256 checks, boot selection and rollback
# confirmation. Runs on CPython and MicroPython.
import sys

_fakes = __file__.rsplit("/", 2)[0] + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import hashlib

import esp32
from hal.esp32.ota import OtaUpdate, OtaError, confirm, BLOCK


def image(n):
    return bytes([0xE9]) + bytes((i * 7 + 3) & 0xFF for i in range(1, n))


def sha(data):
    return "".join("%02x" % b for b in hashlib.sha256(data).digest())


def _raises(fn, text):
    try:
        fn()
    except OtaError as e:
        assert text in str(e), str(e)
        return
    assert False, "no OtaError"


def test_image_streamed_in_odd_chunks_lands_in_the_next_partition():
    esp32.reset_fakes()
    img = image(3 * BLOCK + 1234)
    u = OtaUpdate(len(img), sha(img))
    assert u.label == "ota_1"
    i = 0
    for n in (1, 999, 4096, 5000, 10):
        u.write(img[i:i + n])
        i += n
    u.write(img[i:])
    assert esp32.boot_label() == "ota_0"   # nothing selected before finish()
    assert u.finish() == "ota_1"
    f = esp32.flash("ota_1")
    assert bytes(f[:len(img)]) == img
    assert bytes(f[len(img):4 * BLOCK]) == b"\xff" * (4 * BLOCK - len(img))
    assert esp32.boot_label() == "ota_1" and not esp32.rollback_cancelled()
    assert confirm() is True and esp32.rollback_cancelled()


def test_sha_mismatch_does_not_select_the_image():
    esp32.reset_fakes()
    img = image(5000)
    u = OtaUpdate(len(img), sha(img[:-1] + b"\x00"))
    u.write(img)
    _raises(u.finish, "SHA-256 mismatch")
    assert esp32.boot_label() == "ota_0"


def test_size_and_format_checks():
    esp32.reset_fakes()
    _raises(lambda: OtaUpdate(17 * BLOCK), "does not fit partition ota_1")
    _raises(lambda: OtaUpdate(0), "positive integer")
    u = OtaUpdate(100)
    _raises(lambda: u.write(b"\x00" * 10), "not an ESP app image")
    u = OtaUpdate(100)
    u.write(image(60))
    _raises(lambda: u.write(b"\x00" * 41), "more than the announced 100 bytes")
    _raises(u.finish, "got 60 of 100 bytes")
    assert esp32.boot_label() == "ota_0"
