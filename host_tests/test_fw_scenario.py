# The whole charger (sim board, firmware as a subprocess on CPython or micropython) against
# the `ocpp` CSMS over real WebSockets: UpdateFirmware with an application bundle built from
# this firmware tree by tools/mkbundle.py, the reboot (the process ends and is started again
# over the same flash folder), the new version in BootNotification, Installed; then
# GetDiagnostics of the new version's flash log over HTTP PUT. Every frame the firmware sent
# is checked against the official schemas.
import asyncio
import datetime
import os
import sys

import pytest
from ocpp.v16 import call

import mpy
import scenario as S
from fw_servers import HttpFiles

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import mkbundle  # noqa: E402

RUNTIMES = ("cpython", "micropython")
NEW_VERSION = "0.9.0-test"


@pytest.fixture(scope="module")
def tree_bundle():
    return mkbundle.build(NEW_VERSION, kind="sim", source=True)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bundle_update_end_to_end_then_diagnostics(runtime, tree_bundle, tmp_path):
    workdir = str(tmp_path)
    with HttpFiles({"/fw/app.bundle": tree_bundle}) as srv:
        async def update(csms, st):
            await csms.wait_for("BootNotification")
            r = await st.call(call.UpdateFirmware(location=srv.url("/fw/app.bundle"), retrieve_date=_now()))
            assert r is not None

        station, lines, rc = asyncio.run(S.run_session(
            runtime, [{"at": 3000, "do": "end"}], update, speed=20, workdir=workdir,
            sim_opts={"exit_on_reboot": True}))
        assert rc == 0, "\n".join(lines[-40:])
        assert station.firmware_statuses == ["Downloading", "Downloaded", "Installing"], "\n".join(lines[-40:])
        assert S.check_schemas(station) == len(S.firmware_frames(station))
        boot = S.calls(S.firmware_frames(station), "BootNotification")[0][3]
        assert boot["firmwareVersion"] != NEW_VERSION
        assert os.path.exists(os.path.join(workdir, "apps", "app1", "ocpp16", "chargepoint.py"))

        async def diagnostics(csms, st):
            await csms.wait_for("FirmwareStatusNotification")
            r = await st.call(call.GetDiagnostics(location=srv.url("/diag/")))
            assert r.file_name
            for _ in range(200):
                if st.diagnostics_statuses[-1:] in (["Uploaded"], ["UploadFailed"]):
                    break
                await asyncio.sleep(0.1)

        station, lines, rc = asyncio.run(S.run_session(
            runtime, [{"at": 200, "do": "end"}], diagnostics, speed=20, workdir=workdir))
        uploads = dict(srv.uploads)
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    boot = S.calls(frames, "BootNotification")[0][3]
    assert boot["firmwareVersion"] == NEW_VERSION
    assert station.firmware_statuses == ["Installed"]
    assert station.diagnostics_statuses == ["Uploading", "Uploaded"]
    (path, body), = uploads.items()
    assert path.startswith("/diag/diagnostics-CP1-")
    text = body.decode()
    # the flash log of both boots: the download of the first, the new version's boot
    assert "firmware: Downloading" in text and "firmware: Installed" in text, text[-2000:]
    assert all(line[:4].isdigit() and line[19] == "Z" for line in text.splitlines())
