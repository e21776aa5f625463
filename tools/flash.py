#!/usr/bin/env python3
# Writes MicroPython onto a board with esptool: erase-flash, then write-flash at the
# chip's offset. Refuses an image built for another chip (read from the image header)
# or an OTA app-only image. Host only; command lines are built by pure functions.
import argparse
import os
import shutil
import struct
import subprocess
import sys

import boardinfo

DEFAULT_BAUD = 460800  # esptool write speed; drop to 115200 on flaky USB-serial adapters
IMAGE_MAGIC = 0xE9  # esp_image_header_t.magic
ESP8266_V2_MAGIC = 0xEA
# esp_image_header_t is 8 bytes, then the 16-byte extended header whose chip_id is
# a little-endian u16 at file offset 12 and hash_appended (0 or 1) at offset 23.
CHIP_ID_OFFSET = 12
HASH_APPENDED_OFFSET = 23
# An application image (what OTA writes) carries esp_app_desc_t right after the first
# segment header: magic 0xABCD5432 at file offset 32. A full firmware starts with the bootloader.
APP_DESC_OFFSET = 32
APP_DESC_MAGIC = 0xABCD5432
# The partition table sits at flash address 0x8000 in every MicroPython ESP32 build.
PARTITION_TABLE_ADDR = 0x8000
PARTITION_MAGIC = b"\xaa\x50"
PARTITION_ENTRY = 32
PARTITION_MAX_ENTRIES = 95  # a 3 KB table
OTA_1_SUBTYPE = 0x11  # app partition ota_1: present only in OTA layouts
# esptool's IMAGE_CHIP_ID values (esptool/targets/*.py).
CHIP_BY_IMAGE_ID = {0: "esp32", 2: "esp32s2", 5: "esp32c3", 9: "esp32s3", 12: "esp32c2", 13: "esp32c6",
                    16: "esp32h2", 18: "esp32p4", 20: "esp32c61", 23: "esp32c5"}


class FlashError(Exception):
    pass


def image_chip(data):
    """The chip an image is built for, from its header (esptool image-info's rule):
    a known chip id with a sane hash_appended byte is an ESP32-family image, else ESP8266."""
    if len(data) < 24:
        raise FlashError("not a firmware image: only %d bytes" % len(data))
    if data[0] == ESP8266_V2_MAGIC:
        return "esp8266"
    if data[0] != IMAGE_MAGIC:
        raise FlashError("not a firmware image: first byte is 0x%02x, not 0xe9 (a .uf2, .hex, .zip or .elf file?)" % data[0])
    chip_id = struct.unpack_from("<H", data, CHIP_ID_OFFSET)[0]
    if data[HASH_APPENDED_OFFSET] in (0, 1) and chip_id in CHIP_BY_IMAGE_ID:
        return CHIP_BY_IMAGE_ID[chip_id]
    return "esp8266"


def is_app_image(data):
    return len(data) >= APP_DESC_OFFSET + 4 and struct.unpack_from("<I", data, APP_DESC_OFFSET)[0] == APP_DESC_MAGIC


def has_ota_partitions(data, offset):
    """True/False from the partition table inside a full image written at `offset`;
    None when the image holds no partition table."""
    start = PARTITION_TABLE_ADDR - offset
    if start < 0 or len(data) < start + PARTITION_ENTRY:
        return None
    found = False
    for i in range(PARTITION_MAX_ENTRIES):
        e = data[start + i * PARTITION_ENTRY: start + (i + 1) * PARTITION_ENTRY]
        if len(e) < PARTITION_ENTRY or e[:2] != PARTITION_MAGIC:
            break
        found = True
        if e[2] == 0 and e[3] == OTA_1_SUBTYPE:
            return True
    return False if found else None


