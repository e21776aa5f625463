# Cross-check of the compact payload tables (firmware/ocpp16/schema*.py) against the
# OFFICIAL OCPP 1.6 JSON schemas: hand-written valid examples with every optional
# field, then mutations derived from the official schema (not from our tables):
# the compact check must reject exactly when the official schema rejects, with the
# code our mapping table assigns.
import copy

import pytest

import schemas
from portable.limits import limit  # (host_tests/portable: not on the path of these tests)
from ocpp16 import rpc as E  # the CALLERROR codes by name
from ocpp16 import rpc, schema, schema_core

T = "2024-02-29T13:45:00Z"
ID_TAG_INFO = {"expiryDate": "2025-01-01T00:00:00.000+01:00", "parentIdTag": "PARENT01", "status": "Accepted"}
SCHEDULE = {
    "duration": 3600, "startSchedule": T, "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
                               {"startPeriod": 1800, "limit": 21.4, "numberPhases": 1}],
    "minChargingRate": 6.1,
}
PROFILE = {
    "chargingProfileId": 7, "transactionId": 42, "stackLevel": 1,
    "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily", "validFrom": "2024-01-01T00:00:00Z", "validTo": "2024-12-31T23:59:59Z",
    "chargingSchedule": SCHEDULE,
}
HASH_DATA = {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
             "serialNumber": "0a1b2c"}

# The 26 CSMS -> charge point requests.
CALLS = {
    "CancelReservation": {"reservationId": 3},
    "ChangeAvailability": {"connectorId": 1, "type": "Inoperative"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "300"},
    "ClearCache": {},
    "ClearChargingProfile": {"id": 7, "connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile",
                             "stackLevel": 2},
    "DataTransfer": {"vendorId": "org.example", "messageId": "Hello", "data": "{\"x\": 1}"},
    "GetCompositeSchedule": {"connectorId": 1, "duration": 86400, "chargingRateUnit": "W"},
    "GetConfiguration": {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]},
    "GetDiagnostics": {"location": "ftp://user:pw@example.com/diag/", "retries": 3, "retryInterval": 60,
                       "startTime": "2024-02-28T00:00:00Z", "stopTime": T},
    "GetLocalListVersion": {},
    "RemoteStartTransaction": {"connectorId": 1, "idTag": "CARD0001", "chargingProfile": PROFILE},
    "RemoteStopTransaction": {"transactionId": 42},
    "ReserveNow": {"connectorId": 1, "expiryDate": "2024-02-29T14:45:00-05:00", "idTag": "CARD0001",
                   "parentIdTag": "PARENT01", "reservationId": 3},
    "Reset": {"type": "Soft"},
    "SendLocalList": {"listVersion": 5, "updateType": "Differential", "localAuthorizationList": [
        {"idTag": "CARD0001", "idTagInfo": ID_TAG_INFO}, {"idTag": "CARD0002"}]},
    "SetChargingProfile": {"connectorId": 1, "csChargingProfiles": PROFILE},
    "TriggerMessage": {"requestedMessage": "StatusNotification", "connectorId": 1},
    "UnlockConnector": {"connectorId": 2},
    "UpdateFirmware": {"location": "https://example.com/fw.bin", "retries": 2, "retrieveDate": T,
                       "retryInterval": 30},
    "CertificateSigned": {"certificateChain": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
    "DeleteCertificate": {"certificateHashData": HASH_DATA},
    "ExtendedTriggerMessage": {"requestedMessage": "SignChargePointCertificate", "connectorId": 0},
    "GetInstalledCertificateIds": {"certificateType": "CentralSystemRootCertificate"},
    "GetLog": {"log": {"remoteLocation": "https://example.com/logs", "oldestTimestamp": "2024-01-01T00:00:00Z",
                       "latestTimestamp": T},
               "logType": "SecurityLog", "requestId": 9, "retries": 1, "retryInterval": 10},
    "InstallCertificate": {"certificateType": "ManufacturerRootCertificate", "certificate": "PEM" * 10},
    "SignedUpdateFirmware": {"retries": 1, "retryInterval": 5, "requestId": 11, "firmware": {
        "location": "https://example.com/fw.bin", "retrieveDateTime": T, "installDateTime": T,
        "signingCertificate": "PEM", "signature": "c2lnbmF0dXJl"}},
}

