# devconfig: every bad config.json gives the one message that names its key;
# good ones come back with defaults filled. Runs on CPython and micropython.
import os

import devconfig
from devconfig import ConfigError

KEY = "0123456789abcdef0123"  # 20 hex characters
WIFI = {"ssid": "garage", "password": "correct horse"}


def good(**changes):
    cfg = {"csms_url": "ws://127.0.0.1:9000/ocpp", "charge_point_id": "CP1", "board": "esp32-devkitc", "wifi": dict(WIFI)}
    for k, v in changes.items():
        if v is _DROP:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


_DROP = object()

# (config, board_kind, exact message)
BAD = [
    ([1, 2], None, "config.json: must be a JSON object, not a list"),
    (good(csms_url=_DROP), None, "config.json: csms_url: required"),
    (good(charge_point_id=None), None, "config.json: charge_point_id: required"),
    (good(board=_DROP), None, "config.json: board: required"),
    (good(csms_uri="ws://x"), None, "config.json: csms_uri: unknown key (known: " + ", ".join(devconfig.KNOWN) + ")"),
    (good(csms_url="http://cs.example.com/ocpp"), None, "config.json: csms_url: must start with ws:// or wss://"),
    (good(csms_url=9000), None, "config.json: csms_url: must be a string, not a number"),
    (good(csms_url="ws:///ocpp"), None, "config.json: csms_url: has no host name"),
    (good(csms_url="ws://cs.example.com:99999/ocpp"), None, "config.json: csms_url: port must be a number from 1 to 65535"),
    (good(csms_url="ws://cs.example.com/ocpp?x=1"), None, "config.json: csms_url: must not contain a query (?) or fragment (#)"),
    (good(csms_url="ws://cp:secret@cs.example.com/ocpp"), None, "config.json: csms_url: must not contain user:password@ (use authorization_key)"),
    (good(csms_url="ws://cs.example.com/ocpp/CP1"), None, "config.json: csms_url: must not end with the charge point id (the firmware appends /CP1)"),
    (good(charge_point_id=""), None, "config.json: charge_point_id: must not be empty"),
    (good(charge_point_id="C" * 49), None, "config.json: charge_point_id: longer than 48 characters (49)"),
    (good(charge_point_id="site/CP1"), None, "config.json: charge_point_id: must not contain '/'"),
    (good(charge_point_id="CP\n1"), None, "config.json: charge_point_id: must be printable ASCII"),
    (good(charge_point_id="CP:1", security_profile=1, authorization_key=KEY), None,
     "config.json: charge_point_id: must not contain ':' with security_profile 1 (HTTP Basic auth user name)"),
    (good(board="../evil"), None, "config.json: board: must be a board file name: lowercase letters, digits, '-' and '_'"),
    (good(security_profile=4), None, "config.json: security_profile: must be 0 to 3, got 4"),
    (good(security_profile="1"), None, "config.json: security_profile: must be a whole number 0 to 3, not a string"),
    (good(security_profile=True), None, "config.json: security_profile: must be a whole number 0 to 3, not a boolean"),
    (good(security_profile=2, authorization_key=KEY, ca_cert="ca.pem"), None, "config.json: security_profile: 2 needs a wss:// csms_url"),
    (good(security_profile=1), None, "config.json: authorization_key: required for security_profile 1"),
    (good(security_profile=1, authorization_key="short"), None, "config.json: authorization_key: must be 16 to 40 characters, got 5"),
    (good(security_profile=1, authorization_key="k" * 41), None, "config.json: authorization_key: must be 16 to 40 characters, got 41"),
    (good(security_profile=1, authorization_key=12345678901234567), None, "config.json: authorization_key: must be a string, not a number"),
    (good(security_profile=2, authorization_key=KEY, csms_url="wss://cs.example.com/ocpp"), None,
     "config.json: ca_cert: required for security_profile 2 (the CSMS certificate must be verified)"),
    (good(security_profile=3, csms_url="wss://cs.example.com/ocpp", ca_cert="ca.pem"), None,
     "config.json: client_cert: required for security_profile 3 (TLS client certificate)"),
    (good(wifi=_DROP), None, "config.json: wifi: required for board kind esp32 ({\"ssid\": ..., \"password\": ...})"),
    (good(wifi=_DROP, board="my-esp8266"), "esp8266", "config.json: wifi: required for board kind esp8266 ({\"ssid\": ..., \"password\": ...})"),
    (good(wifi="garage"), None, "config.json: wifi: must be an object {\"ssid\": ..., \"password\": ...}, not a string"),
    (good(wifi={"password": "correct horse"}), None, "config.json: wifi.ssid: required"),
    (good(wifi={"ssid": "s" * 33}), None, "config.json: wifi.ssid: must be 1 to 32 bytes"),
    (good(wifi={"ssid": "garage", "password": "1234567"}), None,
     "config.json: wifi.password: must be empty (open network) or 8 to 64 characters, got 7"),
    (good(wifi={"ssid": "garage", "password": "x" * 64}), None, "config.json: wifi.password: 64 characters is only allowed as a hex PSK"),
    (good(wifi={"ssid": "garage", "pass": "correct horse"}), None, "config.json: wifi.pass: unknown key (known: ssid, password)"),
    (good(log_level="verbose"), None, "config.json: log_level: must be one of error, warning, info, debug"),
    (good(vendor="V" * 21), None, "config.json: vendor: must be 1 to 20 characters (BootNotification limit), got 21"),
    (good(model=""), None, "config.json: model: must be 1 to 20 characters (BootNotification limit), got 0"),
    (good(serial="S" * 26), None, "config.json: serial: must be 1 to 25 characters (BootNotification limit), got 26"),
    (good(serial="SN\t1"), None, "config.json: serial: must be printable ASCII"),
    (good(data_dir="../up"), None, "config.json: data_dir: must not contain '..'"),
    (good(sim={"speed": 10}), None, "config.json: sim: only allowed with a sim board, not board kind esp32"),
    (good(board="sim", sim=[1]), None, "config.json: sim: must be an object, not a list"),
    (good(ntp_host="pool ntp org"), None, "config.json: ntp_host: host name contains ' '"),
]


