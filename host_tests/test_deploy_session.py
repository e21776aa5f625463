# The deployed image, not the source tree: tools/deploy.py puts the sim board's .mpy
# files, main.py and config.json into a folder; `micropython` runs main.py from there
# (MICROPYPATH=.frozen:<folder>) with security profile 1 against the embedded CSMS,
# which demands HTTP Basic auth. Boot, BootNotification and StatusNotification must
# arrive, valid by the official schemas, and neither secret may reach the console.
import asyncio
import os

from csms import Csms

import mpy as mpyrun
import scenario
from test_deploy_dir import SECRET_KEY, SECRET_WIFI, deploy_sim_folder

SESSION_TIMEOUT_S = 60


async def _session(tmp_path, passwords):
    async with Csms(passwords=passwords) as csms:
        folder = deploy_sim_folder(tmp_path, csms_url=csms.url + "/ocpp", data_dir=str(tmp_path / "data"))
        env = dict(os.environ, MICROPYPATH=".frozen:" + folder)
        proc = await asyncio.create_subprocess_exec(mpyrun.micropython_exe(), "main.py", "config.json", cwd=folder,
                                                    env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        try:
            boot = await csms.wait_for("BootNotification", timeout=SESSION_TIMEOUT_S)
            status = await csms.wait_for("StatusNotification", timeout=SESSION_TIMEOUT_S)
        finally:
            proc.kill()
            out = (await proc.stdout.read()).decode(errors="replace")
            await proc.wait()
        return csms, boot, status, out


def test_deployed_image_boots_authenticates_and_reports(tmp_path):
    csms, boot, status, out = asyncio.run(_session(tmp_path, {"CPDEPLOY": SECRET_KEY}))
    assert boot[3]["chargePointVendor"] and boot[3]["chargePointModel"]
    assert status[2] == "StatusNotification"
    station = csms.stations["CPDEPLOY"]
    assert scenario.check_schemas(station) >= 2
    assert "[info] app: starting" in out, out
    assert SECRET_KEY not in out and SECRET_WIFI not in out, out


async def _full_session(tmp_path):
    scn = tmp_path / "scenario.json"
    scn.write_text('[{"at": 3, "do": "card", "id": "DEPLOYED"}, {"at": 5, "do": "plug"},'
                   ' {"at": 75, "do": "unplug"}, {"at": 77, "do": "end"}]')
    async with Csms(passwords={"CPDEPLOY": SECRET_KEY}) as csms:
        folder = deploy_sim_folder(tmp_path, csms_url=csms.url + "/ocpp", data_dir=str(tmp_path / "data"),
                                   log_level="info", sim={"speed": 40, "scenario": str(scn)})
        assert not [f for f in _files(folder) if f.endswith(".py") and f != "main.py"]
        env = dict(os.environ, MICROPYPATH=".frozen:" + folder)
        proc = await asyncio.create_subprocess_exec(mpyrun.micropython_exe(), "main.py", "config.json", cwd=folder,
                                                    env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), SESSION_TIMEOUT_S)
        return csms, proc.returncode, out.decode(errors="replace")


def _files(folder):
    for root, _, names in os.walk(folder):
        for n in names:
            yield os.path.relpath(os.path.join(root, n), folder)


def test_deployed_mpy_image_completes_a_charging_session(tmp_path):
    # Only .mpy modules (and the main.py stub) on the path: the deployed set is complete and
    # runs as compiled bytecode through boot, authorize, start, meter values, stop.
    csms, rc, out = asyncio.run(_full_session(tmp_path))
    assert rc == 0, out[-3000:]
    station = csms.stations["CPDEPLOY"]
    (tx,) = station.transactions.values()
    assert tx["id_tag"] == "DEPLOYED" and tx["reason"] == "EVDisconnected" and tx["meter_stop"] > tx["meter_start"]
    assert len(tx["meter_values"]) == 1
    assert scenario.check_schemas(station) == len(scenario.firmware_frames(station))
    assert SECRET_KEY not in out and SECRET_WIFI not in out
