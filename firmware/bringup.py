# Start-up steps, imported by main.boot() and unloaded once the charger runs (their code,
# the config validation and the board file rules it pulls in need no RAM afterwards):
# config.json read and validated, the board file found and its hardware built, then on real
# boards the first WiFi join, NTP and the watchdog. Never writes a file; nothing resident here.
import compat
import log

DEVICE_BOARDS = "/boards"  # board files on the device: /boards/<board>.json
# Real boards: how long boot waits for the first WiFi connection (the link retries later anyway).
WIFI_CONNECT_MS = 20000
WIFI_POLL_MS = 250  # boot: how often the WiFi state is checked while waiting


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


