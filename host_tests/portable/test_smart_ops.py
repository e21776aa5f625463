# Smart Charging through the core (in memory, sim hardware, scripted CSMS): the
# bounds (Rejected, nothing half stored), replacement by id and by stackLevel,
# ClearChargingProfile, TxProfile rules, the pilot following a limit within one
# control period of a period boundary, pause and resume, persistence across a
# reboot, offline operation, RemoteStartTransaction with a TxProfile, and nothing
# of Smart Charging resident without a profile. Runs on both runtimes.
import json
import sys

import store
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from test_chargepoint import Rig

PROFILES_FILE = "/charging_profiles.json"


def call(rig, action, payload):
    rig.n = getattr(rig, "n", 0) + 1
    mid = "s%d" % rig.n
    rig.cp.receive(json.dumps([2, mid, action, payload]), rig.now)
    for text in list(rig.cp.outbox):
        m = json.loads(text)
        if m[0] in (3, 4) and m[1] == mid:
            rig.cp.outbox.remove(text)
            return m
    raise AssertionError("no answer to " + action)


def status(rig, action, payload):
    m = call(rig, action, payload)
    assert m[0] == 3, m
    return m[2]["status"]


def txdefault(pid, limits, level=0, start=None, connector=0, purpose="TxDefaultProfile", **kw):
    sched = {"chargingRateUnit": kw.get("unit", "A"),
             "chargingSchedulePeriod": [{"startPeriod": s, "limit": l} for s, l in limits]}
    if start:
        sched["startSchedule"] = start
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kw.get("kind", "Absolute"), "chargingSchedule": sched}
    if "transactionId" in kw:
        p["transactionId"] = kw["transactionId"]
    return {"connectorId": connector, "csChargingProfiles": p}


def booted(name):
    rig = Rig(name)
    rig.cp.on_connect(0)
    rig.run(2000)
    return rig


def stamp(rig, ahead_s=0):
    return rig.cp.clock.stamp(rig.now + ahead_s * 1000)


def charging(rig, tag="CAFE"):
    rig.world.tap(tag)
    rig.world.connectors[0].plug()
    rig.run(8000)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed


def stored(rig):
    return store.load(rig.dir + PROFILES_FILE, None)


def resident():
    return [m for m in ("ocpp16.smart", "ocpp16.smart_ops", "ocpp16.schema_smart") if m in sys.modules]


def test_nothing_resident_without_a_profile_and_after_the_last_is_cleared():
    from ocpp16 import profiles
    profiles.unload("smart")  # resident for the rigs of other tests that still hold profiles
    profiles.unload("schema_smart")  # loaded by other test modules' direct schema checks
    rig = booted("smart_resident")
    assert resident() == []
    r = call(rig, "GetCompositeSchedule", {"connectorId": 1, "duration": 600})
    assert r[2]["status"] == "Accepted" and r[2]["chargingSchedule"]["chargingSchedulePeriod"] == \
        [{"startPeriod": 0, "limit": 16.0}]
    assert resident() == []
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 10)], start=stamp(rig))) == "Accepted"
    assert resident() == ["ocpp16.smart"]  # the handlers left, the schedule stays
    assert status(rig, "ClearChargingProfile", {}) == "Accepted"
    assert resident() == [] and stored(rig) is None and rig.cp.features == {}


def test_bounds_are_rejected_and_never_half_stored():
    rig = booted("smart_bounds")
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 10)], start=stamp(rig))) == "Accepted"
    before = stored(rig)
    bad = [
        txdefault(2, [(0, 10)], level=9),                            # ChargeProfileMaxStackLevel 8
        txdefault(3, [(i * 60, 10) for i in range(25)]),             # ChargingScheduleMaxPeriods 24
        txdefault(4, [(5, 10)]),                                     # first startPeriod not 0
        txdefault(5, [(0, 10), (0, 12)]),                            # startPeriod not increasing
        txdefault(6, [(0, 10)], connector=2),                        # no connector 2
        txdefault(7, [(0, 10)], connector=1, purpose="ChargePointMaxProfile"),
        txdefault(8, [(0, 10)], connector=1, purpose="TxProfile"),   # no transaction
        txdefault(9, [(0, 10)], kind="Recurring"),                   # no recurrencyKind
    ]
    for p in bad:
        assert status(rig, "SetChargingProfile", p) == "Rejected", p
    assert stored(rig) == before
    # MaxChargingProfilesInstalled 10: nine more fit, the eleventh does not
    for i in range(9):
        assert status(rig, "SetChargingProfile", txdefault(20 + i, [(0, 10)], level=i, connector=1)) \
            == "Accepted", i
    assert len(stored(rig)) == 10
    full = stored(rig)
    assert status(rig, "SetChargingProfile", txdefault(40, [(0, 10)], level=7, connector=0)) == "Rejected"
    assert stored(rig) == full
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 12)], start=stamp(rig))) == "Accepted"
    assert len(stored(rig)) == 10  # a replacement is not one more


