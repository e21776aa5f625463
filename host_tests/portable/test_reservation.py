# Reservation profile (ocpp16/reserve_ops.py, ocpp16/reservation.py) driven in memory:
# ReserveNow answers, replacement by reservationId, connector 0, who may start on a
# reserved connector (idTag, parentIdTag from Authorize / local list / cache), expiry,
# cancellation, persistence and the resident module's lifetime. Runs on both runtimes.
import json
import sys

import scratch
import store

from evse.connector import Evse
from hal.sim import build
from ocpp16.chargepoint import ChargePoint, WallClock
from ocpp16 import profiles
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime
from test_chargepoint import Rig

T0 = 1795435200  # the Rig's CSMS clock at now=0 (2026-11-23T12:00:00Z)


class Rig2(Rig):
    """Two connectors."""

    def __init__(self, name, keep=False):
        Rig.__init__(self, name, keep, connectors=2, prefix="res_")


def call(rig, action, payload, msg_id="r1"):
    rig.cp.receive(json.dumps([2, msg_id, action, payload]), rig.now)
    for text in list(rig.cp.outbox):
        m = json.loads(text)
        if m[0] in (3, 4) and m[1] == msg_id:
            rig.cp.outbox.remove(text)
            assert m[0] == 3, m
            return m[2]["status"]
    raise AssertionError("no answer to " + action)


