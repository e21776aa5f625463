# Security events in the core, in memory on both runtimes: critical ones survive an
# outage and a power cut on the flash queue, every one lands in the rolling security
# log, SecurityProfile is only raised with its prerequisites.
import json

from limits import limit
from test_chargepoint import Rig
from ocpp16 import secevents
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue


def events(r):
    return [m[3]["type"] for m in r.sent if m[2] == "SecurityEventNotification"]


def reboot(r):
    """A power cut: the queue and the core are made again from what is on flash."""
    r.config = Config(r.dir + "/config.json", {"NumberOfConnectors": 1})
    r.queue = MessageQueue(r.dir + "/queue")
    r.cp = ChargePoint({"charge_point_id": "T"}, r.config, r.evses, r.queue, data_dir=r.dir,
                       reader=r.hw.reader, now=r.now)


def test_critical_events_survive_an_outage_and_a_power_cut_the_others_do_not():
    r = Rig("secev")
    r.run(1000)  # offline from the start
    r.cp.security_event("StartupOfTheDevice", r.now)
    r.cp.security_event("TamperDetectionActivated", r.now, "lid open")
    r.cp.security_event("InvalidTLSVersion", r.now, "TLS 1.0 offered")  # not critical: RAM only
    assert r.queue.peek()[1] == "SecurityEventNotification"
    reboot(r)
    r.cp.on_connect(r.now)
    r.run(5000)
    assert events(r) == ["StartupOfTheDevice", "TamperDetectionActivated"]
    tamper = [m for m in r.sent if m[2] == "SecurityEventNotification"][1]
    assert tamper[3]["techInfo"] == "lid open"
    assert r.queue.peek() is None  # acked
    log = secevents.read_log(r.cp).splitlines()
    assert [l.split(" ")[1] for l in log] == ["StartupOfTheDevice", "TamperDetectionActivated", "InvalidTLSVersion"]
    assert log[1].endswith("lid open")


def test_non_critical_events_go_out_while_online():
    r = Rig("secev_online")
    r.cp.on_connect(0)
    r.run(2000)
    r.cp.security_event("InvalidCentralSystemCertificate", r.now, "unknown issuer")
    r.run(2000)
    assert events(r) == ["InvalidCentralSystemCertificate"]


def test_the_security_log_is_bounded_and_rolls():
    r = Rig("secev_log")
    for i in range(400):
        secevents.append_log(r.cp, {"timestamp": "2026-11-23T12:00:00Z", "type": "InvalidMessages",
                                    "techInfo": "frame %d %s" % (i, "x" * 40)})
    text = secevents.read_log(r.cp)
    assert len(text) <= 2 * limit("ocpp16.secevents", "_LOG_HALF_BYTES")
    lines = text.splitlines()
    assert lines[-1].startswith("2026-11-23T12:00:00Z InvalidMessages frame 399 ")
    assert "frame 0 " not in text  # the oldest rolled out
    nums = [int(l.split(" ")[3]) for l in lines]
    assert nums == list(range(nums[0], 400))  # in order, none lost within the window


def test_a_torn_last_line_is_not_read_back():
    r = Rig("secev_torn")
    secevents.append_log(r.cp, {"timestamp": "2026-11-23T12:00:00Z", "type": "StartupOfTheDevice"})
    with open(secevents.log_path(r.cp), "ab") as f:
        f.write(b"2026-11-23T12:00:01Z Tamp")  # power cut mid-line
    assert secevents.read_log(r.cp).splitlines() == ["2026-11-23T12:00:00Z StartupOfTheDevice "]


def test_reset_clock_jump_and_bad_frames_are_security_events():
    r = Rig("secev_core")
    r.cp.on_connect(0)
    r.run(2000)
    r.cp.receive("not json at all", r.now)
    r.cp.receive("[2,", r.now)  # a second one within the minute: no second event
    r.run(2000)
    r.cp.receive(json.dumps([2, "rs", "Reset", {"type": "Soft"}]), r.now)
    r.run(2000)
    # the CSMS's clock moves by an hour: SettingSystemTime
    r.cp.on_demand("boot", "clock", "2030-01-01T00:00:00Z", r.now)
    r.run(2000)
    assert events(r) == ["InvalidMessages", "ResetOrReboot", "SettingSystemTime"]


def test_security_profile_is_only_raised_with_its_prerequisites():
    r = Rig("secprof")
    r.cp.device["csms_url"] = "ws://127.0.0.1:1/ocpp"
    r.cp.on_connect(0)
    r.run(2000)

    def change(key, value):
        r.cp.receive(json.dumps([2, "c" + value, "ChangeConfiguration", {"key": key, "value": value}]), r.now)
        out = [json.loads(t) for t in r.cp.outbox if json.loads(t)[0] == 3]
        for t in list(r.cp.outbox):
            if json.loads(t)[0] == 3:
                r.cp.outbox.remove(t)
        return out[-1][2]["status"]
    assert change("SecurityProfile", "1") == "Rejected"      # no AuthorizationKey yet
    assert change("AuthorizationKey", "0123456789abcdef0123") == "Accepted"
    assert change("SecurityProfile", "1") == "Accepted"
    assert r.cp.profile_change == (0, 1)
    assert change("SecurityProfile", "0") == "Rejected"      # never lowered
    assert change("SecurityProfile", "2") == "Rejected"      # ws:// and no root installed
    assert change("SecurityProfile", "x") == "Rejected"
    assert r.config.get("SecurityProfile") == 1
    r.run(3000)
    assert events(r) == ["ReconfigurationOfSecurityParameters", "ReconfigurationOfSecurityParameters"]


def test_security_code_is_not_left_resident():
    import sys
    r = Rig("secres")
    r.cp.device["csms_url"] = "wss://127.0.0.1:1/ocpp"
    r.cp.on_connect(0)
    r.run(2000)
    bad = "-----BEGIN CERTIFICATE-----\\nMIIBAAECAwQ=\\n-----END CERTIFICATE-----\\n"
    for msg in ([2, "i", "InstallCertificate", {"certificateType": "CentralSystemRootCertificate", "certificate": bad}],
                [2, "g", "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}],
                [2, "c", "CertificateSigned", {"certificateChain": bad}],
                [2, "s", "ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}],
                [2, "e", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}]):
        r.cp.receive(json.dumps(msg), r.now)
    answers = [json.loads(t) for t in r.cp.outbox if json.loads(t)[0] == 3]
    assert [a[2]["status"] for a in answers] == ["Rejected", "NotFound", "Rejected", "Rejected", "Rejected"]
    r.run(2000)
    assert events(r) == ["InvalidChargePointCertificate"]
    left = [m for m in sys.modules if m == "pki" or m.startswith("pki.") or m in
            ("ocpp16.certs", "ocpp16.certstore", "ocpp16.secevents", "ocpp16.secprofile", "ocpp16.signcert",
             "ocpp16.exttrigger")]
    assert left == [], left
