# main.py (device entry) and bringup.py (its boot steps): where it looks for config.json
# and board files, the safe state after a fatal error, the bounded retry loop that writes
# nothing, and the hand-over of a validated config and built hardware to app.run. Both runtimes.
import asyncio
import io
import json
import os
import sys

import bringup
import log
import main
import scratch
from hal import Connector, Hardware

TMP = "/tmp/_main_test_" + scratch.PROCESS_TAG  # one per process: xdist workers run its tests side by side
KEY = "00112233445566778899aabbccddeeff"


def _mkdirs(path):
    part = ""
    for p in path.strip("/").split("/"):
        part += "/" + p
        try:
            os.mkdir(part)
        except OSError:
            pass


def _write(path, obj):
    f = open(path, "w")
    f.write(obj if isinstance(obj, str) else json.dumps(obj))
    f.close()


def _setup(cfg):
    _mkdirs(TMP + "/boards")
    _write(TMP + "/boards/sim.json", {"name": "sim", "kind": "sim", "connectors": 1, "max_current_a": 16})
    _write(TMP + "/config.json", cfg)
    return TMP + "/config.json"


def _capture():
    buf = io.StringIO()
    log.out = buf
    log.forget_secrets()
    log.set_level("info")
    return buf


def _restore():
    log.out = sys.stdout
    log.forget_secrets()
    log.set_level("info")


class FakePilot:
    def __init__(self):
        self.disabled = False

    def disable(self):
        self.disabled = True


class FakeRelay:
    def __init__(self):
        self.closed = True  # as if welded-in-software: the safe path must open it
        self.calls = []

    def set(self, closed):
        self.calls.append(closed)
        self.closed = closed


def test_config_path_argv_then_env_then_device_default():
    appboot = sys.modules.pop("appboot", None)  # begin() would take (and drop) another test's choice
    buf = _capture()  # begin() logs the boot line
    try:
        assert bringup.begin({}, ["main.py", "/x/c.json"], lambda k: "/env.json")[0] == "/x/c.json"
        assert bringup.begin({}, ["main.py"], lambda k: "/env.json" if k == "OCPP_CONFIG" else None)[0] == "/env.json"
        assert bringup.begin({}, [], lambda k: None)[0] == "/config.json"  # bringup._DEVICE_CONFIG
    finally:
        _restore()
        if appboot is not None:
            sys.modules["appboot"] = appboot
    assert "config /x/c.json" in buf.getvalue()
    # Only a device-style start waits and retries after a fatal error; a host run exits.
    assert not bringup.on_device("/tmp/c.json")


def test_board_files_next_to_config_then_device_then_repository():
    c = bringup.board_candidates("/config.json", "esp32-devkitc")
    assert c[0] == "/boards/esp32-devkitc.json"
    c = bringup.board_candidates("/tmp/dev/config.json", "sim")
    assert c[:2] == ["/tmp/dev/boards/sim.json", "/boards/sim.json"]
    c = bringup.board_candidates("config.json", "sim")
    assert c[0] == "./boards/sim.json"
    # Run from the checkout (firmware/main.py), the repository's boards/ is the last resort.
    if bringup.__file__.endswith("firmware/bringup.py"):
        assert c[-1].endswith("/boards/sim.json") and "firmware" not in c[-1]


def test_make_safe_opens_the_contactor_and_disables_the_pilot():
    conns = [Connector(FakePilot(), FakeRelay()), Connector(FakePilot(), FakeRelay())]
    bringup.make_safe(Hardware(conns))
    for c in conns:
        assert c.pilot.disabled and c.relay.closed is False and c.relay.calls == [False]
    bringup.make_safe(None)  # nothing built: nothing to do, no error


def test_fatal_config_retries_with_the_named_delay_and_writes_nothing():
    path = _setup({"csms_url": "ftp://x", "charge_point_id": "CP1", "board": "sim", "authorization_key": KEY})
    before = open(path).read()
    names = sorted(os.listdir(TMP))
    slept = []
    buf = _capture()
    try:
        rc = asyncio.run(main.boot(path, attempts=3, sleep_ms=slept.append))
    finally:
        _restore()
    text = buf.getvalue()
    assert rc == 1
    assert sum(slept) == 2 * 60000 and max(slept) <= 1000  # bringup._CONFIG_RETRY_MS, in _BOOT_FEED_MS steps
    assert text.count("[error] fatal: config.json: csms_url: must start with ws:// or wss://") == 3
    assert "charger held safe" in text
    assert KEY not in text
    assert open(path).read() == before and sorted(os.listdir(TMP)) == names


def test_missing_board_file_is_fatal_and_named():
    path = _setup({"csms_url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CP1", "board": "nosuchboard"})
    buf = _capture()
    try:
        rc = asyncio.run(main.boot(path, attempts=1, sleep_ms=lambda ms: None))
    finally:
        _restore()
    assert rc == 1
    assert "[error] fatal: board 'nosuchboard': no board file (looked for %s/boards/nosuchboard.json" % TMP in buf.getvalue()


