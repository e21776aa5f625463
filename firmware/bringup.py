# The boot, on demand: imported by main.py for the start-up, after a crash and at a Ctrl-C,
# unloaded once the charger runs (its code, the config validation and the board file rules it
# pulls in need no RAM afterwards). Owns config.json's path, the setup-portal decision, the
# fatal-error retries (charger held safe meanwhile), config -> board -> hardware, and on real
# boards the first WiFi join, NTP and the watchdog. Never writes a file but the setup marker.
from compat import const
import sys

import compat
import log

DEVICE_CONFIG = "/config.json"  # where the config lives on the device
CONFIG_ENV = "OCPP_CONFIG"  # on a host: env var naming config.json (argv[1] wins)
DEVICE_BOARDS = "/boards"  # board files on the device: /boards/<board>.json
# A fatal configuration or board error: read the config again after this long.
# Long on purpose: no crash loop, no flash wear, time to fix config.json over USB.
CONFIG_RETRY_MS = 60000
BOOT_FEED_MS = 1000  # boot waits in steps this long, feeding a watchdog the board file started
# Hardware watchdog period once the app runs; long enough for a blocking TLS handshake.
WATCHDOG_MS = 30000
# Real boards: how long boot waits for the first WiFi connection (the link retries later anyway).
WIFI_CONNECT_MS = 20000
WIFI_POLL_MS = 250  # boot: how often the WiFi state is checked while waiting
# Board kinds that are real hardware with WiFi.
REAL_KINDS = ("esp32", "esp8266")
# What start() loaded that an idle or charging charger never runs again (unload()).
_BOOT_MODULES = const(("bringup", "devconfig", "hal.board", "hal.esp32.ntp"))  # ---- setup portal (portal.py): when setup mode starts ------------------------------------
# Real boards: the WiFi has not been up once this long after boot -> setup portal (which
# restarts after portal.IDLE_REBOOT_MS to try the WiFi again if nothing is saved).
WIFI_SETUP_AFTER_MS = 120000
SETUP_MARKER = "setup.request"  # next to config.json: a long press of the setup button asked for setup

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
        # the base64 credentials of the HTTP Basic auth header too, so a frame dump cannot leak the key
        import binascii
        log.secret(binascii.b2a_base64((raw["charge_point_id"] + ":" + raw["authorization_key"]).encode()).decode().strip())
    try:
        return devconfig.validate(raw, board_kind, warn)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))


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


def safe_hardware_for(path):
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
        t = ntp.sync(cfg["ntp_host"])
    except Exception as e:
        log.warning("ntp: %s", e)
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
    v = getenv(CONFIG_ENV) if getenv else None
    return v or DEVICE_CONFIG


def on_device(path):
    """True when started as the device starts us (no argv, no env): only there does a
    fatal error wait and retry; a host run exits with the message instead."""
    return path == DEVICE_CONFIG and len(sys.argv) <= 1


def begin(apps):
    """main(): adopt appboot's choice into `apps`, log the boot line. Returns config.json's
    path and the fatal-error attempts (None: for ever, on the device; a host run tries once)."""
    adopt_appboot(apps)
    path = config_path()
    import version
    log.info("boot: %s %s on %s %s, config %s", version.NAME, version.VERSION, sys.implementation.name,
             ".".join(str(v) for v in sys.implementation.version[:3]), path)
    return path, None if on_device(path) else 1


def adopt_appboot(apps):
    """Take appboot's choice and drop the module (it ran once; 3 KB of heap otherwise)."""
    ab = sys.modules.pop("appboot", None)
    if ab is not None:
        apps["root"] = ab.root
        apps["trial"] = ab.in_trial()


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


async def pause(ms, hw=None, sleep_ms=None):
    """Wait in steps, feeding a watchdog the board may have started: waiting is not hanging."""
    import asyncio
    await asyncio.sleep(0)  # always yield, even for a zero delay
    while ms > 0:
        if hw is not None:
            boot_feed(hw)
        step = min(ms, BOOT_FEED_MS)
        if sleep_ms is not None:
            sleep_ms(step)
        else:
            await asyncio.sleep(step / 1000)
        ms -= step


