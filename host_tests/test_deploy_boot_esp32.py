# main.py's real-board start-up (the steps in netboot.py, which bringup.py loads for a real board) against the fake `network`, `ntptime` and `machine`
# modules (host_tests/fakes): WiFi join with a bounded wait, NTP, and the watchdog
# that is fed only while both the main loop and the app's control loop run.
import asyncio
import io
import os

import pytest

import compat
import log
import main
import netboot
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
    monkeypatch.setattr(netboot, "WIFI_POLL_MS", 5)
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
        ok = await netboot.start_wifi(cfg(), hw)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return ok, len(tasks)

    ok, background = asyncio.run(go())
    assert ok and background == 1  # the station's reconnect supervisor keeps running
    assert hw.wifi.state == "up"
    assert "[info] wifi: connected, ip 192.168.4.20" in buf.getvalue()
    assert "wifi-password-1" not in buf.getvalue()


def test_wifi_wrong_password_gives_up_the_boot_wait_with_the_status(fakes, monkeypatch):
    network, _, _, buf = fakes
    network.access_points["garage"] = "another-password"
    monkeypatch.setattr(netboot, "WIFI_CONNECT_MS", 200)
    hw = Hardware([])
    t0 = compat.ticks_ms()
    assert asyncio.run(netboot.start_wifi(cfg(), hw)) is False
    assert compat.ticks_diff(compat.ticks_ms(), t0) < 5000
    text = buf.getvalue()
    assert "[warning] wifi: not connected after 0 s (status 202); retrying in the background" in text
    assert "wifi-password-1" not in text


def test_ntp_sets_the_clock_or_says_it_will_use_boot_notification(fakes, monkeypatch):
    _, ntptime, _, buf = fakes
    assert netboot.start_ntp(cfg(ntp_host="ntp.example.net")) is not None
    assert ntptime.host == "ntp.example.net" and ntptime.synced == 1
    assert "[info] ntp: clock set, unix time" in buf.getvalue()
    ntptime.fail_next = 100
    monkeypatch.setattr(compat, "sleep_ms", lambda ms: None)
    assert netboot.start_ntp(cfg()) is None
    assert "[warning] ntp: no answer; the clock is set from BootNotification instead" in buf.getvalue()


def test_watchdog_is_fed_only_while_the_control_loop_reports(fakes, monkeypatch):
    _, _, machine, buf = fakes
    monkeypatch.setattr(netboot, "WATCHDOG_MS", 400)  # warn after 200 ms of silence
    hw = Hardware([])
    wd = netboot.start_watchdog(hw, netboot.WATCHDOG_MS)
    assert hw.watchdog is wd and wd.wdt.timeout == 400

    async def run(control_alive, n=20):
        task = asyncio.create_task(main.feed_watchdog(wd, 5))  # fed every 5 ms
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


# ---------------------------------------------------------------- a whole boot on esp32-devkitc
def _esp32_config(tmp_path, **over):
    c = {"csms_url": "ws://10.0.0.2:9000/ocpp", "charge_point_id": "CP-ESP", "board": "esp32-devkitc",
         "wifi": {"ssid": "garage", "password": "wifi-password-1"}, "security_profile": 1,
         "authorization_key": "0123456789abcdef0123456789abcdef"}
    c.update(over)
    p = tmp_path / "config.json"
    p.write_text(__import__("json").dumps(c))
    return str(p)


def _devices(machine):
    """The board's peripherals as the devkitc board file wires them."""
    import mfrc522_model
    import modbus_model
    machine.reset_fakes()
    mfrc522_model.Mfrc522Model(spi_id=2, cs=5, rst=22)
    bus = modbus_model.Rs485Bus(uart_id=2, de_pin=4)
    bus.add(modbus_model.Sdm120Model(address=1))


class RecordingApp:
    def __init__(self):
        self.calls = []

    async def run(self, cfg, hw, clock=None):
        self.calls.append((cfg, hw))
        return "end"


