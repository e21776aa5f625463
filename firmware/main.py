# Device entry. On the device it runs as /startup.mpy behind the /main.py stub that
# tools/mpy.py generates (compiling this source at boot would cost the heap); on a host
# as `micropython firmware/main.py config.json`. Owns the start-up order: config.json,
# board file, hardware, WiFi/NTP/watchdog on real boards (the steps are in bringup.py,
# unloaded once done), then app.run(), restarted after a crash, with the watchdog feed.
# Never writes a file; no charging or protocol logic here.
import sys

if __name__ == "__main__":  # a host run; on the device the /main.py stub does this
    import appboot  # first: it may put a newer application folder (a bundle) before this tree
    appboot.boot()
    del appboot     # main() adopts its choice and forgets the module

import compat
import log

DEVICE_CONFIG = "/config.json"  # where the config lives on the device
CONFIG_ENV = "OCPP_CONFIG"  # on a host: env var naming config.json (argv[1] wins)
# A fatal configuration or board error: read the config again after this long.
# Long on purpose: no crash loop, no flash wear, time to fix config.json over USB.
CONFIG_RETRY_MS = 60000
# Real board: wait this long after app.run() failed before starting it again.
APP_RESTART_MS = 10000
# Hardware watchdog period once the app runs; long enough for a blocking TLS handshake.
WATCHDOG_MS = 30000
WATCHDOG_FEED_MS = 1000  # the "main" loop reports alive and feeds this often
# Board kinds that are real hardware with WiFi.
REAL_KINDS = ("esp32", "esp8266")


# ---- setup portal (portal.py): when setup mode starts ------------------------------------
# Real boards: the WiFi has not been up once this long after boot -> setup portal (which
# restarts after portal.IDLE_REBOOT_MS to try the WiFi again if nothing is saved).
WIFI_SETUP_AFTER_MS = 120000
SETUP_MARKER = "setup.request"  # next to config.json: a long press of the setup button asked for setup
BUTTON_POLL_MS = 100  # how often the setup button is read
# ---- end setup portal --------------------------------------------------------------------


