# ocpp16.config: key types, access, validation and GetConfiguration listing.
from ocpp16.config import Config
from ocpp16.config_keys import KEYS
from ocpp16.config_facts import KEYS as FACTS
from out_of_heap import refusing

RO = 0  # a key's access in the table (config_keys' _RO, _WO: const()s, no name on the device)
WO = 3


def test_every_key_has_a_valid_default():
    c = Config(None, {})
    known, unknown = c.listing()
    names = [k["key"] for k in known]
    assert "AuthorizationKey" not in names and unknown == []
    assert len(names) == len(KEYS) + len(FACTS) - 1 and not set(KEYS) & set(FACTS)
    for k in known:
        assert isinstance(k["value"], str) and isinstance(k["readonly"], bool)


def test_change_validates_by_type():
    c = Config(None, {})
    assert c.change("HeartbeatInterval", "120") == "Accepted" and c.get("HeartbeatInterval") == 120
    assert c.change("HeartbeatInterval", "-5") == "Rejected"
    assert c.change("HeartbeatInterval", "12a") == "Rejected"
    assert c.change("HeartbeatInterval", "") == "Rejected"
    assert c.change("LocalPreAuthorize", "TRUE") == "Accepted" and c.get("LocalPreAuthorize") is True
    assert c.change("LocalPreAuthorize", "yes") == "Rejected"
    assert c.change("MeterValuesSampledData", "Voltage, Current.Import") == "Accepted"
    assert c.csl("MeterValuesSampledData") == ["Voltage", "Current.Import"]
    assert c.change("MeterValuesSampledData", "Temperature") == "Rejected"
    assert c.change("MeterValuesSampledData", ",".join(["Voltage"] * 7)) == "Rejected"
    assert c.change("NumberOfConnectors", "2") == "Rejected"
    assert c.change("GetConfigurationMaxKeys", "2") == "Rejected"   # a fact (config_facts)
    assert c.change("NoSuchKey", "1") == "NotSupported"
    assert c.change("LightIntensity", "101") == "Rejected"


def test_authorization_key_is_write_only():
    c = Config(None, {})
    assert c.change("AuthorizationKey", "0123456789abcdef0123") == "Accepted"
    known, unknown = c.listing(["AuthorizationKey", "HeartbeatInterval"])
    assert [k["key"] for k in known] == ["HeartbeatInterval"] and unknown == ["AuthorizationKey"]
    assert KEYS["AuthorizationKey"][1] == WO


def test_authorization_key_shorter_than_16_or_longer_than_40_is_rejected():
    import devconfig
    # config.json and the CSMS: one rule (the key's (min, max) length in the key table)
    assert KEYS["AuthorizationKey"][3] == (devconfig.KEY_MIN_LEN, devconfig.KEY_MAX_LEN)
    c = Config(None, {})
    assert c.change("AuthorizationKey", "0123456789abcdef") == "Accepted"  # 16
    assert c.change("AuthorizationKey", "0123456789abcde") == "Rejected"  # 15
    assert c.change("AuthorizationKey", "") == "Rejected"
    assert c.change("AuthorizationKey", "a" * 41) == "Rejected"
    assert c.get("AuthorizationKey") == "0123456789abcdef"  # a rejected key leaves the old one


def test_overrides_for_board_facts():
    c = Config(None, {"NumberOfConnectors": 2})
    known, _ = c.listing(["NumberOfConnectors", "ConnectorSwitch3to1PhaseSupported", "CertificateStoreMaxLength"])
    assert known[0]["value"] == "2" and known[0]["readonly"] is True and KEYS["NumberOfConnectors"][1] == RO
    assert [(k["value"], k["readonly"]) for k in known[1:]] == [("false", True), ("8", True)]


def test_changed_values_survive_a_restart():
    import os
    path = "/tmp/_cfgkeys_test.json"
    try:
        os.remove(path)
    except OSError:
        pass
    c = Config(path, {})
    assert c.change("MeterValueSampleInterval", "15") == "Accepted"
    assert c.change("StopTxnSampledData", "") == "Accepted"
    c2 = Config(path, {})
    assert c2.get("MeterValueSampleInterval") == 15 and c2.csl("StopTxnSampledData") == []
    assert c2.get("HeartbeatInterval") == KEYS["HeartbeatInterval"][2]
    os.remove(path)


