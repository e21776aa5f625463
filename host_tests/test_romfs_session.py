# The ROMFS image of `make romfs BOARD=sim` (tools/romfs.py: the board's .mpy files packed by
# `mpremote romfs build`), mounted with vfs.VfsRom at /rom on the unix port and run as the
# device's /main.py stub runs it, with nothing but the image and .frozen on the path: a whole
# charging session against the embedded CSMS, every frame valid by the official schemas.
# The unix port has no ffi, so the image is read into the heap before it is mounted.
import asyncio
import json
import os

import pytest

from csms import Csms

import scenario
import sim

SESSION_TIMEOUT_S = 120
SCENARIO = [{"at": 3, "do": "card", "id": "ROMFS001"}, {"at": 5, "do": "plug"},
            {"at": 75, "do": "unplug"}, {"at": 77, "do": "end"}]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    import romfs
    out = tmp_path_factory.mktemp("romfs")
    path, size = romfs.build("sim", str(out / "sim.romfs"), build_dir=str(out / "mpy"), quiet=True)
    return path, size


def _session(tmp_path, image_path, heapsize=None):
    async def go():
        async with Csms() as csms:
            cfg = sim.write_config(str(tmp_path), csms.url, "CPROMFS", 40, SCENARIO, {"log_level": "info"})
            cmd, env = sim.firmware_command("micropython", cfg, romfs=image_path, heapsize=heapsize)
            rc, lines = await sim.run_firmware(cmd, env, out=None, timeout=SESSION_TIMEOUT_S)
            return csms, rc, lines
    return asyncio.run(go())


def test_the_image_holds_only_compiled_modules_and_the_stub(image):
    path, size = image
    with open(path, "rb") as f:
        head = f.read(4)
    assert head[:2] == b"\xd2\xcd"  # the ROMFS header mpremote writes (VfsRom checks it)
    assert 0 < size < 200 * 1024


def test_a_whole_charging_session_runs_from_the_mounted_image(tmp_path, image):
    path, _ = image
    csms, rc, lines = _session(tmp_path, path)
    out = "\n".join(lines)
    assert rc == 0, out[-3000:]
    station = csms.stations["CPROMFS"]
    (tx,) = station.transactions.values()
    assert tx["id_tag"] == "ROMFS001" and tx["reason"] == "EVDisconnected"
    assert tx["meter_stop"] > tx["meter_start"]
    assert scenario.check_schemas(station) == len(scenario.firmware_frames(station))
    actions = [m[2] for m in scenario.firmware_frames(station) if m[0] == 2]
    assert actions[0] == "BootNotification" and "StartTransaction" in actions and "StopTransaction" in actions


def test_the_firmware_comes_from_rom_not_from_the_checkout(tmp_path, image):
    # The same command with the image missing must fail to import: nothing else supplies startup.
    path, _ = image
    cfg = sim.write_config(str(tmp_path), "ws://127.0.0.1:9", "CPROMFS", 40, SCENARIO)
    cmd, env = sim.firmware_command("micropython", cfg, romfs=path)
    assert env["MICROPYPATH"] == ".frozen"
    import subprocess
    broken = [c.replace("vfs.mount(", "0 and vfs.mount(") for c in cmd]
    r = subprocess.run(broken, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "startup" in (r.stdout + r.stderr)
