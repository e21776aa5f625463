# Firmware Management end to end at the job level: the real UpdateFirmware / GetDiagnostics
# handlers and background jobs, the real core (sim hardware, every CALL it sends checked
# against the official schemas), real HTTP(S) and FTP servers on 127.0.0.1, on CPython and
# under micropython (host_tests/fw_job_driver.py runs in a subprocess of either).
import hashlib
import json
import os
import ssl
import subprocess
import sys

import pytest

import mpy
import schemas
import ws_servers
from fw_servers import FtpFiles, HttpFiles

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import mkbundle as bundle_tool  # noqa: E402  (tools/mkbundle.py)
sys.path.insert(0, os.path.join(mpy.HOST_TESTS, "fakes"))
from esp_image import make_image  # noqa: E402

RUNTIMES = ("cpython", "micropython")
DRIVER = os.path.join(mpy.HOST_TESTS, "fw_job_driver.py")
FAKES = os.path.join(mpy.HOST_TESTS, "fakes")
PORTABLE = os.path.join(mpy.HOST_TESTS, "portable")
RUN_TIMEOUT_S = 180


def small_bundle(version="0.2.0", extra=b""):
    files = [("version.py", b'VERSION = "%s"\n' % version.encode()),
             ("fwtest_probe.py", b"# a module only the new version has\nNEW = True\n" + extra),
             ("ocpp16/fwtest_data.py", bytes(range(256)) * 0 + b"DATA = %r\n" % (b"x" * 3000))]
    return bundle_tool.pack(files, version)


