# tools/flash.py: esptool command lines per chip, and refusal of images built for
# another chip, app-only images and non-images, from small crafted image headers.
# Where esptool itself is installed, its image-info must agree with our header reading.
import json
import struct
import subprocess
import types

import pytest

import boardinfo
import flash


def image(chip_id, app=False, partitions=None, offset=0x1000, hash_appended=1, size=None):
    """A crafted ESP32-family image: 8-byte header, 16-byte extended header with the
    chip id, one segment header, optionally an app descriptor, a partition table at 0x8000."""
    hdr = bytes([0xE9, 1, 2, 0x20]) + struct.pack("<I", 0x40080000)
    ext = bytes([0xEE, 0, 0, 0]) + struct.pack("<HBHH", chip_id, 0, 0, 0xFFFF) + bytes(4) + bytes([hash_appended])
    seg = struct.pack("<II", 0x3FFF0000, 4)
    body = struct.pack("<I", flash.APP_DESC_MAGIC if app else 0x12345678)
    data = bytearray(hdr + ext + seg + body)
    if partitions is not None:
        start = flash.PARTITION_TABLE_ADDR - offset
        data += bytes(start - len(data))
        for ptype, sub in partitions:
            data += b"\xaa\x50" + bytes([ptype, sub]) + struct.pack("<II", 0x10000, 0x100000) + b"label".ljust(16, b"\0") + bytes(4)
        data += b"\xff" * 32
    if size:
        data += bytes(size - len(data))
    return bytes(data)


def esp8266_image():
    # ESP8266 v1 image: magic, segment count, flash mode/size, entry; then segments
    # (load address 0x40100000, length) straight away, no extended header.
    return bytes([0xE9, 2, 0, 0x40]) + struct.pack("<I", 0x40100004) + struct.pack("<II", 0x40100000, 0x5A5A) + bytes(range(0x20, 0x30))


OTA = [(1, 2), (1, 0), (0, 0x10), (0, 0x11)]  # nvs, otadata, ota_0, ota_1
PLAIN = [(1, 2), (1, 1), (0, 0)]  # nvs, phy, factory


@pytest.mark.parametrize("chip", ["esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6"])
def test_header_chip_id_is_read_for_each_chip(chip):
    assert flash.image_chip(image(boardinfo.CHIPS[chip]["image_chip_id"])) == chip


def test_esp8266_and_non_images():
    assert flash.image_chip(esp8266_image()) == "esp8266"
    assert flash.image_chip(b"\xea" + bytes(40)) == "esp8266"
    with pytest.raises(flash.FlashError) as e:
        flash.image_chip(b"UF2\n" + bytes(60))
    assert "first byte is 0x55, not 0xe9" in str(e.value)
    with pytest.raises(flash.FlashError) as e:
        flash.image_chip(b"\xe9\x01")
    assert "only 2 bytes" in str(e.value)


@pytest.mark.parametrize("chip,offset", [("esp32", "0x1000"), ("esp32s2", "0x1000"), ("esp32s3", "0x0"),
                                         ("esp32c3", "0x0"), ("esp32c6", "0x0"), ("esp8266", "0x0")])
def test_command_lines_per_chip(chip, offset):
    cmds = flash.commands("/dev/ttyUSB0", chip, "fw.bin", exe="esptool")
    assert cmds == [
        ["esptool", "--chip", chip, "--port", "/dev/ttyUSB0", "erase-flash"],
        ["esptool", "--chip", chip, "--port", "/dev/ttyUSB0", "--baud", "460800", "write-flash", offset, "fw.bin"],
    ]
    assert flash.commands("COM3", chip, "fw.bin", baud=115200, erase=False, exe="esptool") == [
        ["esptool", "--chip", chip, "--port", "COM3", "--baud", "115200", "write-flash", offset, "fw.bin"]]


def _boards(tmp_path):
    d = tmp_path / "boards"
    d.mkdir()
    for name, b in {"devkit": {"kind": "esp32"}, "c3": {"kind": "esp32", "chip": "esp32c3"},
                    "e8266": {"kind": "esp8266"}, "sim": {"kind": "sim"}}.items():
        (d / (name + ".json")).write_text(json.dumps(b))
    return str(d)


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_mismatched_firmware_is_refused_with_the_right_download(tmp_path):
    boards = _boards(tmp_path)
    fw = _write(tmp_path, "ESP32_GENERIC_S3-20240602-v1.23.0.bin", image(9, offset=0))
    ran = []
    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "devkit", fw, boards_dir=boards, out=lambda s: None, run=ran.append)
    msg = str(e.value)
    assert msg.startswith("ESP32_GENERIC_S3-20240602-v1.23.0.bin is a MicroPython image for esp32s3, but board 'devkit' has an esp32: refusing to flash.")
    assert "ESP32_GENERIC-OTA" in msg and "https://micropython.org/download/ESP32_GENERIC/" in msg
    assert ran == []
    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "e8266", fw, boards_dir=boards, out=lambda s: None, run=ran.append)
    assert "but board 'e8266' has an esp8266" in str(e.value)
    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "c3", _write(tmp_path, "e.bin", esp8266_image()), boards_dir=boards, out=lambda s: None, run=ran.append)
    assert "image for esp8266, but board 'c3' has an esp32c3" in str(e.value)
    assert ran == []


