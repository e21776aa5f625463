# The setup portal's logic (firmware/portal.py) on both runtimes: AP name and per-device
# password, the form mapped onto config.json and checked by devconfig's own rules (one
# message per refused field), secrets never shown back, the contactor held open in setup
# mode with an EV plugged in and asking, and the HTTP parsing helpers of net/httpd.py.
import sys

_tests = __file__.rsplit("/", 2)[0]
_fakes = _tests + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import asyncio

import devconfig
import network
import portal
import scratch
import store
from hal import sim
from net import dns, httpd

BOARDS = {"esp32-devkitc": ("esp32", 32), "sim": ("sim", 32)}
GOOD = {"wifi_ssid": "garage", "wifi_password": "wifi-password-1", "csms_url": "ws://csms.example:9000/ocpp",
        "charge_point_id": "CP042", "security_profile": "1", "authorization_key": "0123456789abcdef0123",
        "board": "esp32-devkitc", "max_current_a": "16", "status_password": "status-pass-1"}


def form(**over):
    f = dict(GOOD)
    f.update(over)
    return f


def test_ap_name_is_model_and_the_mac_tail():
    assert portal.ap_name("ESP32-EVSE", b"\x24\x0a\xc4\x0a\x1b\x2c") == "ESP32-EVSE-0A1B2C"


def test_ap_password_is_made_once_per_device_and_kept_unless_the_board_sets_one():
    d = scratch.folder("portal_pw")
    a = portal.ap_password(d)
    assert len(a) == portal.PASSWORD_LEN and all(c in portal.PASSWORD_CHARS for c in a)
    assert portal.ap_password(d) == a                      # survives a reboot (portal.json)
    assert store.load(d + "/" + portal.PASSWORD_FILE) == {"password": a}
    assert portal.ap_password(d, {"password": "board-pass-1"}) == "board-pass-1"
    d2 = scratch.folder("portal_pw2")
    assert portal.ap_password(d2) != a                     # another device, another password


def test_good_form_gives_a_config_devconfig_accepts():
    raw = portal.form_to_config(form(), {}, BOARDS)
    cfg, errors = portal.check(raw, BOARDS)
    assert errors is None, errors
    assert raw == {"wifi": {"ssid": "garage", "password": "wifi-password-1"}, "csms_url": "ws://csms.example:9000/ocpp",
                   "charge_point_id": "CP042", "security_profile": 1, "authorization_key": "0123456789abcdef0123",
                   "board": "esp32-devkitc", "max_current_a": 16, "status_password": "status-pass-1"}
    assert cfg == devconfig.validate(raw, "esp32", None, 32)


def _refused(field, **over):
    cfg, errors = portal.check(portal.form_to_config(form(**over), {}, BOARDS), BOARDS)
    assert cfg is None and list(errors) == [field], errors
    return errors[field]


def test_each_refused_field_gets_devconfigs_message():
    assert _refused("csms_url", csms_url="http://x") == "config.json: csms_url: must start with ws:// or wss://"
    assert _refused("authorization_key", authorization_key="short") == \
        "config.json: authorization_key: must be 16 to 40 characters, got 5"
    assert _refused("charge_point_id", charge_point_id="a/b") == "config.json: charge_point_id: must not contain '/'"
    assert "wifi.password" in _refused("wifi_password", wifi_password="short")
    assert _refused("wifi_ssid", wifi_ssid="") == "config.json: wifi: required for board kind esp32 ({\"ssid\": ..., \"password\": ...})"
    assert _refused("max_current_a", max_current_a="40") == \
        "config.json: max_current_a: must be 6 to 32 A (the board's maximum), got 40"
    assert "status_password" in _refused("status_password", status_password="abc")
    assert _refused("board", board="nope") == "no board file 'nope' on the device"
    assert "ca_cert" in _refused("security_profile", security_profile="2", csms_url="wss://h/ocpp")


def test_every_refused_field_gets_its_message_in_one_round():
    raw = portal.form_to_config(form(csms_url="http://x", authorization_key="short", max_current_a="99",
                                     wifi_password="1234"), {}, BOARDS)
    cfg, errors = portal.check(raw, BOARDS)
    assert cfg is None
    assert errors == {"csms_url": "config.json: csms_url: must start with ws:// or wss://",
                      "authorization_key": "config.json: authorization_key: must be 16 to 40 characters, got 5",
                      "wifi_password": "config.json: wifi.password: must be empty (open network) or 8 to 64 characters, got 4",
                      "max_current_a": "config.json: max_current_a: must be 6 to 32 A (the board's maximum), got 99"}


