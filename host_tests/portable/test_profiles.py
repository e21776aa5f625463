# The on-demand registry (ocpp16.profiles): a handler module is imported for its
# call and gone from sys.modules afterwards; a module that fails to import gets
# the CSMS a CALLERROR InternalError, is tried again on the next call, and the
# charger keeps charging. Runs on both runtimes.
import json
import sys

from ocpp16 import profiles
from test_chargepoint import Rig


def _call(rig, action, payload, msg_id="c1"):
    rig.cp.receive(json.dumps([2, msg_id, action, payload]), rig.now)
    for text in list(rig.cp.outbox):
        m = json.loads(text)
        if m[0] in (3, 4) and m[1] == msg_id:
            rig.cp.outbox.remove(text)
            return m
    raise AssertionError("no answer to " + action)


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
    rig = Rig("profiles_fail")
    rig.cp.on_connect(0)
    rig.run(2000)
    rig.world.reader.tap("CAFE")
    rig.world.evs[0].plug()
    rig.run(10000)
    assert 1 in rig.cp.tx and rig.evses[0].contactor_closed
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
