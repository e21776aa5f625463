# The OCPP core driven in memory: a scripted CSMS answers its CALLs, the sim
# hardware moves with simulated time. No sockets; runs on both runtimes.
import json
import os

from hal.sim import build
from evse.connector import Evse
from ocpp16.chargepoint import ChargePoint, CALL_TIMEOUT_MS
from ocpp16.config import Config
from ocpp16.queue import MessageQueue

BASE = "/tmp/_cp_test"
TX_ID = 4242


def rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(path)


class Rig:
    def __init__(self, name, keep=False):
        self.dir = BASE + "_" + name
        if not keep:
            rmtree(self.dir)
        try:
            os.mkdir(self.dir)
        except OSError:
            pass
        self.hw = build({"connectors": 1, "max_current_a": 16})
        self.world = self.hw.sim
        self.evses = [Evse(1, self.hw.connectors[0])]
        self.config = Config(self.dir + "/config.json", {"NumberOfConnectors": 1})
        self.queue = MessageQueue(self.dir + "/queue")
        self.cp = ChargePoint({"charge_point_id": "T"}, self.config, self.evses, self.queue,
                              data_dir=self.dir, reader=self.hw.reader, now=0)
        self.now = 0
        self.sent = []           # every CALL the core sent, parsed
        self.times = []          # when each was sent
        self.boot = "Accepted"
        self.answer_calls = True

    def run(self, ms, step=100):
        end = self.now + ms
        while self.now < end:
            self.world.step(self.now)
            for e in self.evses:
                e.step(self.now)
            self.cp.tick(self.now)
            self.exchange()
            self.now += step

    def exchange(self):
        while self.cp.outbox:
            m = json.loads(self.cp.outbox.pop(0))
            if m[0] != 2:
                continue
            self.sent.append(m)
            self.times.append(self.now)
            if self.answer_calls:
                self.cp.receive(json.dumps([3, m[1], self.csms(m[2], m[3])]), self.now)

    def csms(self, action, p):
        if action == "BootNotification":
            return {"status": self.boot, "interval": 10, "currentTime": "2026-11-23T12:00:00Z"}
        if action == "Heartbeat":
            return {"currentTime": "2026-11-23T12:00:00Z"}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": TX_ID, "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    def actions(self):
        return [m[2] for m in self.sent]


def test_nothing_but_boot_until_accepted():
    r = Rig("boot")
    r.boot = "Pending"
    r.cp.on_connect(0)
    r.world.reader.tap("AA11")
    r.run(25000)
    assert r.actions() == ["BootNotification"] * 3  # at 0, 10 and 20 s (interval 10)
    r.boot = "Accepted"
    r.run(10000)
    assert r.actions()[3] == "BootNotification" and r.actions()[4] == "StatusNotification"
    assert r.config.get("HeartbeatInterval") == 10


def test_heartbeat_at_interval():
    r = Rig("hb")
    r.cp.on_connect(0)
    r.run(35000)
    assert r.actions().count("Heartbeat") == 3


def test_session_online():
    r = Rig("online")
    r.config.change("MeterValueSampleInterval", "10")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.reader.tap("04a2b3c4")
    r.run(1000)
    r.world.evs[0].plug()
    r.run(35000)
    r.world.evs[0].unplug()
    r.run(2000)
    acts = r.actions()
    assert acts.index("Authorize") < acts.index("StartTransaction") < acts.index("StopTransaction")
    mvs = [m[3] for m in r.sent if m[2] == "MeterValues"]
    assert len(mvs) == 3 and all(p["transactionId"] == TX_ID for p in mvs)
    stop = [m[3] for m in r.sent if m[2] == "StopTransaction"][0]
    assert stop["transactionId"] == TX_ID and stop["reason"] == "EVDisconnected"
    assert stop["meterStop"] > 0 and r.cp.idle()


def test_offline_transaction_gets_its_id_when_back_online():
    r = Rig("offline")
    r.config.change("MeterValueSampleInterval", "10")
    r.config.change("AllowOfflineTxForUnknownId", "true")
    r.cp.on_connect(0)
    r.run(1000)
    r.cp.on_disconnect(r.now)
    r.world.reader.tap("CAFE")
    r.world.evs[0].plug()
    r.run(31500)
    r.world.evs[0].unplug()
    r.run(1000)
    assert len(r.queue) == 5  # Start, 3 MeterValues, Stop: all waiting on flash
    r.cp.on_connect(r.now)
    r.run(2000)
    tx = [m for m in r.sent if m[2] in ("StartTransaction", "MeterValues", "StopTransaction")]
    assert [m[2] for m in tx] == ["StartTransaction"] + ["MeterValues"] * 3 + ["StopTransaction"]
    assert all(m[3]["transactionId"] == TX_ID for m in tx[1:])
    assert len(r.queue) == 0


def test_unanswered_transaction_message_is_retried_with_growing_wait():
    r = Rig("retry")
    r.config.change("TransactionMessageRetryInterval", "5")
    r.config.change("TransactionMessageAttempts", "3")
    r.config.change("AllowOfflineTxForUnknownId", "true")
    r.cp.on_connect(0)
    r.run(1000)
    r.answer_calls = False
    r.cp.boot_status = "Accepted"
    r.cp.on_disconnect(r.now)
    r.world.reader.tap("CAFE")
    r.world.evs[0].plug()
    r.run(1000)
    r.cp.on_connect(r.now)
    r.run(400000)
    starts = [r.times[i] for i, m in enumerate(r.sent) if m[2] == "StartTransaction"]
    assert len(starts) == 3  # attempts 1..3; then recorded as failed, not retried for ever
    gap1, gap2 = starts[1] - starts[0], starts[2] - starts[1]
    assert gap1 >= CALL_TIMEOUT_MS + 5000 and gap2 >= CALL_TIMEOUT_MS + 10000
    fails = r.queue.failures()
    assert fails[0][0] == "StartTransaction" and "timeout" in fails[0][2]
    # the rest of that transaction still goes out (only the exhausted message is given up)
    assert [m[2] for m in r.sent].count("MeterValues") >= 3


def test_power_loss_stops_open_transaction_on_restart():
    r = Rig("powerloss")
    r.config.change("MeterValueSampleInterval", "10")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.reader.tap("BEEF")
    r.world.evs[0].plug()
    r.run(25000)
    assert r.cp.tx
    # power cut: a new core on the same flash state
    r2 = Rig("powerloss", keep=True)
    r2.cp.on_connect(0)
    r2.run(2000)
    stop = [m[3] for m in r2.sent if m[2] == "StopTransaction"]
    assert len(stop) == 1 and stop[0]["reason"] == "PowerLoss" and stop[0]["transactionId"] == TX_ID
    assert stop[0]["meterStop"] > 0
