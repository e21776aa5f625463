# SignedUpdateFirmware (Security whitepaper, secure firmware update) end to end at the job
# level, on CPython and under micropython: the real handler, download job and core (every
# CALL checked against the official schemas), a real HTTP server on 127.0.0.1, signing
# certificates and signatures made by `cryptography` (RSA-PSS 2048 and ECDSA P-256) under a
# ManufacturerRootCertificate installed in the charger's certificate store. Last, the whole
# charger against the `ocpp` CSMS over WebSockets: InstallCertificate, SignedUpdateFirmware of
# this firmware tree as a bundle, the reboot into it.
import asyncio
import base64
import datetime
import os
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from ocpp.v16 import call

import pkitools as pk
import scenario as S
import schemas
from fw_servers import HttpFiles
from test_fw_scenario import NEW_VERSION as TREE_VERSION, tree_bundle  # noqa: F401  (a fixture)
from test_fw_update import FAKES, NEW_VERSION, RUNTIMES, drive, small_bundle, spec_for

sys.path.insert(0, FAKES)
from esp_image import make_image  # noqa: E402  (host_tests/fakes)

RID = 4711
# valid from long before the driver's clock (fw_job_driver.EPOCH0) to after the real today
VALID = {"not_before": pk.NOW - 3650 * pk.DAY, "not_after": pk.NOW + 3650 * pk.DAY}


