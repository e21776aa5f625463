# A fake `network` module: one station interface that joins access points from
# a test-controlled table, takes a few status polls to get an IP, and can lose
# the link on demand. ESP32 status codes. No sockets here.
STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_CONNECT_FAIL = 203
STAT_BEACON_TIMEOUT = 200
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

# (ssid, rssi) a station scan() reports besides access_points (tests edit this).
in_range = []

# ssid -> password of the access points in range (tests edit this).
access_points = {}
# status polls a connect() takes before the station has an IP.
connect_polls = 2
_interfaces = {}


def reset_fakes():
    access_points.clear()
    del in_range[:]
    _interfaces.clear()
    global connect_polls
    connect_polls = 2


def drop_link():
    """The access point goes away: every connected station loses its IP."""
    for w in _interfaces.values():
        if w._status == STAT_GOT_IP:
            w._status = STAT_BEACON_TIMEOUT


class WLAN:
    def __new__(cls, interface_id=STA_IF):
        w = _interfaces.get(interface_id)
        if w is None:
            w = object.__new__(cls)
            w._init(interface_id)
            _interfaces[interface_id] = w
        return w

    def __init__(self, interface_id=STA_IF):
        pass

    def _init(self, interface_id):
        self.interface_id = interface_id
        self._active = False
        self._status = STAT_IDLE
        self._ssid = None
        self._polls_left = 0
        self.connects = 0
        self.hostname = None
        self.scans = 0
        self.ap_config = {}       # AP interface: essid, password, authmode as configured

    def active(self, a=None):
        if a is None:
            return self._active
        self._active = bool(a)
        if not a:
            self._status = STAT_IDLE

    def connect(self, ssid=None, key=None, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self.connects += 1
        self._ssid = ssid
        if ssid not in access_points:
            self._status = STAT_NO_AP_FOUND
        elif access_points[ssid] != key:
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_CONNECTING
            self._polls_left = connect_polls

    def disconnect(self):
        self._status = STAT_IDLE

    def _advance(self):
        if self._status == STAT_CONNECTING:
            if self._ssid not in access_points:
                self._status = STAT_NO_AP_FOUND
            elif self._polls_left <= 0:
                self._status = STAT_GOT_IP
            else:
                self._polls_left -= 1

    def status(self, param=None):
        if param == "rssi":
            return -60
        self._advance()
        return self._status

    def isconnected(self):
        self._advance()
        return self._status == STAT_GOT_IP

    def scan(self):
        """ESP32 shape: (ssid bytes, bssid, channel, RSSI, security, hidden); needs active()."""
        if not self._active or self.interface_id != STA_IF:
            raise OSError("Wifi Not Started")
        self.scans += 1
        seen = [(s, -50 - 5 * i) for i, s in enumerate(sorted(access_points))] + list(in_range)
        return [(s.encode(), b"\x00" * 6, 6, rssi, 3, False) for s, rssi in seen]

    def ifconfig(self, cfg=None):
        if self.interface_id == AP_IF:
            if self._active:
                return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        if self._status == STAT_GOT_IP:
            return ("192.168.4.20", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def config(self, *args, **kw):
        if "hostname" in kw:
            self.hostname = kw["hostname"]
        if args == ("mac",):
            return b"\x24\x0a\xc4\x00\x00\x01" if self.interface_id == STA_IF else b"\x24\x0a\xc4\x00\x00\x02"
        if self.interface_id == AP_IF:
            for k in kw:
                if k not in ("essid", "ssid", "password", "key", "authmode", "security", "channel", "hidden"):
                    raise ValueError("unknown config param")
            if ("password" in kw or "key" in kw) and kw.get("authmode", 0) != AUTH_OPEN:
                pw = kw.get("password", kw.get("key"))
                if not 8 <= len(pw) <= 63:
                    raise OSError("invalid WPA2 password length")
            self.ap_config.update(kw)
            if args == ("essid",):
                return self.ap_config.get("essid")
        return None


def hostname(name=None):
    return "evse"