def test_app_only_image_is_refused_and_missing_ota_partitions_warn(tmp_path):
    boards = _boards(tmp_path)
    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "devkit", _write(tmp_path, "micropython.bin", image(0, app=True)),
                    boards_dir=boards, out=lambda s: None, dry_run=True)
    assert "application image" in str(e.value)
    lines = []
    flash.flash("/dev/ttyUSB0", "devkit", _write(tmp_path, "plain.bin", image(0, partitions=PLAIN)),
                boards_dir=boards, out=lines.append, dry_run=True)
    assert any(l.startswith("warning: plain.bin has no OTA partitions") for l in lines)
    lines = []
    flash.flash("/dev/ttyUSB0", "devkit", _write(tmp_path, "ota.bin", image(0, partitions=OTA)),
                boards_dir=boards, out=lines.append, dry_run=True)
    assert not any(l.startswith("warning") for l in lines)
    assert flash.has_ota_partitions(image(0), 0x1000) is None


def test_dry_run_prints_commands_and_runs_nothing(tmp_path, capsys):
    boards = _boards(tmp_path)
    fw = _write(tmp_path, "fw.bin", image(5, offset=0, partitions=PLAIN))
    ran = []
    cmds = flash.flash("", "c3", fw, boards_dir=boards, dry_run=True, run=ran.append)
    out = capsys.readouterr().out
    assert ran == [] and len(cmds) == 2
    assert "esptool --chip esp32c3 --port PORT erase-flash" in out
    assert "write-flash 0x0 " + fw in out
    assert "ESP32_GENERIC_C3" in out


def test_real_run_executes_erase_then_write_and_stops_on_failure(tmp_path):
    boards = _boards(tmp_path)
    fw = _write(tmp_path, "fw.bin", image(0, partitions=OTA))
    ran = []

    def ok(cmd):
        ran.append(cmd)
        return types.SimpleNamespace(returncode=0)

    flash.flash("/dev/ttyUSB0", "devkit", fw, boards_dir=boards, out=lambda s: None, run=ok)
    assert [c[-1] if c[-1] == "erase-flash" else c[-3] for c in ran] == ["erase-flash", "write-flash"]
    ran.clear()

    def fail(cmd):
        ran.append(cmd)
        return types.SimpleNamespace(returncode=2)

    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "devkit", fw, boards_dir=boards, out=lambda s: None, run=fail)
    assert "erase-flash failed" in str(e.value) and len(ran) == 1


def test_sim_board_missing_port_and_missing_firmware_are_clear(tmp_path):
    boards = _boards(tmp_path)
    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "sim", "x.bin", boards_dir=boards, out=lambda s: None)
    assert "nothing to flash" in str(e.value)
    with pytest.raises(flash.FlashError) as e:
        flash.flash("/dev/ttyUSB0", "devkit", "", boards_dir=boards, out=lambda s: None)
    assert "no firmware file" in str(e.value)
    fw = _write(tmp_path, "fw.bin", image(0, partitions=OTA))
    with pytest.raises(flash.FlashError) as e:
        flash.flash("", "devkit", fw, boards_dir=boards, out=lambda s: None)
    assert "no port" in str(e.value)
    assert flash.main(["--board", "devkit", "--firmware", fw, "--dry-run", "--chip", "esp32s3"]) == 1  # chip override: mismatch


@pytest.mark.parametrize("chip_id,name", [(0, "ESP32"), (9, "ESP32-S3"), (5, "ESP32-C3")])
def test_esptool_image_info_agrees_with_our_header_reading(tmp_path, chip_id, name):
    fw = _write(tmp_path, "fw.bin", image(chip_id, size=64))
    r = subprocess.run([flash.esptool_exe(), "image-info", fw], capture_output=True, text=True)
    text = r.stdout + r.stderr
    if "Detected image type" not in text:
        pytest.skip("esptool could not parse the crafted image: %s" % text[-200:])
    assert "Detected image type: %s" % name.replace("-", "").upper() in text.replace("-", "")
    assert flash.image_chip(open(fw, "rb").read()) == flash.CHIP_BY_IMAGE_ID[chip_id]
