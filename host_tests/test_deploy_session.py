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
