# The boot steps of a networked board (esp32, esp8266) or a start on the device, on demand:
# bringup imports this only there (a sim board on a host never does, so none of these names is
# interned by its session) and unload() drops it with bringup. Owns the setup-portal decision
# and setup mode, the first WiFi join, NTP, the watchdog start and the setup button's press.
# Never writes a file but the setup marker.
from compat import const
import compat
import log
import bringup

# Hardware watchdog period once the app runs; long enough for a blocking TLS handshake.
WATCHDOG_MS = 30000
# Real boards: how long boot waits for the first WiFi connection (the link retries later anyway).
WIFI_CONNECT_MS = 20000
WIFI_POLL_MS = 250  # boot: how often the WiFi state is checked while waiting
# Real boards: the WiFi has not been up once this long after boot -> setup portal (which
# restarts after portal.IDLE_REBOOT_MS to try the WiFi again if nothing is saved).
WIFI_SETUP_AFTER_MS = 120000
_SETUP_MARKER = const("setup.request")  # next to config.json: a long press of the setup button asked for setup

# When this boot began: bringup imports this module first thing on a real board (before the
# config is validated), so "since boot" is within the config check's time of the boot itself.
boot_ms = compat.ticks_ms()


async def setup(path):
    """bringup.start()'s first step on the device or with a real board: setup mode when it is
    due (setup_check), its exit code once the portal ended; None: the boot goes on."""
    setup = setup_check(path)
    if setup is None:
        return None
    bringup.built = setup[2]  # for main's Ctrl-C handler
    return await setup_mode(path, *setup)


async def start(path, cfg, board, hw):
    """bringup.start()'s steps on a real board once the hardware runs: WiFi, NTP, the setup
    button's watch, the watchdog. None, or the exit code of setup mode (WiFi never up)."""
    import asyncio
    if await start_wifi(cfg, hw):
        bringup.boot_feed(hw)
        start_ntp(cfg)
        bringup.boot_feed(hw)
    else:  # start_wifi gave up: wait until WIFI_SETUP_AFTER_MS since boot for the link
        sta = getattr(hw, "wifi", None)  # None: the station did not start (start_wifi said why)
        if sta is not None:
            from hal.esp32 import wifi
            while sta.state != wifi.UP and compat.ticks_diff(compat.ticks_ms(), boot_ms) < WIFI_SETUP_AFTER_MS:
                bringup.boot_feed(hw)
                await asyncio.sleep(WIFI_POLL_MS / 1000)
        if sta is None or sta.state != wifi.UP:  # portal: never up since boot
            return await setup_mode(path, "WiFi %r not joined within %d s of boot" % (
                cfg["wifi"]["ssid"], WIFI_SETUP_AFTER_MS // 1000), board, hw, True)
    section = board.get("portal") or {}
    if section.get("button_pin") is not None:  # a poll loop for the charger's life
        import setupbutton  # stays loaded while it runs (not one of bringup's boot modules)
        asyncio.create_task(setupbutton.watch(section, path, hw))
    start_watchdog(hw, WATCHDOG_MS)
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
        bringup.boot_feed(hw)
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
        if not isinstance(name, str):  # config missing: the board file to guard, when the device holds exactly one
            import os
            try:  # the first of the board candidates' folders: <config's folder>/boards
                names = [n[:-5] for n in os.listdir(bringup.dirname(bringup.board_candidates(path, "x")[0]))
                         if n.endswith(".json")]
            except OSError:
                names = ()
            name = names[0] if len(names) == 1 else None
        board = bringup.load_board(path, name) if name else None
    except bringup.Fatal:
        board = None
    real = board is not None and board.get("kind") in devconfig.NETWORKED_KINDS
    if not real and not bringup.on_device(path):
        return None
    if raw is None:
        reason = "no config.json"
    elif compat.file_exists(marker):
        import os
        os.remove(marker)
        reason = "setup button held"
    elif real and not (
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


async def setup_mode(path, reason, board, hw, failed=False):
    """Run the setup portal (contactor held open), then restart into normal mode. `failed`:
    the WiFi never came up (the portal restarts after a while to try it again)."""
    bringup.make_safe(hw)
    task = getattr(hw, "wifi_task", None)
    if task is not None:  # a station hopping channels to retry would drop the phone from the AP
        task.cancel()
    import network
    import portal
    dirs = []  # the folders of the board candidates
    for p in bringup.board_candidates(path, "x"):
        d = bringup.dirname(p)
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
    await portal.run(path, network, hw, boards, board, model, reason, tick=lambda: bringup.boot_feed(hw),
                     idle_reboot_ms=portal.IDLE_REBOOT_MS if failed else None)
    bringup.make_safe(hw)
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
    bringup.make_safe(hw)
    reboot()
