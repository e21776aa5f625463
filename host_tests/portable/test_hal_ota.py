# OTA writer (hal/esp32/ota.py) against the fake esp32.Partition flash: block
# streaming, padding, size/magic/SHA-256 checks, boot selection and rollback
# confirmation. Runs on CPython and MicroPython.
import sys

_fakes = __file__.rsplit("/", 2)[0] + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import hashlib

import esp32
from esp_image import make_image
from hal.esp32.ota import OtaUpdate, OtaError, confirm, BLOCK


def image(n):
    """A well-formed app image of exactly n bytes (n >= 80): one segment plus header,
    checksum and the appended SHA-256."""
    payload = n - 24 - 8 - 32
    payload -= (payload + 32 + 1) % 16   # so that padding is zero and the length is n
    img = make_image(payload)
    assert len(img) <= n
    return img


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
    assert len(img) > 3 * BLOCK + 1200
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
    img = image(200)
    u = OtaUpdate(100)
    u.write(img[:60])
    _raises(lambda: u.write(img[60:101]), "more than the announced 100 bytes")
    _raises(u.finish, "got 60 of 100 bytes")
    assert esp32.boot_label() == "ota_0"


def _fails_on(img, text):
    esp32.reset_fakes()
    u = OtaUpdate(len(img))
    try:
        u.write(img)
        u.finish()
    except OtaError as e:
        assert text in str(e), str(e)
        assert esp32.boot_label() == "ota_0"
        return
    assert False, "no OtaError for " + text


def test_image_structure_is_checked_as_it_streams():
    img = bytearray(make_image(9000, segments=3))
    bad = bytearray(img)
    bad[24 + 8 + 100] ^= 0x01           # one flipped bit in segment data
    _fails_on(bytes(bad), "checksum")
    bad = bytearray(img)
    bad[-1] ^= 0xFF                     # the appended SHA-256
    _fails_on(bytes(bad), "own SHA-256")
    _fails_on(bytes(img[:-40]), "image incomplete")  # a truncated file, announced as such
    _fails_on(bytes(img) + b"\x00" * 16, "after the end of the image")
    bad = bytearray(img)
    bad[1] = 0                          # no segments
    _fails_on(bytes(bad), "segments")
    ok = make_image(5000, hash_appended=False)
    esp32.reset_fakes()
    u = OtaUpdate(len(ok))
    u.write(ok)
    assert u.finish() == "ota_1"


def test_bootloader_model_rolls_back_an_unconfirmed_image():
    esp32.reset_fakes()
    img = make_image(20000)
    u = OtaUpdate(len(img))
    for i in range(0, len(img), 700):
        u.write(img[i:i + 700])
    u.finish()
    assert esp32.ota_state("ota_1") == "new" and esp32.running_label() == "ota_0"
    assert esp32.reboot() == "ota_1" and esp32.ota_state("ota_1") == "pending"
    assert esp32.reboot() == "ota_0"            # never confirmed: the bootloader rolls back
    assert esp32.ota_state("ota_1") == "aborted" and esp32.boot_label() == "ota_0"
    # confirmed on its first boot, it stays
    esp32.reset_fakes()
    u = OtaUpdate(len(img))
    u.write(img)
    u.finish()
    assert esp32.reboot() == "ota_1"
    assert confirm() is True and esp32.ota_state("ota_1") == "valid"
    assert esp32.reboot() == "ota_1"
    assert esp32.stats["erases"] == (len(img) + BLOCK - 1) // BLOCK
