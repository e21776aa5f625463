# The boot, on demand: imported by main.py for the start-up, after a crash and at a Ctrl-C,
# unloaded once the charger runs (its code, the config validation and the board file rules it
# pulls in need no RAM afterwards). Owns config.json's path, the fatal-error retries (charger
# held safe meanwhile), config -> board -> hardware and the safe state. The steps of a real
# board or of a start on the device (setup portal, WiFi, NTP, watchdog) are netboot.py's,
# imported only there: a sim board on a host never loads them. Writes no file.
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
# What start() loaded that an idle or charging charger never runs again (unload()).
_BOOT_MODULES = const(("bringup", "netboot", "devconfig", "hal.board", "hal.esp32.ntp"))
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_FATAL = const("fatal: %s")
_CHECKOUT_DIR = const("firmware")  # a host checkout runs firmware/main.py; its boards/ is beside it
_HARD_RESET = const("Hard")  # hw.reset's kind: machine.reset()
_APPS_DIR = const("apps_dir")  # the config key of the apps root appboot chose (read by the firmware update)

# The hardware built so far, for main's Ctrl-C handler while the boot runs.
built = None


class Fatal(Exception):
    """Start-up cannot continue; the message names what to fix."""


def dirname(path):
    i = path.rfind("/")
    if i < 0:
        return "."
    return path[:i] or "/"


def board_candidates(path, name):
    """Board file paths to try: next to config.json (`path`), /boards on the device, the repository's boards/."""
    found = []
    d = dirname(path)
    for base in (d + _DEVICE_BOARDS if d != "/" else _DEVICE_BOARDS, _DEVICE_BOARDS):
        found.append(base + "/" + name + ".json")
    here = globals().get("__file__")
    if here and dirname(here).endswith(_CHECKOUT_DIR):  # host checkout: firmware/main.py -> boards/
        found.append(dirname(dirname(here)) + _DEVICE_BOARDS + "/" + name + ".json")
    out = []
    for p in found:
        if p not in out:
            out.append(p)
    return out


def load_board(path, name):
    """The board dict of board `name`: its file is the first of board_candidates() (config.json at
    `path`) that exists, checked by hal.board.load(); no file, BoardError and friends become Fatal."""
    import os
    tried = board_candidates(path, name)
    for p in tried:
        try:
            os.stat(p)
            break
        except OSError:
            pass
    else:
        raise Fatal("board %r: no board file (looked for %s)" % (name, ", ".join(tried)))
    try:
        from hal import board as hal_board
    except ImportError:
        hal_board = None
    try:
        if hal_board is not None:
            return hal_board.load(p)
        # hal.board absent (a trimmed image): a sim board file is plain JSON.
        import json
        with open(p) as f:
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


def load_config(path, kind=None, warning=None):
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
        return devconfig.validate(raw, kind, warning)
    except devconfig.ConfigError as e:
        raise Fatal(str(e))


def on_device(path):
    """True when started as the device starts us (no argv, no env): only there does a
    fatal error wait and retry; a host run exits with the message instead."""
    return path == _DEVICE_CONFIG and len(sys.argv) <= 1


def begin(choice, argv=None, getenv=None):
    """main(): take appboot's choice into `choice` (main.APPS) and drop the module (it ran once;
    3 KB of heap otherwise), find config.json (argv[1], else $OCPP_CONFIG on a host, else
    /config.json on the device), log the boot line. Returns config.json's path and the
    fatal-error attempts (None: for ever, on the device; a host run tries once)."""
    ab = sys.modules.pop("appboot", None)
    if ab is not None:
        choice["root"] = ab.root
        choice["trial"] = ab.in_trial()
    argv = sys.argv if argv is None else argv
    if len(argv) > 1:
        path = argv[1]
    else:
        if getenv is None:
            import os
            getenv = getattr(os, "getenv", None)
        path = (getenv(_CONFIG_ENV) if getenv else None) or _DEVICE_CONFIG
    import version
    log.info("boot: %s %s on %s %s, config %s", version.NAME, version.VERSION, sys.implementation.name,
             ".".join(str(v) for v in sys.implementation.version[:3]), path)
    return path, None if on_device(path) else 1


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