def test_esp32_boot_order_wifi_ntp_watchdog_then_app(fakes, tmp_path, monkeypatch):
    network, ntptime, machine, buf = fakes
    _devices(machine)
    network.access_points["garage"] = "wifi-password-1"
    app = RecordingApp()
    monkeypatch.setitem(__import__("sys").modules, "app", app)
    path = _esp32_config(tmp_path)

    async def go():
        # the app "ends" at once; on a real board boot then restarts it (main._APP_RESTART_MS
        # later): the task is cancelled in that wait, after one round
        task = asyncio.create_task(main.boot(path, attempts=1))
        for _ in range(200):
            await asyncio.sleep(0.005)
            if app.calls:
                break
        task.cancel()

    asyncio.run(go())
    text = buf.getvalue()
    order = ["config: %s ok" % path, "board: esp32-devkitc (esp32), 1 connector(s)", "wifi: connecting to 'garage'",
             "wifi: connected, ip 192.168.4.20", "ntp: clock set", "watchdog: 10000 ms (board file)", "app: starting"]
    at = [text.find(s) for s in order]
    assert -1 not in at and at == sorted(at), text
    cfg, hw = app.calls[0]
    assert cfg["board"] == "esp32-devkitc" and hw.watchdog is not None and hw.wifi.state == "up"
    assert machine.wdts and machine.wdts[0].feeds >= 1  # fed during boot, before any control loop ran
    assert "wifi-password-1" not in text and "0123456789abcdef0123456789abcdef" not in text


def test_esp32_fatal_config_holds_the_board_safe_and_keeps_feeding(fakes, tmp_path):
    network, ntptime, machine, buf = fakes
    _devices(machine)
    path = _esp32_config(tmp_path, security_profile=2)  # ws:// with profile 2
    slept = []
    rc = asyncio.run(main.boot(path, attempts=2, sleep_ms=slept.append))
    text = buf.getvalue()
    assert rc == 1
    assert "[error] fatal: config.json: security_profile: 2 needs a wss:// csms_url" in text
    assert "charger held safe" in text
    wdt = machine.wdts[-1]
    assert wdt.feeds >= len(slept) >= 60000 // 1000  # bringup._CONFIG_RETRY_MS in _BOOT_FEED_MS steps  # no watchdog reset while waiting
    assert machine.level(26) == 0  # relay coil (boards/esp32-devkitc.json relay.pin) off
    pwm = machine.pwm_on(25)
    assert pwm is not None and pwm.duty_u16() == 0  # pilot disabled: constant -12 V (state F)


# ---------------------------------------------------------------- the deployed esp32 image on micropython
RUNNER = """
import sys
del sys.argv[:]
sys.argv.extend(["main.py", "config.json"])
import network, mfrc522_model, modbus_model
network.access_points["garage"] = "wifi-password-1"
mfrc522_model.Mfrc522Model(spi_id=2, cs=5, rst=22)
modbus_model.Rs485Bus(uart_id=2, de_pin=4).add(modbus_model.Sdm120Model(address=1))
import startup
startup.main()
"""


def test_deployed_esp32_image_boots_on_micropython_against_the_fakes(tmp_path):
    """The esp32-devkitc image as deploy.py lays it out (xtensawin .mpy files, hal/esp32
    drivers, the /main.py stub's startup module) runs under the real micropython command
    with the fake machine/network/ntptime modules behind it, up to the app."""
    import json
    import subprocess
    import deploy
    import mpy as mpyrun
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"csms_url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CP-ESP", "board": "esp32-devkitc",
                               "wifi": {"ssid": "garage", "password": "wifi-password-1"},
                               "data_dir": str(tmp_path / "data")}))
    folder = tmp_path / "dev"
    deploy.deploy("dir:" + str(folder), "esp32-devkitc", str(cfg), build_dir=str(tmp_path / "b"),
                  out=lambda s: None, quiet_build=True)
    assert (folder / "hal" / "esp32" / "pilot.mpy").exists() and not (folder / "hal" / "sim").exists()
    runner = tmp_path / "run_with_fakes.py"
    runner.write_text(RUNNER)
    proc = mpyrun.popen([str(runner)], env={"MICROPYPATH": ".frozen:%s:%s" % (folder, FAKES)}, cwd=str(folder),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "app: starting" in line:
                break
    finally:
        proc.kill()
        proc.wait()
    text = "\n".join(lines)
    order = ["config: config.json ok", "board: esp32-devkitc (esp32), 1 connector(s)", "wifi: connected, ip 192.168.4.20",
             "ntp: clock set", "watchdog: 10000 ms (board file)", "app: starting"]
    at = [text.find(s) for s in order]
    assert -1 not in at and at == sorted(at), text
    assert "wifi-password-1" not in text