# The hardware built by boot(), so a Ctrl-C (mpremote connecting interrupts main.py)
# that lands anywhere in the event loop still leaves the charger safe.
built = None
boot_ms = compat.ticks_ms()  # when this boot began (setup portal: WiFi failure time)


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
    1 when it gave up. `drop_config_module` unloads bringup, devconfig and hal.board once
    the charger is started (the script does; a test process keeps its modules)."""
    global built
    import asyncio

    async def pause(ms, hw=None):
        # In steps, feeding a watchdog the board may have started: waiting is not hanging.
        await asyncio.sleep(0)  # always yield, even for a zero delay
        while ms > 0:
            if hw is not None:
                import bringup
                bringup.boot_feed(hw)
            step = min(ms, WATCHDOG_FEED_MS)
            if sleep_ms is not None:
                sleep_ms(step)
            else:
                await asyncio.sleep(step / 1000)
            ms -= step

    setup = setup_check(path)  # portal: no config / no WiFi / setup button
    if setup is not None:
        built = setup[2]
        return await setup_mode(path, *setup)
    tries = 0
    safe_hw = None
    while True:
        tries += 1
        log.forget_secrets()  # this attempt registers the secrets of the config as it is now
        import bringup
        try:
            cfg, board, hw = bringup.start_up(path)
            if APPS["root"]:
                cfg["apps_dir"] = APPS["root"]  # where an UpdateFirmware bundle is unpacked
            built = hw
            break
        except bringup.Fatal as e:
            log.error("fatal: %s", e)
            if safe_hw is None:
                safe_hw = bringup.safe_hardware_for(path)
                built = safe_hw
            make_safe(safe_hw)
            if safe_hw is not None:
                log.error("fatal: charger held safe (contactor open, pilot off)")
            if attempts is not None and tries >= attempts:
                return 1
            log.error("fatal: fix config.json (or the board file); reading it again in %d s", retry_ms // 1000)
            await pause(retry_ms, safe_hw)
    real = board.get("kind") in REAL_KINDS
    if real:
        if await bringup.start_wifi(cfg, hw):
            bringup.boot_feed(hw)
            bringup.start_ntp(cfg)
            bringup.boot_feed(hw)
        elif not await wifi_comes_up(hw):  # portal: never up since boot
            return await setup_mode(path, "WiFi %r not joined within %d s of boot" % (
                cfg["wifi"]["ssid"], WIFI_SETUP_AFTER_MS // 1000), board, hw, True)
        if (board.get("portal") or {}).get("button_pin") is not None:
            asyncio.create_task(watch_button(board["portal"], path, hw))
        wd = bringup.start_watchdog(hw, WATCHDOG_MS)
        if wd is not None:
            asyncio.create_task(feed_watchdog(wd))
    if drop_config_module:
        # The start-up steps, the validation tables and the board file rules are needed
        # only at boot: give their RAM to the app.
        del bringup
        for name in ("bringup", "devconfig", "hal.board", "hal.esp32.ntp"):
            sys.modules.pop(name, None)
            dot = name.rfind(".")
            pkg = sys.modules.get(name[:dot]) if dot > 0 else None
            if pkg is not None and name[dot + 1:] in pkg.__dict__:
                del pkg.__dict__[name[dot + 1:]]
        import gc
        gc.collect()
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


# ---- setup portal (portal.py) ------------------------------------------------------------
def _marker(path):
    """The setup-request marker next to config.json."""
    i = path.rfind("/")
    return (path[:i] if i >= 0 else ".") + "/" + SETUP_MARKER  # "/config.json" -> "/setup.request"


def _only_board(path):
    """Config missing: the board file to guard, when the device holds exactly one."""
    import bringup
    import os
    d = bringup._dirname(path)
    folder = d + "/boards" if d != "/" else bringup.DEVICE_BOARDS
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return None
    return folder + "/" + names[0] if len(names) == 1 else None


def setup_check(path):
    """(reason, board, hw) when boot must go to setup mode, else None: config.json missing,
    without WiFi credentials or a setup-button request, on a real board (or on the device)."""
    import bringup
    import devconfig
    marker = _marker(path)
    try:
        raw = devconfig.read(path)
    except devconfig.ConfigError:
        if compat.file_exists(path):
            return None  # present but broken: the Fatal path names the problem
        raw = None
    name = raw.get("board") if isinstance(raw, dict) else None
    try:
        bfile = bringup.find_board_file(path, name) if isinstance(name, str) else _only_board(path)
        board = bringup.load_board(bfile) if bfile else None
    except bringup.Fatal:
        board = None
    if not on_device(path) and (board is None or board.get("kind") not in REAL_KINDS):
        return None
    if raw is None:
        reason = "no config.json"
    elif compat.file_exists(marker):
        import os
        os.remove(marker)
        reason = "setup button held"
    elif board is not None and board.get("kind") in REAL_KINDS and not (
            isinstance(raw.get("wifi"), dict) and raw["wifi"].get("ssid")):
        reason = "config.json has no WiFi credentials"
    else:
        return None
    hw = None
    if board is not None:
        try:
            hw = bringup.build_hardware(board, board.get("name", "?"))
        except bringup.Fatal as e:
            log.error("setup: %s", e)
    return reason, board, hw


async def wifi_comes_up(hw):
    """After start_wifi gave up: wait until WIFI_SETUP_AFTER_MS since boot for the link."""
    import bringup
    import asyncio
    from hal.esp32 import wifi
    sta = getattr(hw, "wifi", None)
    while sta is not None and compat.ticks_diff(compat.ticks_ms(), boot_ms) < WIFI_SETUP_AFTER_MS:
        if sta.state == wifi.UP:
            return True
        bringup.boot_feed(hw)
        await asyncio.sleep(bringup.WIFI_POLL_MS / 1000)
    return sta is not None and sta.state == wifi.UP


async def setup_mode(path, reason, board, hw, wifi_failed=False):
    """Run the setup portal (contactor held open), then restart into normal mode."""
    import bringup
    make_safe(hw)
    task = getattr(hw, "wifi_task", None)
    if task is not None:  # a station hopping channels to retry would drop the phone from the AP
        task.cancel()
    import network
    import portal
    boards = portal.list_boards(board_dirs(path))
    model = None
    try:
        import devconfig
        raw = devconfig.read(path)
        model = raw.get("model") if isinstance(raw, dict) else None
    except Exception:
        pass
    await portal.run(path, network, hw, boards, board, model, reason, tick=lambda: bringup.boot_feed(hw),
                     idle_reboot_ms=portal.IDLE_REBOOT_MS if wifi_failed else None)
    make_safe(hw)
    reboot()
    return 0


def board_dirs(path):
    import bringup
    out = []
    for p in bringup.board_candidates(path, "x"):
        d = bringup._dirname(p)
        if d not in out:
            out.append(d)
    return out


def reboot():
    try:
        import machine
        machine.reset()
    except (ImportError, AttributeError):
        log.info("setup: restart requested (no machine.reset on this port)")


async def watch_button(bp, path, hw):
    """Long press of the board's setup button: leave a marker for the next boot, restart.
    Runs for ever: it must not keep bringup imported."""
    import asyncio
    import machine
    pin = machine.Pin(bp["button_pin"], machine.Pin.IN, machine.Pin.PULL_UP)
    active = bp.get("button_active", 0)
    hold_ms = bp["button_hold_ms"]  # hal.board filled the default
    since = None
    while True:
        now = compat.ticks_ms()
        if pin.value() == active:
            since = now if since is None else since
            if compat.ticks_diff(now, since) >= hold_ms:
                log.warning("setup button held %d s: restarting into the setup portal", hold_ms // 1000)
                with open(_marker(path), "w") as f:
                    f.write("1")
                make_safe(hw)
                reboot()
                return
        else:
            since = None
        await asyncio.sleep(BUTTON_POLL_MS / 1000)
# ---- end setup portal --------------------------------------------------------------------

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
    import version
    log.info("boot: %s %s on %s %s, config %s", version.NAME, version.VERSION, sys.implementation.name,
             ".".join(str(v) for v in sys.implementation.version[:3]), path)
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
