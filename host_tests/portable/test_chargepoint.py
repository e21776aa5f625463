# The OCPP core driven in memory: a scripted CSMS answers its CALLs, the sim
# hardware moves with simulated time. No sockets; runs on both runtimes.
import json

import scratch
from out_of_heap import refusing

from hal.sim import build
from evse.connector import Evse
from limits import limit
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime

CALL_TIMEOUT_MS = limit("ocpp16.chargepoint", "_CALL_TIMEOUT_MS")
PERSIST_WH = limit("ocpp16.chargepoint", "_PERSIST_WH")
PERSIST_MS = limit("ocpp16.chargepoint", "_PERSIST_MS")

TX_ID = 4242


class Rig:
    def __init__(self, name, keep=False, connectors=1, prefix="cp_"):
        self.dir = scratch.folder(prefix + name, keep)
        self.hw = build({"connectors": connectors, "max_current_a": 16})
        self.world = self.hw.sim
        self.evses = [Evse(i + 1, self.hw.connectors[i]) for i in range(connectors)]
        self.config = Config(self.dir + "/config.json", {"NumberOfConnectors": connectors})
        self.queue = MessageQueue(self.dir + "/queue")
        self.cp = ChargePoint({"charge_point_id": "T"}, self.config, self.evses, self.queue,
                              data_dir=self.dir, reader=self.hw.reader, now=0)
        self.now = 0
        self.sent = []           # every CALL the core sent, parsed
        self.times = []          # when each was sent
        self.boot = "Accepted"
        self.answer_calls = True
        self.withhold = ()       # actions left unanswered even when answer_calls is on

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
            if self.answer_calls and m[2] not in self.withhold:
                self.cp.receive(json.dumps([3, m[1], self.csms(m[2], m[3])]), self.now)

    def csms(self, action, p):
        if action == "BootNotification":
            return {"status": self.boot, "interval": 10, "currentTime": self.time()}
        if action == "Heartbeat":
            return {"currentTime": self.time()}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": TX_ID, "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    def time(self):
        """The CSMS's clock: 2026-11-23T12:00:00Z at the start of the test."""
        return format_datetime(1795435200 + self.now // 1000)

    def actions(self):
        return [m[2] for m in self.sent]


def test_nothing_but_boot_until_accepted():
    r = Rig("boot")
    r.boot = "Pending"
    r.cp.on_connect(0)
    r.world.tap("AA11")
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
    r.world.tap("04a2b3c4")
    r.run(1000)
    r.world.connectors[0].plug()
    r.run(35000)
    r.world.connectors[0].unplug()
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
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(31500)
    r.world.connectors[0].unplug()
    r.run(1000)
    assert len(r.queue) == 5  # Start, 3 MeterValues, Stop: all waiting on flash
    r.cp.on_connect(r.now)
    r.run(2000)
    tx = [m for m in r.sent if m[2] in ("StartTransaction", "MeterValues", "StopTransaction")]
    assert [m[2] for m in tx] == ["StartTransaction"] + ["MeterValues"] * 3 + ["StopTransaction"]
    assert all(m[3]["transactionId"] == TX_ID for m in tx[1:])
    assert len(r.queue) == 0


def test_unanswered_transaction_message_is_sent_again_until_answered_never_given_up():
    r = Rig("retry")
    r.config.change("TransactionMessageRetryInterval", "5")
    r.config.change("TransactionMessageAttempts", "3")
    r.config.change("AllowOfflineTxForUnknownId", "true")
    r.cp.on_connect(0)
    r.run(1000)
    r.answer_calls = False
    r.cp.boot_status = "Accepted"
    r.cp.on_disconnect(r.now)
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(1000)
    r.cp.on_connect(r.now)
    r.run(400000)
    starts = [(r.times[i], m) for i, m in enumerate(r.sent) if m[2] == "StartTransaction"]
    # A timeout is not a failure to process: far more than TransactionMessageAttempts sends,
    # the same content each time (a new id), after the answer timeout + the retry interval
    # (+ an unanswered Heartbeat sent in that pause: HeartbeatInterval is 10 s here).
    assert len(starts) >= 6, len(starts)
    assert all(m[3] == starts[0][1][3] for _, m in starts) and len(set(m[1] for _, m in starts)) == len(starts)
    gaps = [b[0] - a[0] for a, b in zip(starts, starts[1:])]
    assert all(CALL_TIMEOUT_MS + 5000 <= g <= 2 * CALL_TIMEOUT_MS + 5200 for g in gaps), gaps
    assert r.cp.link_suspect  # each timeout asks the app to check the link
    assert r.queue.failures() == []
    r.answer_calls = True
    r.run(60000)
    assert r.queue.failures() == [] and len(r.queue) == 0
    assert [m[2] for m in r.sent].count("MeterValues") >= 1  # the rest of the transaction follows


def test_callerror_counts_towards_the_attempts_a_timeout_does_not():
    r = Rig("refused")
    r.config.change("TransactionMessageRetryInterval", "5")
    r.config.change("TransactionMessageAttempts", "2")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(20000)
    r.withhold = ("StopTransaction",)
    r.world.connectors[0].unplug()
    r.run(1000)
    stop = [m for m in r.sent if m[2] == "StopTransaction"]
    assert len(stop) == 1
    r.run(CALL_TIMEOUT_MS + 6000)  # timed out once, sent again
    stop = [m for m in r.sent if m[2] == "StopTransaction"]
    assert len(stop) == 2 and r.queue.failures() == []
    r.cp.receive(json.dumps([4, stop[1][1], "InternalError", "busy", {}]), r.now)  # attempt 1 of 2
    r.run(6000)
    stop = [m for m in r.sent if m[2] == "StopTransaction"]
    assert len(stop) == 3
    r.cp.receive(json.dumps([4, stop[2][1], "InternalError", "busy", {}]), r.now)  # attempt 2 of 2: given up
    r.run(30000)
    assert len([m for m in r.sent if m[2] == "StopTransaction"]) == 3
    fails = r.queue.failures()
    assert len(fails) == 1 and fails[0][0] == "StopTransaction" and "CALLERROR" in fails[0][2], fails


def test_a_retry_wait_with_a_backlog_decodes_no_message_until_it_sends():
    # The head of the queue is decoded (peek()) only to be sent: while the retry interval runs
    # the core asks its seq alone (peek(False)), so a backlog makes no garbage each tick.
    r = Rig("retrywait")
    r.config.change("TransactionMessageRetryInterval", "5")
    r.config.change("MeterValueSampleInterval", "1")
    r.cp.on_connect(0)
    r.run(1000)
    r.withhold = ("StartTransaction",)
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(2000)
    start = [m for m in r.sent if m[2] == "StartTransaction"]
    assert len(start) == 1
    decoded = []
    real = r.queue.peek

    def peek(decode=True):
        if decode:
            decoded.append(r.now)
        return real(decode)
    r.queue.peek = peek
    r.cp.receive(json.dumps([4, start[0][1], "InternalError", "busy", {}]), r.now)  # a retry wait
    r.run(4000)                                     # MeterValues queue up behind the Start
    assert decoded == [] and len(r.queue) >= 3 and r.actions().count("StartTransaction") == 1
    r.withhold = ()
    r.run(2000)                                     # the wait is over: the Start goes again
    assert r.actions().count("StartTransaction") == 2 and decoded


def test_unanswered_status_is_sent_again_unless_a_newer_one_waits():
    r = Rig("status")
    r.cp.on_connect(0)
    r.answer_calls = False
    r.run(100)
    first = [m for m in r.sent if m[2] == "BootNotification"]
    r.cp.receive(json.dumps([3, first[0][1], r.csms("BootNotification", {})]), r.now)
    r.run(200)
    status = [m for m in r.sent if m[2] == "StatusNotification"]
    assert len(status) == 1
    r.run(CALL_TIMEOUT_MS + 200)
    again = [m for m in r.sent if m[2] == "StatusNotification"]
    assert len(again) == 2 and again[1][3] == again[0][3] and again[1][1] != again[0][1]


def test_power_loss_meter_stop_within_the_persist_bound_without_periodic_samples():
    for interval, charge_ms in (("0", 150000), ("60", 115000)):
        r = Rig("pl_bound" + interval)
        r.config.change("MeterValueSampleInterval", interval)
        r.cp.on_connect(0)
        r.run(1000)
        r.world.tap("BEEF")
        r.world.connectors[0].plug()
        r.run(charge_ms)
        assert r.cp.tx
        r.evses[0].read_meter()
        at_cut = r.evses[0].energy_wh()
        cut_epoch = 1795435200 + r.now // 1000  # the CSMS set the clock at the start
        assert at_cut > 100
        r2 = Rig("pl_bound" + interval, keep=True)  # power cut: a new core on the same flash state
        r2.cp.on_connect(0)
        r2.run(2000)
        stop = [m[3] for m in r2.sent if m[2] == "StopTransaction"]
        assert len(stop) == 1 and stop[0]["reason"] == "PowerLoss"
        lost = at_cut - stop[0]["meterStop"]
        assert 0 <= lost <= PERSIST_WH, (interval, at_cut, stop[0]["meterStop"])
        from ocpp16.timefmt import parse_datetime
        assert 0 <= cut_epoch - parse_datetime(stop[0]["timestamp"]) <= PERSIST_MS // 1000, stop[0]["timestamp"]


def test_power_loss_stops_open_transaction_on_restart():
    r = Rig("powerloss")
    r.config.change("MeterValueSampleInterval", "10")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.tap("BEEF")
    r.world.connectors[0].plug()
    r.run(25000)
    assert r.cp.tx
    # power cut: a new core on the same flash state
    r2 = Rig("powerloss", keep=True)
    r2.cp.on_connect(0)
    r2.run(2000)
    stop = [m[3] for m in r2.sent if m[2] == "StopTransaction"]
    assert len(stop) == 1 and stop[0]["reason"] == "PowerLoss" and stop[0]["transactionId"] == TX_ID
    assert stop[0]["meterStop"] > 0


def test_clock_aligned_meter_values_inside_and_outside_a_transaction():
    r = Rig("aligned")
    r.config.change("ClockAlignedDataInterval", "15")
    r.config.change("MeterValueSampleInterval", "0")
    r.config.change("MeterValuesAlignedData", "Energy.Active.Import.Register,Voltage")
    r.cp.on_connect(0)
    r.run(20000)      # clock set to 12:00:00 by the boot answer: one aligned sample at :15
    r.world.tap("AA")
    r.world.connectors[0].plug()
    r.run(20000)      # one at :30 inside the transaction
    mvs = [m[3] for m in r.sent if m[2] == "MeterValues"]
    assert len(mvs) == 2
    assert "transactionId" not in mvs[0] and mvs[1]["transactionId"] == TX_ID
    for p in mvs:
        svs = p["meterValue"][0]["sampledValue"]
        assert [sv["measurand"] for sv in svs] == ["Energy.Active.Import.Register", "Voltage"]
        assert all(sv["context"] == "Sample.Clock" for sv in svs)
    assert mvs[0]["meterValue"][0]["timestamp"] == "2026-11-23T12:00:15Z"
    assert mvs[1]["meterValue"][0]["timestamp"] == "2026-11-23T12:00:30Z"


def test_minimum_status_duration_suppresses_short_lived_statuses():
    r = Rig("minstatus")
    r.config.change("MinimumStatusDuration", "5")
    r.cp.on_connect(0)
    r.run(2000)
    r.world.connectors[0].plug()
    r.run(2000)
    r.world.connectors[0].unplug()   # Preparing lasted 2 s: never reported
    r.run(10000)
    r.world.connectors[0].plug()
    r.run(8000)               # Preparing held 8 s: reported once it lasted 5 s
    st = [(r.times[i], m[3]["status"]) for i, m in enumerate(r.sent)
          if m[2] == "StatusNotification" and m[3]["connectorId"] == 1]
    assert [s for _, s in st] == ["Available", "Preparing"]
    assert st[1][0] - 14000 >= 5000


def test_remote_start_without_authorize_when_configured():
    r = Rig("remote")
    r.config.change("AuthorizeRemoteTxRequests", "false")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.connectors[0].plug()
    r.run(1000)
    r.cp.receive('[2,"x1","RemoteStartTransaction",{"idTag":"RS1","connectorId":1}]', r.now)
    answer = json.loads(r.cp.outbox.pop(0))
    assert answer == [3, "x1", {"status": "Accepted"}]
    r.run(1000)
    assert "Authorize" not in r.actions()
    start = [m[3] for m in r.sent if m[2] == "StartTransaction"]
    assert start and start[0]["idTag"] == "RS1"


def test_hard_reset_stops_with_hard_reset_and_requests_reboot_after_delivery():
    r = Rig("hard")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.tap("AA")
    r.world.connectors[0].plug()
    r.run(5000)
    r.cp.receive('[2,"r1","Reset",{"type":"Hard"}]', r.now)
    assert json.loads(r.cp.outbox[0]) == [3, "r1", {"status": "Accepted"}]
    assert r.cp.reboot is None  # not before the StopTransaction is delivered
    r.run(3000)   # the EV stops drawing, the contactor opens, meterStop is read, the Stop goes out
    stop = [m[3] for m in r.sent if m[2] == "StopTransaction"]
    assert stop[0]["reason"] == "HardReset" and r.cp.reboot == "Hard"


def test_start_answered_invalid_stops_charging_when_configured():
    r = Rig("invalid")
    r.cp.on_connect(0)
    r.run(1000)
    orig = r.csms

    def csms(action, p):
        if action == "StartTransaction":
            return {"transactionId": 7, "idTagInfo": {"status": "Blocked"}}
        return orig(action, p)
    r.csms = csms
    r.world.tap("AA")
    r.world.connectors[0].plug()
    r.run(5000)
    stop = [m[3] for m in r.sent if m[2] == "StopTransaction"]
    assert stop and stop[0]["reason"] == "DeAuthorized" and stop[0]["transactionId"] == 7
    assert not r.hw.connectors[0].relay.closed


def unsupported_action():
    """An action of the 1.6 (+ Security) set that no profile of this firmware handles yet
    (None: every one is handled)."""
    from ocpp16 import profiles
    actions = sorted(a for g in limit("ocpp16.schema_core", "_PROFILES").split(";") for a in g.split()[2:])
    profiles.unload("schema_core")
    for action in actions:
        if profiles.handler(action) is None:
            return action
    return None


UNHANDLED = "SignedUpdateFirmware"   # taken out of profiles.HANDLERS: a build without that profile


def test_bad_frames_get_callerrors_and_the_core_keeps_working():
    r = Rig("bad")
    r.cp.on_connect(0)
    r.run(1000)
    calls = []
    for text, code in (("not json", "FormationViolation"), ('[2,"a","NoSuchAction",{}]', "NotImplemented"),
                       ('[2,"b","ChangeConfiguration",{"key":"X"}]', "OccurenceConstraintViolation"),
                       ('[2,"c","Reset",{"type":"Sideways"}]', "PropertyConstraintViolation"),
                       ('[2,"d","UnlockConnector",{"connectorId":"1"}]', "TypeConstraintViolation"),
                       ('[2,"e","%s",{}]' % (unsupported_action() or UNHANDLED), "NotSupported")):
        from ocpp16 import profiles
        saved = profiles.HANDLERS
        if code == "NotSupported" and not unsupported_action():
            profiles.HANDLERS = saved.replace(" %s " % UNHANDLED, " ")
            assert profiles.handler(UNHANDLED) is None
        try:
            r.cp.receive(text, r.now)
        finally:
            profiles.HANDLERS = saved
        m = json.loads(r.cp.outbox.pop(0))
        if m[0] == 2:  # our own CALL: the InvalidMessages security event of the first frame
            calls.append(m)
            m = json.loads(r.cp.outbox.pop(0))
        assert m[0] == 4 and m[2] == code, (text, m)
    r.cp.receive('[2,"f","ClearCache",{}]', r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [3, "f", {"status": "Accepted"}]
    # one InvalidMessages event for the frame that was not OCPP-J at all (at most one a minute)
    assert [(m[2], m[3]["type"]) for m in calls] == [("SecurityEventNotification", "InvalidMessages")]


def test_frame_too_large_answered_from_its_first_bytes():
    r = Rig("toolarge")
    r.cp.on_connect(0)
    r.run(1000)
    r.cp.receive_too_large(b'[2, "big-9", "DataTransfer", {"data": "\xc3\xa9\xc3', 70000, r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [4, "big-9", "FormationViolation", "frame too large (70000 bytes)", {}]
    r.cp.receive_too_large(b'{"no": "array"', 70000, r.now)  # cannot be a CALL we could name
    assert json.loads(r.cp.outbox.pop(0))[:3] == [4, "-1", "FormationViolation"]
    r.answer_calls = False
    r.run(11000)  # our next CALL (the InvalidMessages security event, or a Heartbeat) waits for its answer
    pending = r.cp.pending
    assert pending is not None and pending["action"] in ("SecurityEventNotification", "Heartbeat")
    # an oversized answer to our CALL fails that CALL; no CALLERROR goes back
    r.cp.receive_too_large(('[3,"%s",{"x":"' % pending["id"]).encode(), 70000, r.now)
    assert r.cp.pending is None and r.cp.outbox == []


def test_unlock_connector_ids_outside_the_connectors():
    r = Rig("unlock")
    r.cp.on_connect(0)
    r.run(1000)
    for text, want in (('[2,"u0","UnlockConnector",{"connectorId":0}]', [4, "u0", "PropertyConstraintViolation"]),
                       ('[2,"u-","UnlockConnector",{"connectorId":-3}]', [4, "u-", "PropertyConstraintViolation"]),
                       ('[2,"u2","UnlockConnector",{"connectorId":2}]', [3, "u2", {"status": "NotSupported"}]),
                       ('[2,"u1","UnlockConnector",{"connectorId":1}]', [3, "u1", {"status": "Unlocked"}])):
        r.cp.receive(text, r.now)
        m = json.loads(r.cp.outbox.pop(0))
        assert m[:3] == want, (text, m)


def test_boot_notification_carries_version_vendor_and_serial():
    import version
    r = Rig("boot_ids")
    r.cp.on_connect(0)
    r.run(500)
    boot = [m[3] for m in r.sent if m[2] == "BootNotification"][0]
    assert boot["firmwareVersion"] == version.VERSION and boot["chargePointVendor"] == version.NAME
    assert "chargePointSerialNumber" not in boot  # the Rig's config has none and no chip id
    r2 = Rig("boot_ids2")
    r2.cp.device = {"charge_point_id": "T", "vendor": "Acme", "model": "Wallbox 7", "serial": "SN-0042"}
    r2.cp.on_connect(0)
    r2.run(500)
    boot = [m[3] for m in r2.sent if m[2] == "BootNotification"][0]
    assert boot == {"chargePointVendor": "Acme", "chargePointModel": "Wallbox 7", "chargePointSerialNumber": "SN-0042",
                    "firmwareVersion": version.VERSION}
    assert version.serial(b"\x24\x0a\xc4\x00\x00\x01") == "240AC4000001"
    assert len(version.NAME) <= 20 and len(version.VERSION) <= 50


def test_timestamps_taken_before_the_clock_was_set_are_corrected():
    from ocpp16.chargepoint import WallClock
    from ocpp16.timefmt import parse_datetime
    r = Rig("unsynced")
    r.cp.clock = WallClock(946684800, 0)   # a device without NTP: 2000-01-01T00:00:00Z at boot
    r.config.change("AllowOfflineTxForUnknownId", "true")
    r.config.change("MeterValueSampleInterval", "10")
    r.world.tap("OFF")
    r.world.connectors[0].plug()
    r.run(25000)                           # offline: Start + 2 MeterValues queued with year-2000 stamps
    r.cp.on_connect(r.now)                 # boot answer sets the clock to the CSMS's time
    r.run(2000)
    start = [m[3] for m in r.sent if m[2] == "StartTransaction"][0]
    mvs = [m[3] for m in r.sent if m[2] == "MeterValues"]
    t_start = parse_datetime(start["timestamp"])
    t_mv = [parse_datetime(p["meterValue"][0]["timestamp"]) for p in mvs]
    boot = 1795435200 + 25  # the CSMS's clock when it answered the boot, at now = 25 s
    assert abs(t_start - (boot - 25)) <= 1, start["timestamp"]  # not 2000-01-01: corrected
    assert [t - t_start for t in t_mv][:2] == [10, 20]
    assert r.cp.clock_offset is not None   # the open transaction still holds a year-2000 sample
    r.world.connectors[0].unplug()
    r.run(5000)
    stop = [m[3] for m in r.sent if m[2] == "StopTransaction"][0]
    begin = parse_datetime(stop["transactionData"][0]["timestamp"])  # its Transaction.Begin sample
    assert abs(begin - t_start) <= 1, stop["transactionData"][0]["timestamp"]
    # nothing made before the clock was set is left to send: repair (ocpp16.boot) stops
    assert r.cp.idle() and not r.cp.tx and r.cp.clock_offset is None


class _Cut(Exception):
    pass


def test_power_lost_between_recording_and_queueing_a_start_leaves_no_dangling_stop():
    r = Rig("cutstart")
    r.cp.on_connect(0)
    r.run(1000)
    r.cp.on_disconnect(r.now)
    r.config.change("AllowOfflineTxForUnknownId", "true")

    def dead_push(action, payload, tx_ref=None):
        raise _Cut()  # the power went at the first write of the Start
    r.queue.push = dead_push
    r.world.tap("LOST")
    r.world.connectors[0].plug()
    try:
        r.run(2000)
        assert False, "the cut did not happen"
    except _Cut:
        pass
    r2 = Rig("cutstart", keep=True)
    r2.cp.on_connect(0)
    r2.run(3000)
    assert [a for a in r2.actions() if a in ("StartTransaction", "StopTransaction")] == []


def test_reset_while_the_link_is_down_still_reboots_after_a_bounded_wait():
    from ocpp16.reset import RESET_DRAIN_MS
    r = Rig("resetoffline")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.tap("AA")
    r.world.connectors[0].plug()
    r.run(3000)
    r.cp.receive('[2,"r2","Reset",{"type":"Soft"}]', r.now)
    r.cp.on_disconnect(r.now)        # the Stop cannot go out
    r.run(RESET_DRAIN_MS - 1000)
    assert r.cp.reboot is None and len(r.queue) >= 1
    r.run(2000)
    assert r.cp.reboot == "Soft" and len(r.queue) >= 1   # the Stop stays queued for after the reboot


def _short_of_heap_session(name, refuse):
    """Offline: a transaction starts (its Start queued on flash, statuses in RAM); back online
    with rpc.encode_call refusing (MemoryError, as below the smallest heap) each CALL the
    first `refuse` times it is tried. The CALLs sent, in order, as (action, payload)."""
    from ocpp16 import rpc
    real = rpc.encode_call
    tried = {}

    def encode_call(msg_id, action, payload):
        key = action + json.dumps(payload)
        tried[key] = tried.get(key, 0) + 1
        if tried[key] <= refuse:
            raise MemoryError("no room to encode " + action)
        return real(msg_id, action, payload)
    r = Rig(name)
    r.config.change("AllowOfflineTxForUnknownId", "true")
    r.cp.on_connect(0)
    r.run(1000)
    r.cp.on_disconnect(r.now)
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(3000)
    assert 1 in r.cp.tx and len(r.queue) == 1 and r.cp.ram  # the Start on flash, statuses in RAM
    rpc.encode_call = encode_call
    try:
        n = len(r.sent)
        r.cp.on_connect(r.now)
        r.run(200)                                   # two ticks: the first CALL tried twice
        if refuse >= 2:                              # nothing sent, nothing taken, nothing waits for an answer
            assert len(r.sent) == n and len(r.queue) == 1 and r.cp.ram and r.cp.pending is None
        r.run(3000)
    finally:
        rpc.encode_call = real
    assert 1 in r.cp.tx and r.evses[0].contactor_closed   # charging went on
    assert len(r.queue) == 0 and not r.cp.ram and r.cp.pending is None
    return [(m[2], m[3]) for m in r.sent], tried


def test_a_call_that_cannot_be_encoded_stays_in_its_place_and_goes_later():
    # below the smallest heap the encoder raises MemoryError: the message is not lost, not
    # duplicated, not reordered (the queue head stays the head, a RAM message stays first)
    plain, _ = _short_of_heap_session("nomem0", 0)
    short, tried = _short_of_heap_session("nomem2", 2)
    assert "StartTransaction" in [a for a, _ in plain]
    assert [a for a, _ in plain].count("StatusNotification") >= 2
    assert short == plain
    refused = [k for k in tried if tried[k] > 2]
    assert [k for k in refused if k.startswith("StartTransaction")]    # a queue head was refused
    assert [k for k in refused if k.startswith("StatusNotification")]  # and a RAM message


def test_a_boot_notification_that_cannot_be_encoded_goes_on_the_next_tick():
    from ocpp16 import rpc
    real = rpc.encode_call
    refused = []

    def encode_call(msg_id, action, payload):
        if len(refused) < 2:
            refused.append(action)
            raise MemoryError("no room to encode " + action)
        return real(msg_id, action, payload)
    r = Rig("nomemboot")
    rpc.encode_call = encode_call
    try:
        r.cp.on_connect(0)
        r.run(1000)
    finally:
        rpc.encode_call = real
    assert refused == ["BootNotification"] * 2
    assert r.actions()[0] == "BootNotification" and r.times[0] == 200 and r.cp.boot_status == "Accepted"


def test_a_transaction_answer_whose_code_cannot_load_is_acked_and_its_id_comes_from_the_queue():
    # the StartTransaction's answer is acked with its transactionId (the queue's map) before
    # ocpp16.offline takes the rest (the id in RAM, the idTagInfo): when that cannot be loaded
    # the Start is not sent again (a second Start would be a second transaction at the CSMS)
    # and the transaction's StopTransaction still carries the CSMS's transactionId
    from ocpp16 import profiles
    real = profiles.load
    broken = set()
    starts = []
    load = refusing(real, broken)
    r = Rig("txanswer")
    csms = r.csms

    def answer(action, p):
        if action == "StartTransaction":
            broken.add("offline")
            starts.append(p["idTag"])
        return csms(action, p)
    r.csms = answer
    profiles.load = load
    try:
        r.cp.on_connect(0)
        r.run(1000)
        r.world.tap("CAFE")
        r.world.connectors[0].plug()
        r.run(1000)
        assert starts == ["CAFE"] and r.cp.tx[1].tx_id is None and len(r.queue) == 0  # acked
        broken.clear()
        r.run(10000)
        assert starts == ["CAFE"] and r.evses[0].contactor_closed
        r.world.connectors[0].unplug()
        r.run(3000)
    finally:
        profiles.load = real
    stops = [m[3] for m in r.sent if m[2] == "StopTransaction"]
    assert starts == ["CAFE"] and len(stops) == 1 and stops[0]["transactionId"] == TX_ID, stops
    assert len(r.queue) == 0 and not r.cp.tx


def test_answers_are_handled_when_the_cache_cannot_be_read_in():
    # the Authorization Cache is read from flash for each use (ocpp16.offline.AuthStore): out of
    # heap there, the tag is not learnt this time, the Authorize and Start answers go on
    import store
    r = Rig("nocache")
    r.cp.on_connect(0)
    r.run(1000)

    def load(path, default=None):
        raise MemoryError("no room to read " + path)
    store.load = load
    try:
        r.world.tap("CAFE")
        r.world.connectors[0].plug()
        r.run(5000)
    finally:
        del store.load
    assert r.cp.tx[1].tx_id == TX_ID and len(r.queue) == 0 and r.evses[0].contactor_closed
    assert "CAFE" not in r.cp.auth_store.cache
    r.world.tap("CAFE")                     # stops it; the Stop's answer is learnt now
    r.run(2000)
    assert 1 not in r.cp.tx and "CAFE" in r.cp.auth_store.cache


def test_a_start_whose_feature_check_runs_out_of_heap_waits_with_its_authorization():
    # a feature's may_start hook (a reservation's reads the local list from flash) out of heap:
    # the start waits for the next tick with its authorization kept, then goes once
    r = Rig("nomemhook")
    r.cp.on_connect(0)
    r.run(1000)
    checks = []

    class Probe:
        pass

    def may_start(cp, evse, id_tag, now):
        checks.append(now)
        if len(checks) <= 2:
            raise MemoryError("no room to check " + id_tag)
        return None
    probe = Probe()
    probe.may_start = may_start
    r.cp.features["probe"] = probe
    r.world.tap("CAFE")
    r.world.connectors[0].plug()
    r.run(5000)
    del r.cp.features["probe"]
    assert len(checks) == 3 and checks[1] > checks[0]
    assert [m[3]["idTag"] for m in r.sent if m[2] == "StartTransaction"] == ["CAFE"]
    assert 1 in r.cp.tx and r.evses[0].contactor_closed
