# main.py's real-board start-up against the fake `network`, `ntptime` and `machine`
# modules (host_tests/fakes): WiFi join with a bounded wait, NTP, and the watchdog
# that is fed only while both the main loop and the app's control loop run.
import asyncio
import io
import os

import pytest

import compat
import log
import main
from hal import Hardware

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.syspath_prepend(FAKES)
    import network
    import ntptime
    import machine
    network.reset_fakes()
    ntptime.reset_fakes()
    buf = io.StringIO()
    monkeypatch.setattr(log, "out", buf)
    monkeypatch.setattr(main, "WIFI_POLL_MS", 5)
    yield network, ntptime, machine, buf
    log.set_level("info")


def cfg(**over):
    c = {"wifi": {"ssid": "garage", "password": "wifi-password-1"}, "ntp_host": None}
    c.update(over)
    return c


def test_wifi_joins_and_keeps_its_supervisor(fakes):
    network, _, _, buf = fakes
    network.access_points["garage"] = "wifi-password-1"
    hw = Hardware([])

    async def go():
        ok = await main.start_wifi(cfg(), hw)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return ok, len(tasks)

    ok, background = asyncio.run(go())
    assert ok and background == 1  # the station's reconnect supervisor keeps running
    assert hw.wifi.isconnected()
    assert "[info] wifi: connected, ip 192.168.4.20" in buf.getvalue()
    assert "wifi-password-1" not in buf.getvalue()


def test_wifi_wrong_password_gives_up_the_boot_wait_with_the_status(fakes, monkeypatch):
    network, _, _, buf = fakes
    network.access_points["garage"] = "another-password"
    monkeypatch.setattr(main, "WIFI_CONNECT_MS", 200)
    hw = Hardware([])
    t0 = compat.ticks_ms()
    assert asyncio.run(main.start_wifi(cfg(), hw)) is False
    assert compat.ticks_diff(compat.ticks_ms(), t0) < 5000
    text = buf.getvalue()
    assert "[warning] wifi: not connected after 0 s (status 202); retrying in the background" in text
    assert "wifi-password-1" not in text


def test_ntp_sets_the_clock_or_says_it_will_use_boot_notification(fakes, monkeypatch):
    _, ntptime, _, buf = fakes
    assert main.start_ntp(cfg(ntp_host="ntp.example.net")) is not None
    assert ntptime.host == "ntp.example.net" and ntptime.synced == 1
    assert "[info] ntp: clock set, unix time" in buf.getvalue()
    ntptime.fail_next = 100
    monkeypatch.setattr(compat, "sleep_ms", lambda ms: None)
    assert main.start_ntp(cfg()) is None
    assert "[warning] ntp: no answer; the clock is set from BootNotification instead" in buf.getvalue()


def test_watchdog_is_fed_only_while_the_control_loop_reports(fakes, monkeypatch):
    _, _, machine, buf = fakes
    monkeypatch.setattr(main, "WATCHDOG_FEED_MS", 5)
    monkeypatch.setattr(main, "WATCHDOG_MS", 400)  # warn after 200 ms of silence
    hw = Hardware([])
    wd = main.start_watchdog(hw)
    assert hw.watchdog is wd and wd.wdt.timeout == 400

    async def run(control_alive, n=20):
        task = asyncio.create_task(main.feed_watchdog(wd))
        for _ in range(n):
            if control_alive:
                wd.alive("control")
            await asyncio.sleep(0.005)
        task.cancel()

    asyncio.run(run(True))
    fed = wd.wdt.feeds
    assert fed >= 5
    assert "not fed" not in buf.getvalue()  # a control loop slower than the feed task is no alarm
    asyncio.run(run(False, n=80))
    assert wd.wdt.feeds <= fed + 1  # at most the feed already earned before control went silent
    assert buf.getvalue().count(", silent: control") == 1
    assert "[warning] watchdog: not fed for " in buf.getvalue()
