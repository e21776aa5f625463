# Device entry. On the device it runs as /startup.mpy behind the /main.py stub that
# tools/mpy.py generates; on a host as `micropython firmware/main.py config.json`. Stays
# resident for the charger's life, so it holds only the loop that must keep running: run the
# app, restart it after a crash, feed the watchdog. Everything that runs once or on failure
# (config path, fatal retries, the safe state; setup portal, WiFi/NTP: its netboot.py) is in
# bringup.py, imported for the boot, a crash or a Ctrl-C and unloaded afterwards. No charging logic here.
import sys

if __name__ == "__main__":  # a host run; on the device the /main.py stub does this
    import appboot  # first: it may put a newer application folder (a bundle) before this tree
    appboot.boot()
    del appboot     # main() adopts its choice and forgets the module

import compat
from compat import const
import log

# Real board: wait this long after app.run() failed before starting it again.
_APP_RESTART_MS = const(10000)
_WATCHDOG_FEED_MS = const(1000)  # the "main" loop reports alive and feeds this often (feed_watchdog's period_ms)
# MicroPython collects only when an allocation fails, so until then every allocation lands
# higher in a heap full of garbage and what lives on is scattered over all of it: idle in a
# 200 KB heap, 52 KB were free in no piece above 1.6 KB. Collecting after every 4 KB
# allocated keeps the live objects packed low: the sim session's smallest heap went from
# 170 to 158 KB (64-bit unix port, .mpy); 2 KB gained nothing more, 8 KB and 16 KB less.
_GC_EVERY = const(4096)

# The hardware boot() built, so a Ctrl-C (mpremote connecting interrupts main.py) that
# lands anywhere in the event loop still leaves the charger safe.
built = None
# What appboot chose at this boot (bringup.begin): the apps root, a version on trial.
APPS = {"root": None, "trial": False}


async def feed_watchdog(watchdog, period_ms=_WATCHDOG_FEED_MS):
    """The "main" loop of the watchdog, every period_ms: proves the event loop runs; the feed
    happens only when the app's control loop reported alive too. Warns once per silence that
    lasts half the watchdog period (the reset comes at the full period)."""
    import asyncio
    last_fed = compat.ticks_ms()
    warned = False
    while True:
        watchdog.alive("main")
        now = compat.ticks_ms()
        if watchdog.feed():
            last_fed = now
            warned = False
        elif not warned and compat.ticks_diff(now, last_fed) >= watchdog.timeout_ms // 2:
            log.warning("watchdog: not fed for %d ms, silent: %s", compat.ticks_diff(now, last_fed), ", ".join(watchdog.silent()))
            warned = True
        await asyncio.sleep(period_ms / 1000)


async def boot(path, attempts=None, sleep_ms=None, unload=False):
    """Start the charger from config.json at `path` (bringup.start: `attempts` bounds the
    fatal-error retries, None: forever), then run the app for ever on a real board, once
    elsewhere. Returns 0 when the app ended normally, 1 when it gave up. path None (main()):
    appboot's choice, config.json's path and the attempts from bringup.begin first.
    `unload`: drop bringup and what it pulled in once the charger is started
    and after each crash (the script does; a test process keeps its modules)."""
    global built
    import asyncio
    started = await _start(path, attempts, sleep_ms, unload)
    if type(started) is int:  # gave up, or the setup portal ended
        return started
    cfg, hw, real = started
    del started
    built = hw
    if real and hw.watchdog is not None:
        asyncio.create_task(feed_watchdog(hw.watchdog))
    import gc
    gc.collect()
    while True:
        failed = False
        try:
            log.info("app: starting")
            import app
            await app.run(cfg, hw)
            log.info("app: finished")
        except Exception as e:
            log.exception("app: stopped", e)
            failed = True
        if failed:
            if _crashed(hw, real, unload):
                return 1
        elif not real:
            return 0
        # Not fed meanwhile: with a watchdog running, a crashed app ends in a clean reset.
        log.info("app: restarting in %d s", _APP_RESTART_MS // 1000)
        if sleep_ms is not None:
            sleep_ms(_APP_RESTART_MS)
        await asyncio.sleep(0 if sleep_ms else _APP_RESTART_MS / 1000)


# bringup is used only through the helpers below, never by a frame that lives for the
# charger's life (boot(), main()): a reference left there, even a stale slot of its frame
# (MicroPython's GC is conservative), would keep bringup's 12 KB resident.
async def _start(path, attempts, sleep_ms, unload):
    """What bringup.start returned; path None: bringup.begin's first (the boot line)."""
    import bringup
    try:
        if path is None:
            path, attempts = bringup.begin(APPS)
        return await bringup.start(path, APPS, attempts, sleep_ms)
    finally:
        if unload:
            bringup.unload()


def _crashed(hw, real, unload):
    """After a crash (bringup.after_crash): the safe state; True when boot gives up (a host,
    a new version on trial). Without bringup (it cannot load) the next app start opens the
    contactor anyway (evse.interlock's constructor), so the restart goes on."""
    import gc
    gc.collect()  # the crashed app's objects: free before the import needs the room
    try:
        import bringup
        return bringup.after_crash(hw, real, APPS)
    except Exception as e:
        log.exception("app: stopped", e)
        return not real
    finally:
        if unload:
            sys.modules.pop("bringup", None)


def main():
    import asyncio
    import gc
    if hasattr(gc, "threshold"):  # MicroPython; CPython has no such call
        gc.threshold(_GC_EVERY)
    try:
        code = asyncio.run(boot(None, unload=True))
    except KeyboardInterrupt:
        import bringup
        bringup.stopped(built if built is not None else bringup.built)
        raise
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