def reserve(rig, rid, connector, tag, seconds=3600, parent=None):
    p = {"connectorId": connector, "expiryDate": format_datetime(T0 + rig.now // 1000 + seconds),
         "idTag": tag, "reservationId": rid}
    if parent:
        p["parentIdTag"] = parent
    return call(rig, "ReserveNow", p, "rn%d" % rid)


def started(rig):
    return [m[3] for m in rig.sent if m[2] == "StartTransaction"]


def online(rig):
    profiles.unload("reservation")  # an earlier test's core may still hold it resident
    rig.cp.on_connect(rig.now)
    rig.run(1000)


def path(rig):
    return rig.dir + "/reservations.json"


def test_reserved_connector_reports_reserved_and_its_owner_starts_with_the_reservation_id():
    r = Rig("owner")
    online(r)
    assert "ocpp16.reservation" not in sys.modules
    assert reserve(r, 7, 1, "OWNER") == "Accepted"
    assert "ocpp16.reserve_ops" not in sys.modules  # the handler left; the feature stays
    assert "reservation" in r.cp.features and store.exists(path(r))
    r.run(1000)
    assert r.cp.reported[1][0] == "Reserved"
    r.world.tap("OWNER")
    r.world.connectors[0].plug()
    r.run(5000)
    (start,) = started(r)
    assert start["idTag"] == "OWNER" and start["reservationId"] == 7
    assert "reservation" not in r.cp.features and "ocpp16.reservation" not in sys.modules
    assert not store.exists(path(r))
    r.world.connectors[0].unplug()
    r.run(3000)
    assert r.cp.reported[1][0] == "Available"


def test_a_card_of_another_user_is_refused_and_the_connector_stays_reserved():
    r = Rig("other")
    online(r)
    assert reserve(r, 1, 1, "OWNER") == "Accepted"
    r.run(1000)
    r.world.tap("STRANGER")
    r.run(2000)
    refused = [e for e in r.cp.events if e[0] == "refused"]
    assert refused and "reserved for another idTag" in refused[-1][1], r.cp.events
    assert r.cp.auth is None and r.cp.reported[1][0] == "Reserved"
    r.world.connectors[0].plug()
    r.run(5000)
    assert started(r) == []
    r.world.connectors[0].unplug()
    r.run(1000)
    assert r.cp.reported[1][0] == "Reserved"
    # a stranger who plugs in first and taps then: refused too
    r.world.connectors[0].plug()
    r.run(1000)
    r.world.tap("STRANGER")
    r.run(3000)
    assert started(r) == [] and "reservation" in r.cp.features


def _parent_rig(name, answer_parent=None):
    r = Rig(name)
    csms = r.csms

    def answer(action, p):
        if action == "Authorize" and answer_parent:
            return {"idTagInfo": {"status": "Accepted", "parentIdTag": answer_parent[p["idTag"]]}}
        return csms(action, p)
    r.csms = answer
    online(r)
    return r


def _try(r, tag):
    """Tap `tag`, plug in: True when a transaction started (then unplug)."""
    r.world.tap(tag)
    r.world.connectors[0].plug()
    r.run(4000)
    ok = 1 in r.cp.tx
    r.world.connectors[0].unplug()
    r.run(3000)
    return ok


def test_a_card_with_the_reservations_parent_id_tag_may_start_via_the_authorize_answer():
    r = _parent_rig("parent_auth", {"CHILD": "FLEET", "OTHER": "ELSEWHERE"})
    r.config.change("AuthorizationCacheEnabled", "false")  # only the answer itself tells
    assert reserve(r, 3, 1, "BOSS", parent="fleet") == "Accepted"
    assert not _try(r, "OTHER")
    assert _try(r, "CHILD")  # its parent FLEET, as the reservation's parentIdTag "fleet" (no case)
    (s,) = started(r)
    assert s["idTag"] == "CHILD" and s["reservationId"] == 3


def test_parent_id_tag_from_the_local_list_or_the_cache_when_offline():
    r = _parent_rig("parent_local")
    from ocpp16.localauth import update_list
    update_list(r.cp.auth_store, 1, "Full", [{"idTag": "LISTED", "idTagInfo": {"status": "Accepted",
                                                                              "parentIdTag": "FLEET"}}])
    r.cp.auth_store.remember("CACHED", {"status": "Accepted", "parentIdTag": "FLEET"})
    r.cp.auth_store.remember("WRONG", {"status": "Accepted", "parentIdTag": "NOPE"})
    assert reserve(r, 4, 1, "BOSS", parent="FLEET") == "Accepted"
    r.cp.on_disconnect(r.now)  # offline: judged by the list and the cache (LocalAuthorizeOffline)
    assert not _try(r, "WRONG")
    assert _try(r, "LISTED")
    assert reserve(r, 5, 1, "BOSS", parent="FLEET") == "Accepted"
    assert _try(r, "CACHED")
    online(r)
    r.run(3000)
    assert [(s["idTag"], s["reservationId"]) for s in started(r)] == [("LISTED", 4), ("CACHED", 5)]


def test_a_new_reserve_now_with_the_same_id_replaces_the_old_one():
    r = Rig("replace")
    online(r)
    assert reserve(r, 1, 1, "ALICE") == "Accepted"
    assert reserve(r, 1, 1, "BOB") == "Accepted"
    assert [x["tag"] for x in r.cp.reservations] == ["BOB"]
    assert reserve(r, 2, 1, "CAROL") == "Occupied"  # reserved under another id
    assert store.load(path(r))["r"][0]["tag"] == "BOB"
    assert not _try(r, "ALICE")
    assert _try(r, "BOB")
    assert started(r)[0]["reservationId"] == 1


def test_connector_zero_holds_one_connector_free_for_its_id_tag():
    r = Rig2("zero")
    online(r)
    r.config.values["ReserveConnectorZeroSupported"] = False
    assert reserve(r, 9, 0, "OWNER") == "Rejected"
    r.config.values["ReserveConnectorZeroSupported"] = True
    assert reserve(r, 9, 0, "OWNER") == "Accepted"
    r.run(1000)
    assert r.cp.reported[1][0] == "Available" and r.cp.reported[2][0] == "Available"  # two free for one
    r.world.tap("FIRST")
    r.world.connectors[0].plug()
    r.run(4000)
    assert [s["idTag"] for s in started(r)] == ["FIRST"] and "reservationId" not in started(r)[0]
    assert r.cp.reported[2][0] == "Reserved"  # the last free connector is held
    assert reserve(r, 10, 2, "ANYONE") == "Occupied"
    r.world.tap("SECOND")
    r.run(2000)
    assert [e for e in r.cp.events if e[0] == "refused"]
    r.world.tap("OWNER")
    r.world.connectors[1].plug()
    r.run(4000)
    assert [s["idTag"] for s in started(r)] == ["FIRST", "OWNER"] and started(r)[1]["reservationId"] == 9
    assert "reservation" not in r.cp.features


def test_a_connector_zero_owner_may_not_take_a_connector_reserved_for_someone_else():
    r = Rig2("zero_other")
    online(r)
    assert reserve(r, 1, 2, "BOB") == "Accepted"
    assert reserve(r, 2, 0, "ANN") == "Accepted"      # connector 1 stays free for her
    assert reserve(r, 3, 0, "CAT") == "Occupied"      # no second free connector
    r.run(1000)
    assert r.cp.reported[1][0] == "Reserved" and r.cp.reported[2][0] == "Reserved"
    r.world.tap("ANN")
    r.world.connectors[1].plug()                             # into BOB's connector
    r.run(4000)
    assert 2 not in r.cp.tx and [e for e in r.cp.events if e[0] == "refused"]
    r.world.connectors[1].unplug()
    r.world.tap("ANN")
    r.world.connectors[0].plug()
    r.run(4000)
    assert started(r)[0]["idTag"] == "ANN" and started(r)[0]["reservationId"] == 2
    assert [x["id"] for x in r.cp.reservations] == [1]


def test_occupied_faulted_unavailable_and_rejected():
    r = Rig("statuses")
    online(r)
    assert reserve(r, 1, 2, "X") == "Rejected"          # no connector 2
    assert reserve(r, 1, 1, "X", seconds=-5) == "Rejected"  # already expired
    r.world.connectors[0].plug()
    r.run(1000)
    assert reserve(r, 1, 1, "X") == "Occupied"
    assert reserve(r, 1, 0, "X") == "Occupied"
    r.world.connectors[0].unplug()
    r.run(1000)
    r.world.connectors[0].short = True
    r.run(1000)
    assert reserve(r, 1, 1, "X") == "Faulted"
    assert reserve(r, 1, 0, "X") == "Faulted"
    r.world.connectors[0].short = False
    r.run(1000)
    assert call(r, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == "Accepted"
    assert reserve(r, 1, 1, "X") == "Unavailable"
    assert reserve(r, 1, 0, "X") == "Unavailable"
    assert call(r, "ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == "Accepted"
    assert reserve(r, 1, 1, "X") == "Accepted"
    assert "ocpp16.reservation" in sys.modules
    # refused ReserveNows left nothing resident; a fault ends a reservation (OCPP 1.6 5.13)
    r.world.connectors[0].short = True
    r.run(1000)
    assert "reservation" not in r.cp.features and ("reservation-ended", 1, "connector Faulted") in r.cp.events
    r.world.connectors[0].short = False


def test_refused_reserve_now_leaves_nothing_resident():
    r = Rig("refused")
    online(r)
    r.world.connectors[0].plug()
    r.run(1000)
    assert reserve(r, 1, 1, "X") == "Occupied"
    assert "reservation" not in r.cp.features and "ocpp16.reservation" not in sys.modules
    assert not store.exists(path(r))


def test_reservation_ends_at_its_expiry_date():
    r = Rig("expiry")
    online(r)
    assert reserve(r, 2, 1, "OWNER", seconds=30) == "Accepted"
    r.run(25000)
    assert r.cp.reported[1][0] == "Reserved"
    r.run(10000)
    assert ("reservation-ended", 2, "expired") in r.cp.events
    assert r.cp.reported[1][0] == "Available"
    assert "reservation" not in r.cp.features and not store.exists(path(r))
    assert _try(r, "ANYONE")


def test_cancel_reservation():
    r = Rig("cancel")
    online(r)
    assert call(r, "CancelReservation", {"reservationId": 5}) == "Rejected"
    assert reserve(r, 5, 1, "OWNER") == "Accepted"
    assert reserve(r, 6, 0, "OTHER") == "Occupied"  # one connector, already reserved
    assert call(r, "CancelReservation", {"reservationId": 6}) == "Rejected"
    assert call(r, "CancelReservation", {"reservationId": 5}) == "Accepted"
    assert "ocpp16.reservation" not in sys.modules and not store.exists(path(r))
    r.run(1000)
    assert r.cp.reported[1][0] == "Available"
    assert call(r, "CancelReservation", {"reservationId": 5}) == "Rejected"


def _boot(rig, epoch):
    """A new core on the same flash, its clock at `epoch` (an RTC that kept time)."""
    return ChargePoint({"charge_point_id": "T"}, rig.config, rig.evses, MessageQueue(rig.dir + "/queue"),
                       clock=WallClock(epoch, 0), data_dir=rig.dir, reader=rig.hw.reader, now=0)


def test_reservations_survive_a_reboot_and_an_expired_one_is_dropped_at_boot():
    r = Rig2("reboot")
    online(r)
    assert reserve(r, 1, 1, "A", seconds=600) == "Accepted"
    assert reserve(r, 2, 2, "B", seconds=60) == "Accepted"
    saved = store.load(path(r))
    cp = _boot(r, T0 + 30)
    assert sorted(x["id"] for x in cp.reservations) == [1, 2] and "reservation" in cp.features
    cp = _boot(r, T0 + 120)  # B's expiryDate passed while the power was off
    assert [x["id"] for x in cp.reservations] == [1]
    assert [x["id"] for x in store.load(path(r))["r"]] == [1]
    cp = _boot(r, T0 + 900)
    assert cp.reservations == [] and not store.exists(path(r))
    cp.tick(0)
    assert "reservation" not in cp.features
    # the clock unknown at boot (no RTC): kept until the CSMS sets the time, then judged
    store.save(path(r), saved)
    r2 = Rig2("reboot", keep=True)
    assert sorted(x["id"] for x in r2.cp.reservations) == [1, 2]
    online(r2)
    r2.run(2000)
    assert [x["id"] for x in r2.cp.reservations] == [1, 2]  # the Rig's CSMS says it is T0 + 3 s
    assert r2.cp.reported[1][0] == "Reserved" and r2.cp.reported[2][0] == "Reserved"


def test_malformed_entries_on_flash_are_dropped_with_an_error():
    r = Rig("malformed")
    store.save(path(r), {"r": [{"id": 1, "c": 1, "exp": T0 + 99, "tag": "A", "parent": ""},
                               {"id": "x"}, {"id": 3, "c": 9, "exp": 1, "tag": "B"}, 7]})
    cp = _boot(r, T0)
    assert [x["id"] for x in cp.reservations] == [1]
    assert [x["id"] for x in store.load(path(r))["r"]] == [1]


def test_a_reservation_module_that_fails_to_load_never_stops_charging():
    r = Rig("noload")
    online(r)
    assert reserve(r, 1, 1, "OWNER") == "Accepted"
    real = profiles.load

    def failing(name):
        if name == "reservation":
            raise MemoryError("no room for the reservation module")
        return real(name)
    profiles.unload("reservation")
    profiles.load = failing
    try:
        r2 = Rig("noload", keep=True)  # a reboot: its state file is there, the module cannot load
        assert "reservation" not in r2.cp.features
        r2.cp.on_connect(0)
        r2.run(1000)
        assert reserve(r2, 2, 1, "X") == "Rejected"
        assert _try(r2, "ANYONE")  # charging goes on (unreserved, as nothing enforces it)
    finally:
        profiles.load = real
    assert store.exists(path(r))  # nothing lost: the next boot that can load it enforces it again
    assert [x["id"] for x in _boot(r, T0).reservations] == [1]
