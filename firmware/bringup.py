# The boot, on demand: imported by main.py for the start-up, after a crash and at a Ctrl-C,
# unloaded once the charger runs (its code, the config validation and the board file rules it
# pulls in need no RAM afterwards). Owns config.json's path, the setup-portal decision, the
# fatal-error retries (charger held safe meanwhile), config -> board -> hardware, and on real
# boards the first WiFi join, NTP and the watchdog. Never writes a file but the setup marker.
from compat import const
import sys

import compat
import log

# The limits and names no other module uses are underscore const()s: every global name and
# identifier here is interned at each boot and never freed, although the module is not kept.
_DEVICE_CONFIG = const("/config.json")  # where the config lives on the device
_CONFIG_ENV = const("OCPP_CONFIG")  # on a host: env var naming config.json (argv[1] wins)
_DEVICE_BOARDS = const("/boards")  # board files on the device: /boards/<board>.json
# A fatal configuration or board error: read the config again after this long.
# Long on purpose: no crash loop, no flash wear, time to fix config.json over USB.
_CONFIG_RETRY_MS = const(60000)
_BOOT_FEED_MS = const(1000)  # boot waits in steps this long, feeding a watchdog the board file started
# Hardware watchdog period once the app runs; long enough for a blocking TLS handshake.
WATCHDOG_MS = 30000
# Real boards: how long boot waits for the first WiFi connection (the link retries later anyway).
WIFI_CONNECT_MS = 20000
WIFI_POLL_MS = 250  # boot: how often the WiFi state is checked while waiting
# Board kinds that are real hardware with WiFi.
_REAL_KINDS = const(("esp32", "esp8266"))
# What start() loaded that an idle or charging charger never runs again (unload()).
_BOOT_MODULES = const(("bringup", "devconfig", "hal.board", "hal.esp32.ntp"))  # ---- setup portal (portal.py): when setup mode starts ------------------------------------
# Real boards: the WiFi has not been up once this long after boot -> setup portal (which
# restarts after portal.IDLE_REBOOT_MS to try the WiFi again if nothing is saved).
WIFI_SETUP_AFTER_MS = 120000
_SETUP_MARKER = const("setup.request")  # next to config.json: a long press of the setup button asked for setup
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_FATAL = const("fatal: %s")
_CHECKOUT_DIR = const("firmware")  # a host checkout runs firmware/main.py; its boards/ is beside it
_SETUP = const("setup")
_HARD_RESET = const("Hard")  # hw.reset's kind: machine.reset()

# The hardware built so far, for main's Ctrl-C handler while the boot runs.
built = None
boot_ms = compat.ticks_ms()  # when this boot began (main imports this module first thing)


class Fatal(Exception):
    """Start-up cannot continue; the message names what to fix."""


def _dirname(path):
    i = path.rfind("/")
    if i < 0:
        return "."
    return path[:i] or "/"


def board_candidates(path, name):
    """Board file paths to try: next to config.json (`path`), /boards on the device, the repository's boards/."""
    found = []
    d = _dirname(path)
    for base in (d + _DEVICE_BOARDS if d != "/" else _DEVICE_BOARDS, _DEVICE_BOARDS):
        found.append(base + "/" + name + ".json")
    here = globals().get("__file__")
    if here and _dirname(here).endswith(_CHECKOUT_DIR):  # host checkout: firmware/main.py -> boards/
        found.append(_dirname(_dirname(here)) + _DEVICE_BOARDS + "/" + name + ".json")
    out = []
    for p in found:
        if p not in out:
            out.append(p)
    return out


def find_board_file(path, name):
    for p in board_candidates(path, name):
        if compat.file_exists(p):
            return p
    raise Fatal("board %r: no board file (looked for %s)" % (name, ", ".join(board_candidates(path, name))))


def load_board(path):
    """hal.board.load(path) -> board dict; BoardError and friends become Fatal."""
    try:
        from hal import board as hal_board
    except ImportError:
        hal_board = None
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
        raise Fatal(str(e))


def build_hardware(board, name):
    try:
        try:
            from hal import board as hal
        except ImportError:  # a trimmed image: the sim board builds without it
            from hal import sim as hal
        return hal.build(board)
    except Exception as e:
        raise Fatal("board %r: hardware failed to start: %s" % (name, e))


def boot_feed(hw):
    """Until the app runs, main vouches for every supervised loop: a board file's
    watchdog starts when the hardware is built, long before the control loop."""
    wd = getattr(hw, "watchdog", None) if hw is not None else None
    if wd is not None and hasattr(wd, "loops"):
        for name in wd.loops:
            wd.alive(name)
        wd.feed()