def check_image(data, chip, board_name="", name="firmware"):
    """Raise FlashError when `data` cannot be flashed onto `chip`; return warnings."""
    got = image_chip(data)
    if got != chip:
        raise FlashError("%s is a MicroPython image for %s, but board %r has an %s: refusing to flash.\n  %s"
                         % (name, got, board_name, chip, boardinfo.build_advice(chip)))
    warnings = []
    if chip != "esp8266":
        if is_app_image(data):
            raise FlashError("%s is an application image (what OTA writes, micropython.bin), not a full firmware: "
                             "download the .bin that includes the bootloader.\n  %s" % (name, boardinfo.build_advice(chip)))
        if boardinfo.CHIPS[chip]["variant"] == "OTA" and has_ota_partitions(data, boardinfo.CHIPS[chip]["offset"]) is False:
            warnings.append("%s has no OTA partitions: it runs, but firmware updates over the air will not be possible; "
                            "%s" % (name, boardinfo.build_advice(chip)))
    return warnings


def esptool_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "esptool")
    return exe if os.path.exists(exe) else (shutil.which("esptool") or "esptool")


def erase_cmd(port, chip, exe="esptool"):
    return [exe, "--chip", chip, "--port", port, "erase-flash"]


def write_cmd(port, chip, firmware, baud=DEFAULT_BAUD, exe="esptool"):
    return [exe, "--chip", chip, "--port", port, "--baud", str(baud), "write-flash",
            "0x%x" % boardinfo.CHIPS[chip]["offset"], firmware]


def commands(port, chip, firmware, baud=DEFAULT_BAUD, erase=True, exe="esptool"):
    cmds = [erase_cmd(port, chip, exe)] if erase else []
    return cmds + [write_cmd(port, chip, firmware, baud, exe)]


def flash(port, board_name, firmware, baud=DEFAULT_BAUD, chip=None, dry_run=False, erase=True,
          boards_dir=boardinfo.BOARDS, out=print, run=subprocess.run):
    board = boardinfo.load_board(board_name, boards_dir, validate=False)
    chip = chip or boardinfo.chip_of(board)
    if chip is None:
        raise FlashError("board %r is a %s board: nothing to flash (run it with `make sim`)" % (board_name, board["kind"]))
    if chip not in boardinfo.CHIPS:
        raise FlashError("--chip %r unknown (known: %s)" % (chip, ", ".join(sorted(boardinfo.CHIPS))))
    out(boardinfo.build_advice(chip))
    if not firmware:
        raise FlashError("no firmware file: download it from the page above, then pass FIRMWARE=<path>.bin")
    if not os.path.exists(firmware):
        raise FlashError("%s not found" % firmware)
    with open(firmware, "rb") as f:
        data = f.read()
    for w in check_image(data, chip, board_name, os.path.basename(firmware)):
        out("warning: " + w)
    if not port and not dry_run:
        raise FlashError("no port: pass PORT=/dev/ttyUSB0 (Linux), /dev/cu.usbserial-* (macOS) or COM3 (Windows)")
    cmds = commands(port or "PORT", chip, firmware, baud, erase, esptool_exe() if not dry_run else "esptool")
    for cmd in cmds:
        out(" ".join(cmd))
        if dry_run:
            continue
        r = run(cmd)
        if r.returncode != 0:
            step = [a for a in cmd if a.endswith("-flash")][0]
            raise FlashError("esptool %s failed: check the port, hold BOOT while pressing EN/RESET to enter "
                             "the bootloader, or retry with --baud 115200" % step)
    if not dry_run:
        out("flashed: next `make deploy PORT=%s BOARD=%s CONFIG=config.json`" % (port, board_name))
    return cmds


def main(argv=None):
    ap = argparse.ArgumentParser(description="Erase and flash MicroPython onto a board with esptool")
    ap.add_argument("--port", default="", help="serial port of the board")
    ap.add_argument("--board", required=True, help="board name (boards/<name>.json)")
    ap.add_argument("--firmware", default="", help="the MicroPython .bin for the board's chip")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="write speed (default %d)" % DEFAULT_BAUD)
    ap.add_argument("--chip", help="override the board file's chip (%s)" % ", ".join(sorted(boardinfo.CHIPS)))
    ap.add_argument("--no-erase", action="store_true", help="skip erase-flash (keeps the filesystem only if the layout is unchanged)")
    ap.add_argument("--dry-run", action="store_true", help="check the image and print the esptool commands only")
    args = ap.parse_args(argv)
    try:
        flash(args.port, args.board, args.firmware, args.baud, args.chip, args.dry_run, not args.no_erase)
    except (FlashError, boardinfo.BoardFileError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
