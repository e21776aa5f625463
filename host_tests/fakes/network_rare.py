# The rarely used rest of the fake `network` (the setup portal's side: scan, the AP's
# config, the MAC; the ESP32's STAT_*/AUTH_* names): loaded by network on first use.
import network

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3
# (ssid, rssi) a station scan() reports besides access_points (tests edit this).
in_range = []
_AP_KEYS = ("essid", "ssid", "password", "key", "authmode", "security", "channel", "hidden")


def reset_fakes():  # network.reset_fakes() calls it once this module is loaded
    del in_range[:]


def scan(w):
    """ESP32 shape: (ssid bytes, bssid, channel, RSSI, security, hidden); needs active()."""
    if w.state is None or w.id != network.STA_IF:
        raise OSError("Wifi Not Started")
    seen = [(s, -50 - 5 * i) for i, s in enumerate(sorted(network.access_points))] + list(in_range)
    return [(s.encode(), b"\x00" * 6, 6, rssi, 3, False) for s, rssi in seen]


def config(w, args, kw):
    """WLAN.config beyond the hostname: the MAC, and the AP's settings (kept in w.ap_config)."""
    if args == ("mac",):
        return b"\x24\x0a\xc4\x00\x00\x01" if w.id == network.STA_IF else b"\x24\x0a\xc4\x00\x00\x02"
    if w.id == network.AP_IF:
        if not hasattr(w, "ap_config"):
            w.ap_config = {}      # AP interface: essid, password, authmode as configured
        for k in kw:
            if k not in _AP_KEYS:
                raise ValueError("unknown config param")
        if ("password" in kw or "key" in kw) and kw.get("authmode", 0) != AUTH_OPEN:
            pw = kw.get("password", kw.get("key"))
            if not 8 <= len(pw) <= 63:
                raise OSError("invalid WPA2 password length")
        w.ap_config.update(kw)
        if args == ("essid",):
            return w.ap_config.get("essid")
    return None
