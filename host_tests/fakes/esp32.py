# A fake `esp32` module: the Partition API over an in-RAM NOR flash model with the
# factory-less OTA layout (ota_0, ota_1): erase blocks (erase sets 0xFF, programming only
# clears bits), writeblocks(n, buf) = erase + program and writeblocks(n, buf, offset) =
# program only, the otadata boot selection and the bootloader's rollback states
# (new -> pending verify on first boot -> valid when confirmed, aborted when a second boot
# finds it unconfirmed). reboot() plays the bootloader. No image logic beyond the magic byte.
BLOCK = 4096
PARTITION_BLOCKS = 16  # 64 KB app partitions keep tests small

_flash = {}     # label -> bytearray
# running / boot: labels; ota: label -> "valid" | "new" | "pending" | "aborted";
# valid: the rollback of the last set_boot was cancelled (kept for the OTA writer test).
_state = {"running": "ota_0", "boot": "ota_0", "valid": True, "set_boot_calls": 0, "ota": {}}
stats = {"erases": 0, "programmed": 0, "writes": 0}


def reset_fakes(blocks=PARTITION_BLOCKS):
    _flash.clear()
    for label in ("ota_0", "ota_1"):
        _flash[label] = bytearray(b"\xff" * (blocks * BLOCK))
    _flash["ota_0"][0] = 0xE9      # the running image
    _state.update(running="ota_0", boot="ota_0", valid=True, set_boot_calls=0,
                  ota={"ota_0": "valid", "ota_1": "aborted"})
    for k in stats:
        stats[k] = 0


def boot_label():
    return _state["boot"]


def running_label():
    return _state["running"]


def ota_state(label):
    return _state["ota"][label]


def rollback_cancelled():
    return _state["valid"]


def flash(label):
    return _flash[label]


def _other(label):
    return "ota_1" if label == "ota_0" else "ota_0"


def reboot():
    """The second-stage bootloader: boot the selected partition; a new image goes to
    pending verify, a pending one that was not confirmed is aborted (rollback), an image
    without the magic byte is not bootable. Returns the label now running."""
    want = _state["boot"]
    st = _state["ota"]
    if st[want] == "pending":
        st[want] = "aborted"        # booted once and never confirmed: roll back
    if st[want] == "new":
        st[want] = "pending"
    if st[want] == "aborted" or _flash[want][0] != 0xE9:
        want = _other(want)
        _state["boot"] = want
    _state["running"] = want
    return want


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=BLOCK):
        if not _flash:
            reset_fakes()
        if id == Partition.RUNNING:
            id = _state["running"]
        elif id == Partition.BOOT:
            id = _state["boot"]
        if id not in _flash:
            raise ValueError("partition not found")
        self.label = id

    def info(self):
        return (Partition.TYPE_APP, 0x10 + int(self.label[-1]), 0x10000, len(_flash[self.label]), self.label, False)

    def get_next_update(self):
        return Partition(_other(self.label))

    def readblocks(self, n, buf, offset=0):
        start = n * BLOCK + offset
        buf[:] = _flash[self.label][start:start + len(buf)]

    def _check_writable(self):
        if self.label == _state["running"]:
            raise OSError(13)  # the running app cannot be overwritten

    def _erase(self, n):
        f = _flash[self.label]
        f[n * BLOCK:(n + 1) * BLOCK] = b"\xff" * BLOCK
        stats["erases"] += 1

    def writeblocks(self, n, buf, offset=None):
        self._check_writable()
        f = _flash[self.label]
        stats["writes"] += 1
        if offset is None:
            if len(buf) % BLOCK or (n + len(buf) // BLOCK) * BLOCK > len(f):
                raise ValueError("writeblocks: whole blocks inside the partition only")
            for b in range(n, n + len(buf) // BLOCK):
                self._erase(b)
            f[n * BLOCK:n * BLOCK + len(buf)] = buf   # erased: 0xFF AND buf is buf
        else:
            a = n * BLOCK + offset
            if a + len(buf) > len(f):
                raise ValueError("writeblocks: beyond the partition")
            for i in range(len(buf)):      # NOR flash: programming only clears bits
                f[a + i] &= buf[i]
        stats["programmed"] += len(buf)
        # Writing into a partition makes whatever it held unbootable until set_boot.
        _state["ota"][self.label] = "aborted"

    def ioctl(self, op, arg):
        if op == 4:
            return len(_flash[self.label]) // BLOCK
        if op == 5:
            return BLOCK
        if op == 6:
            self._check_writable()
            self._erase(arg)
            return 0
        return None

    def set_boot(self):
        if _flash[self.label][0] != 0xE9:
            raise OSError(-5379)       # ESP_ERR_OTA_VALIDATE_FAILED
        _state["boot"] = self.label
        _state["set_boot_calls"] += 1
        _state["valid"] = False
        _state["ota"][self.label] = "new"

    @staticmethod
    def mark_app_valid_cancel_rollback():
        _state["valid"] = True
        _state["ota"][_state["running"]] = "valid"
