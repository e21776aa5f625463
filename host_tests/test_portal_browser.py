# The setup portal and the status page under the real `micropython` command, driven by
# headless Chromium over the DevTools protocol (host_tests/cdp.py): fill the form, submit,
# config.json written and the restart requested; refused values show their message beside
# the field; the status page (Basic auth) shows a running transaction's energy rising.
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

import cdp
import mpy

ROOT = os.path.dirname(mpy.HOST_TESTS)
SHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to keep the screenshots (tools/bench_portal.py does)

pytestmark = pytest.mark.skipif(cdp.chromium_path() is None, reason="chromium missing: `make test` installs it")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


async def wait_line(proc, text, lines, timeout=20):
    async def scan():
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError("process ended before %r:\n%s" % (text, "".join(lines)))
            lines.append(line.decode(errors="replace"))
            if text in lines[-1]:
                return lines[-1]
    return await asyncio.wait_for(scan(), timeout)


def test_setup_portal_in_chromium(tmp_path):
    work = str(tmp_path)
    os.mkdir(work + "/boards")
    shutil.copy(ROOT + "/boards/esp32-devkitc.json", work + "/boards/")
    port, dport = free_port(), free_port(socket.SOCK_DGRAM)
    cmd, env = mpy.command([mpy.HOST_TESTS + "/portal_device.py", work, str(port), str(dport)])

    async def go():
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        lines = []
        b = None
        try:
            banner = await wait_line(proc, "setup portal: WiFi", lines)
            assert "'ESP32-EVSE-000001', password " in banner
            pw = json.load(open(work + "/portal.json"))["password"]
            assert pw in banner  # the per-device AP password is on the console
            b = await cdp.Browser().start()
            url = "http://127.0.0.1:%d/" % port
            await b.goto(url)
            assert await b.text("err-csms_url") is None
            assert "garage" in await b.eval("document.getElementById('ssids').innerHTML")  # scan list
            if SHOTS:
                await b.screenshot(os.path.join(SHOTS, "portal.png"))
            # a bad URL: its message beside the field, nothing written
            await b.fill({"wifi_ssid": "garage", "wifi_password": "wifi-password-1", "csms_url": "http://csms.local/ocpp",
                          "charge_point_id": "CP042", "authorization_key": "tooshort123"})
            await b.eval("document.getElementById('security_profile').value='1'")
            await b.submit()
            assert await b.text("err-csms_url") == "config.json: csms_url: must start with ws:// or wss://"
            assert await b.text("err-authorization_key") == \
                "config.json: authorization_key: must be 16 to 40 characters, got 11"  # both in one round
            assert await b.eval("document.getElementById('security_profile').value") == "1"
            assert await b.eval("document.getElementById('charge_point_id').value") == "CP042"  # kept
            assert await b.eval("document.getElementById('wifi_password').value") == ""  # never shown back
            assert "Type it again" in await b.eval("document.getElementById('wifi_password').nextSibling.textContent")
            assert not os.path.exists(work + "/config.json")
            # a too-short AuthorizationKey with security profile 1
            await b.fill({"wifi_password": "wifi-password-1", "csms_url": "ws://127.0.0.1:9000/ocpp",
                          "authorization_key": "tooshort123"})
            await b.eval("document.getElementById('security_profile').value='1'")
            await b.submit()
            assert await b.text("err-authorization_key") == \
                "config.json: authorization_key: must be 16 to 40 characters, got 11"
            assert await b.text("err-csms_url") is None
            assert "tooshort123" not in await b.eval("document.documentElement.outerHTML")
            if SHOTS:
                await b.screenshot(os.path.join(SHOTS, "portal-error.png"))
            assert not os.path.exists(work + "/config.json")
            # all good: saved, restart requested
            await b.fill({"wifi_password": "wifi-password-1", "authorization_key": "0123456789abcdef0123",
                          "max_current_a": "16", "status_password": "status-pass-1"})
            await b.eval("document.getElementById('board').value='esp32-devkitc'")
            await b.submit()
            assert (await b.text("saved")).startswith("SavedThe charger restarts now and joins garage.")
            tail = await wait_line(proc, "BOOT_RETURNED", lines)
            assert tail.split()[1:3] == ["0", "resets=hard"], "".join(lines)
            assert "ap=ESP32-EVSE-000001" in tail
        finally:
            if b is not None:
                await b.close_async()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return "".join(lines)

    out = asyncio.run(go())
    cfg = json.load(open(work + "/config.json"))
    assert cfg == {"wifi": {"ssid": "garage", "password": "wifi-password-1"}, "csms_url": "ws://127.0.0.1:9000/ocpp",
                   "charge_point_id": "CP042", "security_profile": 1, "authorization_key": "0123456789abcdef0123",
                   "board": "esp32-devkitc", "max_current_a": 16, "status_password": "status-pass-1"}
    assert not os.path.exists(work + "/config.json.tmp")
    assert "0123456789abcdef0123" not in out and "status-pass-1" not in out
    assert "wifi-password-1" not in out


def test_status_page_in_chromium_shows_the_energy_rising(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import sim
    from csms import Csms
    port = free_port()
    scenario = [{"at": 3, "do": "card", "id": "04A2B3C4"}, {"at": 5, "do": "plug"},
                {"at": 400, "do": "unplug"}, {"at": 402, "do": "end"}]

    async def go():
        async with Csms() as csms:
            path = sim.write_config(str(tmp_path), csms.url, "ST1", 10, scenario, {"status_password": "status-pass-1"})
            c = json.load(open(path))
            c["sim"].update(status_port=port, trace=False)
            json.dump(c, open(path, "w"))
            cmd, env = sim.firmware_command("micropython", path)
            proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.STDOUT)
            lines = []
            b = None
            try:
                await wait_line(proc, "transactionId 1001 assigned", lines)
                b = await cdp.Browser().start()
                with pytest.raises(RuntimeError, match="ERR_INVALID_AUTH_CREDENTIALS"):
                    await b.goto("http://127.0.0.1:%d/" % port)  # 401 challenge, no credentials to give
                await b.headers(Authorization="Basic " + base64.b64encode(b"admin:status-pass-1").decode())
                seen = []
                for _ in range(4):
                    await b.goto("http://127.0.0.1:%d/" % port)
                    seen.append(int(await b.text("energy-1")))
                    assert await b.text("status-1") == "Charging"
                    assert await b.text("link") == "connected"
                    await asyncio.sleep(1.0)
                assert seen == sorted(seen) and seen[-1] > seen[0], seen
                assert await b.text("drawn-1") == "32.0" and await b.text("offered-1") == "32"
                assert await b.text("tx-1") == "1001"
                if SHOTS:
                    await b.screenshot(os.path.join(SHOTS, "status.png"))
                await b.goto("http://127.0.0.1:%d/status.json" % port)
                js = json.loads(await b.eval("document.body.innerText"))
                assert js["connectors"][0]["energy_wh"] >= seen[-1] and js["csms"]["connected"] is True
                assert js["charge_point_id"] == "ST1" and js["queue"] == {"stored": 0, "ram": 0}
                assert js["free_heap"] > 0 and js["uptime_s"] > 0 and js["firmware"]
            finally:
                if b is not None:
                    await b.close_async()
                proc.kill()
                await proc.wait()

    asyncio.run(go())
