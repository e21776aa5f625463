# When main.py's boot goes to the setup portal and when it does not (netboot.setup_check,
# the WiFi wait, the setup button), and the board file's "portal" section rules.
import asyncio
import json
import os
import shutil

import pytest

import main
import netboot
import setupbutton
from hal import board as hb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKES = os.path.join(ROOT, "host_tests", "fakes")
GOOD = {"csms_url": "ws://127.0.0.1:9000/ocpp", "charge_point_id": "CP1", "board": "esp32-devkitc",
        "wifi": {"ssid": "garage", "password": "wifi-password-1"}}


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.syspath_prepend(FAKES)
    import machine
    import network
    machine.reset_fakes()
    network.reset_fakes()
    del machine.resets[:]
    return machine, network


def folder(tmp_path, boards=("esp32-devkitc",), cfg=None):
    os.mkdir(str(tmp_path / "boards"))
    for b in boards:
        shutil.copy(os.path.join(ROOT, "boards", b + ".json"), str(tmp_path / "boards"))
    path = str(tmp_path / "config.json")
    if cfg is not None:
        with open(path, "w") as f:
            json.dump(cfg, f)
    return path


def test_missing_config_next_to_one_real_board_file_means_setup(tmp_path, fakes):
    reason, board, hw = netboot.setup_check(folder(tmp_path))
    assert reason == "no config.json" and board["name"] == "esp32-devkitc" and len(hw.connectors) == 1


def test_config_without_wifi_means_setup_on_a_real_board(tmp_path, fakes):
    cfg = dict(GOOD)
    del cfg["wifi"]
    reason, board, _ = netboot.setup_check(folder(tmp_path, cfg=cfg))
    assert reason == "config.json has no WiFi credentials"


def test_a_good_config_or_a_sim_board_boots_normally(tmp_path, fakes):
    assert netboot.setup_check(folder(tmp_path, cfg=GOOD)) is None
    sim = {"csms_url": "ws://127.0.0.1:9000/ocpp", "charge_point_id": "CP1", "board": "sim"}
    d = tmp_path / "s"
    d.mkdir()
    assert netboot.setup_check(folder(d, ("sim",), cfg=sim)) is None


def test_missing_config_on_a_host_without_a_real_board_stays_a_fatal_error(tmp_path, fakes):
    path = folder(tmp_path, ("sim",))
    assert netboot.setup_check(path) is None
    assert asyncio.run(main.boot(path, attempts=1)) == 1


def test_a_broken_config_is_not_overwritten_by_setup_mode(tmp_path, fakes):
    path = folder(tmp_path)
    with open(path, "w") as f:
        f.write("{not json")
    assert netboot.setup_check(path) is None  # the Fatal path names the problem instead


def test_setup_button_marker_means_setup_once(tmp_path, fakes):
    path = folder(tmp_path, cfg=GOOD)
    with open(str(tmp_path / "setup.request"), "w") as f:
        f.write("1")
    reason, _, _ = netboot.setup_check(path)
    assert reason == "setup button held"
    assert netboot.setup_check(path) is None  # the marker is used up


def test_long_press_of_the_setup_button_restarts_into_setup(tmp_path, fakes, monkeypatch):
    machine, _ = fakes
    monkeypatch.setattr(setupbutton, "POLL_MS", 5)
    path = folder(tmp_path, cfg=GOOD)
    bp = hb.load(str(tmp_path / "boards" / "esp32-devkitc.json"))["portal"]
    bp = dict(bp, button_hold_ms=100)

    async def go():
        t = asyncio.create_task(setupbutton.watch(bp, path, None))
        machine.drive(0, 0)  # pressed (active low)
        await asyncio.sleep(0.03)
        machine.drive(0, 1)  # a short press does nothing
        await asyncio.sleep(0.15)
        assert not machine.resets and not t.done()
        machine.drive(0, 0)
        await asyncio.wait_for(t, 2)
    asyncio.run(go())
    assert machine.resets == ["hard"]
    assert os.path.exists(str(tmp_path / "setup.request"))


