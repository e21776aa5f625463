# A bundle update on the device layout: the firmware deployed by tools/deploy.py as .mpy
# files with the generated /main.py stub (appboot, then startup.mpy), run under micropython
# from that folder against the CSMS; the bundle is .mpy built by tools/mkbundle.py, and after
# the reboot the stub imports the bundle's own startup.mpy from apps/app1.
import asyncio
import datetime
import os
import sys

from ocpp.v16 import call

import mpy
import scenario as S
from csms import Csms
from fw_servers import HttpFiles
from test_deploy_dir import deploy_sim_folder

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import mkbundle  # noqa: E402

VERSION = "0.9.1-device"
RUN_TIMEOUT_S = 90


async def _run(folder, lines, stop_when=None):
    cmd, env = mpy.command(["main.py", "config.json"], env={"MICROPYPATH": ".frozen:" + folder})
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=folder, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)

    async def pump():
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            lines.append(line.decode(errors="replace").rstrip("\n"))

    reader = asyncio.ensure_future(pump())
    try:
        for _ in range(RUN_TIMEOUT_S * 10):
            if proc.returncode is not None or (stop_when is not None and stop_when()):
                break
            await asyncio.sleep(0.1)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await asyncio.wait_for(reader, 5)
    return proc.returncode


def test_mpy_bundle_update_on_the_deployed_folder(tmp_path):
    data = mkbundle.build(VERSION, kind="sim")          # .mpy for this host's micropython
    lines1, lines2 = [], []

    async def main():
        with HttpFiles({"/app.bundle": data}) as srv:
            async with Csms() as csms:
                folder = deploy_sim_folder(tmp_path, csms_url=csms.url, security_profile=0,
                                           log_level="info", sim={"speed": 20, "exit_on_reboot": True})

                async def update():
                    st = await csms.connected("CPDEPLOY", timeout=RUN_TIMEOUT_S)
                    await csms.wait_for("BootNotification", timeout=RUN_TIMEOUT_S)
                    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                    await st.call(call.UpdateFirmware(location=srv.url("/app.bundle"), retrieve_date=now))
                script = asyncio.ensure_future(update())
                rc1 = await _run(folder, lines1)
                await script
                st = csms.stations["CPDEPLOY"]
                first = list(st.firmware_statuses)
                rc2 = await _run(folder, lines2, lambda: "Installed" in st.firmware_statuses)
                return folder, rc1, first, st

    folder, rc1, first, st = asyncio.run(main())
    assert rc1 == 0, "\n".join(lines1[-30:])
    assert first == ["Downloading", "Downloaded", "Installing"], "\n".join(lines1[-30:])
    assert st.firmware_statuses == ["Downloading", "Downloaded", "Installing", "Installed"], "\n".join(lines2[-30:])
    boots = S.calls(S.firmware_frames(st), "BootNotification")
    assert boots[0][3]["firmwareVersion"] != VERSION and boots[-1][3]["firmwareVersion"] == VERSION
    assert S.check_schemas(st) == len(S.firmware_frames(st))
    assert os.path.exists(os.path.join(folder, "apps", "app1", "startup.mpy"))
    assert os.path.exists(os.path.join(folder, "apps", "app1", "ocpp16", "chargepoint.mpy"))
