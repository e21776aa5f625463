# Host-side facts about boards and chips shared by tools/mpy.py, flash.py, deploy.py
# and config.py: where board files live, which chip a board has, the mpy-cross arch,
# flash offset and MicroPython build per chip. No device I/O here.
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")

# Per chip: mpy-cross -march, write-flash offset of the full MicroPython image,
# the esptool image header chip id, and the MicroPython download to use.
CHIPS = {
    "esp32": {"march": "xtensawin", "offset": 0x1000, "image_chip_id": 0,
              "build": "ESP32_GENERIC", "variant": "OTA",
              "note": "use the OTA variant (ESP32_GENERIC-OTA-*.bin) so firmware updates over the air work later"},
    "esp32s2": {"march": "xtensawin", "offset": 0x1000, "image_chip_id": 2, "build": "ESP32_GENERIC_S2", "variant": None, "note": ""},
    "esp32s3": {"march": "xtensawin", "offset": 0x0, "image_chip_id": 9, "build": "ESP32_GENERIC_S3", "variant": None, "note": ""},
    "esp32c3": {"march": "rv32imc", "offset": 0x0, "image_chip_id": 5, "build": "ESP32_GENERIC_C3", "variant": None, "note": ""},
    "esp32c6": {"march": "rv32imc", "offset": 0x0, "image_chip_id": 13, "build": "ESP32_GENERIC_C6", "variant": None, "note": ""},
    "esp8266": {"march": "xtensa", "offset": 0x0, "image_chip_id": None, "build": "ESP8266_GENERIC", "variant": None,
                "note": "a reduced build: about 35 KB heap, no TLS certificate verification"},
}
# A board file without "chip" gets the chip its kind implies.
CHIP_BY_KIND = {"esp32": "esp32", "esp8266": "esp8266"}
DOWNLOAD_URL = "https://micropython.org/download/%s/"


class BoardFileError(Exception):
    pass


def board_path(name, boards_dir=BOARDS):
    return os.path.join(boards_dir, name + ".json")


def board_names(boards_dir=BOARDS):
    try:
        return sorted(f[:-5] for f in os.listdir(boards_dir) if f.endswith(".json"))
    except OSError:
        return []


def load_board(name, boards_dir=BOARDS, validate=True):
    """The parsed board file; with `validate`, checked by hal.board.load (the same check
    the device runs) when that module is present."""
    path = board_path(name, boards_dir)
    if not os.path.exists(path):
        raise BoardFileError("board %r: no file %s (known boards: %s)" % (name, os.path.relpath(path), ", ".join(board_names(boards_dir)) or "none"))
    try:
        with open(path) as f:
            board = json.load(f)
    except ValueError as e:
        raise BoardFileError("board %r: %s is not valid JSON (%s)" % (name, os.path.relpath(path), e))
    if not isinstance(board, dict) or board.get("kind") not in ("esp32", "esp8266", "sim"):
        raise BoardFileError("board %r: \"kind\" must be esp32, esp8266 or sim" % name)
    if not validate:
        return board
    try:
        if FIRMWARE not in sys.path:
            sys.path.insert(0, FIRMWARE)
        from hal import board as hal_board
    except ImportError:
        hal_board = None
    if hal_board is not None and hasattr(hal_board, "load"):
        try:
            hal_board.load(board)
        except Exception as e:
            raise BoardFileError(str(e))
    return board


def chip_of(board):
    """The chip name of a board dict, or None for the sim board."""
    chip = board.get("chip") or CHIP_BY_KIND.get(board.get("kind"))
    if chip is not None and chip not in CHIPS:
        raise BoardFileError("board %r: chip %r unknown (known: %s)" % (board.get("name"), chip, ", ".join(sorted(CHIPS))))
    return chip


def march_of(board):
    """The mpy-cross -march for a board, or None (plain bytecode) for the sim board."""
    chip = chip_of(board)
    return CHIPS[chip]["march"] if chip else None


def build_advice(chip):
    """A sentence saying which MicroPython image a chip needs."""
    c = CHIPS[chip]
    name = c["build"] + ("-" + c["variant"] if c["variant"] else "")
    s = "this board needs MicroPython v1.22 or later, build %s (%s)" % (name, DOWNLOAD_URL % c["build"])
    if c["note"]:
        s += ": " + c["note"]
    return s


def mpy_tool():
    """tools/mpy.py as module "mpy_tool": on the test path the name `mpy` is
    host_tests/mpy.py (the micropython runner), so import it by file."""
    mod = sys.modules.get("mpy_tool")
    if mod is None:
        import importlib.util
        spec = importlib.util.spec_from_file_location("mpy_tool", os.path.join(ROOT, "tools", "mpy.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["mpy_tool"] = mod
        spec.loader.exec_module(mod)
    return mod


def module_name(dest_rel):
    """The dotted name a device imports `dest_rel` (a .mpy path under the root) by."""
    name = dest_rel[:-4].replace("/", ".")
    return name[:-9] if name.endswith(".__init__") else name


def firmware_version(firmware=FIRMWARE):
    """firmware/version.py VERSION, read without importing the firmware."""
    with open(os.path.join(firmware, "version.py")) as f:
        for line in f:
            if line.startswith("VERSION = "):
                return line.split("=", 1)[1].split("#")[0].strip().strip('"')
    raise ValueError("no VERSION in firmware/version.py")