def test_wifi_never_up_within_the_setup_time_goes_to_the_portal(tmp_path, fakes, monkeypatch):
    _, network = fakes
    monkeypatch.setattr(netboot, "WIFI_CONNECT_MS", 50)
    monkeypatch.setattr(netboot, "WIFI_SETUP_AFTER_MS", 300)
    monkeypatch.setattr(netboot, "WIFI_POLL_MS", 10)
    monkeypatch.setattr(netboot, "boot_ms", netboot.compat.ticks_ms())
    called = {}

    async def fake_setup(path, reason, board, hw, wifi_failed=False):
        called.update(reason=reason, wifi_failed=wifi_failed, safe=not hw.connectors[0].relay.closed,
                      station_retrying=not hw.wifi_task.done())
        return 0
    monkeypatch.setattr(netboot, "setup_mode", fake_setup)
    path = folder(tmp_path, cfg=GOOD)  # the AP "garage" is not in range
    assert asyncio.run(main.boot(path, attempts=1)) == 0
    assert called == {"reason": "WiFi 'garage' not joined within 0 s of boot", "wifi_failed": True, "safe": True,
                      "station_retrying": True}


def test_setup_mode_stops_the_station_retries_and_restarts_after_saving(tmp_path, fakes, monkeypatch):
    machine, network = fakes
    import portal
    ran = {}

    async def fake_run(path, net, hw, boards, board, model, reason, tick=None, idle_reboot_ms=None):
        ran.update(reason=reason, idle=idle_reboot_ms, boards=sorted(boards), contactor=hw.connectors[0].relay.closed)
        return "reboot"
    monkeypatch.setattr(portal, "run", fake_run)

    async def go():
        reason, board, hw = netboot.setup_check(folder(tmp_path))
        hw.wifi_task = asyncio.create_task(asyncio.sleep(60))
        await netboot.setup_mode(str(tmp_path / "config.json"), reason, board, hw, True)
        await asyncio.sleep(0)
        return hw.wifi_task.cancelled()
    assert asyncio.run(go())
    assert ran["reason"] == "no config.json" and ran["idle"] == portal.IDLE_REBOOT_MS and not ran["contactor"]
    assert "esp32-devkitc" in ran["boards"]
    assert machine.resets == ["hard"]


@pytest.mark.parametrize("portal, msg", [
    ({"password": "short"}, "portal.password must be 8 to 63 characters (WPA2)"),
    ({"open": True, "password": "long-enough"}, "portal.open is true but portal.password is set: choose one"),
    ({"button_pin": 6}, "portal.button_pin 6 is wired to the SPI flash"),
    ({"button_pin": 25}, "pin 25 used by both pilot.pwm_pin and portal.button_pin"),
    ({"button_hold_ms": 10}, "portal.button_hold_ms 10 is out of range (1000..30000)"),
    ({"colour": "red"}, "unknown key portal.colour"),
    ({"status_page": "yes"}, "portal.status_page must be true/false"),
])
def test_board_portal_section_is_checked(portal, msg):
    with open(os.path.join(ROOT, "boards", "esp32-devkitc.json")) as f:
        b = json.load(f)
    b["portal"] = portal
    with pytest.raises(hb.BoardError) as e:
        hb.load(b)
    assert msg in str(e.value)


def test_shipped_boards_portal_sections():
    assert hb.load(os.path.join(ROOT, "boards", "esp32-devkitc.json"))["portal"] == \
        {"button_pin": 0, "button_hold_ms": 5000}


def test_config_max_current_caps_the_offer_below_the_board(tmp_path):
    import app
    import devconfig
    from hal import sim
    raw = {"csms_url": "ws://127.0.0.1:9000/ocpp", "charge_point_id": "CP1", "board": "sim",
           "data_dir": str(tmp_path / "data"), "max_current_a": 16}
    cfg = devconfig.validate(raw, "sim", None, 32)
    hw = sim.build({"name": "sim", "kind": "sim", "connectors": 1, "max_current_a": 32})
    a = app.App(cfg, hw)
    e = a.evses[0]
    assert e.max_amps == 16
    hw.sim.connectors[0].plug()
    e.permit(True)
    for t in range(0, 2000, 100):
        hw.sim.step(t)
        e.step(t)
    assert e.offer_amps == 16 and hw.connectors[0].pilot.amps == 16
    a.queue.close() if hasattr(a.queue, "close") else None
