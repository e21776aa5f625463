# Device entry. On the device it runs as /startup.mpy behind the /main.py stub that
# tools/mpy.py generates (compiling this source at boot would cost the heap); on a host
# as `micropython firmware/main.py config.json`. Owns the start-up order: config.json,
# board file, hardware, WiFi/NTP/watchdog on real boards, then app.run(). Never writes
# a file; no charging or protocol logic here.
import sys

if __name__ == "__main__":  # a host run; on the device the /main.py stub does this
    import appboot  # first: it may put a newer application folder (a bundle) before this tree
    appboot.boot()
    del appboot     # main() adopts its choice and forgets the module

import compat
import log

DEVICE_CONFIG = "/config.json"  # where the config lives on the device
CONFIG_ENV = "OCPP_CONFIG"  # on a host: env var naming config.json (argv[1] wins)
DEVICE_BOARDS = "/boards"  # board files on the device: /boards/<board>.json
# A fatal configuration or board error: read the config again after this long.
# Long on purpose: no crash loop, no flash wear, time to fix config.json over USB.
CONFIG_RETRY_MS = 60000
# Real board: wait this long after app.run() failed before starting it again.
APP_RESTART_MS = 10000
# Real boards: how long boot waits for the first WiFi connection (the link retries later anyway).
WIFI_CONNECT_MS = 20000
WIFI_POLL_MS = 250  # boot: how often the WiFi state is checked while waiting
# Hardware watchdog period once the app runs; long enough for a blocking TLS handshake.
WATCHDOG_MS = 30000
WATCHDOG_FEED_MS = 1000  # the "main" loop reports alive and feeds this often
# Board kinds that are real hardware with WiFi.
REAL_KINDS = ("esp32", "esp8266")


class Fatal(Exception):
    """Start-up cannot continue; the message names what to fix."""


# The hardware built by boot(), so a Ctrl-C (mpremote connecting interrupts main.py)
# that lands anywhere in the event loop still leaves the charger safe.
built = None


def config_path(argv=None, getenv=None):
    """argv[1], else $OCPP_CONFIG (hosts), else /config.json (the device)."""
    argv = sys.argv if argv is None else argv
    if len(argv) > 1:
        return argv[1]
    if getenv is None:
        import os
        getenv = getattr(os, "getenv", None)
    v = getenv(CONFIG_ENV) if getenv else None
    return v or DEVICE_CONFIG


def on_device(path):
    """True when started as the device starts us (no argv, no env): only there does a
    fatal error wait and retry; a host run exits with the message instead."""
    return path == DEVICE_CONFIG and len(sys.argv) <= 1


def _dirname(path):
    i = path.rfind("/")
    if i < 0:
        return "."
    return path[:i] or "/"


def board_candidates(cfg_path, name):
    """Board file paths to try: next to config.json, /boards on the device, the repository's boards/."""
    found = []
    d = _dirname(cfg_path)
    for base in (d + "/boards" if d != "/" else DEVICE_BOARDS, DEVICE_BOARDS):
        found.append(base + "/" + name + ".json")
    here = globals().get("__file__")
    if here and _dirname(here).endswith("firmware"):  # host checkout: firmware/main.py -> boards/
        found.append(_dirname(_dirname(here)) + "/boards/" + name + ".json")
    out = []
    for p in found:
        if p not in out:
            out.append(p)
    return out


def find_board_file(cfg_path, name):
    for p in board_candidates(cfg_path, name):
        if compat.file_exists(p):
            return p
    raise Fatal("board %r: no board file (looked for %s)" % (name, ", ".join(board_candidates(cfg_path, name))))


def _hal_board():
    try:
        from hal import board as hal_board
        return hal_board
    except ImportError:
        return None


def load_board(path):
    """hal.board.load(path) -> board dict; BoardError and friends become Fatal."""
    hal_board = _hal_board()
    try:
        if hal_board is not None:
            return hal_board.load(path)
        # hal.board absent (a trimmed image): a sim board file is plain JSON.
        import json
        with open(path) as f:
            board = json.load(f)
        if not isinstance(board, dict) or board.get("kind") != "sim":
            raise Fatal("hal.board is missing from the firmware; only a sim board can start without it")
        return board
    except Fatal:
        raise
    except Exception as e:
        raise Fatal("%s" % e)


def build_hardware(board, name):
    hal_board = _hal_board()
    try:
        if hal_board is not None:
            return hal_board.build(board)
        from hal import sim
        return sim.build(board)
    except Exception as e:
        raise Fatal("board %r: hardware failed to start: %s" % (name, e))


def make_safe(hw):
    """Contactor open (through the interlock, the relay's only caller) and pilot
    disabled (state F: not available) on every connector."""
    if hw is None:
        return
    try:
        from evse.interlock import Interlock
    except ImportError:
        Interlock = None
    for c in hw.connectors:
        try:
            if Interlock is not None:
                Interlock(c.relay)  # its constructor opens the contactor
            c.pilot.disable()
        except Exception as e:
            log.error("safe state: connector failed: %s", e)


