# A fake `esp32` module: the Partition API over an in-RAM flash with the
# factory-less OTA layout (ota_0 running, ota_1 next), erase-before-write
# semantics of writeblocks(n, buf) and the boot/rollback state. No image logic.
BLOCK = 4096
PARTITION_BLOCKS = 16  # 64 KB app partitions keep tests small

_flash = {}     # label -> bytearray
_state = {"running": "ota_0", "boot": "ota_0", "valid": True, "set_boot_calls": 0}


def reset_fakes(blocks=PARTITION_BLOCKS):
    _flash.clear()
    for label in ("ota_0", "ota_1"):
        _flash[label] = bytearray(b"\xff" * (blocks * BLOCK))
    _state.update(running="ota_0", boot="ota_0", valid=True, set_boot_calls=0)


def boot_label():
    return _state["boot"]


def rollback_cancelled():
    return _state["valid"]


def flash(label):
    return _flash[label]


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
        return Partition("ota_1" if self.label == "ota_0" else "ota_0")

    def readblocks(self, n, buf, offset=0):
        start = n * BLOCK + offset
        buf[:] = _flash[self.label][start:start + len(buf)]

    def writeblocks(self, n, buf, offset=None):
        if self.label == _state["running"]:
            raise OSError(13)  # the running app cannot be overwritten
        if len(buf) % BLOCK or (n + len(buf) // BLOCK) * BLOCK > len(_flash[self.label]):
            raise ValueError("writeblocks: whole blocks inside the partition only")
        f = _flash[self.label]
        f[n * BLOCK:n * BLOCK + len(buf)] = buf  # erase + program, as the 2-argument form does

    def ioctl(self, op, arg):
        if op == 4:
            return len(_flash[self.label]) // BLOCK
        if op == 5:
            return BLOCK
        return None

    def set_boot(self):
        _state["boot"] = self.label
        _state["set_boot_calls"] += 1
        _state["valid"] = False

    @staticmethod
    def mark_app_valid_cancel_rollback():
        _state["valid"] = True
