# The on-demand registry (ocpp16.profiles): a handler module is imported for its
# call and gone from sys.modules afterwards; a module that fails to import gets
# the CSMS a CALLERROR InternalError, is tried again on the next call, and the
# charger keeps charging. Runs on both runtimes.
import json
import sys

from ocpp16 import profiles
from out_of_heap import refusing
from test_chargepoint import Rig


def _call(rig, action, payload, msg_id="c1"):
    rig.cp.receive(json.dumps([2, msg_id, action, payload]), rig.now)
    for text in list(rig.cp.outbox):
        m = json.loads(text)
        if m[0] in (3, 4) and m[1] == msg_id:
            rig.cp.outbox.remove(text)
            return m
    raise AssertionError("no answer to " + action)


def _charging(name, ms):
    """A Rig booted, a card tapped and an EV plugged, run ms more: charging on connector 1."""
    rig = Rig(name)
    rig.cp.on_connect(0)
    rig.run(2000)
    rig.world.tap("CAFE")
    rig.world.connectors[0].plug()
    rig.run(ms)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed
    return rig


def test_every_registered_handler_exists_and_every_core_action_is_registered():
    groups = profiles.HANDLERS.split(";")
    assert groups[-1] == "" and len(groups) > 8
    for group in groups[:-1]:
        name, actions = group.split(":")
        assert actions.endswith(" ") and len(actions.split()) >= 1, group
        for action in actions.split():
            assert profiles.handler(action) == name, action
            mod = profiles.load(name)
            assert callable(getattr(mod, "on_" + action)), action
            profiles.unload(name)
    for action in ("ChangeAvailability", "ChangeConfiguration", "ClearCache", "DataTransfer",
                   "GetConfiguration", "RemoteStartTransaction", "RemoteStopTransaction",
                   "Reset", "UnlockConnector"):
        assert profiles.handler(action) == "core_ops", action
    # names that only contain or are contained in a registered one are not registered
    for action in ("Trigger", "Message", "TriggerMessag", "Reset ", "", "core_ops", "Reset ;x"):
        assert profiles.handler(action) is None, action
    assert profiles.handler("TriggerMessage") == "trigger" and profiles.handler("ExtendedTriggerMessage") == "exttrigger"


def test_handler_module_is_unloaded_after_its_call():
    rig = Rig("profiles_unload")
    rig.cp.on_connect(0)
    rig.run(2000)
    assert "ocpp16.core_ops" not in sys.modules
    m = _call(rig, "GetConfiguration", {"key": ["HeartbeatInterval"]})
    assert m[0] == 3 and m[2]["configurationKey"][0]["key"] == "HeartbeatInterval"
    assert "ocpp16.core_ops" not in sys.modules
    import ocpp16
    assert not hasattr(ocpp16, "core_ops")


def test_failed_import_is_internal_error_then_retried_and_charging_goes_on():
    rig = _charging("profiles_fail", 10000)
    saved = profiles.HANDLERS
    profiles.HANDLERS = "no_such_module: GetConfiguration ;" + saved
    try:
        m = _call(rig, "GetConfiguration", {}, "c2")
    finally:
        profiles.HANDLERS = saved
    assert m[0] == 4 and m[2] == "InternalError", m
    assert "ocpp16.no_such_module" not in sys.modules
    rig.run(3000)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed  # still charging
    m = _call(rig, "GetConfiguration", {}, "c3")  # tried again, now it loads
    assert m[0] == 3