def test_lookup_by_exact_name_only():
    # The RAM form finds a key in one string of names: a name that is part of another
    # (MeterValuesAlignedData, ...MaxLength), two names joined, or a piece of one is no key.
    c = Config(None, {})
    assert c.get("MeterValuesAlignedData") == KEYS["MeterValuesAlignedData"][2]
    assert c.get("MeterValuesAlignedDataMaxLength") == KEYS["MeterValuesAlignedDataMaxLength"][2]
    for name in ("MeterValues", "HeartbeatInterval,LightIntensity", "", ",", "eartbeatInterval",
                 "AdditionalRootCertificateCheck,"):
        try:
            c.get(name)
            assert False, name
        except KeyError:
            pass
    for name in FACTS:  # the facts are read from config_facts, not kept in the RAM form
        assert c.get(name) == FACTS[name] and "," + name + "," not in c.names
    for name in list(KEYS) + list(FACTS):  # every key reads back what was set, and no other key moves
        c.values[name] = name
    for name in list(KEYS) + list(FACTS):
        assert c.get(name) == name
    known, _ = c.listing(["ChargeProfileMaxStackLevel", "ConnectorSwitch3to1PhaseSupported"])
    assert [(k["value"], k["readonly"]) for k in known] == [("ChargeProfileMaxStackLevel", True),
                                                            ("ConnectorSwitch3to1PhaseSupported", True)]
    for name in ("NoSuchKey", "MeterValues"):
        try:
            c.values[name] = 1
            assert False, name
        except KeyError:
            pass


def test_saved_file_keeps_other_entries_and_no_read_only_value():
    import os
    import json
    path = "/tmp/_cfgkeys_test2.json"
    with open(path, "w") as f:
        f.write(json.dumps({"OldKeyOfAnEarlierFirmware": 7, "HeartbeatInterval": 90}))
    c = Config(path, {})
    assert c.get("HeartbeatInterval") == 90
    assert c.change("LightIntensity", "50") == "Accepted"
    c.set_internal("NumberOfConnectors", 3)  # read-only: in RAM, never in the file
    assert c.get("NumberOfConnectors") == 3
    with open(path) as f:
        assert json.loads(f.read()) == {"OldKeyOfAnEarlierFirmware": 7, "HeartbeatInterval": 90, "LightIntensity": 50}
    c2 = Config(path, {})
    assert c2.get("LightIntensity") == 50 and c2.get("NumberOfConnectors") == 1
    os.remove(path)


def test_a_value_the_file_holds_already_is_not_written_again():
    # Every BootNotification sets HeartbeatInterval: the file is read and written only when
    # it changes (or holds no such entry yet), and then holds what a restart reads back.
    import os
    import store
    path = "/tmp/_cfgkeys_test3.json"
    try:
        os.remove(path)
    except OSError:
        pass
    writes = []
    real_save = store.save

    def counting_save(p, obj, fs=None):
        writes.append(dict(obj))
        real_save(p, obj)
    store.save = counting_save
    try:
        c = Config(path, {})
        c.set_internal("HeartbeatInterval", KEYS["HeartbeatInterval"][2])  # the default: not in the file yet
        c.set_internal("HeartbeatInterval", KEYS["HeartbeatInterval"][2])
        assert writes == [{"HeartbeatInterval": KEYS["HeartbeatInterval"][2]}]
        c2 = Config(path, {})
        c2.set_internal("HeartbeatInterval", KEYS["HeartbeatInterval"][2])  # read from the file: held
        assert len(writes) == 1
        c2.set_internal("HeartbeatInterval", 120)
        assert c2.change("HeartbeatInterval", "120") == "Accepted"  # the same again
        assert c2.change("LightIntensity", "50") == "Accepted"
        assert writes[1:] == [{"HeartbeatInterval": 120}, {"HeartbeatInterval": 120, "LightIntensity": 50}]
        assert Config(path, {}).get("HeartbeatInterval") == 120
    finally:
        store.save = real_save
        os.remove(path)


def test_a_fact_is_read_when_asked_and_a_start_goes_on_without_config_facts():
    # config_facts loads for a fact's value only: out of heap for it at start-up, a file entry
    # that names no key in the RAM form stays in the file and the Config starts all the same;
    # a fact asked for then fails (the operation), a fact set by the charger does not.
    import os
    import json
    from ocpp16 import profiles
    path = "/tmp/_cfgkeys_test4.json"
    with open(path, "w") as f:
        f.write(json.dumps({"OldKeyOfAnEarlierFirmware": 7, "HeartbeatInterval": 90}))
    real = profiles.load
    profiles.load = refusing(real, {"config_facts"})
    try:
        c = Config(path, {"NumberOfConnectors": 2})
        assert c.get("HeartbeatInterval") == 90 and c.get("NumberOfConnectors") == 2
        try:
            c.get("GetConfigurationMaxKeys")
            assert False, "a fact without config_facts"
        except MemoryError:
            pass
    finally:
        profiles.load = real
    assert c.get("GetConfigurationMaxKeys") == FACTS["GetConfigurationMaxKeys"]
    assert "ocpp16.config_facts" not in __import__("sys").modules
    os.remove(path)