class Keys:
    """A Manufacturer root with an RSA and an EC signing certificate under it, and an EC
    signing certificate under another root of the same name."""

    def __init__(self):
        self.mfr_key, self.mfr = pk.root("Maker Root", **VALID)
        other_key, other = pk.root("Maker Root", **VALID)
        self.rsa_key = pk.rsa_key()
        self.ec_key = pk.ec_key()
        self.rsa_cert = pk.pem(pk.issue(pk.name("Firmware RSA", "Maker"), self.rsa_key.public_key(),
                                        self.mfr.subject, self.mfr_key, **VALID)).decode()
        self.ec_cert = pk.pem(pk.issue(pk.name("Firmware EC", "Maker"), self.ec_key.public_key(),
                                       self.mfr.subject, self.mfr_key, **VALID)).decode()
        self.other_cert = pk.pem(pk.issue(pk.name("Firmware EC", "Maker"), self.ec_key.public_key(),
                                          other.subject, other_key, **VALID)).decode()
        self.roots = [pk.pem(self.mfr).decode()]

    def pss(self, data):
        return base64.b64encode(self.rsa_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                                                  hashes.SHA256())).decode()

    def ecdsa(self, data, key=None):
        return base64.b64encode((key or self.ec_key).sign(data, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture(scope="module")
def keys():
    return Keys()


def signed(keys, cert, sig, **kw):
    out = {"rid": RID, "cert": cert, "sig": sig, "roots": keys.roots}
    out.update(kw)
    return out


def _check_answers(res):
    schemas.validate_response("SignedUpdateFirmware", res["answer"])
    if "replace_answer" in res:
        schemas.validate_response("SignedUpdateFirmware", res["replace_answer"])
    for k in ("trigger_idle", "trigger_scheduled"):
        if k in res:
            schemas.validate_response("ExtendedTriggerMessage", res[k]["answer"])


def _signed_calls(calls):
    return [m[3] for m in calls if m[2] == "SignedFirmwareStatusNotification"]


def _events(calls):
    return [m[3]["type"] for m in calls if m[2] == "SecurityEventNotification"]


def _dev(tmp_path, name):
    return os.path.join(str(tmp_path), "dev-" + name)


def _nothing_installed(tmp_path, name):
    d = _dev(tmp_path, name)
    assert not os.path.exists(os.path.join(d, "apps", "current.json"))    # the running version stays
    assert not os.path.exists(os.path.join(d, "data", "fw.part"))
    assert not os.path.exists(os.path.join(d, "data", "fw.json"))


def _installed(res, first):
    assert res["answer"] == {"status": "Accepted"}
    assert res["first"] == first, res["_out"][-3000:]
    assert res["reboot"] == "Hard"
    after = res["after"][0]
    assert after["statuses"] == ["Installed"] and after["firmwareVersion"] == NEW_VERSION
    calls = res["calls_first"] + after["calls"]
    assert all(p["requestId"] == RID for p in _signed_calls(calls))
    # a signed request: signed statuses only (the plain one is the ExtendedTriggerMessage before it)
    assert [m[3] for m in calls if m[2] == "FirmwareStatusNotification"] == [{"status": "Idle"}]
    assert _events(after["calls"]) == ["FirmwareUpdated"]     # on the boot that confirmed the new version
    assert "InvalidFirmwareSignature" not in _events(res["calls_first"])
    assert res["marker"]["run"] == "app1" and res["marker"]["trial"] == 0
    assert res["resident"] == []    # nothing of it stays imported once it is over


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rsa_pss_signed_bundle_resumed_after_a_cut_is_verified_and_installed(runtime, keys, tmp_path):
    data = small_bundle()
    with HttpFiles({"/fw/app.bundle": data}) as srv:
        srv.faults = ["gone"]     # the first attempt breaks off: the retry resumes, the staged part is re-hashed
        spec = spec_for(tmp_path, runtime, srv.url("/fw/app.bundle"), retries=2,
                        signed=signed(keys, keys.rsa_cert, keys.pss(data)))
        res = drive(runtime, spec, tmp_path)
        reqs = list(srv.requests)
    _check_answers(res)
    assert len(reqs) == 2 and reqs[1][2] is not None and 0 < int(reqs[1][2][6:-1]) < len(data), reqs
    _installed(res, ["Downloading", "Downloading", "Downloaded", "SignatureVerified", "Installing",
                     "InstallRebooting"])
    assert res["trigger_idle"]["calls"] == [["FirmwareStatusNotification", {"status": "Idle"}]]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ecdsa_signed_bundle_scheduled_download_and_install_date(runtime, keys, tmp_path):
    data = small_bundle()
    install_s = 150
    with HttpFiles({"/b": data}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/b"), delay_s=30,
                        signed=signed(keys, keys.ec_cert, keys.ecdsa(data), install_delay_s=install_s))
        res = drive(runtime, spec, tmp_path)
    _check_answers(res)
    _installed(res, ["DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled",
                     "InstallScheduled",    # the one ExtendedTriggerMessage asked for
                     "Installing", "InstallRebooting"])
    # ExtendedTriggerMessage while the install waits for installDateTime: the signed status and requestId
    trig = res["trigger_scheduled"]
    assert trig["answer"] == {"status": "Accepted"}
    assert trig["calls"] == [["SignedFirmwareStatusNotification", {"status": "InstallScheduled", "requestId": RID}]]
    assert res["refusal_while_scheduled"] is None      # charging goes on until installDateTime
    assert res["times"]["Installing"] >= res["asked_ms"] + (install_s - 1) * 1000, res["times"]
    assert res["times"]["Downloading"] >= res["asked_ms"] + 29 * 1000


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_reboot_while_the_install_is_scheduled_resumes_it(runtime, keys, tmp_path):
    data = small_bundle()
    with HttpFiles({"/b": data}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/b"),
                        signed=signed(keys, keys.rsa_cert, keys.pss(data), install_delay_s=100,
                                      reboot_while_scheduled=True))
        res = drive(runtime, spec, tmp_path)
        assert len(srv.requests) == 1       # verified before the cut: not downloaded again
    assert res["before_reboot"] == ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled",
                                    "InstallScheduled"], res["_out"][-3000:]   # the second: ExtendedTriggerMessage
    assert res["signed_after_reboot"] == ["InstallScheduled", RID]
    assert res["first"] == ["InstallScheduled", "Installing", "InstallRebooting"], res["_out"][-3000:]
    assert all(p["requestId"] == RID for p in _signed_calls(res["calls_first"]))
    assert res["after"][0]["statuses"] == ["Installed"] and res["after"][0]["firmwareVersion"] == NEW_VERSION
    assert res["resident"] == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wrong_signature_is_invalid_signature_and_nothing_installed(runtime, keys, tmp_path):
    data = small_bundle()
    with HttpFiles({"/b": data}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/b"),
                        signed=signed(keys, keys.ec_cert, keys.ecdsa(data, pk.ec_key())))   # another key's signature
        res = drive(runtime, spec, tmp_path)
    _check_answers(res)
    assert res["answer"] == {"status": "Accepted"}
    assert res["first"] == ["Downloading", "Downloaded", "InvalidSignature"], res["_out"][-3000:]
    assert all(p["requestId"] == RID for p in _signed_calls(res["calls_first"]))
    assert _events(res["calls_first"]) == ["InvalidFirmwareSignature"]
    assert res["reboot"] is None and "after" not in res
    _nothing_installed(tmp_path, runtime)
    assert res["resident"] == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tampered_bundle_is_invalid_signature(runtime, keys, tmp_path):
    # A well-formed bundle (its own manifest hashes match) that is not the one the maker signed.
    good = small_bundle()
    evil = small_bundle(extra=b"EVIL = True\n")
    with HttpFiles({"/b": evil}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/b"), signed=signed(keys, keys.rsa_cert, keys.pss(good)))
        res = drive(runtime, spec, tmp_path)
    _check_answers(res)
    assert res["first"] == ["Downloading", "Downloaded", "InvalidSignature"], res["_out"][-3000:]
    assert _events(res["calls_first"]) == ["InvalidFirmwareSignature"]
    assert res["reboot"] is None
    _nothing_installed(tmp_path, runtime)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_signing_certificate_of_another_root_is_invalid_certificate(runtime, keys, tmp_path):
    data = small_bundle()
    with HttpFiles({"/b": data}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/b"), signed=signed(keys, keys.other_cert, keys.ecdsa(data)))
        res = drive(runtime, spec, tmp_path)
        assert srv.requests == []       # nothing downloaded
        # no Manufacturer root installed at all: the same answer
        spec = spec_for(tmp_path, runtime + "-noroot", srv.url("/b"),
                        signed=signed(keys, keys.ec_cert, keys.ecdsa(data), roots=[]))
        bare = drive(runtime, spec, tmp_path)
        assert srv.requests == []
    for r in (res, bare):
        _check_answers(r)
        assert r["answer"] == {"status": "InvalidCertificate"}, r["_out"][-3000:]
        assert r["first"] == []
        assert _events(r["calls_first"]) == ["InvalidFirmwareSigningCertificate"]
        assert r["resident"] == []
    assert "no ManufacturerRootCertificate" in [m[3] for m in bare["calls_first"]
                                                if m[2] == "SecurityEventNotification"][0]["techInfo"]
    _nothing_installed(tmp_path, runtime)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_new_signed_update_during_the_download_is_accepted_canceled_and_replaces_it(runtime, keys, tmp_path):
    slow = small_bundle("0.5.0", extra=b"PAD = %r\n" % (b"z" * 200000,))
    data = small_bundle()
    with HttpFiles({"/slow": slow, "/b": data}) as srv:
        srv.faults = ["slow"]
        spec = spec_for(tmp_path, runtime, srv.url("/slow"), replace_with=srv.url("/b"),
                        signed=signed(keys, keys.ec_cert, keys.ecdsa(slow), replace_sig=keys.ecdsa(data)))
        res = drive(runtime, spec, tmp_path)
    _check_answers(res)
    assert res["replace_answer"] == {"status": "AcceptedCanceled"}
    first = [(p["requestId"], p["status"]) for p in _signed_calls(res["calls_first"])]
    assert first[0] == (RID, "Downloading") and (RID, "Downloaded") not in first, first
    assert [s for r, s in first if r == RID + 1] == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                                   "InstallRebooting"], first
    assert res["after"][0]["statuses"] == ["Installed"] and res["after"][0]["firmwareVersion"] == NEW_VERSION
    assert all(p["requestId"] == RID + 1 for p in _signed_calls(res["after"][0]["calls"]))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_signed_esp32_image_is_activated_only_when_its_signature_verifies(runtime, keys, tmp_path):
    img = make_image(30000, segments=2)
    with HttpFiles({"/mp.bin": img}) as srv:
        spec = spec_for(tmp_path, runtime, srv.url("/mp.bin"), image=True,
                        signed=signed(keys, keys.ec_cert, keys.ecdsa(img + b"other")))
        spec.pop("root")
        bad = drive(runtime, spec, tmp_path)
        spec = spec_for(tmp_path, runtime + "2", srv.url("/mp.bin"), image=True,
                        signed=signed(keys, keys.rsa_cert, keys.pss(img)))
        spec.pop("root")
        good = drive(runtime, spec, tmp_path)
    assert bad["first"] == ["Downloading", "Downloaded", "InvalidSignature"], bad["_out"][-3000:]
    assert _events(bad["calls_first"]) == ["InvalidFirmwareSignature"]
    assert bad["reboot"] is None and bad["running"] == "ota_0" and bad["ota"]["ota_1"] != "valid"
    assert good["first"] == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
    assert good["after"][0]["statuses"] == ["Installed"] and good["running"] == "ota_1"
    assert good["ota"]["ota_1"] == "valid" and good["resident"] == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_signed_update_of_this_tree_against_the_csms(runtime, keys, tree_bundle, tmp_path):  # noqa: F811
    workdir = str(tmp_path)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with HttpFiles({"/fw/app.bundle": tree_bundle}) as srv:
        async def update(csms, st):
            await csms.wait_for("BootNotification")
            r = await st.call(call.InstallCertificate(certificate_type="ManufacturerRootCertificate",
                                                      certificate=keys.roots[0]))
            assert r.status == "Accepted"
            r = await st.call(call.SignedUpdateFirmware(request_id=RID, retries=1, firmware={
                "location": srv.url("/fw/app.bundle"), "retrieveDateTime": now,
                "signingCertificate": keys.rsa_cert, "signature": keys.pss(tree_bundle)}))
            assert r.status == "Accepted"

        station, lines, rc = asyncio.run(S.run_session(
            runtime, [{"at": 3000, "do": "end"}], update, speed=20, workdir=workdir,
            sim_opts={"exit_on_reboot": True}))
        assert rc == 0, "\n".join(lines[-40:])
        frames = S.firmware_frames(station)
        assert S.check_schemas(station) == len(frames)
        signed_st = [m[3] for m in S.calls(frames, "SignedFirmwareStatusNotification")]
        assert [p["status"] for p in signed_st] == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                                    "InstallRebooting"], "\n".join(lines[-40:])
        assert all(p["requestId"] == RID for p in signed_st) and station.firmware_statuses == []

        station, lines, rc = asyncio.run(S.run_session(
            runtime, [{"at": 200, "do": "end"}], None, speed=20, workdir=workdir))
    assert rc == 0, "\n".join(lines[-40:])
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    assert S.calls(frames, "BootNotification")[0][3]["firmwareVersion"] == TREE_VERSION
    assert [m[3] for m in S.calls(frames, "SignedFirmwareStatusNotification")] == [
        {"status": "Installed", "requestId": RID}]
    assert "FirmwareUpdated" in [e[0] for e in station.security_events]