def test_replacement_by_id_and_by_purpose_and_stack_level():
    rig = booted("smart_replace")
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 10)])) == "Accepted"
    assert status(rig, "SetChargingProfile", txdefault(2, [(0, 12)])) == "Accepted"  # same level: replaces 1
    assert [p[0] for p in stored(rig)] == [2]
    assert status(rig, "SetChargingProfile", txdefault(2, [(0, 14)], level=3)) == "Accepted"  # same id
    assert [(p[0], p[3]) for p in stored(rig)] == [(2, 3)]
    assert status(rig, "SetChargingProfile", txdefault(3, [(0, 8)], level=3, connector=1)) == "Accepted"
    assert sorted(p[0] for p in stored(rig)) == [2, 3]  # another connector: both kept


def test_clear_by_id_connector_purpose_stack_level_and_combinations():
    rig = booted("smart_clear")
    for pid, level, conn, purpose in ((1, 0, 0, "TxDefaultProfile"), (2, 1, 0, "TxDefaultProfile"),
                                      (3, 1, 1, "TxDefaultProfile"), (4, 0, 0, "ChargePointMaxProfile"),
                                      (5, 2, 1, "TxDefaultProfile")):
        assert status(rig, "SetChargingProfile", txdefault(pid, [(0, 16)], level, connector=conn,
                                                           purpose=purpose)) == "Accepted"

    def ids():
        return sorted(p[0] for p in (stored(rig) or []))
    assert status(rig, "ClearChargingProfile", {"id": 99}) == "Unknown"
    assert status(rig, "ClearChargingProfile", {"id": 2, "connectorId": 1}) == "Accepted"  # id alone decides
    assert ids() == [1, 3, 4, 5]
    assert status(rig, "ClearChargingProfile", {"connectorId": 1, "stackLevel": 1}) == "Accepted"
    assert ids() == [1, 4, 5]
    assert status(rig, "ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile",
                                                "stackLevel": 3}) == "Unknown"
    assert status(rig, "ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"}) == "Accepted"
    assert ids() == [1, 5]
    assert status(rig, "ClearChargingProfile", {"connectorId": 0}) == "Accepted"
    assert ids() == [5]
    assert status(rig, "ClearChargingProfile", {}) == "Accepted"
    assert ids() == [] and resident() == []
    assert status(rig, "ClearChargingProfile", {}) == "Unknown"


def test_tx_profile_needs_its_transaction_and_goes_with_it():
    rig = booted("smart_tx")
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 8)], connector=1, purpose="TxProfile")) == "Rejected"
    charging(rig)
    assert rig.evses[0].offer_amps == 16
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 8)], connector=1, purpose="TxProfile",
                                                       transactionId=99)) == "Rejected"
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 8)], connector=1, purpose="TxProfile",
                                                       transactionId=4242)) == "Accepted"
    rig.run(200)
    assert rig.evses[0].offer_amps == 8 and rig.evses[0].pilot.amps == 8
    rig.world.connectors[0].unplug()
    rig.run(2000)
    assert 1 not in rig.cp.tx and resident() == []  # the TxProfile ended with its transaction
    assert rig.evses[0].limit is None


def _first_time(rig, pred, ms):
    end = rig.now + ms
    while rig.now < end:
        rig.run(100)
        if pred():
            return rig.now - 100  # the iteration that ran at this time made it true
    return None


def test_pilot_follows_a_period_boundary_within_one_control_period_and_pauses_and_resumes():
    rig = booted("smart_boundary")
    charging(rig)
    clock = rig.cp.clock
    start = clock.epoch(rig.now) + 10
    p = txdefault(1, [(0, 16), (20, 10), (40, 3), (70, 13)], start=stamp(rig, 10) )
    assert status(rig, "SetChargingProfile", p) == "Accepted"
    pilot = rig.evses[0].pilot

    def at(epoch):
        return clock.base[1] + (epoch - clock.base[0]) * 1000
    t = _first_time(rig, lambda: pilot.amps == 10, 40000)
    assert t is not None and at(start + 20) <= t < at(start + 20) + 100, (t, at(start + 20))
    t = _first_time(rig, lambda: pilot.amps == 0, 40000)
    assert t is not None and at(start + 40) <= t < at(start + 40) + 100, (t, at(start + 40))
    rig.run(8000)  # the EV stops drawing, the interlock opens: SuspendedEVSE, transaction kept
    assert not rig.evses[0].contactor_closed and 1 in rig.cp.tx
    sts = [m[3]["status"] for m in rig.sent if m[2] == "StatusNotification" and m[3]["connectorId"] == 1]
    assert sts[-1] == "SuspendedEVSE", sts
    t = _first_time(rig, lambda: pilot.amps == 13, 40000)
    assert t is not None and at(start + 70) <= t < at(start + 70) + 100
    rig.run(4000)
    assert rig.evses[0].contactor_closed
    sts = [m[3]["status"] for m in rig.sent if m[2] == "StatusNotification" and m[3]["connectorId"] == 1]
    assert sts[-1] == "Charging", sts


