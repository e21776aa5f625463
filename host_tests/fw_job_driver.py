# Runs the Firmware Management jobs (ocpp16.fw_update, ocpp16.fw_diag) as the app does
# (for UpdateFirmware, or SignedUpdateFirmware when the spec has "signed"),
# against the real core (sim hardware, an in-memory CSMS answering every CALL) and real
# servers on 127.0.0.1, on CPython or under micropython. A "reboot" builds a new core over
# the same data folder (after appboot / the fake bootloader chose what runs).
# Usage: fw_job_driver.py SPEC.json; prints "CALL <json>" for every CALL the core sent,
# "RESULT <json>" at the end. Test helper only.
import asyncio
import json
import sys

import appboot
from hal.sim import build
from evse.connector import Evse
from ocpp16 import profiles
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime

SPEED = 50          # simulated ms per real ms: a 10 s retryInterval takes 0.2 s
EPOCH0 = 1795435200
STEP_MS = 20        # real ms between two core ticks
BOOT_PATH = list(sys.path)


class FastClock:
    def __init__(self):
        import compat
        self.compat = compat
        self.t0 = compat.ticks_ms()
        self.speed = SPEED

    def now(self):
        return self.compat.ticks_diff(self.compat.ticks_ms(), self.t0) * SPEED

    async def sleep_ms(self, ms):
        await asyncio.sleep(ms / SPEED / 1000)


