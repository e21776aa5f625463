# Relay, watchdog, WiFi supervisor and NTP drivers (hal/esp32) against the fake
# machine, network and ntptime modules. Runs on CPython and MicroPython.
import sys

_fakes = __file__.rsplit("/", 2)[0] + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import machine
import network
import ntptime
from hal.esp32.relay import Relay
from hal.esp32.watchdog import Watchdog
from hal.esp32.wifi import WifiStation, UP, DOWN, CONNECTING
from hal.esp32 import ntp

COIL, FB = 26, 34


def _relay(**kw):
    machine.reset_fakes()
    return Relay(COIL, FB, **kw)


# ------------------------------------------------------------------ relay
def test_relay_drives_coil_and_starts_open():
    r = _relay()
    assert machine.level(COIL) == 0 and r.closed is False
    r.set(True)
    assert machine.level(COIL) == 1 and r.closed is True
    r.set(False)
    assert machine.level(COIL) == 0


def test_relay_without_feedback():
    machine.reset_fakes()
    r = Relay(COIL)
    r.set(True)
    assert r.feedback() is None and r.check(0) is None and r.check(10000) is None


def test_relay_feedback_follows_within_settle_time():
    r = _relay(settle_ms=300)
    r.set(True)
    assert r.check(1000) is None          # contact not yet closed: still settling
    assert r.check(1200) is None
    machine.drive(FB, 1)
    assert r.feedback() is True and r.check(1400) is None
    r.set(False)
    assert r.check(2000) is None
    machine.drive(FB, 0)
    assert r.check(2299) is None and r.check(5000) is None


def test_relay_welding_detected():
    r = _relay(settle_ms=300)
    r.set(True)
    machine.drive(FB, 1)
    assert r.check(0) is None
    r.set(False)                          # commanded open, contact stays closed
    assert r.check(100) is None
    assert r.check(399) is None
    assert r.check(400) == "PowerSwitchFailure" and r.fault_info == "welded"


def test_relay_failure_to_close_detected():
    r = _relay(settle_ms=300)
    r.set(True)
    assert r.check(50) is None
    assert r.check(349) is None
    assert r.check(350) == "PowerSwitchFailure" and r.fault_info == "failed to close"
    machine.drive(FB, 1)                  # it finally closed: the fault clears
    assert r.check(400) is None and r.fault_info is None


def test_relay_active_low_feedback():
    machine.reset_fakes()
    machine.drive(FB, 1)                  # optocoupler off: line pulled high = open
    r = Relay(COIL, FB, feedback_active=0)
    assert r.feedback() is False
    machine.drive(FB, 0)
    assert r.feedback() is True
    assert r.check(0) is None             # closed while commanded open: mismatch starts
    assert r.check(1000) == "PowerSwitchFailure"


def test_relay_contact_bounce_shorter_than_settle_is_ignored():
    r = _relay(settle_ms=300)
    r.set(True)
    machine.drive(FB, 1)
    assert r.check(0) is None
    machine.drive(FB, 0)                  # bounce while closed
    assert r.check(100) is None
    machine.drive(FB, 1)
    assert r.check(200) is None
    machine.drive(FB, 0)
    assert r.check(300) is None           # a new mismatch starts timing again
    assert r.check(600) == "PowerSwitchFailure"


# --------------------------------------------------------------- watchdog
def test_watchdog_feeds_only_when_both_loops_alive():
    machine.reset_fakes()
    wd = Watchdog(8000)
    wdt = machine.wdts[-1]
    assert wdt.timeout == 8000
    assert wd.feed() is False and wdt.feeds == 0
    wd.alive("main")
    assert wd.feed() is False and wdt.feeds == 0 and wd.silent() == ["control"]
    wd.alive("control")
    assert wd.feed() is True and wdt.feeds == 1
    assert wd.feed() is False and wdt.feeds == 1     # needs fresh reports after each feed
    wd.alive("control")
    wd.alive("control")
    assert wd.feed() is False                        # the main loop is hung
    wd.alive("main")
    assert wd.feed() is True and wdt.feeds == 2
    assert wd.missed == 4


def test_watchdog_rejects_unknown_loop():
    machine.reset_fakes()
    wd = Watchdog(loops=("control",))
    try:
        wd.alive("mian")
        assert False
    except ValueError as e:
        assert "mian" in str(e)
    wd.alive("control")
    assert wd.feed() is True


# ------------------------------------------------------------------- wifi
def _wifi(**kw):
    network.reset_fakes()
    network.access_points["evse-net"] = "secret"
    return WifiStation("evse-net", "secret", **kw)


def test_wifi_connects():
    w = _wifi()
    assert w.step(0) == CONNECTING
    t = 0
    while w.step(t) != UP:
        t += 100
        assert t < 2000
    assert w.status()["ip"] == "192.168.4.20" and w.attempts == 1


def test_wifi_wrong_password_backs_off_exponentially():
    network.reset_fakes()
    network.access_points["evse-net"] = "other"
    w = WifiStation("evse-net", "secret", backoff_min_ms=1000, backoff_max_ms=4000)
    tries = []
    last = 0
    for t in range(0, 20000, 50):
        w.step(t)
        if w.attempts != last:
            last = w.attempts
            tries.append(t)
    gaps = [tries[i + 1] - tries[i] for i in range(len(tries) - 1)]
    assert gaps[:4] == [1000, 2000, 4000, 4000], gaps
    assert w.last_status == network.STAT_WRONG_PASSWORD


def test_wifi_connect_timeout():
    w = _wifi(connect_timeout_ms=1000, backoff_min_ms=500)
    network.connect_polls = 10 ** 6     # the AP never hands out an address
    w.step(0)
    assert w.step(999) == CONNECTING
    assert w.step(1000) == DOWN
    assert w.step(1499) == DOWN and w.attempts == 1
    assert w.step(1500) == CONNECTING and w.attempts == 2


def test_wifi_reconnects_after_link_loss():
    w = _wifi()
    t = 0
    while w.step(t) != UP:
        t += 100
    network.drop_link()
    assert w.step(t + 100) == CONNECTING and w.drops == 1 and w.attempts == 2
    t += 100
    while w.step(t) != UP:
        t += 100
        assert t < 5000
    assert w.backoff_ms == w.backoff_min_ms


def test_wifi_needs_ssid():
    try:
        WifiStation("", "x")
        assert False
    except ValueError:
        pass


# -------------------------------------------------------------------- ntp
def test_ntp_sync_retries_then_returns_unix_time():
    ntptime.reset_fakes()
    ntptime.fail_next = 2
    t = ntp.sync(host="time.example", retries=3, delay_ms=0)
    assert ntptime.calls == 3 and ntptime.synced == 1 and ntptime.host == "time.example"
    assert t > 1700000000  # Unix seconds, not the 2000 epoch


def test_ntp_gives_up_with_none():
    ntptime.reset_fakes()
    ntptime.fail_next = 5
    assert ntp.sync(retries=3, delay_ms=0) is None
    assert ntptime.calls == 3 and ntptime.synced == 0