async def start(path, apps, retry_ms=None, attempts=None, sleep_ms=None):
    """main.boot()'s start-up: the setup portal when it is due, else config.json -> board ->
    hardware (a fatal error holds the charger safe and reads the config again every retry_ms,
    at most `attempts` times; None: forever), then on real boards WiFi, NTP, the watchdog.
    Returns (cfg, hw, real, setup button section or None), or the exit code: 1 gave up,
    0 the setup portal ended."""
    global built
    retry_ms = CONFIG_RETRY_MS if retry_ms is None else retry_ms
    setup = setup_check(path)  # portal: no config / no WiFi / setup button
    if setup is not None:
        built = setup[2]
        return await setup_mode(path, *setup)
    tries = 0
    safe_hw = None
    while True:
        tries += 1
        log.forget_secrets()  # this attempt registers the secrets of the config as it is now
        try:
            cfg, board, hw = start_up(path)
            if apps["root"]:
                cfg["apps_dir"] = apps["root"]  # where an UpdateFirmware bundle is unpacked
            built = hw
            break
        except Fatal as e:
            log.error("fatal: %s", e)
            if safe_hw is None:
                safe_hw = safe_hardware_for(path)
                built = safe_hw
            make_safe(safe_hw)
            if safe_hw is not None:
                log.error("fatal: charger held safe (contactor open, pilot off)")
            if attempts is not None and tries >= attempts:
                return 1
            log.error("fatal: fix config.json (or the board file); reading it again in %d s", retry_ms // 1000)
            await pause(retry_ms, safe_hw, sleep_ms)
    real = board.get("kind") in REAL_KINDS
    button = None
    if real:
        if await start_wifi(cfg, hw):
            boot_feed(hw)
            start_ntp(cfg)
            boot_feed(hw)
        elif not await wifi_comes_up(hw):  # portal: never up since boot
            return await setup_mode(path, "WiFi %r not joined within %d s of boot" % (
                cfg["wifi"]["ssid"], WIFI_SETUP_AFTER_MS // 1000), board, hw, True)
        section = board.get("portal") or {}
        if section.get("button_pin") is not None:
            button = section  # main runs setupbutton.watch(): it lasts the charger's life
        start_watchdog(hw, WATCHDOG_MS)
    return cfg, hw, real, button


def unload():
    """The start-up steps, the validation tables and the board file rules are needed only
    at boot: give their RAM to the app."""
    for name in _BOOT_MODULES:
        sys.modules.pop(name, None)
        dot = name.rfind(".")
        pkg = sys.modules.get(name[:dot]) if dot > 0 else None
        if pkg is not None and name[dot + 1:] in pkg.__dict__:
            del pkg.__dict__[name[dot + 1:]]


def after_crash(hw, real, apps):
    """The app crashed (main logged it): hold the charger safe. True when boot gives up:
    on a host, or when a new application version on trial crashed (appboot rolls back)."""
    make_safe(hw)
    return trial_failed(real, hw, apps) or not real


def trial_failed(real, hw, apps):
    """A new application version (appboot trial) that crashes is not restarted in place:
    the board resets and appboot rolls back to the previous version on that boot."""
    if not apps["trial"]:
        return False
    log.error("app: the new version failed on its trial boot: resetting to roll back")
    reset = getattr(hw, "reset", None)
    if real and reset is not None:
        reset("Hard")
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
    return (path[:i] if i >= 0 else ".") + "/" + SETUP_MARKER  # "/config.json" -> "/setup.request"


def _only_board(path):
    """Config missing: the board file to guard, when the device holds exactly one."""
    import os
    d = _dirname(path)
    folder = d + "/boards" if d != "/" else DEVICE_BOARDS
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return None
    return folder + "/" + names[0] if len(names) == 1 else None


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
        bfile = find_board_file(path, name) if isinstance(name, str) else _only_board(path)
        board = load_board(bfile) if bfile else None
    except Fatal:
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
            hw = build_hardware(board, board.get("name", "?"))
        except Fatal as e:
            log.error("setup: %s", e)
    return reason, board, hw


async def wifi_comes_up(hw):
    """After start_wifi gave up: wait until WIFI_SETUP_AFTER_MS since boot for the link."""
    import asyncio
    from hal.esp32 import wifi
    sta = getattr(hw, "wifi", None)
    while sta is not None and compat.ticks_diff(compat.ticks_ms(), boot_ms) < WIFI_SETUP_AFTER_MS:
        if sta.state == wifi.UP:
            return True
        boot_feed(hw)
        await asyncio.sleep(WIFI_POLL_MS / 1000)
    return sta is not None and sta.state == wifi.UP


async def setup_mode(path, reason, board, hw, wifi_failed=False):
    """Run the setup portal (contactor held open), then restart into normal mode."""
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
    await portal.run(path, network, hw, boards, board, model, reason, tick=lambda: boot_feed(hw),
                     idle_reboot_ms=portal.IDLE_REBOOT_MS if wifi_failed else None)
    make_safe(hw)
    reboot()
    return 0


def board_dirs(path):
    out = []
    for p in board_candidates(path, "x"):
        d = _dirname(p)
        if d not in out:
            out.append(d)
    return out


def reboot():
    try:
        import machine
        machine.reset()
    except (ImportError, AttributeError):
        log.info("setup: restart requested (no machine.reset on this port)")


def setup_requested(path, hw, hold_ms):
    """setupbutton.watch() saw a long press: leave the marker for the next boot, restart."""
    log.warning("setup button held %d s: restarting into the setup portal", hold_ms // 1000)
    with open(setup_marker(path), "w") as f:
        f.write("1")
    make_safe(hw)
    reboot()