def test_a_call_whose_handler_table_cannot_load_is_internal_error_and_charging_goes_on():
    # HANDLERS is schema_core's, loaded by profiles.handler() for the call: out of heap for it,
    # the CSMS gets InternalError (never a crash, never NotSupported), the next call loads it.
    rig = _charging("profiles_table_fail", 10000)
    kept = profiles.__dict__.pop("HANDLERS", None)   # a table an earlier test set here
    real = profiles.load
    profiles.load = refusing(real, {"schema_core"})
    try:
        assert profiles.handler("GetConfiguration") == "schema_core"   # a module that handles nothing
        m = _call(rig, "GetConfiguration", {}, "h1")
    finally:
        profiles.load = real
    assert m[0] == 4 and m[2] == "InternalError", m
    rig.run(3000)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed  # still charging
    m = _call(rig, "GetConfiguration", {}, "h2")  # tried again, now it loads
    assert m[0] == 3, m
    assert profiles.handler("GetConfiguration") == "core_ops" and profiles.handler("Nope") is None
    assert "ocpp16.schema_core" not in sys.modules and "HANDLERS" not in profiles.__dict__
    if kept is not None:
        profiles.HANDLERS = kept


def test_resident_feature_hooks_are_called_and_dropped():
    rig = Rig("profiles_feature")
    rig.cp.on_connect(0)
    rig.run(1000)

    class Feature:  # stands for a feature module: hooks are plain attributes
        calls = []

        @staticmethod
        def tick(cp, now):
            Feature.calls.append("tick")

        @staticmethod
        def status(cp, c, s, now):
            return "Unavailable" if c == 1 else s

    rig.cp.features["fake"] = Feature
    rig.run(2000)
    assert "tick" in Feature.calls
    assert rig.cp.reported[1][0] == "Unavailable"
    rig.cp.drop_feature("fake")
    rig.run(2000)
    assert rig.cp.reported[1][0] == "Available"


def test_core_rare_paths_are_loaded_only_for_their_work():
    rig = Rig("profiles_core_rare")
    rig.config.change("ClockAlignedDataInterval", "5")
    rig.config.change("AllowOfflineTxForUnknownId", "true")
    rig.cp.on_connect(0)
    rig.run(12000)                                  # ocpp16.boot registers, ocpp16.aligned samples
    assert rig.cp.boot_status == "Accepted" and "MeterValues" in rig.actions()
    rig.cp.receive("not json", rig.now)             # ocpp16.failures answers a bad frame
    assert json.loads(rig.cp.outbox.pop(0))[2] == "FormationViolation"
    rig.cp.on_disconnect(rig.now)
    rig.world.tap("OFFLINE")                 # ocpp16.offline decides
    rig.world.connectors[0].plug()
    rig.run(3000)
    assert 1 in rig.cp.tx
    m = None
    rig.cp.on_connect(rig.now)
    rig.run(2000)
    m = _call(rig, "Reset", {"type": "Soft"})       # ocpp16.reset waits for the StopTransaction
    assert m[2] == {"status": "Accepted"} and "reset" in rig.cp.features
    rig.run(5000)
    assert rig.cp.reboot == "Soft" and "reset" not in rig.cp.features
    for name in ("boot", "failures", "offline", "aligned", "reset", "recovery", "core_ops", "calls"):
        assert "ocpp16." + name not in sys.modules, name