async def start(path, choice, attempts=None, sleep_ms=None):
    """main.boot()'s start-up: the setup portal when it is due (netboot), else config.json -> board ->
    hardware (a fatal error holds the charger safe and reads the config again every _CONFIG_RETRY_MS,
    at most `attempts` times; None: forever), then on real boards WiFi, NTP, the watchdog (netboot).
    Returns (cfg, hw, real) once the setup button's watch runs (boards whose file names
    portal.button_pin), or the exit code: 1 gave up, 0 the setup portal ended."""
    global built
    import asyncio
    import devconfig
    # Setup mode (no config / no WiFi / setup button) is due only on the device or with a real
    # board: netboot.setup_check decides, unless config.json names a sim board on a host (read
    # here only on a host: on the device setup_check reads config.json and the board file itself).
    due = on_device(path)
    if not due:
        try:
            due = load_board(path, devconfig.read(path)["board"]).get("kind") in devconfig.NETWORKED_KINDS
        except Exception:  # no config.json, a broken one, no board name, no board file
            due = True
    if due:
        import netboot
        code = await netboot.setup(path)
        if code is not None:  # the setup portal ran
            return code
    tries = 0
    safe_hw = None
    while True:
        tries += 1
        log.forget_secrets()  # this attempt registers the secrets of the config as it is now
        try:  # config -> board -> hardware; Fatal(msg) for what is wrong
            # First pass without the WiFi rule (only the board file knows the kind), then the full check.
            cfg = load_config(path, "sim")
            log.set_level(cfg["log_level"])
            board = load_board(path, cfg["board"])
            cfg = load_config(path, board.get("kind"), log.warning)
            try:  # the certificate files config.json names must exist and parse
                devconfig.check_files(cfg)
            except devconfig.ConfigError as e:
                raise Fatal(str(e))
            log.info("config: %s ok: %s", path, devconfig.describe(cfg))
            hw = build_hardware(board, cfg["board"])
            log.info("board: %s (%s), %d connector(s)", cfg["board"], board.get("kind"), len(hw.connectors))
            if choice["root"]:
                cfg[_APPS_DIR] = choice["root"]  # where an UpdateFirmware bundle is unpacked
            built = hw
            break
        except Fatal as e:
            log.error(_FATAL, e)
            if safe_hw is None:  # the board config.json names, if that still builds: held safe
                try:
                    name = devconfig.read(path).get("board")
                    safe_hw = build_hardware(load_board(path, name), name)
                except Exception:  # no dict, no board name (a TypeError), no board
                    pass
                built = safe_hw
            make_safe(safe_hw)
            if safe_hw is not None:
                log.error("fatal: charger held safe (contactor open, pilot off)")
            if attempts is not None and tries >= attempts:
                return 1
            log.error("fatal: fix config.json (or the board file); reading it again in %d s", _CONFIG_RETRY_MS // 1000)
            # Wait in steps, feeding a watchdog the board may have started: waiting is not hanging.
            ms = _CONFIG_RETRY_MS
            await asyncio.sleep(0)  # always yield, even for a zero delay
            while ms > 0:
                boot_feed(safe_hw)
                step = min(ms, _BOOT_FEED_MS)
                if sleep_ms is not None:
                    sleep_ms(step)
                else:
                    await asyncio.sleep(step / 1000)
                ms -= step
    real = board.get("kind") in devconfig.NETWORKED_KINDS
    if real:
        import netboot
        code = await netboot.start(path, cfg, board, hw)
        if code is not None:  # the setup portal ran: the WiFi was never up
            return code
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
    """The app crashed (main logged it): hold the charger safe. True when boot gives up: on a
    host, or when a new application version on trial crashed: that one is not restarted in
    place, the board resets and appboot rolls back to the previous version on that boot."""
    make_safe(hw)
    if not choice["trial"]:
        return not real
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