def drive(runtime, spec, tmp_path):
    spec_path = os.path.join(str(tmp_path), "spec-%s.json" % runtime)
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    if runtime == "micropython":
        r = mpy.run([DRIVER, spec_path], extra_path=(mpy.HOST_TESTS, FAKES, PORTABLE), timeout=RUN_TIMEOUT_S)
    else:
        env = dict(os.environ)
        env["PYTHONPATH"] = ":".join((mpy.FIRMWARE, mpy.HOST_TESTS, FAKES, PORTABLE))
        r = subprocess.run([sys.executable, DRIVER, spec_path], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT_S, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, out[-4000:]
    res = json.loads(lines[-1][7:])
    n = 0
    for l in r.stdout.splitlines():
        if l.startswith("CALL "):
            m = json.loads(l[5:])
            schemas.validate_request(m[2], m[3])
            n += 1
        elif l.startswith("ANSWER "):
            m = json.loads(l[7:])
            assert m[0] == 3, m
    res["_checked"] = n
    res["_out"] = out
    return res


def spec_for(tmp_path, runtime, location, **kw):
    d = os.path.join(str(tmp_path), "dev-" + runtime)
    os.makedirs(d + "/data", exist_ok=True)
    spec = {"dir": d + "/data", "root": d + "/apps", "location": location, "retryInterval": 10}
    spec.update(kw)
    return spec


def _files_of(folder):
    out = {}
    for base, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = fh.read()
    return out


# ---------------------------------------------------------------------------- bundles
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_good_bundle_over_http_installs_and_is_confirmed_after_the_reboot(runtime, tmp_path):
    data = small_bundle()
    with HttpFiles({"/fw/app.bundle": data}) as srv:
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/fw/app.bundle")), tmp_path)
    assert res["first"] == ["Downloading", "Downloaded", "Installing"], res["_out"][-3000:]
    assert res["reboot"] == "Hard"
    after = res["after"][0]
    assert after["statuses"] == ["Installed"] and after["firmwareVersion"] == "0.2.0"
    assert res["marker"]["run"] == "app1" and res["marker"]["trial"] == 0 and res["marker"]["prev"] == ""
    root = os.path.join(str(tmp_path), "dev-" + runtime, "apps")
    got = _files_of(os.path.join(root, "app1"))
    assert got["version.py"] == b'VERSION = "0.2.0"\n' and "fwtest_probe.py" in got
    assert not os.path.exists(os.path.join(str(tmp_path), "dev-" + runtime, "data", "fw.json"))
    assert not os.path.exists(os.path.join(str(tmp_path), "dev-" + runtime, "data", "fw.part"))
    assert res["_checked"] > 5
    assert res["resident"] == []    # nothing of the profile stays imported once it is over


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_retrieve_date_in_the_future_schedules_the_download(runtime, tmp_path):
    with HttpFiles({"/b": small_bundle()}) as srv:
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/b"), delay_s=120), tmp_path)
    assert res["first"] == ["Downloading", "Downloaded", "Installing"]
    waited = res["downloading_ms"] - res["asked_ms"]
    assert 118000 <= waited <= 140000, waited


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_newer_update_firmware_replaces_the_running_download(runtime, tmp_path):
    slow = small_bundle("0.5.0", extra=b"PAD = %r\n" % (b"z" * 200000,))
    with HttpFiles({"/slow": slow, "/b": small_bundle("0.6.0")}) as srv:
        srv.faults = ["slow"]
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/slow"), replace_with=srv.url("/b")), tmp_path)
    assert res["first"][-2:] == ["Downloaded", "Installing"] and res["first"].count("Downloaded") == 1
    assert res["after"][0]["firmwareVersion"] == "0.6.0" and res["after"][0]["statuses"] == ["Installed"]
    assert "downloaded" in res["_out"]      # progress lines


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_server_gone_mid_download_resumes_with_range_on_the_retry(runtime, tmp_path):
    data = small_bundle()
    with HttpFiles({"/b": data}) as srv:
        srv.faults = ["gone"]
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/b"), retries=2), tmp_path)
        reqs = list(srv.requests)
    assert res["first"] == ["Downloading", "Downloading", "Downloaded", "Installing"], res["_out"][-3000:]
    assert len(reqs) == 2 and reqs[0][2] is None
    start = int(reqs[1][2][6:-1])
    assert 0 < start < len(data), reqs          # the retry asked only for the missing bytes
    assert res["after"][0]["statuses"] == ["Installed"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_server_without_range_support_gets_the_file_again_from_its_start(runtime, tmp_path):
    data = small_bundle()
    with HttpFiles({"/b": data}, no_range=True) as srv:
        srv.faults = ["gone"]
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/b"), retries=1), tmp_path)
        assert srv.requests[1][2] is not None      # asked for the rest, got 200 and the whole file
    assert res["first"] == ["Downloading", "Downloading", "Downloaded", "Installing"], res["_out"][-3000:]
    assert res["after"][0]["statuses"] == ["Installed"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wrong_hash_and_truncated_bundles_fail_after_the_retries(runtime, tmp_path):
    data = bytearray(small_bundle())
    data[-10] ^= 0x20                           # one byte of the last file
    good = small_bundle()
    with HttpFiles({"/bad": bytes(data), "/short": good[:len(good) - 500]}) as srv:
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/bad"), retries=2), tmp_path)
        assert res["first"] == ["Downloading"] * 3 + ["DownloadFailed"], res["_out"][-3000:]
        assert "does not match the manifest" in res["_out"]
        assert len(srv.requests) == 3           # retries counted: 1 + 2
        res = drive(runtime, spec_for(tmp_path, runtime + "2", srv.url("/short"), retries=1), tmp_path)
        assert res["first"] == ["Downloading"] * 2 + ["DownloadFailed"], res["_out"][-3000:]
        assert "truncated" in res["_out"]
    root = os.path.join(str(tmp_path), "dev-" + runtime, "apps")
    assert not os.path.exists(os.path.join(root, "current.json"))   # the running version stays


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_not_found_and_ftp_login_refused(runtime, tmp_path):
    with HttpFiles({}) as srv:
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/nothing"), retries=1), tmp_path)
        assert res["first"] == ["Downloading", "Downloading", "DownloadFailed"]
        assert "HTTP 404" in res["_out"] and len(srv.requests) == 2
    home = os.path.join(str(tmp_path), "ftp")
    os.makedirs(home)
    with FtpFiles(home) as ftp:
        url = ftp.url("/fw.bundle", password="wrong")
        res = drive(runtime, spec_for(tmp_path, runtime + "f", url, retries=0), tmp_path)
        assert res["first"] == ["Downloading", "DownloadFailed"]
        assert "530" in res["_out"] and "wrong" not in res["_out"]   # the password is never logged
        assert ftp.commands.count("PASS") == 1


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_good_bundle_over_ftp(runtime, tmp_path):
    home = os.path.join(str(tmp_path), "ftp")
    os.makedirs(home)
    with open(os.path.join(home, "fw.bundle"), "wb") as f:
        f.write(small_bundle("0.3.0"))
    with FtpFiles(home) as ftp:
        ftp.cut_retr = 1
        res = drive(runtime, spec_for(tmp_path, runtime, ftp.url("/fw.bundle")), tmp_path)
        assert ftp.commands.count("RETR") == 2 and "TYPE" in ftp.commands and "PASV" in ftp.commands
        assert ftp.commands.count("REST") == 1      # the retry resumed after the half it had
    assert res["first"] == ["Downloading", "Downloading", "Downloaded", "Installing"], res["_out"][-3000:]
    assert res["after"][0]["statuses"] == ["Installed"] and res["after"][0]["firmwareVersion"] == "0.3.0"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_new_version_without_boot_accepted_is_rolled_back(runtime, tmp_path):
    with HttpFiles({"/b": small_bundle()}) as srv:
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/b"), boots=["Rejected", "Accepted"]), tmp_path)
    assert res["first"] == ["Downloading", "Downloaded", "Installing"]
    trial, back = res["after"]
    assert trial["firmwareVersion"] == "0.2.0" and trial["reboot"] == "Hard" and trial["statuses"] == []
    assert back["firmwareVersion"] == "0.1.0" and back["statuses"] == ["InstallationFailed"], res["_out"][-3000:]
    assert res["marker"]["run"] == "" and res["marker"]["failed"] == "app1"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_install_waits_for_the_transaction_to_end(runtime, tmp_path):
    with HttpFiles({"/b": small_bundle()}) as srv:
        res = drive(runtime, spec_for(tmp_path, runtime, srv.url("/b"), charging=True), tmp_path)
    assert res["charging_while_waiting"] is True, res["_out"][-3000:]
    assert res["first"] == ["Downloading", "Downloaded", "Installing"]
    calls = [(m[2], m[3]) for m in res["calls_first"]]
    stop = [i for i, c in enumerate(calls) if c[0] == "StopTransaction"][0]
    inst = [i for i, c in enumerate(calls) if c == ("FirmwareStatusNotification", {"status": "Installing"})][0]
    assert stop < inst
    after_stop = [c[1]["status"] for c in calls[stop:] if c[0] == "StatusNotification" and c[1]["connectorId"] == 1]
    assert "Unavailable" in after_stop and "Available" not in after_stop, after_stop
    assert res["after"][0]["statuses"] == ["Installed"]


def test_no_space_left_on_littlefs_is_download_failed(tmp_path):
    # A 160 KB LittleFS (the device's filesystem) cannot take a 120 KB bundle twice.
    big = small_bundle(extra=b"PAD = %r\n" % (os.urandom(60000).hex(),))
    with HttpFiles({"/big": big}) as srv:
        spec = {"dir": "/lfs/data", "root": "/lfs/apps", "location": srv.url("/big"), "retryInterval": 10,
                "lfs_blocks": 40}
        res = drive("micropython", spec, tmp_path)
    assert res["first"] == ["Downloading", "DownloadFailed"], res["_out"][-3000:]
    assert "no space left" in res["_out"]


# ---------------------------------------------------------------------------- images
def _ca(tmp_path):
    made = ws_servers.make_self_signed(tmp_path)
    if made is None:
        pytest.skip("no way to make a certificate")
    certfile, keyfile, pem = made
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    der = os.path.join(str(tmp_path), "ca.der")
    with open(der, "wb") as f:
        f.write(ssl.PEM_cert_to_DER_cert(pem.decode()))
    return ctx, certfile, der


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_good_image_over_https_boots_pending_and_is_confirmed(runtime, tmp_path):
    img = make_image(50000, segments=3)
    ctx, pem, der = _ca(tmp_path)
    with HttpFiles({"/mp.bin": img}, ssl_ctx=ctx) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/mp.bin", host="localhost"), image=True,
                        ca_cert=der if runtime == "micropython" else pem)
        spec.pop("root")
        res = drive(runtime, spec, tmp_path)
    assert res["first"] == ["Downloading", "Downloaded", "Installing"], res["_out"][-3000:]
    assert res["after"][0]["statuses"] == ["Installed"]
    assert res["running"] == "ota_1" and res["ota"]["ota_1"] == "valid"
    assert res["resident"] == []
    # flash bytes per KB of firmware: whole 4 KB blocks, erased once each
    assert res["flash"]["erases"] == (len(img) + 4095) // 4096
    print("image of %d bytes: %d blocks erased, %d bytes programmed (%.0f bytes per KB)" % (
        len(img), res["flash"]["erases"], res["flash"]["programmed"], res["flash"]["programmed"] * 1024 / len(img)))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bad_image_fails_and_unconfirmed_image_is_rolled_back(runtime, tmp_path):
    img = bytearray(make_image(30000))
    img[5000] ^= 1
    good = make_image(30000)
    with HttpFiles({"/bad.bin": bytes(img), "/good.bin": good}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/bad.bin"), image=True, retries=1)
        spec.pop("root")
        res = drive(runtime, spec, tmp_path)
        assert res["first"] == ["Downloading", "Downloading", "DownloadFailed"], res["_out"][-3000:]
        assert "checksum" in res["_out"] and res["running"] == "ota_0"
        spec = spec_for(tmp_path, runtime + "2", srv.url("/good.bin"), image=True, boots=["Pending", "Accepted"])
        spec.pop("root")
        res = drive(runtime, spec, tmp_path)
    trial, back = res["after"]
    assert trial["reboot"] == "Hard" and trial["statuses"] == []
    assert back["statuses"] == ["InstallationFailed"] and res["running"] == "ota_0"
    assert res["ota"]["ota_1"] == "aborted"


# ---------------------------------------------------------------------------- diagnostics
DAY = 1795392000            # 2026-11-22T00:00:00Z
EVERY_S = 120


def _expected(start, stop):
    return [DAY + i * EVERY_S for i in range(86400 // EVERY_S) if start <= DAY + i * EVERY_S <= stop]


def _times(body):
    import datetime
    out = []
    for line in body.decode().splitlines():
        t = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%SZ")
        out.append(int(t.replace(tzinfo=datetime.timezone.utc).timestamp()))
    return out


def _iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_diagnostics_of_a_day_over_http_put_with_a_retry(runtime, tmp_path):
    start, stop = DAY + 6 * 3600, DAY + 9 * 3600 + 30
    with HttpFiles({}) as srv:
        srv.faults = [500]
        spec = spec_for(tmp_path, runtime, srv.url("/upload/"), mode="diagnostics", day_start=DAY,
                        every=EVERY_S, retries=2, startTime=_iso(start), stopTime=_iso(stop))
        res = drive(runtime, spec, tmp_path)
        name = res["answer"]["fileName"]
        assert [r[0] for r in srv.requests] == ["PUT", "PUT"] and srv.requests[1][1] == "/upload/" + name
        body = srv.uploads["/upload/" + name]
    assert res["statuses"] == ["Uploading", "Uploading", "Uploaded"], res["_out"][-3000:]
    assert res["diag_status"] == "Idle"     # what TriggerMessage reports once the upload is over
    assert _times(body) == _expected(start, stop)
    assert len(res["files"]) >= 3       # the day's log rotated through several files
    assert res["resident"] == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_diagnostics_over_ftp_stor_with_a_retry(runtime, tmp_path):
    home = os.path.join(str(tmp_path), "ftp")
    os.makedirs(home)
    start = DAY + 20 * 3600
    with FtpFiles(home) as ftp:
        ftp.fail_stor = 1
        spec = spec_for(tmp_path, runtime, ftp.url("/"), mode="diagnostics", day_start=DAY, every=EVERY_S,
                        retries=1, startTime=_iso(start))
        res = drive(runtime, spec, tmp_path)
        assert ftp.commands.count("STOR") == 2
    assert res["statuses"] == ["Uploading", "Uploading", "Uploaded"], res["_out"][-3000:]
    with open(os.path.join(home, res["answer"]["fileName"]), "rb") as f:
        body = f.read()
    assert _times(body) == _expected(start, DAY + 86400)
