# MFRC522 driver (hal/esp32/mfrc522.py) against the register-level chip model on
# the fake SPI bus: init, version check, 4/7-byte UIDs, BCC/CRC rejection, held
# cards reported once, reader failure. Runs on CPython and MicroPython.
import sys

_fakes = __file__.rsplit("/", 2)[0] + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

from hal import HalError
from hal_rig import reader_rig
from mfrc522_model import Card, crc_a
from hal.esp32.mfrc522 import AWAY_POLLS, REINIT_POLLS

UID4 = b"\xde\xad\xbe\xef"
UID7 = b"\x04\x11\x22\x33\x44\x55\x66"


def _fails(fn):
    try:
        fn()
    except HalError as e:
        assert e.code == "ReaderFailure", e.code
        return e
    assert False, "no ReaderFailure"


def test_init_configures_chip():
    r, chip = reader_rig()
    assert r.failed is None and r.version == 0x92
    assert chip.soft_resets >= 2  # power-on + the driver's soft reset
    assert chip.regs[0x14] & 0x03 == 0x03   # antenna on
    assert chip.regs[0x15] == 0x40          # 100 % ASK
    assert chip.regs[0x11] & 0x03 == 0x01   # CRC preset 0x6363
    assert chip.regs[0x2A] & 0x80           # timer starts after each transmission


def test_clone_versions_accepted():
    for v in (0x91, 0x92, 0x88):
        r, chip = reader_rig(version=v)
        assert r.failed is None and r.poll() is None


def test_crc_a_from_the_coprocessor():
    r, chip = reader_rig()
    # ISO 14443-3 annex: HALT 50 00 -> CRC_A 57 CD.
    assert r.crc(b"\x50\x00") == b"\x57\xcd"
    c = crc_a(b"\x93\x70")
    assert r.crc(b"\x93\x70") == bytes((c & 0xFF, c >> 8))


def test_no_card_is_none():
    r, chip = reader_rig()
    assert r.poll() is None
    assert chip.frames[-1] == b"\x52"  # WUPA


def test_4_byte_uid():
    r, chip = reader_rig()
    chip.present(Card(UID4))
    assert r.poll() == "DEADBEEF"
    assert chip.card.state == Card.HALT
    # SELECT frame carried the UID, its BCC and a CRC_A.
    sel = [f for f in chip.frames if f[:2] == b"\x93\x70"][0]
    assert sel[2:6] == UID4 and sel[6] == 0xDE ^ 0xAD ^ 0xBE ^ 0xEF
    c = crc_a(sel[:7])
    assert sel[7:] == bytes((c & 0xFF, c >> 8))


def test_7_byte_uid_uses_cascade_level_2():
    r, chip = reader_rig()
    chip.present(Card(UID7))
    assert r.poll() == "04112233445566"
    assert any(f[:2] == b"\x95\x70" for f in chip.frames)
    cl1 = [f for f in chip.frames if f[:2] == b"\x93\x70"][0]
    assert cl1[2] == 0x88  # cascade tag


def test_held_card_reported_once_and_again_after_it_was_away():
    r, chip = reader_rig()
    card = Card(UID4)
    chip.present(card)
    assert r.poll() == "DEADBEEF"
    for _ in range(10):
        assert r.poll() is None  # held: halted, woken by WUPA, same UID
    chip.remove()
    for _ in range(AWAY_POLLS):
        assert r.poll() is None
    chip.present(card)
    assert r.poll() == "DEADBEEF"


def test_brief_lift_is_not_a_new_presentation():
    r, chip = reader_rig()
    chip.present(Card(UID4))
    assert r.poll() == "DEADBEEF"
    chip.remove()
    for _ in range(AWAY_POLLS - 1):
        assert r.poll() is None
    chip.present(Card(UID4))
    assert r.poll() is None


def test_other_card_is_reported_at_once():
    r, chip = reader_rig()
    chip.present(Card(UID4))
    assert r.poll() == "DEADBEEF"
    chip.present(Card(UID7))
    assert r.poll() == "04112233445566"


def test_bad_bcc_rejected():
    r, chip = reader_rig()
    chip.present(Card(UID4, bad_bcc=True))
    for _ in range(6):
        assert r.poll() is None
    # the card answers every other WUPA (a spoilt select leaves it READY, the next WUPA
    # sends it to IDLE): every answer it gave had a bad BCC
    assert r.errors == 3
    assert not any(f[:2] == b"\x93\x70" for f in chip.frames)  # never selected


def test_card_held_through_read_errors_is_not_reported_twice():
    r, chip = reader_rig()
    card = Card(UID4)
    chip.present(card)
    assert r.poll() == "DEADBEEF"
    for _ in range(4):
        card.bad_bcc = True
        assert r.poll() is None
        card.bad_bcc = False
        assert r.poll() is None  # silent WUPA after the error: not counted as away
    assert r.poll() is None      # still the same presentation


def test_bad_sak_crc_rejected():
    r, chip = reader_rig()
    chip.present(Card(UID4, bad_crc=True))
    assert r.poll() is None and r.errors == 1


def test_absent_reader_floating_bus():
    r, chip = reader_rig(attach=False)  # MISO floats high: VersionReg reads 0xFF
    assert r.failed is not None and "0xFF" in r.failed.info
    _fails(r.poll)
    _fails(r.init)


def test_wrong_chip_version():
    r, chip = reader_rig(version=0x12)
    e = _fails(r.poll)
    assert "0x12" in e.info


def test_reader_that_stops_answering_then_recovers():
    r, chip = reader_rig()
    chip.present(Card(UID4))
    assert r.poll() == "DEADBEEF"
    chip.dead = True   # MISO stuck low
    _fails(r.poll)
    for attempt in range(2):
        if attempt == 1:
            chip.dead = False  # it comes back; the next re-init attempt finds it
        traffic = r.spi.transferred
        for _ in range(REINIT_POLLS - 1):
            _fails(r.poll)     # the stored failure: no SPI traffic, no reset delay
        assert r.spi.transferred == traffic
        if attempt == 0:
            _fails(r.poll)     # re-init attempt while still dead
            assert r.spi.transferred > traffic
    assert r.poll() is None    # re-initialised; the card is still the same one
    assert r.failed is None


def test_wait_loop_is_bounded_when_no_irq_comes():
    r, chip = reader_rig()
    chip.timer_irq = False   # no card and the timer never fires
    e = _fails(r.poll)
    assert "no IRQ" in e.info


def test_chip_setup_is_loaded_only_for_the_call():
    r, chip = reader_rig()
    assert r.failed is None and "hal.esp32.setup" not in sys.modules
    r.init()
    assert chip.soft_resets >= 3 and "hal.esp32.setup" not in sys.modules


def test_setup_module_that_cannot_load_is_a_reader_failure():
    from hal import on_demand
    e = _fails(lambda: on_demand("ReaderFailure", "hal.esp32.no_such_setup", "init"))
    assert "hal.esp32.no_such_setup" in e.info and "hal.esp32.no_such_setup" not in sys.modules