def boot_feed(hw):
    """Until the app runs, main vouches for every supervised loop: a board file's
    watchdog starts when the hardware is built, long before the control loop."""
    wd = getattr(hw, "watchdog", None) if hw is not None else None
    if wd is not None and hasattr(wd, "loops"):
        for name in wd.loops:
            wd.alive(name)
        wd.feed()


def load_config(path, board_kind=None, warn=None):
    """Read, register secrets, validate. Raises Fatal with the key-naming message."""
    import devconfig
    try:
        raw = devconfig.read(path)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))
    for s in devconfig.secrets(raw):  # before any message that might quote the config
        log.secret(s)
    if isinstance(raw, dict) and isinstance(raw.get("authorization_key"), str) and isinstance(raw.get("charge_point_id"), str):
        log.secret(_basic_auth(raw["charge_point_id"], raw["authorization_key"]))
    try:
        return devconfig.validate(raw, board_kind, warn)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))


def _basic_auth(user, password):
    """The base64 credentials of an HTTP Basic auth header, so a frame dump cannot leak the key."""
    try:
        import binascii
    except ImportError:
        import ubinascii as binascii
    return binascii.b2a_base64((user + ":" + password).encode()).decode().strip()


def check_files(cfg):
    """The certificate files config.json names must exist and parse (devconfig.check_files)."""
    import devconfig
    try:
        devconfig.check_files(cfg)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))


def start_up(path):
    """config -> board -> hardware. Returns (cfg, board, hw); raises Fatal(msg)."""
    # First pass without the WiFi rule (only the board file knows the kind), then the full check.
    cfg = load_config(path, "sim")
    log.set_level(cfg["log_level"])
    board = load_board(find_board_file(path, cfg["board"]))
    cfg = load_config(path, board.get("kind"), log.warning)
    check_files(cfg)
    import devconfig
    log.info("config: %s ok: %s", path, devconfig.describe(cfg))
    hw = build_hardware(board, cfg["board"])
    log.info("board: %s (%s), %d connector(s)", cfg["board"], board.get("kind"), len(hw.connectors))
    return cfg, board, hw


def _safe_hardware_for(path):
    """After a fatal error: build the board named by config.json, if that still works,
    so the charger can be put in its safe state."""
    try:
        import devconfig
        raw = devconfig.read(path)
        name = raw.get("board") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            return None
        return build_hardware(load_board(find_board_file(path, name)), name)
    except Exception:
        return None