class Harness:
    """The parts of app.App a job uses: cp, clock, cfg; plus the core's loop and a CSMS."""

    def __init__(self, spec, boot="Accepted"):
        self.spec = spec
        self.cfg = {"charge_point_id": "FW1", "data_dir": spec["dir"]}
        if spec.get("root"):
            self.cfg["apps_dir"] = spec["root"]   # as main.py sets it from appboot
        if spec.get("ca_cert"):
            self.cfg["ca_cert"] = spec["ca_cert"]
        self.clock = FastClock()
        self.hw = build({"connectors": 1, "max_current_a": 16})
        self.evses = [Evse(1, self.hw.connectors[0])]
        self.config = Config(spec["dir"] + "/config.json", {"NumberOfConnectors": 1})
        self.queue = MessageQueue(spec["dir"] + "/queue")
        self.boot = boot
        self.action = "SignedFirmwareStatusNotification" if spec.get("signed") else "FirmwareStatusNotification"
        self.calls = []
        self.answers = []        # payloads of the core's CALLRESULTs
        self.times = {}          # first time (sim ms) each firmware status was sent
        self.job_tasks = []
        self.cp = ChargePoint({"charge_point_id": "FW1"}, self.config, self.evses, self.queue,
                              data_dir=spec["dir"], reader=self.hw.reader, now=self.clock.now())
        self.cp.on_connect(self.clock.now())

    def answer(self, action, p):
        t = format_datetime(EPOCH0 + self.clock.now() // 1000)
        if action == "BootNotification":
            return {"status": self.boot, "interval": 10, "currentTime": t}
        if action == "Heartbeat":
            return {"currentTime": t}
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": 77, "idTagInfo": {"status": "Accepted"}}
        return {}

    def step(self):
        now = self.clock.now()
        self.hw.sim.step(now)
        for e in self.evses:
            e.step(now)
        self.cp.tick(now)
        while self.cp.outbox:
            m = json.loads(self.cp.outbox.pop(0))
            if m[0] == 2:
                self.calls.append(m)
                if m[2] in ("FirmwareStatusNotification", "SignedFirmwareStatusNotification"):
                    self.times.setdefault(m[3]["status"], self.clock.now())
                print("CALL " + json.dumps(m))
                self.cp.receive(json.dumps([3, m[1], self.answer(m[2], m[3])]), self.clock.now())
            else:
                self.answers.append(m[2])
                print("ANSWER " + json.dumps(m))
        while self.cp.jobs:
            name, args = self.cp.jobs.pop(0)
            self.job_tasks.append(asyncio.create_task(self._job(name, args)))

    async def _job(self, name, args):
        try:
            await profiles.load(name).run(self, args)
        except Exception as e:
            print("JOBERROR %s %r" % (name, e))
        finally:
            profiles.unload(name)

    def statuses(self, action=None):
        return [m[3]["status"] for m in self.calls if m[2] == (action or self.action)]

    async def until(self, cond, limit_ms):
        t0 = self.clock.now()
        while not cond() and self.clock.now() - t0 < limit_ms:
            self.step()
            await asyncio.sleep(STEP_MS / 1000)
        self.step()
        return cond()

    def receive(self, action, payload):
        self.cp.receive(json.dumps([2, "csms%d" % len(self.calls), action, payload]), self.clock.now())


def reboot_devices(spec):
    """What the bootloader and appboot do at a reset."""
    if spec.get("image"):
        import esp32
        esp32.reboot()
    sys.modules.pop("version", None)
    sys.path[:] = BOOT_PATH      # a fresh interpreter's path
    if spec.get("root"):
        appboot.select(spec["root"])


def install_roots(spec):
    """The ManufacturerRootCertificates a SignedUpdateFirmware spec names, as InstallCertificate
    leaves them on flash; the modules used for it are forgotten again."""
    from ocpp16.certstore import CertStore
    from pki import pem, x509
    cs = CertStore(spec["dir"])
    for text in spec["signed"].get("roots", []):
        assert cs.install("ManufacturerRootCertificate", x509.Certificate(pem.decode(text))) == "Accepted"
    profiles.unload(profiles.PKI_HELPERS)


def ext_trigger(h):
    """ExtendedTriggerMessage FirmwareStatusNotification: the answer and the CALL it made."""
    n = len(h.calls)
    h.receive("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    for _ in range(10):      # the triggered CALL waits behind what was queued before it
        h.step()
    return {"answer": h.answers[-1], "calls": [[m[2], m[3]] for m in h.calls[n:]
                                               if m[2].endswith("FirmwareStatusNotification")]}


async def update(spec):
    out = {}
    if spec.get("image"):
        import esp32
        esp32.reset_fakes(spec.get("blocks", 16))
    sg = spec.get("signed")
    if sg:
        install_roots(spec)
    h = Harness(spec)
    await h.until(lambda: h.cp.boot_status == "Accepted", 5000)
    if spec.get("charging"):
        h.hw.sim.tap("CAFE")
        h.hw.sim.connectors[0].plug()
        await h.until(lambda: 1 in h.cp.tx, 20000)
    asked = h.clock.now()
    req = {"location": spec["location"],
           "retrieveDate": format_datetime(EPOCH0 + asked // 1000 + spec.get("delay_s", 0))}
    for k in ("retries", "retryInterval"):
        if k in spec:
            req[k] = spec[k]
    if sg:
        out["trigger_idle"] = ext_trigger(h)
        fw = {"location": req.pop("location"), "retrieveDateTime": req.pop("retrieveDate"),
              "signingCertificate": sg["cert"], "signature": sg["sig"]}
        if sg.get("install_delay_s"):
            fw["installDateTime"] = format_datetime(EPOCH0 + asked // 1000 + sg["install_delay_s"])
        req.update({"requestId": sg["rid"], "firmware": fw})
        h.receive("SignedUpdateFirmware", req)
        h.step()
        out["answer"] = h.answers[-1]
        if out["answer"]["status"] not in ("Accepted", "AcceptedCanceled"):
            await h.until(lambda: False, 2000)   # whatever it would send, it sends now
            out["first"] = h.statuses()
            out["calls_first"] = h.calls
            out["resident"] = _resident()
            return out
        if sg.get("install_delay_s"):
            await h.until(lambda: "InstallScheduled" in h.statuses(), 600000)
            out["trigger_scheduled"] = ext_trigger(h)
            # installDateTime ahead: new transactions are still allowed (None: no refusal)
            out["refusal_while_scheduled"] = h.cp.features["fw_state"].may_start(h.cp, h.evses[0], "CAFE",
                                                                                 h.clock.now())
            if sg.get("reboot_while_scheduled"):
                # power lost while the install waits for installDateTime: the job dies, the
                # charger boots over the same flash and picks the update up from fw.json
                out["before_reboot"] = h.statuses()
                for t in h.job_tasks:
                    t.cancel()
                for t in h.job_tasks:
                    try:
                        await t
                    except BaseException:  # CancelledError
                        pass
                h.queue.close() if hasattr(h.queue, "close") else None
                h = Harness(spec)
                out["signed_after_reboot"] = list(h.cp.fw_signed)   # restored by fw_state.attach
                await h.until(lambda: h.cp.boot_status == "Accepted", 5000)
    else:
        h.receive("UpdateFirmware", req)
    if spec.get("replace_with"):
        # a second UpdateFirmware while the first downloads: the newer one wins
        await h.until(lambda: "Downloading" in h.statuses(), 20000)
        req = dict(req)
        if sg:
            # a SignedUpdateFirmware (its own signature, the next requestId) during the download
            req["firmware"] = dict(req["firmware"], location=spec["replace_with"], signature=sg["replace_sig"])
            req["requestId"] = sg["rid"] + 1
            h.receive("SignedUpdateFirmware", req)
            h.step()
            out["replace_answer"] = h.answers[-1]
        else:
            req["location"] = spec["replace_with"]
            h.receive("UpdateFirmware", req)
    if spec.get("charging"):
        # while the download runs and the install waits, the EV charges on; a new card is refused
        await h.until(lambda: "Downloaded" in h.statuses(), 600000)
        await h.until(lambda: False, 20000)
        out["charging_while_waiting"] = 1 in h.cp.tx and "Installing" not in h.statuses()
        out["connector_statuses"] = [m[3]["status"] for m in h.calls if m[2] == "StatusNotification"]
        h.hw.sim.connectors[0].unplug()
    done = ("DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed")
    await h.until(lambda: h.cp.reboot is not None or [s for s in h.statuses() if s in done], 900000)
    for t in h.job_tasks:
        await t
    out["first"] = h.statuses()
    out["asked_ms"] = asked
    out["downloading_ms"] = h.times.get("Downloading")
    out["times"] = h.times
    out["reboot"] = h.cp.reboot
    out["calls_first"] = h.calls
    with open(spec["dir"] + "/fw.json") if _exists(spec["dir"] + "/fw.json") else _Null() as f:
        out["state"] = json.loads(f.read()) if f else None
    if h.cp.reboot:
        h.queue.close() if hasattr(h.queue, "close") else None
        for boot in spec.get("boots", ["Accepted"]):
            reboot_devices(spec)
            h2 = Harness(spec, boot)
            fin = ("Installed", "InstallationFailed")
            await h2.until(lambda: h2.cp.reboot is not None or [s for s in h2.statuses() if s in fin], 400000)
            boot_p = [m[3] for m in h2.calls if m[2] == "BootNotification"][0]
            out.setdefault("after", []).append({"statuses": h2.statuses(), "reboot": h2.cp.reboot,
                                                "firmwareVersion": boot_p.get("firmwareVersion"),
                                                "calls": h2.calls})
            h2.queue.close() if hasattr(h2.queue, "close") else None
        if spec.get("root"):
            out["marker"] = appboot.read(spec["root"])
    out["resident"] = _resident()
    if spec.get("image"):
        import esp32
        out["running"] = esp32.running_label()
        out["ota"] = {"ota_0": esp32.ota_state("ota_0"), "ota_1": esp32.ota_state("ota_1")}
        out["flash"] = dict(esp32.stats)
    return out


def _resident():
    return [m for m in ("net.fetch", "bundle", "hal.esp32.ota", "ocpp16.fw_update", "ocpp16.fw_state",
                        "ocpp16.fw_ops", "ocpp16.fw_diag", "ocpp16.fwsign", "ocpp16.certstore", "pki.rsa",
                        "pki.p256", "pki.x509", "pki.chain", "ocpp16.secevents") if m in sys.modules]


async def diagnostics(spec):
    import log
    h = Harness(spec)
    await h.until(lambda: h.cp.boot_status == "Accepted", 5000)
    # A day of log lines, one every `every` seconds, with their own timestamps.
    import os
    state = {"t": spec["day_start"]}
    log.to_file(spec["dir"] + "/log", lambda: format_datetime(state["t"]))
    old_out = log.out

    class Null:
        def write(self, s):
            pass
    log.out = Null()
    i = 0
    while state["t"] < spec["day_start"] + 86400:
        log.info("sample line %d: connector 1 Available, %s", i, "x" * (i % 40))
        i += 1
        state["t"] += spec["every"]
    log.out = old_out
    log.flush()
    state["t"] = spec["day_start"] - 3600   # the job's own lines: before the selected times
    req = {"location": spec["location"]}
    for k in ("retries", "retryInterval", "startTime", "stopTime"):
        if k in spec:
            req[k] = spec[k]
    h.receive("GetDiagnostics", req)
    answer = None
    while h.cp.outbox:
        m = json.loads(h.cp.outbox.pop(0))
        if m[0] == 3:
            answer = m[2]
    await h.until(lambda: [s for s in h.statuses("DiagnosticsStatusNotification") if s in ("Uploaded", "UploadFailed")],
                  900000)
    for t in h.job_tasks:
        await t
    log.file_off()
    files = sorted(os.listdir(spec["dir"] + "/log"))
    resident = [m for m in ("net.fetch", "ocpp16.fw_diag", "ocpp16.fw_ops") if m in sys.modules]
    return {"resident": resident, "answer": answer, "statuses": h.statuses("DiagnosticsStatusNotification"), "lines": i,
            "files": files, "calls": h.calls, "diag_status": h.cp.diagnostics_status}


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def _exists(p):
    import os
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec.get("lfs_blocks"):
        import os
        import powercut
        dev = powercut.CutBlockDevice.formatted(spec["lfs_blocks"])
        powercut.mount(dev, "/lfs")
        os.mkdir("/lfs/data")
    if spec.get("root"):
        appboot.select(spec["root"])
    fn = diagnostics if spec.get("mode") == "diagnostics" else update
    out = asyncio.run(fn(spec))
    print("RESULT " + json.dumps(out))


main()
