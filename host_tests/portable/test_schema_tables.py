# What ocpp16.schema keeps and loads: the answers to what a charging charger sends are checked
# from resident tables (no module loaded), the tables of a CSMS request load for its check and
# are gone after it, a request whose tables fail to load costs that request (CALLERROR
# InternalError), never the charging; and the one-string table format checks exactly.
# Runs on both runtimes.
import sys

from ocpp16 import rpc as E  # the CALLERROR codes by name
from ocpp16 import profiles, rpc, schema
from out_of_heap import refusing
from test_chargepoint import Rig
from test_profiles import _call  # a CSMS call and its answer


def _tables_loaded():
    return [m for m in sys.modules if m.startswith("ocpp16.schema_")]




def _charging_rig(name, loads):
    """A rig charging on connector 1, every profiles.load of the session's answers in `loads`."""
    rig = Rig(name)
    real = profiles.load

    def spy(module):
        loads.append(module)
        return real(module)

    profiles.load = spy
    try:
        rig.cp.on_connect(0)
        rig.run(2000)
        rig.world.tap("CAFE")
        rig.world.connectors[0].plug()
        rig.run(30000)  # Authorize, StartTransaction, MeterValues, Heartbeat
    finally:
        profiles.load = real
    return rig


def test_answers_of_a_charging_session_load_no_tables():
    loads = []
    rig = _charging_rig("schema_resident", loads)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed
    sent = set(rig.actions())
    for action in ("BootNotification", "StatusNotification", "Authorize", "StartTransaction"):
        assert action in sent, sent
    # the answers to a connect and a transaction's start: resident tables
    assert [m for m in loads if m.startswith("schema")] == [], loads
    assert _tables_loaded() == []
    del loads[:]
    n = len(rig.sent)
    real = profiles.load
    profiles.load = lambda module: loads.append(module) or real(module)
    try:
        rig.run(120000)  # charging on: the answers to MeterValues and Heartbeat, every period
    finally:
        profiles.load = real
    assert {"MeterValues", "Heartbeat"} <= set(rig.actions()[n:]), rig.actions()[n:]
    assert [m for m in loads if m.startswith("schema")] == [], loads
    assert _tables_loaded() == []


def test_request_tables_load_for_the_check_only_and_a_failed_load_spares_the_charging():
    loads = []
    rig = _charging_rig("schema_demand", loads)
    assert 1 in rig.cp.tx
    m = _call(rig, "GetConfiguration", {"key": ["HeartbeatInterval"]}, "g1")
    assert m[0] == 3 and m[2]["configurationKey"][0]["key"] == "HeartbeatInterval", m
    assert _tables_loaded() == []
    m = _call(rig, "GetConfiguration", {"key": [5]}, "g2")
    assert m[:3] == [4, "g2", E.TypeConstraintViolation], m
    assert m[3] == "key[0]: string expected", m
    real = profiles.load
    profiles.load = refusing(real, {"schema_core"})  # the request tables cannot load now
    try:
        m = _call(rig, "Reset", {"type": "Soft"}, "r1")
    finally:
        profiles.load = real
    assert m[:3] == [4, "r1", E.InternalError], m
    assert _tables_loaded() == []
    rig.run(3000)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed  # still charging
    m = _call(rig, "GetConfiguration", {}, "g3")  # tried again: the tables load now
    assert m[0] == 3, m


def test_one_string_format_checks_exactly():
    ok = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 60}
    rpc.validate_result("BootNotification", ok)
    for status in ("Accept", "Pending,Rejected", "Accepted,Pending", "Pending|Rejected", "", "accepted"):
        p = dict(ok)
        p["status"] = status
        try:
            rpc.validate_result("BootNotification", p)
            assert False, status
        except rpc.RpcError as e:
            assert (e.code, e.description) == (E.PropertyConstraintViolation, "status: value not allowed"), status
    for action in ("Boot", "Notification", "BootNotification:", "", "Reset"):  # parts of the table's text
        try:
            rpc.validate_result(action, {})
            assert False, action
        except rpc.RpcError as e:
            assert e.code == E.NotImplemented, action
    # a field name is matched whole, not as part of another's
    for action, p, code in (("StartTransaction", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}, None),
                            ("StartTransaction", {"idTagInfo": {"status": "Accepted"}, "transaction": 1},
                             E.OccurenceConstraintViolation),
                            ("StartTransaction", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1,
                                                  "transaction": 1}, E.FormationViolation),
                            ("StopTransaction", {"idTag": {"status": "Accepted"}}, E.FormationViolation),
                            ("StopTransaction", {"idTagInfo": {"status": "Accepted", "parentIdTag": "p" * 21}},
                             E.TypeConstraintViolation)):
        try:
            rpc.validate_result(action, p)
            got = None
        except rpc.RpcError as e:
            got = e.code
        assert got == code, (p, got)
    try:
        schema.check_payload({"a": 1}, "xa")
        assert False
    except ValueError:  # a kind char the format does not have is a bug in a table, not the CSMS's
        pass


def test_rare_answer_whose_table_cannot_load_is_refused_as_internal_error():
    # the answer counts as a failed delivery of that CALL (sent again), the periodic answers
    # are checked all the same: their tables are resident
    real = profiles.load
    profiles.load = refusing(real, {"schema_core"})  # the rare answers' tables cannot load now
    try:
        try:
            rpc.validate_result("DataTransfer", {"status": "Accepted"})
            assert False
        except rpc.RpcError as e:
            assert e.code == E.InternalError, e.code
        rpc.validate_result("Heartbeat", {"currentTime": "2024-01-01T00:00:00Z"})
        rpc.validate_result("StartTransaction", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1})
    finally:
        profiles.load = real
    assert _tables_loaded() == []
    rpc.validate_result("DataTransfer", {"status": "Accepted"})


def test_a_refusal_whose_description_cannot_load_keeps_its_code():
    # the descriptions are badframe's, loaded for a refusal: out of heap for it, the code is
    # the same and the description names the field; a good payload never loads it
    real = profiles.load
    profiles.load = refusing(real, {"ocpp16.badframe"})
    try:
        for action, payload, code in (("BootNotification", {"status": "Maybe", "currentTime": "2024-01-01T00:00:00Z",
                                                             "interval": 1}, E.PropertyConstraintViolation),
                                      ("Heartbeat", {}, E.OccurenceConstraintViolation),
                                      ("Heartbeat", {"currentTime": 5}, E.TypeConstraintViolation),
                                      ("Heartbeat", {"currentTime": "2024-01-01T00:00:00Z", "x": 1},
                                       E.FormationViolation)):
            try:
                rpc.validate_result(action, payload)
                assert False, payload
            except rpc.RpcError as e:
                assert e.code == code, (payload, e.code)
        rpc.validate_result("Heartbeat", {"currentTime": "2024-01-01T00:00:00Z"})
    finally:
        profiles.load = real
    assert "ocpp16.badframe" not in sys.modules
    try:
        rpc.validate_result("Heartbeat", {"currentTime": 5})
        assert False
    except rpc.RpcError as e:
        assert e.description == "currentTime: string expected", e.description