def test_empty_secret_fields_keep_the_old_secrets_and_other_keys_survive():
    old = portal.form_to_config(form(), {}, BOARDS)
    old["log_level"] = "debug"
    raw = portal.form_to_config(form(wifi_password="", authorization_key="", status_password=""), old, BOARDS)
    assert raw["wifi"]["password"] == "wifi-password-1"
    assert raw["authorization_key"] == "0123456789abcdef0123" and raw["status_password"] == "status-pass-1"
    assert raw["log_level"] == "debug"
    # a new SSID does not inherit the old network's password
    raw = portal.form_to_config(form(wifi_ssid="office", wifi_password=""), old, BOARDS)
    assert raw["wifi"] == {"ssid": "office", "password": ""}


def test_the_page_never_shows_a_secret_back():
    d = scratch.folder("portal_page")
    raw = portal.form_to_config(form(), {}, BOARDS)
    store.save(d + "/config.json", raw)
    p = portal.Portal(d + "/config.json", BOARDS, network)
    html = p.render()
    for secret in ("wifi-password-1", "0123456789abcdef0123", "status-pass-1"):
        assert secret not in html
    assert "value='ws://csms.example:9000/ocpp'" in html and "value='CP042'" in html
    bad = form(authorization_key="shortkey-visible")
    html = p.render(bad, {"authorization_key": "config.json: authorization_key: too short"})
    assert "shortkey-visible" not in html and "wifi-password-1" not in html
    assert "id='err-authorization_key'>config.json: authorization_key: too short<" in html


def test_save_writes_config_json_atomically_and_marks_done():
    d = scratch.folder("portal_save")
    p = portal.Portal(d + "/config.json", BOARDS, network)
    status, _, body = p.save(form(csms_url="ws://bad url"))
    assert status == 200 and b"err-csms_url" in body and p.saved is None
    assert not store.exists(d + "/config.json")
    status, _, body = p.save(form())
    assert b"id='saved'" in body and p.saved["charge_point_id"] == "CP042"
    assert devconfig.load(d + "/config.json", "esp32")["wifi"]["ssid"] == "garage"


def test_scan_lists_networks_strongest_first_once_each():
    network.reset_fakes()
    network.access_points["garage"] = "x" * 8
    network.in_range.extend([("garage", -90), ("neighbour", -70), ("", -40)])
    assert portal.scan(network) == ["garage", "neighbour"]


def test_ap_is_wpa2_with_the_password_or_open_when_asked():
    network.reset_fakes()
    ap, ip = portal.start_ap(network, "ESP32-EVSE-000001", "abcdefgh12")
    assert ip == "192.168.4.1" and ap.ap_config["authmode"] == network.AUTH_WPA2_PSK
    assert ap.ap_config["password"] == "abcdefgh12" and ap.ap_config["essid"] == "ESP32-EVSE-000001"
    network.reset_fakes()
    ap, _ = portal.start_ap(network, "n", None)
    assert ap.ap_config["authmode"] == network.AUTH_OPEN and "password" not in ap.ap_config


async def test_setup_mode_holds_the_contactor_open_with_an_ev_asking():
    hw = sim.build({"name": "sim", "kind": "sim", "connectors": 1, "max_current_a": 32})
    ev = hw.sim.connectors[0]
    ev.plug()
    ev.state = "C"  # the EV asks for charge (S2 closed)
    relay = hw.connectors[0].relay
    relay.set(True)  # whatever the state before, setup mode opens it
    switches = []    # contactor operations (closed -> open, open -> closed) from here on

    def counting_set(closed, set=relay.set):
        if closed != relay.closed:
            switches.append(closed)
        set(closed)
    relay.set = counting_set
    stop = {"v": False}
    task = asyncio.create_task(portal.hold_safe(hw, lambda: stop["v"]))
    await asyncio.sleep(0.2)
    stop["v"] = True
    evses = await task
    assert not hw.connectors[0].relay.closed and len(switches) >= 1
    assert hw.connectors[0].pilot.disabled and evses[0].offer_amps == 0
    assert not evses[0].available


def test_httpd_helpers():
    assert httpd.parse_form(b"a=1&b=x+y&c=%2F%3f&d") == {"a": "1", "b": "x y", "c": "/?", "d": ""}
    assert httpd.unquote("%zz%4") == "%zz%4"
    assert httpd.escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
    m, path, q, h = httpd.parse_head(b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\nX-A:  b ")
    assert (m, path, q, h) == ("GET", "/x", "y=1", {"host": "a", "x-a": "b"})
    assert httpd.same("abc", "abc") and not httpd.same("abc", "abd") and not httpd.same("abc", None)


def test_dns_answer_pure():
    q = b"\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    r = dns.answer(q, "10.0.0.1")
    assert r[:2] == b"\x00\x07" and r[2:4] == b"\x85\x80" and r[4:12] == b"\x00\x01\x00\x01\x00\x00\x00\x00"
    assert r[12:len(q)] == q[12:] and r[len(q):] == b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x01"
    for n in range(len(q)):
        assert dns.answer(q[:n], "10.0.0.1") is None  # every truncation is ignored