# The CSMS answers to the 14 charge point -> CSMS calls.
RESULTS = {
    "Authorize": {"idTagInfo": ID_TAG_INFO},
    "BootNotification": {"status": "Accepted", "currentTime": "2024-02-29T13:45:00.123456Z", "interval": 300},
    "DataTransfer": {"status": "Accepted", "data": "ok"},
    "DiagnosticsStatusNotification": {},
    "FirmwareStatusNotification": {},
    "Heartbeat": {"currentTime": T},
    "MeterValues": {},
    "StartTransaction": {"idTagInfo": ID_TAG_INFO, "transactionId": 42},
    "StatusNotification": {},
    "StopTransaction": {"idTagInfo": ID_TAG_INFO},
    "SecurityEventNotification": {},
    "SignCertificate": {"status": "Rejected"},
    "LogStatusNotification": {},
    "SignedFirmwareStatusNotification": {},
}

CASES = [(a, False, p) for a, p in sorted(CALLS.items())] + [(a, True, p) for a, p in sorted(RESULTS.items())]


def compact(action, payload, response):
    """The compact check's verdict: None (accepted) or the CALLERROR code."""
    try:
        if response:
            rpc.validate_result(action, copy.deepcopy(payload))
        else:
            rpc.validate_call(action, copy.deepcopy(payload))
    except rpc.RpcError as e:
        return e.code
    return None


def _deref(node, root):
    if "$ref" in node:
        return root["definitions"][node["$ref"].split("/")[-1]]
    return node


def _wrong_values(node):
    """(value, expected code) pairs that break the official node's constraints."""
    t = node.get("type")
    out = []
    if t == "string":
        out += [(12, E.TypeConstraintViolation), (None, E.TypeConstraintViolation),
                (["x"], E.TypeConstraintViolation)]
        if "enum" in node:
            out.append(("NotAValue", E.PropertyConstraintViolation))
            out.append((node["enum"][0].lower() + "x", E.PropertyConstraintViolation))
        if "maxLength" in node:
            out.append(("x" * (node["maxLength"] + 1), E.TypeConstraintViolation))
    elif t == "integer":
        out += [("1", E.TypeConstraintViolation), (1.5, E.TypeConstraintViolation),
                (1.0, E.TypeConstraintViolation), (True, E.TypeConstraintViolation),
                (None, E.TypeConstraintViolation)]
    elif t == "number":
        out += [("16", E.TypeConstraintViolation), (False, E.TypeConstraintViolation)]
        if "multipleOf" in node:
            out += [(16.05, E.PropertyConstraintViolation), (0.01, E.PropertyConstraintViolation)]
    elif t == "boolean":
        out += [("true", E.TypeConstraintViolation), (1, E.TypeConstraintViolation)]
    elif t == "object":
        out += [("x", E.TypeConstraintViolation), ([], E.TypeConstraintViolation)]
    elif t == "array":
        out += [({}, E.TypeConstraintViolation), ("x", E.TypeConstraintViolation)]
    return out


def mutations(payload, node, root, path=()):
    """Yield (description, mutated payload, expected code) for every field of the
    example, walking the official schema."""
    node = _deref(node, root)
    target = _get(payload, path)
    if node.get("type") == "object":
        props = node.get("properties", {})
        for name in node.get("required", []):
            m = copy.deepcopy(payload)
            del _get(m, path)[name]
            yield "drop %s" % "/".join(map(str, path + (name,))), m, E.OccurenceConstraintViolation
        if node.get("additionalProperties") is False:
            m = copy.deepcopy(payload)
            _get(m, path)["zzUnknown"] = 1
            yield "extra property in /%s" % "/".join(map(str, path)), m, E.FormationViolation
        for name, sub in props.items():
            assert name in target, "example lacks %s at /%s" % (name, "/".join(map(str, path)))
            sub = _deref(sub, root)
            for value, code in _wrong_values(sub):
                m = copy.deepcopy(payload)
                _get(m, path)[name] = value
                yield "%s=%r" % ("/".join(map(str, path + (name,))), value)[:120], m, code
            yield from mutations(payload, sub, root, path + (name,))
    elif node.get("type") == "array":
        items = _deref(node["items"], root)
        assert target, "example has an empty array at /%s" % "/".join(map(str, path))
        for i in range(len(target)):
            for value, code in _wrong_values(items):
                m = copy.deepcopy(payload)
                _get(m, path)[i] = value
                yield "%s[%d]=%r" % ("/".join(map(str, path)), i, value), m, code
        yield from mutations(payload, items, root, path + (0,))  # the first item carries every field


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def test_examples_cover_every_action():
    official = set(schemas.actions())
    assert len(official) == 39
    assert set(CALLS) == set(a for g in limit("ocpp16.schema_core", "_PROFILES").split(";") for a in g.split()[2:]) and len(CALLS) == 26
    resident = [r.split(":")[0] for r in limit("ocpp16.schema", "_RESULTS").split(";") if r]
    on_demand = [r.split(":")[0] for r in limit("ocpp16.schema_core", "_RESULTS").split(";") if r]
    assert not set(resident) & set(on_demand)  # each answer has one table
    assert set(RESULTS) == set(resident) | set(on_demand) and len(RESULTS) == 14
    assert set(CALLS) <= official and set(RESULTS) <= official
    # every action is either one the CSMS calls or one whose answer we check (DataTransfer: both)
    assert official == set(CALLS) | set(RESULTS)


