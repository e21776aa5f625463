# Runs main.py's boot under `micropython` (or CPython) as the device would, against the
# fake network/machine modules: with no config.json next to one esp32 board file, boot
# enters setup mode. HTTP and DNS on 127.0.0.1 at the ports given. Used by test_portal_*.
#   micropython portal_device.py WORKDIR HTTP_PORT DNS_PORT
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for p in (_here + "/fakes",):
    if p not in sys.path:
        sys.path.insert(0, p)

import asyncio

import machine
import network

try:  # the .mpy build (tools/mpy.py): firmware/main.py is startup.mpy (its main.py a stub that boots)
    import startup as main
except ImportError:
    import main
import portal
from net import dns


def run(workdir, http_port, dns_port):
    network.reset_fakes()
    network.access_points["garage"] = "wifi-password-1"
    network.in_range.append(("neighbour", -80))
    portal.HTTP_PORT = http_port
    dns.PORT = dns_port
    portal.SAVED_GRACE_MS = 300
    code = asyncio.run(main.boot(workdir + "/config.json", attempts=1))
    print("BOOT_RETURNED %d resets=%s ap=%s" % (code, ",".join(machine.resets),
          network.WLAN(network.AP_IF).ap_config.get("essid")))


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