def test_core_on_demand_import_failure_never_stops_charging():
    from limits import limit
    from ocpp16.chargepoint import BOOT_RETRY_DEFAULT_S
    CALL_TIMEOUT_MS = limit("ocpp16.chargepoint", "_CALL_TIMEOUT_MS")
    real = profiles.load
    broken = set()
    load = refusing(real, broken)
    profiles.load = load
    try:
        broken.add("boot")
        rig = Rig("profiles_core_fail")             # start-up cannot load: the core is made all the same
        rig.cp.on_connect(0)
        rig.run(2000)
        assert rig.actions() == []                  # no BootNotification without its module...
        broken.clear()
        rig.run(BOOT_RETRY_DEFAULT_S * 1000)        # ...tried again after the boot retry interval
        assert rig.actions()[0] == "BootNotification" and rig.cp.boot_status == "Accepted"
        rig.world.tap("CAFE")
        rig.world.connectors[0].plug()
        rig.run(5000)
        assert 1 in rig.cp.tx and rig.evses[0].contactor_closed
        broken.update(("failures", "secevents", "aligned", "offline", "calls"))
        rig.cp.receive("not json", rig.now)         # its module cannot load: no answer, no crash
        m = _call(rig, "GetConfiguration", {}, "c9")  # the CSMS's call cannot be handled now: InternalError
        assert m[0] == 4 and m[1] == "c9" and m[2] == "InternalError", m
        rig.answer_calls = False
        rig.run(CALL_TIMEOUT_MS + 15000)            # a CALL (a Heartbeat) times out: its failure path cannot load
        assert rig.cp.link_suspect and 1 in rig.cp.tx and rig.evses[0].contactor_closed
        broken.clear()
        rig.answer_calls = True
        rig.run(CALL_TIMEOUT_MS + 5000)
        rig.world.connectors[0].unplug()
        rig.run(5000)
        stop = [m[3] for m in rig.sent if m[2] == "StopTransaction"]
        assert stop and stop[0]["reason"] == "EVDisconnected" and not rig.cp.tx
    finally:
        profiles.load = real


def test_a_stop_whose_module_cannot_load_opens_the_contactor_and_is_queued_once_it_loads():
    import log
    real, out = profiles.load, log.out
    broken = set()
    load = refusing(real, broken)

    class Lines:
        text = []

        def write(self, s):
            Lines.text.append(s)
    profiles.load = load
    try:
        rig = _charging("profiles_stop_fail", 5000)
        broken.add("aligned")                       # the StopTransaction's code
        log.out = Lines()
        rig.world.connectors[0].unplug()
        rig.run(5000)                               # tried every tick, logged once
        log.out = out
        assert not rig.evses[0].contactor_closed and 1 in rig.cp.tx
        assert "StopTransaction" not in rig.actions()
        assert len([s for s in Lines.text if "aligned not loaded" in s]) == 1, Lines.text
        broken.clear()
        rig.run(2000)
        stop = [m[3] for m in rig.sent if m[2] == "StopTransaction"]
        assert len(stop) == 1 and stop[0]["reason"] == "EVDisconnected" and not rig.cp.tx
        broken.add("offline")
        m = _call(rig, "RemoteStartTransaction", {"idTag": "REMOTE"}, "r1")  # cannot be authorized now
        assert m[0] == 3 and m[2] == {"status": "Rejected"}, m
        broken.clear()
        m = _call(rig, "RemoteStartTransaction", {"idTag": "REMOTE"}, "r2")
        assert m[0] == 3 and m[2] == {"status": "Accepted"}, m
    finally:
        profiles.load, log.out = real, out


def test_a_start_whose_code_cannot_load_waits_for_it_and_keeps_the_authorization():
    # The start (ocpp16.aligned, with its Begin values) out of heap at the moment of the start: no
    # crash, no start, the authorization kept; the start once it loads, which needs no other
    # on-demand module (the queue's room check is resident: queue_open and offline refused).
    real = profiles.load
    broken = set()
    load = refusing(real, broken)
    profiles.load = load
    try:
        rig = Rig("profiles_start_fail")
        rig.cp.config.change("StopTxnSampledData", "Energy.Active.Import.Register")
        rig.cp.on_connect(0)
        rig.run(2000)
        rig.world.tap("CAFE")
        rig.run(1000)
        broken.add("aligned")
        rig.world.connectors[0].plug()
        rig.run(3000)                                # the start cannot load: no start yet
        assert not rig.cp.tx and rig.cp.auth is not None
        broken.clear()
        broken.update(("queue_open", "offline"))
        rig.run(1000)
        assert 1 in rig.cp.tx and rig.cp.auth is None
        assert rig.cp.tx[1].begin_values["sampledValue"][0]["context"] == "Transaction.Begin"
        broken.clear()
        rig.run(2000)
        assert "StartTransaction" in rig.actions() and rig.evses[0].contactor_closed
    finally:
        profiles.load = real