def test_every_bad_config_gives_its_exact_message():
    assert len(BAD) >= 15
    wrong = []
    for cfg, kind, want in BAD:
        try:
            devconfig.validate(cfg, kind)
            wrong.append((want, "accepted"))
        except ConfigError as e:
            if str(e) != want:
                wrong.append((want, str(e)))
    assert not wrong, wrong


def test_messages_never_contain_secret_values():
    secret_key = "S3cr3tKeyValue!!x"
    for cfg in (
        good(security_profile=1, authorization_key=secret_key + "y" * 30),
        good(wifi={"ssid": "garage", "password": "pw!"}),
        good(security_profile=1, authorization_key=secret_key, charge_point_id="a:b"),
    ):
        try:
            devconfig.validate(cfg)
            assert False, "accepted"
        except ConfigError as e:
            assert secret_key not in str(e)
            assert "pw!" not in str(e)


def test_defaults_are_filled_and_url_normalised():
    cfg = devconfig.validate(good(csms_url="ws://cs.example.com:9000/ocpp/"))
    assert cfg["csms_url"] == "ws://cs.example.com:9000/ocpp"
    assert cfg["security_profile"] == 0
    assert cfg["log_level"] == "info"
    assert cfg["data_dir"] == "data"
    assert cfg["vendor"] == devconfig.DEFAULTS["vendor"] and len(cfg["vendor"]) <= 20
    import version
    assert cfg["vendor"] == version.NAME  # this firmware's own name, not another product's
    assert "serial" not in cfg  # made from the chip id at boot
    assert devconfig.validate(good(serial="SN-0042"))["serial"] == "SN-0042"
    assert cfg["model"] == devconfig.DEFAULTS["model"] and len(cfg["model"]) <= 20
    # A key whose value is None is left out (the dict lives as long as the charger): cfg.get(key).
    for k in ("authorization_key", "ca_cert", "client_cert", "client_key", "ntp_host", "status_password",
              "max_current_a", "sim"):
        assert devconfig.DEFAULTS[k] is None and k not in cfg and cfg.get(k) is None
    assert cfg["wifi"] == WIFI


def test_sim_board_needs_no_wifi_and_real_kind_overrides_the_name():
    cfg = devconfig.validate(good(board="sim", wifi=_DROP, sim={"speed": 20}))
    assert "wifi" not in cfg and cfg["sim"] == {"speed": 20}
    # A board named like a sim board whose file says esp32 still needs WiFi.
    try:
        devconfig.validate(good(board="sim", wifi=_DROP), "esp32")
        assert False, "accepted"
    except ConfigError as e:
        assert str(e).startswith("config.json: wifi: required")


def test_security_profiles_that_are_complete_pass():
    devconfig.validate(good(security_profile=1, authorization_key=KEY))
    devconfig.validate(good(security_profile=2, authorization_key=KEY, csms_url="wss://cs.example.com/ocpp", ca_cert="/ca.pem"))
    devconfig.validate(good(security_profile=3, csms_url="wss://[::1]:8443/ocpp", ca_cert="ca.pem", client_cert="cp.crt", client_key="cp.key"))
    devconfig.validate(good(wifi={"ssid": "open-net"}))
    devconfig.validate(good(wifi={"ssid": "garage", "password": "ab" * 32}))


def test_warnings_for_non_hex_and_unused_key():
    seen = []
    devconfig.validate(good(security_profile=0, authorization_key="not-hex-but-long-enough"), warning=seen.append)
    assert len(seen) == 2
    assert "not hexadecimal" in seen[0] and "does not use it" in seen[1]
    for m in seen:
        assert "not-hex-but" not in m


def test_secrets_lists_key_and_password_even_from_invalid_config():
    raw = {"authorization_key": "abc", "wifi": {"ssid": "s", "password": "pw12345678"}, "bogus": 1}
    assert devconfig.secrets(raw) == ["abc", "pw12345678"]
    assert devconfig.secrets([1]) == []
    assert devconfig.secrets({"wifi": "x"}) == []


def test_describe_shows_set_never_the_values():
    cfg = devconfig.validate(good(security_profile=1, authorization_key=KEY))
    line = devconfig.describe(cfg)
    assert KEY not in line and WIFI["password"] not in line
    assert "authorization key (set)" in line and "password (set)" in line


def _write(path, text):
    f = open(path, "w")
    f.write(text)
    f.close()


def test_load_reports_missing_file_bad_json_and_oversize():
    path = "/tmp/_devconfig_test.json"
    for text, want in (
        (None, "config.json: file not found: " + path),
        ("{\"csms_url\": \"ws://x\"", "config.json: not valid JSON (check commas, quotes and braces)"),
        (" " * 4097, "config.json: file is 4097 bytes, more than the 4096 allowed"),  # devconfig._MAX_FILE_BYTES
    ):
        try:
            os.remove(path)
        except OSError:
            pass
        if text is not None:
            _write(path, text)
        try:
            devconfig.load(path)
            assert False, "accepted"
        except ConfigError as e:
            assert str(e) == want, str(e)
    import json
    _write(path, json.dumps(good()))
    assert devconfig.load(path)["charge_point_id"] == "CP1"
    os.remove(path)