def test_profiles_survive_a_reboot_on_the_stored_time_base():
    rig = booted("smart_reboot")
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 7)], start=stamp(rig, -5))) == "Accepted"
    saved = stored(rig)
    # reboot: a new core on the same flash; its clock is unset until the CSMS sets it
    cp = ChargePoint({"charge_point_id": "T"}, Config(rig.dir + "/config.json", {"NumberOfConnectors": 1}),
                     rig.evses, MessageQueue(rig.dir + "/queue"), data_dir=rig.dir, reader=rig.hw.reader, now=0)
    assert "smart" in cp.features and cp.smart.profiles == saved
    rig.cp = cp
    rig.evses[0].set_limit(None)
    rig.now = 0
    rig.cp.on_connect(0)
    rig.run(2000)  # BootNotification sets the clock: the profile (set in 2026) applies
    charging(rig)
    assert rig.evses[0].offer_amps == 7


def test_offline_a_txdefault_set_before_the_outage_limits_a_transaction_started_during_it():
    rig = booted("smart_offline")
    rig.config.values["AllowOfflineTxForUnknownId"] = True
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 9)], start=stamp(rig))) == "Accepted"
    rig.cp.on_disconnect(rig.now)
    rig.answer_calls = False
    charging(rig, "OFF1")
    assert rig.evses[0].offer_amps == 9 and rig.evses[0].pilot.amps == 9


def test_remote_start_with_a_tx_profile_limits_that_transaction():
    rig = booted("smart_remote")
    prof = txdefault(5, [(0, 11)], purpose="TxProfile", kind="Relative")["csChargingProfiles"]
    other = dict(prof, chargingProfilePurpose="TxDefaultProfile")
    assert status(rig, "RemoteStartTransaction", {"idTag": "R1", "connectorId": 1, "chargingProfile": other}) \
        == "Rejected"
    assert resident() == []
    assert status(rig, "RemoteStartTransaction", {"idTag": "R1", "connectorId": 1, "chargingProfile": prof}) \
        == "Accepted"
    rig.world.connectors[0].plug()
    rig.run(6000)
    assert 1 in rig.cp.tx and rig.evses[0].offer_amps == 11
    r = call(rig, "GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert r[2]["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 11.0}]
    rig.world.connectors[0].unplug()
    rig.run(2000)
    assert resident() == []


def test_current_offered_in_meter_values_follows_the_limit():
    rig = booted("smart_offered")
    rig.config.values["MeterValuesSampledData"] = "Current.Offered,Power.Active.Import"
    rig.config.values["MeterValueSampleInterval"] = 10
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 12)], start=stamp(rig))) == "Accepted"
    charging(rig)
    rig.run(12000)
    mv = [m[3] for m in rig.sent if m[2] == "MeterValues"][-1]
    vals = dict((sv["measurand"], sv["value"]) for sv in mv["meterValue"][0]["sampledValue"])
    assert float(vals["Current.Offered"]) == 12 and float(vals["Power.Active.Import"]) == 12 * 230


def test_a_malformed_profiles_file_is_dropped_and_charging_goes_on():
    rig = booted("smart_corrupt")
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 7)], start=stamp(rig, -5))) == "Accepted"
    good = stored(rig)
    store.save(rig.dir + PROFILES_FILE, good + [[1, 2], good[0][:5], "x", good[0][:13] + [[0]]])
    cp = ChargePoint({"charge_point_id": "T"}, Config(rig.dir + "/config.json", {"NumberOfConnectors": 1}),
                     rig.evses, MessageQueue(rig.dir + "/queue"), data_dir=rig.dir, reader=rig.hw.reader, now=0,
                     clock=rig.cp.clock)
    assert cp.smart.profiles == good
    rig.cp = cp
    rig.cp.on_connect(rig.now)
    rig.run(2000)
    charging(rig)
    assert rig.evses[0].offer_amps == 7


def test_a_profile_never_makes_the_charger_offer_or_close_without_a_transaction():
    rig = booted("smart_interlock")
    rig.world.connectors[0].plug()  # no card: not authorized
    rig.run(3000)
    assert status(rig, "SetChargingProfile", txdefault(1, [(0, 6), (5, 16)], start=stamp(rig))) == "Accepted"
    rig.run(10000)
    assert rig.evses[0].limit == 16
    assert rig.evses[0].pilot.amps == 0 and not rig.evses[0].contactor_closed and not rig.cp.tx