async def start_wifi(cfg, hw):
    """Real boards: join the WiFi (hal/esp32/wifi.py), waiting up to WIFI_CONNECT_MS, then
    leave its supervisor running (reconnects with backoff). Returns True when up."""
    import asyncio
    try:
        from hal.esp32 import wifi
    except ImportError as e:
        log.error("wifi: driver missing (%s)", e)
        return False
    w = cfg["wifi"]
    log.info("wifi: connecting to %r", w["ssid"])
    try:
        sta = wifi.WifiStation(w["ssid"], w["password"])
    except Exception as e:
        log.error("wifi: %s", e)
        return False
    hw.wifi = sta
    t0 = compat.ticks_ms()
    while sta.step(compat.ticks_ms()) != wifi.UP:
        boot_feed(hw)
        if compat.ticks_diff(compat.ticks_ms(), t0) >= WIFI_CONNECT_MS:
            break
        await asyncio.sleep(WIFI_POLL_MS / 1000)
    st = sta.status()
    asyncio.create_task(sta.run())
    if st["state"] == wifi.UP:
        log.info("wifi: connected, ip %s", st["ip"])
        return True
    log.warning("wifi: not connected after %d s (status %s); retrying in the background",
                WIFI_CONNECT_MS // 1000, st["last_status"])
    return False


def start_ntp(cfg):
    try:
        from hal.esp32 import ntp
        t = ntp.sync(cfg["ntp_host"])
    except Exception as e:
        log.warning("ntp: %s", e)
        return None
    if t:
        log.info("ntp: clock set, unix time %d", t)
    else:
        log.warning("ntp: no answer; the clock is set from BootNotification instead")
    return t


def start_watchdog(hw):
    """machine.WDT through hal/esp32/watchdog.py; cannot be stopped once started.
    A board file with a "watchdog" section has started it already."""
    if hw.watchdog is not None:
        log.info("watchdog: %s ms (board file)", getattr(hw.watchdog, "timeout_ms", "?"))
        return hw.watchdog
    try:
        from hal.esp32 import watchdog
        hw.watchdog = watchdog.Watchdog(WATCHDOG_MS)
        log.info("watchdog: started, %d s", WATCHDOG_MS // 1000)
    except Exception as e:
        log.error("watchdog: not started (%s)", e)
    return hw.watchdog


async def feed_watchdog(wd):
    """The "main" loop of the watchdog: proves the event loop runs; the feed happens
    only when the app's control loop reported alive too. Warns once per silence that
    lasts half the watchdog period (the reset comes at the full period)."""
    import asyncio
    last_fed = compat.ticks_ms()
    warned = False
    while True:
        wd.alive("main")
        now = compat.ticks_ms()
        if wd.feed():
            last_fed = now
            warned = False
        elif not warned and compat.ticks_diff(now, last_fed) >= WATCHDOG_MS // 2:
            log.warning("watchdog: not fed for %d ms, silent: %s", compat.ticks_diff(now, last_fed), ", ".join(wd.silent()))
            warned = True
        await asyncio.sleep(WATCHDOG_FEED_MS / 1000)


async def run_app(cfg, hw):
    log.info("app: starting")
    import app
    return await app.run(cfg, hw)


async def boot(path, retry_ms=CONFIG_RETRY_MS, attempts=None, sleep_ms=None, drop_config_module=False):
    """Start the charger from config.json at `path`. `attempts` bounds the fatal-error
    retries (None: forever, as on the device). Returns 0 when the app ended normally,
    1 when it gave up. `drop_config_module` unloads devconfig once the config is valid
    (the script does; a test process keeps its modules)."""
    global built
    import asyncio

    async def pause(ms, hw=None):
        # In steps, feeding a watchdog the board may have started: waiting is not hanging.
        await asyncio.sleep(0)  # always yield, even for a zero delay
        while ms > 0:
            boot_feed(hw)
            step = min(ms, WATCHDOG_FEED_MS)
            if sleep_ms is not None:
                sleep_ms(step)
            else:
                await asyncio.sleep(step / 1000)
            ms -= step

    tries = 0
    safe_hw = None
    while True:
        tries += 1
        log.forget_secrets()  # this attempt registers the secrets of the config as it is now
        try:
            cfg, board, hw = start_up(path)
            if APPS["root"]:
                cfg["apps_dir"] = APPS["root"]  # where an UpdateFirmware bundle is unpacked
            built = hw
            break
        except Fatal as e:
            log.error("fatal: %s", e)
            if safe_hw is None:
                safe_hw = _safe_hardware_for(path)
                built = safe_hw
            make_safe(safe_hw)
            if safe_hw is not None:
                log.error("fatal: charger held safe (contactor open, pilot off)")
            if attempts is not None and tries >= attempts:
                return 1
            log.error("fatal: fix config.json (or the board file); reading it again in %d s", retry_ms // 1000)
            await pause(retry_ms, safe_hw)
    if drop_config_module:
        # The validation tables are needed only at boot: give their RAM to the app.
        sys.modules.pop("devconfig", None)
        # So are the board file rules (about 12 KB on the unix port).
        sys.modules.pop("hal.board", None)
        hal = sys.modules.get("hal")
        if hal is not None and "board" in hal.__dict__:
            del hal.__dict__["board"]
        import gc
        gc.collect()
    real = board.get("kind") in REAL_KINDS
    if real:
        if await start_wifi(cfg, hw):
            boot_feed(hw)
            start_ntp(cfg)
            boot_feed(hw)
        wd = start_watchdog(hw)
        if wd is not None:
            asyncio.create_task(feed_watchdog(wd))
    while True:
        try:
            await run_app(cfg, hw)
            log.info("app: finished")
            if not real:
                return 0
        except Exception as e:
            log.exception("app: stopped", e)
            make_safe(hw)
            if _trial_failed(real, hw):
                return 1
            if not real:
                return 1
        # Not fed meanwhile: with a watchdog running, a crashed app ends in a clean reset.
        log.info("app: restarting in %d s", APP_RESTART_MS // 1000)
        await pause(APP_RESTART_MS)


# What appboot chose at this boot: the apps root and whether a new version is on trial.
APPS = {"root": None, "trial": False}


def adopt_appboot():
    """Take appboot's choice and drop the module (it ran once; 3 KB of heap otherwise)."""
    ab = sys.modules.pop("appboot", None)
    if ab is not None:
        APPS["root"] = ab.root
        APPS["trial"] = ab.in_trial()


def _trial_failed(real, hw):
    """A new application version (appboot trial) that crashes is not restarted in place:
    the board resets and appboot rolls back to the previous version on that boot."""
    if not APPS["trial"]:
        return False
    log.error("app: the new version failed on its trial boot: resetting to roll back")
    reset = getattr(hw, "reset", None)
    if real and reset is not None:
        reset("Hard")
    return True


def main():
    import asyncio
    adopt_appboot()
    path = config_path()
    log.info("boot: %s %s, config %s", sys.implementation.name, ".".join(str(v) for v in sys.implementation.version[:3]), path)
    try:
        code = asyncio.run(boot(path, attempts=None if on_device(path) else 1, drop_config_module=True))
    except KeyboardInterrupt:
        stopped(built)
        raise
    if code:
        sys.exit(code)


def stopped(hw):
    """Ctrl-C: nothing supervises the contactor any more, so open it; say that a
    running watchdog cannot be stopped (the board resets unless something feeds it)."""
    make_safe(hw)
    log.warning("stopped (Ctrl-C): charger held safe (contactor open, pilot off)")
    wd = getattr(hw, "watchdog", None) if hw is not None else None
    if wd is not None:
        log.warning("the watchdog cannot be stopped: the board resets within %s ms", getattr(wd, "timeout_ms", "?"))


if __name__ == "__main__":
    main()
