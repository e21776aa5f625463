# Authorization offline and the Local Authorization List: AuthStore on its own
# and through the core (cache, list, LocalPreAuthorize, LocalAuthorizeOffline,
# AllowOfflineTxForUnknownId, SendLocalList, GetLocalListVersion, ClearCache).
import json

from ocpp16 import profiles
from limits import limit
from ocpp16.localauth import update_list
from ocpp16.timefmt import parse_datetime
from test_chargepoint import Rig
import scratch



def cache_max():
    """offline's _CACHE_MAX (read from its source; the module is not left imported)."""
    try:
        return limit("ocpp16.offline", "_CACHE_MAX")
    finally:
        profiles.unload("offline")


def AuthStore(*args):
    """An ocpp16.offline.AuthStore (offline loads on demand: it is not left imported)."""
    try:
        return profiles.load("offline").AuthStore(*args)
    finally:
        profiles.unload("offline")


def fresh():
    global D
    D = scratch.folder("auth_store")
    return AuthStore(D, parse_datetime)


def test_list_full_and_differential_with_versions_persisted():
    a = fresh()
    ok = {"status": "Accepted"}
    assert update_list(a, 3, "Full", [{"idTag": "A", "idTagInfo": ok}, {"idTag": "B", "idTagInfo": {"status": "Blocked"}}]) == "Accepted"
    assert update_list(a, 3, "Differential", [{"idTag": "C", "idTagInfo": ok}]) == "VersionMismatch"
    assert update_list(a, 4, "Differential", [{"idTag": "C", "idTagInfo": ok}, {"idTag": "A"}]) == "Accepted"
    b = AuthStore(D, parse_datetime)  # after a reboot
    assert b.version == 4
    assert b.lookup("A", None) == (None, None)
    assert b.lookup("B", None) == ("list", "Blocked") and b.lookup("C", None) == ("list", "Accepted")
    assert update_list(b, 5, "Full", [{"idTag": "X%d" % i, "idTagInfo": ok} for i in range(5)], max_len=4) == "Failed"
    assert b.version == 4 and b.lookup("C", None)[1] == "Accepted"  # a refused update changes nothing


def test_expiry_and_cache_bound():
    CACHE_MAX = cache_max()
    a = fresh()
    a.remember("OLD", {"status": "Accepted", "expiryDate": "2026-01-01T00:00:00Z"})
    assert a.lookup("OLD", parse_datetime("2025-12-31T23:59:59Z")) == ("cache", "Accepted")
    assert a.lookup("OLD", parse_datetime("2026-01-01T00:00:00Z")) == ("cache", "Expired")
    for i in range(CACHE_MAX + 5):
        a.remember("T%d" % i, {"status": "Accepted"})
    assert len(a.cache) == CACHE_MAX and "OLD" not in a.cache and "T%d" % (CACHE_MAX + 4) in a.cache
    b = AuthStore(D, parse_datetime)
    assert len(b.cache) == CACHE_MAX
    b.clear_cache()
    assert AuthStore(D, parse_datetime).cache == {}


def _tx_started(r):
    return [m[3]["idTag"] for m in r.sent if m[2] == "StartTransaction"]


def test_offline_known_tag_from_cache_and_unknown_tag_refused():
    r = Rig("auth_offline")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.tap("KNOWN")       # online: Authorize -> Accepted goes into the cache
    r.run(1000)
    r.cp.auth = None                  # the driver walked away
    r.cp.on_disconnect(r.now)
    r.world.tap("STRANGER")    # unknown, AllowOfflineTxForUnknownId false
    r.world.connectors[0].plug()
    r.run(2000)
    assert not r.cp.tx
    r.world.tap("KNOWN")
    r.run(2000)
    assert r.cp.tx and r.cp.tx[1].id_tag == "KNOWN"


def test_local_list_blocks_offline_and_preauthorizes_online():
    r = Rig("auth_list")
    r.cp.on_connect(0)
    r.run(1000)
    r.cp.receive(json.dumps([2, "s1", "SendLocalList", {"listVersion": 7, "updateType": "Full",
                 "localAuthorizationList": [{"idTag": "GOOD", "idTagInfo": {"status": "Accepted"}},
                                            {"idTag": "BAD", "idTagInfo": {"status": "Blocked"}}]}]), r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [3, "s1", {"status": "Accepted"}]
    r.cp.receive('[2,"v1","GetLocalListVersion",{}]', r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [3, "v1", {"listVersion": 7}]
    r.config.change("LocalPreAuthorize", "true")
    r.world.tap("GOOD")
    r.world.connectors[0].plug()
    r.run(2000)
    assert "Authorize" not in r.actions() and _tx_started(r) == ["GOOD"]
    r.world.tap("GOOD")        # same tag again: stops
    r.world.connectors[0].unplug()
    r.run(2000)
    r.cp.on_disconnect(r.now)
    r.config.change("AllowOfflineTxForUnknownId", "true")
    r.world.tap("BAD")         # known and blocked beats AllowOfflineTxForUnknownId
    r.world.connectors[0].plug()
    r.run(2000)
    assert not r.cp.tx


def test_clear_cache_and_disabled_list():
    r = Rig("auth_clear")
    r.cp.on_connect(0)
    r.run(1000)
    r.world.tap("CACHED")
    r.run(1000)
    assert "CACHED" in r.cp.auth_store.cache
    r.cp.receive('[2,"c1","ClearCache",{}]', r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [3, "c1", {"status": "Accepted"}]
    assert r.cp.auth_store.cache == {}
    r.config.change("LocalAuthListEnabled", "false")
    r.cp.receive('[2,"v2","GetLocalListVersion",{}]', r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [3, "v2", {"listVersion": -1}]
    r.cp.receive('[2,"s2","SendLocalList",{"listVersion":1,"updateType":"Full"}]', r.now)
    assert json.loads(r.cp.outbox.pop(0)) == [3, "s2", {"status": "NotSupported"}]


def test_cache_evicts_the_oldest_learnt_also_after_a_reboot():
    CACHE_MAX = cache_max()
    a = fresh()
    for i in range(CACHE_MAX):
        a.remember("T%d" % i, {"status": "Accepted"})
    a.remember("T0", {"status": "Blocked"})      # learnt again: now the newest
    b = AuthStore(D, parse_datetime)             # after a reboot
    b.remember("NEW", {"status": "Accepted"})
    assert "T1" not in b.cache and b.lookup("T0", None) == ("cache", "Blocked") and "NEW" in b.cache
    b.remember("NEWER", {"status": "Accepted"})
    assert "T2" not in b.cache and len(b.cache) == CACHE_MAX