@pytest.mark.parametrize("action,response,payload", CASES, ids=["%s%s" % (a, ".conf" if r else "") for a, r, p in CASES])
def test_valid_example_accepted_by_both(action, response, payload):
    assert schemas.is_valid(action, payload, response), schemas.errors(action, payload, response)
    assert compact(action, payload, response) is None


@pytest.mark.parametrize("action,response,payload", CASES, ids=["%s%s" % (a, ".conf" if r else "") for a, r, p in CASES])
def test_mutations_rejected_exactly_when_official_rejects(action, response, payload):
    root = schemas.schema(action, response)
    n = 0
    for what, m, code in mutations(payload, root, root):
        official = schemas.is_valid(action, m, response)
        got = compact(action, m, response)
        assert (got is None) == official, (what, got, schemas.errors(action, m, response))
        if not official:
            assert got == code, (what, got, code)
        n += 1
    # an empty payload schema still yields the extra-property mutation
    assert n >= 1


def test_mutation_count_is_substantial():
    total = 0
    for action, response, payload in CASES:
        root = schemas.schema(action, response)
        total += sum(1 for _ in mutations(payload, root, root))
    assert total > 500, total


@pytest.mark.parametrize("payload", [[], "x", 1, None, [{"type": "Hard"}]])
def test_payload_not_object(payload):
    assert not schemas.is_valid("Reset", payload)
    assert compact("Reset", payload, False) == E.FormationViolation
    assert compact("Heartbeat", payload, True) == E.FormationViolation


def test_unknown_and_unsupported_actions():
    assert compact("FooBar", {}, False) == E.NotImplemented
    assert compact("BootNotification", {}, False) == E.NotImplemented  # CP->CSMS action called on us
    assert compact("Reset", {"type": "Hard"}, True) == E.NotImplemented  # no answer expected to Reset
    with pytest.raises(rpc.RpcError) as e:
        rpc.validate_call("SetChargingProfile", CALLS["SetChargingProfile"], ("Core", "Reservation"))
    assert e.value.code == E.NotSupported
    with pytest.raises(rpc.RpcError) as e:
        rpc.validate_call("Reset", {"type": "Bad"}, ("Core",))
    assert e.value.code == E.PropertyConstraintViolation
    # supported may name actions instead of profiles (chargepoint passes its handler list)
    rpc.validate_call("Reset", {"type": "Hard"}, ("Reset",))
    with pytest.raises(rpc.RpcError) as e:
        rpc.validate_call("ClearCache", {}, ("Reset",))
    assert e.value.code == E.NotSupported


@pytest.mark.parametrize("value", ["2024-02-30T00:00:00Z", "2024-02-29", "yesterday", "2024-02-29T24:00:00Z",
                                   "2024-02-29T12:00:00+0100", "2024-02-29T12:00:00.Z", ""])
def test_bad_datetime_is_type_violation(value):
    # The official schemas say format: date-time, which jsonschema does not enforce
    # without a format checker; the compact check does (see the table in schema.py).
    p = dict(RESULTS["Heartbeat"], currentTime=value)
    assert compact("Heartbeat", p, True) == E.TypeConstraintViolation


