# Device entry. On the device it runs as /startup.mpy behind the /main.py stub that
# tools/mpy.py generates (compiling this source at boot would cost the heap); on a host
# as `micropython firmware/main.py config.json`. Owns the start-up order: config.json,
# board file, hardware, WiFi/NTP/watchdog on real boards (the steps are in bringup.py,
# unloaded once done), then app.run(), restarted after a crash, with the watchdog feed.
# Never writes a file; no charging or protocol logic here.
import sys

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

    tries = 0
    safe_hw = None
    while True:
        tries += 1
        log.forget_secrets()  # this attempt registers the secrets of the config as it is now
        import bringup
        try:
            cfg, board, hw = bringup.start_up(path)
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
            if not real:
                return 1
        # Not fed meanwhile: with a watchdog running, a crashed app ends in a clean reset.
        log.info("app: restarting in %d s", APP_RESTART_MS // 1000)
        await pause(APP_RESTART_MS)


def main():
    import asyncio
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
