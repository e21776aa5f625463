# The setup button of a board file's "portal" section: a long press restarts the charger
# into the setup portal. The watch runs for the charger's life, so only the poll loop lives
# here; the press itself (marker, safe state, restart) is netboot.setup_requested().
import compat

POLL_MS = 100  # how often the setup button is read


async def watch(bp, path, hw):
    """Poll the button; a press held bp["button_hold_ms"] (hal.board fills the default) ends it."""
    import asyncio  # the app's (resident anyway): imported here, it is not counted as the button's
    import machine
    pin = machine.Pin(bp["button_pin"], machine.Pin.IN, machine.Pin.PULL_UP)
    active = bp.get("button_active", 0)
    hold_ms = bp["button_hold_ms"]
    since = None
    while True:
        now = compat.ticks_ms()
        if pin.value() == active:
            since = now if since is None else since
            if compat.ticks_diff(now, since) >= hold_ms:
                import netboot
                netboot.setup_requested(path, hw, hold_ms)
                return
        else:
            since = None
        await asyncio.sleep(POLL_MS / 1000)