class FakeApp:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    async def run(self, cfg, hw, clock=None):
        self.calls.append((cfg, hw))
        if self.fail:
            raise RuntimeError("boom " + KEY)
        return "end"


def _boot_with_app(fake, cfg):
    path = _setup(cfg)
    saved = sys.modules.get("app")
    sys.modules["app"] = fake
    buf = _capture()
    try:
        rc = asyncio.run(main.boot(path, attempts=1, sleep_ms=lambda ms: None))
    finally:
        _restore()
        if saved is None:
            del sys.modules["app"]
        else:
            sys.modules["app"] = saved
    return rc, buf.getvalue()


def test_app_gets_the_validated_config_and_the_built_hardware():
    fake = FakeApp()
    rc, text = _boot_with_app(fake, {"csms_url": "ws://127.0.0.1:9/ocpp/", "charge_point_id": "CP1", "board": "sim",
                                           "log_level": "debug", "security_profile": 1, "authorization_key": KEY})
    assert rc == 0, text
    assert len(fake.calls) == 1
    cfg, hw = fake.calls[0]
    assert cfg["csms_url"] == "ws://127.0.0.1:9/ocpp" and cfg["data_dir"] == "data" and cfg["log_level"] == "debug"
    assert len(hw.connectors) == 1
    assert "[info] app: starting" in text and "[info] app: finished" in text
    assert KEY not in text and "authorization key (set)" in text


def test_app_crash_on_the_sim_board_ends_with_a_redacted_traceback():
    rc, text = _boot_with_app(FakeApp(fail=True), {"csms_url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CP1",
                                                         "board": "sim", "security_profile": 1, "authorization_key": KEY})
    assert rc == 1
    assert "[error] app: stopped" in text and "RuntimeError: boom ***" in text
    assert KEY not in text


def test_missing_certificate_file_is_fatal_and_named():
    path = _setup({"csms_url": "wss://127.0.0.1:9/ocpp", "charge_point_id": "CP1", "board": "sim",
                   "security_profile": 2, "authorization_key": KEY, "ca_cert": TMP + "/no-ca.pem"})
    buf = _capture()
    try:
        rc = asyncio.run(main.boot(path, attempts=1, sleep_ms=lambda ms: None))
    finally:
        _restore()
    assert rc == 1
    assert ("[error] fatal: config.json: ca_cert: file %s/no-ca.pem not found on the device" % TMP) in buf.getvalue()


def test_ctrl_c_leaves_the_built_hardware_safe_and_warns_about_the_watchdog():
    class Wd:
        timeout_ms = 10000
    conns = [Connector(FakePilot(), FakeRelay())]
    hw = Hardware(conns, watchdog=Wd())
    buf = _capture()
    try:
        bringup.stopped(hw)
    finally:
        _restore()
    assert conns[0].relay.closed is False and conns[0].pilot.disabled
    assert "charger held safe" in buf.getvalue()
    assert "the board resets within 10000 ms" in buf.getvalue()


def test_boot_records_the_hardware_for_the_ctrl_c_handler():
    fake = FakeApp()
    main.built = None
    _boot_with_app(fake, {"csms_url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CP1", "board": "sim"})
    assert main.built is fake.calls[0][1]


def test_the_boot_steps_are_unloaded_before_the_app_runs_and_after_a_crash():
    # What the device script does (unload=True): bringup, the config validation and
    # the board file rules leave sys.modules before the app starts; after a crash bringup
    # comes back for the safe state only and leaves again.
    names = ("bringup", "netboot", "devconfig", "hal.board")  # netboot: loaded by another test, dropped too
    saved = dict((n, sys.modules[n]) for n in names if n in sys.modules)
    import hal
    hal_board = getattr(hal, "board", None)
    seen = []

    class Recording(FakeApp):
        async def run(self, cfg, hw, clock=None):
            seen.append([n for n in names if n in sys.modules])
            raise RuntimeError("boom")
    path = _setup({"csms_url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CP1", "board": "sim"})
    saved_app = sys.modules.get("app")
    sys.modules["app"] = Recording()
    buf = _capture()
    try:
        rc = asyncio.run(main.boot(path, attempts=1, sleep_ms=lambda ms: None, unload=True))
        after = [n for n in names if n in sys.modules]
    finally:
        _restore()
        sys.modules.update(saved)
        if hal_board is not None:
            hal.board = hal_board
        if saved_app is None:
            del sys.modules["app"]
        else:
            sys.modules["app"] = saved_app
    assert rc == 1 and seen == [[]] and after == [], (seen, after)
    assert "[error] app: stopped" in buf.getvalue()