@pytest.mark.parametrize("value,ok", [("ftp://h/x", True), ("https://a.b/c?d=1", True), ("x:y", True),
                                      ("no-scheme", False), ("://x", False), ("1http://x", False),
                                      ("http://a b", False), ("http:", False)])
def test_uri_check(value, ok):
    p = dict(CALLS["UpdateFirmware"], location=value)
    assert compact("UpdateFirmware", p, False) == (None if ok else E.TypeConstraintViolation)


def test_decimal_limits_follow_official_multiple_of():
    for limit in (0, 6, 6.0, 16.1, 21.4, 32.7, 22000.3, 1e6, 0.1, 0.7):
        p = copy.deepcopy(CALLS["SetChargingProfile"])
        p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = limit
        assert schemas.is_valid("SetChargingProfile", p) and compact("SetChargingProfile", p, False) is None, limit
    for limit in (16.05, 0.01, 21.44, 7.123, float("nan"), float("inf")):
        p = copy.deepcopy(CALLS["SetChargingProfile"])
        p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = limit
        assert compact("SetChargingProfile", p, False) == E.PropertyConstraintViolation, limit
        if limit == limit and abs(limit) != float("inf"):
            assert not schemas.is_valid("SetChargingProfile", p)


def test_error_description_names_the_field():
    p = copy.deepcopy(CALLS["SetChargingProfile"])
    p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][1]["numberPhases"] = "3"
    with pytest.raises(rpc.RpcError) as e:
        rpc.validate_call("SetChargingProfile", p)
    assert e.value.code == E.TypeConstraintViolation
    assert "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[1].numberPhases" in e.value.description


def test_schemas_helper_checks_frames():
    schemas.validate_frame('[2,"1","Reset",{"type":"Hard"}]')
    schemas.validate_frame('[3,"1",{"status":"Accepted"}]', action="Reset")
    schemas.validate_frame('[4,"1","NotSupported","",{}]')
    with pytest.raises(schemas.ValidationError):
        schemas.validate_frame('[2,"1","Reset",{"type":"Warm"}]')
    with pytest.raises(schemas.ValidationError):
        schemas.validate_response("BootNotification", {"status": "Accepted"})
    with pytest.raises(ValueError):
        schemas.validate_frame('[3,"1",{}]')
    with pytest.raises(ValueError):
        schemas.validate_frame('[2,"' + "x" * 37 + '","Reset",{"type":"Hard"}]')
    assert schemas.validator("Reset") is schemas.validator("Reset")  # cached
    assert isinstance(schemas.schema("SetChargingProfile")["properties"]["csChargingProfiles"], dict)
    assert schemas.is_valid("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE})


def test_long_names_are_cut_in_descriptions():
    with pytest.raises(rpc.RpcError) as e:
        rpc.validate_call("X" * 5000, {})
    assert e.value.code == E.NotImplemented and len(e.value.description) < 100
    with pytest.raises(rpc.RpcError) as e:
        rpc.validate_call("Reset", {"type": "Hard", "k" * 5000: 1})
    assert e.value.code == E.FormationViolation and len(e.value.description) < 100


MP_VERDICTS = r"""
import json, sys
from ocpp16 import rpc
with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for action, response, payload in cases:
    try:
        if response:
            rpc.validate_result(action, payload)
        else:
            rpc.validate_call(action, payload)
        out.append(None)
    except rpc.RpcError as e:
        out.append(e.code)
print(json.dumps(out))
"""


def test_micropython_gives_the_same_verdicts(tmp_path):
    # every example and every schema-derived mutation, run through the compact check
    # on the real micropython command: same accept/reject and code as on CPython
    import json
    import mpy
    cases, want = [], []
    for action, response, payload in CASES:
        root = schemas.schema(action, response)
        for p in [payload] + [m for _, m, _ in mutations(payload, root, root)]:
            cases.append([action, response, p])
            want.append(compact(action, p, response))
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    script = tmp_path / "verdicts.py"
    script.write_text(MP_VERDICTS)
    r = mpy.run([str(script), str(path)], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    assert len(got) == len(want) > 700
    diff = [(c[0], c[2], g, w) for c, g, w in zip(cases, got, want) if g != w]
    assert not diff, diff[:5]