def load_config(path, kind=None, warn=None):
    """Read, register secrets, validate. Raises Fatal with the key-naming message."""
    import devconfig
    try:
        raw = devconfig.read(path)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))
    for s in devconfig.secrets(raw):  # before any message that might quote the config
        log.secret(s)
    if isinstance(raw, dict) and isinstance(raw.get("authorization_key"), str) and isinstance(raw.get("charge_point_id"), str):
        # the base64 credentials of the HTTP Basic auth header too, so a frame dump cannot leak the key
        import binascii
        log.secret(binascii.b2a_base64((raw["charge_point_id"] + ":" + raw["authorization_key"]).encode()).decode().strip())
    try:
        return devconfig.validate(raw, kind, warn)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))


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
        log.error("%s: %s", "wifi", e)
        return False
    hw.wifi = sta
    t0 = compat.ticks_ms()
    while sta.step(compat.ticks_ms()) != wifi.UP:
        boot_feed(hw)
        if compat.ticks_diff(compat.ticks_ms(), t0) >= WIFI_CONNECT_MS:
            break
        await asyncio.sleep(WIFI_POLL_MS / 1000)
    st = sta.status()
    hw.wifi_task = asyncio.create_task(sta.run())
    if st["state"] == wifi.UP:
        log.info("wifi: connected, ip %s", st["ip"])
        return True
    log.warning("wifi: not connected after %d s (status %s); retrying in the background",
                WIFI_CONNECT_MS // 1000, st["last_status"])
    return False


def start_ntp(cfg):
    try:
        from hal.esp32 import ntp
        t = ntp.sync(cfg.get("ntp_host"))
    except Exception as e:
        log.warning("%s: %s", "ntp", e)
        return None
    if t:
        log.info("ntp: clock set, unix time %d", t)
    else:
        log.warning("ntp: no answer; the clock is set from BootNotification instead")
    return t


def start_watchdog(hw, timeout_ms):
    """machine.WDT through hal/esp32/watchdog.py; cannot be stopped once started.
    A board file with a "watchdog" section has started it already."""
    if hw.watchdog is not None:
        log.info("watchdog: %s ms (board file)", getattr(hw.watchdog, "timeout_ms", "?"))
        return hw.watchdog
    try:
        from hal.esp32 import watchdog
        hw.watchdog = watchdog.Watchdog(timeout_ms)
        log.info("watchdog: started, %d s", timeout_ms // 1000)
    except Exception as e:
        log.error("watchdog: not started (%s)", e)
    return hw.watchdog




# ---- main.py's entry, on demand ----------------------------------------------------------
def config_path(argv=None, getenv=None):
    """argv[1], else $OCPP_CONFIG (hosts), else /config.json (the device)."""
    argv = sys.argv if argv is None else argv
    if len(argv) > 1:
        return argv[1]
    if getenv is None:
        import os
        getenv = getattr(os, "getenv", None)
    v = getenv(_CONFIG_ENV) if getenv else None
    return v or _DEVICE_CONFIG


def on_device(path):
    """True when started as the device starts us (no argv, no env): only there does a
    fatal error wait and retry; a host run exits with the message instead."""
    return path == _DEVICE_CONFIG and len(sys.argv) <= 1


def begin(choice):
    """main(): adopt appboot's choice into `choice` (main.APPS), log the boot line. Returns config.json's
    path and the fatal-error attempts (None: for ever, on the device; a host run tries once)."""
    adopt_appboot(choice)
    path = config_path()
    import version
    log.info("boot: %s %s on %s %s, config %s", version.NAME, version.VERSION, sys.implementation.name,
             ".".join(str(v) for v in sys.implementation.version[:3]), path)
    return path, None if on_device(path) else 1


def adopt_appboot(choice):
    """Take appboot's choice and drop the module (it ran once; 3 KB of heap otherwise)."""
    ab = sys.modules.pop("appboot", None)
    if ab is not None:
        choice["root"] = ab.root
        choice["trial"] = ab.in_trial()


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


async def start(path, choice, retry_ms=None, attempts=None, sleep_ms=None):
    """main.boot()'s start-up: the setup portal when it is due, else config.json -> board ->
    hardware (a fatal error holds the charger safe and reads the config again every retry_ms,
    at most `attempts` times; None: forever), then on real boards WiFi, NTP, the watchdog.
    Returns (cfg, hw, real) once the setup button's watch runs (boards whose file names
    portal.button_pin), or the exit code: 1 gave up, 0 the setup portal ended."""
    global built
    import asyncio
    retry_ms = _CONFIG_RETRY_MS if retry_ms is None else retry_ms
    setup = setup_check(path)  # portal: no config / no WiFi / setup button
    if setup is not None:
        built = setup[2]
        return await setup_mode(path, *setup)
    tries = 0
    safe_hw = None
    while True:
        tries += 1
        log.forget_secrets()  # this attempt registers the secrets of the config as it is now
        try:  # config -> board -> hardware; Fatal(msg) for what is wrong
            # First pass without the WiFi rule (only the board file knows the kind), then the full check.
            cfg = load_config(path, "sim")
            log.set_level(cfg["log_level"])
            board = load_board(find_board_file(path, cfg["board"]))
            cfg = load_config(path, board.get("kind"), log.warning)
            import devconfig
            try:  # the certificate files config.json names must exist and parse
                devconfig.check_files(cfg)
            except devconfig.ConfigError as e:
                raise Fatal(str(e))
            log.info("config: %s ok: %s", path, devconfig.describe(cfg))
            hw = build_hardware(board, cfg["board"])
            log.info("board: %s (%s), %d connector(s)", cfg["board"], board.get("kind"), len(hw.connectors))
            if choice["root"]:
                cfg["apps_dir"] = choice["root"]  # where an UpdateFirmware bundle is unpacked
            built = hw
            break
        except Fatal as e:
            log.error(_FATAL, e)
            if safe_hw is None:  # the board config.json names, if that still builds: held safe
                try:
                    import devconfig
                    name = devconfig.read(path).get("board")
                    safe_hw = build_hardware(load_board(find_board_file(path, name)), name)
                except Exception:  # no dict, no board name (a TypeError), no board
                    pass
                built = safe_hw
            make_safe(safe_hw)
            if safe_hw is not None:
                log.error("fatal: charger held safe (contactor open, pilot off)")
            if attempts is not None and tries >= attempts:
                return 1
            log.error("fatal: fix config.json (or the board file); reading it again in %d s", retry_ms // 1000)
            # Wait in steps, feeding a watchdog the board may have started: waiting is not hanging.
            ms = retry_ms
            await asyncio.sleep(0)  # always yield, even for a zero delay
            while ms > 0:
                boot_feed(safe_hw)
                step = min(ms, _BOOT_FEED_MS)
                if sleep_ms is not None:
                    sleep_ms(step)
                else:
                    await asyncio.sleep(step / 1000)
                ms -= step
    real = board.get("kind") in _REAL_KINDS
    if real:
        if await start_wifi(cfg, hw):
            boot_feed(hw)
            start_ntp(cfg)
            boot_feed(hw)
        else:  # start_wifi gave up: wait until WIFI_SETUP_AFTER_MS since boot for the link
            sta = getattr(hw, "wifi", None)  # None: the station did not start (start_wifi said why)
            if sta is not None:
                from hal.esp32 import wifi
                while sta.state != wifi.UP and compat.ticks_diff(compat.ticks_ms(), boot_ms) < WIFI_SETUP_AFTER_MS:
                    boot_feed(hw)
                    await asyncio.sleep(WIFI_POLL_MS / 1000)
            if sta is None or sta.state != wifi.UP:  # portal: never up since boot
                return await setup_mode(path, "WiFi %r not joined within %d s of boot" % (
                    cfg["wifi"]["ssid"], WIFI_SETUP_AFTER_MS // 1000), board, hw, True)
        section = board.get("portal") or {}
        if section.get("button_pin") is not None:  # a poll loop for the charger's life
            import setupbutton  # stays loaded while it runs (not one of _BOOT_MODULES)
            asyncio.create_task(setupbutton.watch(section, path, hw))
        start_watchdog(hw, WATCHDOG_MS)
    return cfg, hw, real


def unload():
    """The start-up steps, the validation tables and the board file rules are needed only
    at boot: give their RAM to the app."""
    for name in _BOOT_MODULES:
        sys.modules.pop(name, None)
        dot = name.rfind(".")
        pkg = sys.modules.get(name[:dot]) if dot > 0 else None
        if pkg is not None and name[dot + 1:] in pkg.__dict__:
            del pkg.__dict__[name[dot + 1:]]


def after_crash(hw, real, choice):
    """The app crashed (main logged it): hold the charger safe. True when boot gives up:
    on a host, or when a new application version on trial crashed (appboot rolls back)."""
    make_safe(hw)
    return trial_failed(real, hw, choice) or not real


def trial_failed(real, hw, choice):
    """A new application version (appboot trial) that crashes is not restarted in place:
    the board resets and appboot rolls back to the previous version on that boot."""
    if not choice["trial"]:
        return False
    log.error("app: the new version failed on its trial boot: resetting to roll back")
    reset = getattr(hw, "reset", None)
    if real and reset is not None:
        reset(_HARD_RESET)
    return True


def stopped(hw):
    """Ctrl-C: nothing supervises the contactor any more, so open it; say that a
    running watchdog cannot be stopped (the board resets unless something feeds it)."""
    make_safe(hw)
    log.warning("stopped (Ctrl-C): charger held safe (contactor open, pilot off)")
    wd = getattr(hw, "watchdog", None) if hw is not None else None
    if wd is not None:
        log.warning("the watchdog cannot be stopped: the board resets within %s ms", getattr(wd, "timeout_ms", "?"))


# ---- setup portal (portal.py) ------------------------------------------------------------
def setup_marker(path):
    """The setup-request marker next to config.json."""
    i = path.rfind("/")
    return (path[:i] if i >= 0 else ".") + "/" + _SETUP_MARKER  # "/config.json" -> "/setup.request"


def setup_check(path):
    """(reason, board, hw) when boot must go to setup mode, else None: config.json missing,
    without WiFi credentials or a setup-button request, on a real board (or on the device)."""
    import devconfig
    marker = setup_marker(path)
    try:
        raw = devconfig.read(path)
    except devconfig.ConfigError:
        if compat.file_exists(path):
            return None  # present but broken: the Fatal path names the problem
        raw = None
    name = raw.get("board") if isinstance(raw, dict) else None
    try:
        if isinstance(name, str):
            bfile = find_board_file(path, name)
        else:  # config missing: the board file to guard, when the device holds exactly one
            import os
            d = _dirname(path)
            d = d + _DEVICE_BOARDS if d != "/" else _DEVICE_BOARDS
            try:
                names = [n for n in os.listdir(d) if n.endswith(".json")]
            except OSError:
                names = ()
            bfile = d + "/" + names[0] if len(names) == 1 else None
        board = load_board(bfile) if bfile else None
    except Fatal:
        board = None
    if not on_device(path) and (board is None or board.get("kind") not in _REAL_KINDS):
        return None
    if raw is None:
        reason = "no config.json"
    elif compat.file_exists(marker):
        import os
        os.remove(marker)
        reason = "setup button held"
    elif board is not None and board.get("kind") in _REAL_KINDS and not (
            isinstance(raw.get("wifi"), dict) and raw["wifi"].get("ssid")):
        reason = "config.json has no WiFi credentials"
    else:
        return None
    hw = None
    if board is not None:
        try:
            hw = build_hardware(board, board.get("name", "?"))
        except Fatal as e:
            log.error("%s: %s", _SETUP, e)
    return reason, board, hw


async def setup_mode(path, reason, board, hw, failed=False):
    """Run the setup portal (contactor held open), then restart into normal mode. `failed`:
    the WiFi never came up (the portal restarts after a while to try it again)."""
    make_safe(hw)
    task = getattr(hw, "wifi_task", None)
    if task is not None:  # a station hopping channels to retry would drop the phone from the AP
        task.cancel()
    import network
    import portal
    dirs = []  # the folders of the board candidates
    for p in board_candidates(path, "x"):
        d = _dirname(p)
        if d not in dirs:
            dirs.append(d)
    boards = portal.list_boards(dirs)
    model = None
    try:
        import devconfig
        raw = devconfig.read(path)
        model = raw.get("model") if isinstance(raw, dict) else None
    except Exception:
        pass
    await portal.run(path, network, hw, boards, board, model, reason, tick=lambda: boot_feed(hw),
                     idle_reboot_ms=portal.IDLE_REBOOT_MS if failed else None)
    make_safe(hw)
    reboot()
    return 0


def reboot():
    try:
        import machine
        machine.reset()
    except (ImportError, AttributeError):
        log.info("setup: restart requested (no machine.reset on this port)")


def setup_requested(path, hw, ms):
    """setupbutton.watch() saw a long press (held `ms`): leave the marker for the next boot, restart."""
    log.warning("setup button held %d s: restarting into the setup portal", ms // 1000)
    with open(setup_marker(path), "wb"):  # an empty file: setup_check looks for it ("wb": a mode store interns already)
        pass
    make_safe(hw)
    reboot()
