# A fake `network` module: one station interface that joins access points from
# a test-controlled table, takes a few status polls to get an IP, and can lose
# the link on demand. ESP32 status codes. No sockets here. What a charging
# session does not use (most STAT_* names, AUTH_*, scan(), the AP's and the MAC's
# config) is in network_rare, loaded on first use: the bench runs this module
# in the firmware's heap, where a device has C and flash.
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

STA_IF = 0
AP_IF = 1
# status() codes: the failures the wifi driver reads at import; network_rare has the rest.
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_CONNECT_FAIL = 203
_IDLE = const(1000)
_CONNECTING = const(1001)
_GOT_IP = const(1010)
_BEACON_TIMEOUT = const(200)

# ssid -> password of the access points in range (tests edit this; network_rare.in_range:
# the other networks a scan() reports).
access_points = {}
# status polls a connect() takes before the station has an IP.
connect_polls = 2
_interfaces = {}


def __getattr__(name):
    if name[0] == "_":  # __path__ and the like: the import machinery asking
        raise AttributeError(name)
    return getattr(__import__(__name__ + "_rare"), name)


def reset_fakes():
    access_points.clear()
    import sys
    rare = sys.modules.get(__name__ + "_rare")
    if rare is not None:
        rare.reset_fakes()
    _interfaces.clear()
    global connect_polls
    connect_polls = 2


def drop_link():
    """The access point goes away: every connected station loses its IP."""
    for w in _interfaces.values():
        if w.state == _GOT_IP:
            w.state = _BEACON_TIMEOUT


class WLAN:
    """One object per interface, as on the chip. state: the status() code, None while
    the interface is not active."""

    def __new__(cls, id=STA_IF):
        w = _interfaces.get(id)
        if w is None:
            w = _interfaces[id] = object.__new__(cls)
            w.id = id
            w.state = None
            w.ssid = None
            w.count = 0           # status polls left before the IP
            w.connects = 0
            w.hostname = None
        return w

    def __init__(self, id=STA_IF):
        pass

    def active(self, a=None):
        if a is None:
            return self.state is not None
        if not a:
            self.state = None
        elif self.state is None:
            self.state = _IDLE

    def connect(self, ssid=None, key=None, **kw):
        if self.state is None:
            raise OSError("Wifi Not Started")
        self.connects += 1
        self.ssid = ssid
        if ssid not in access_points:
            self.state = STAT_NO_AP_FOUND
        elif access_points[ssid] != key:
            self.state = STAT_WRONG_PASSWORD
        else:
            self.state = _CONNECTING
            self.count = connect_polls

    def disconnect(self):
        if self.state is not None:
            self.state = _IDLE

    def status(self, *args):
        if args == ("rssi",):
            return -60
        if self.state == _CONNECTING:
            if self.ssid not in access_points:
                self.state = STAT_NO_AP_FOUND
            elif self.count <= 0:
                self.state = _GOT_IP
            else:
                self.count -= 1
        return _IDLE if self.state is None else self.state

    def isconnected(self):
        return self.status() == _GOT_IP

    def scan(self):
        return __import__(__name__ + "_rare").scan(self)

    def ifconfig(self, cfg=None):
        if self.id == AP_IF and self.state is not None or self.id == STA_IF and self.state == _GOT_IP:
            return ("192.168.4.1" if self.id == AP_IF else "192.168.4.20", "255.255.255.0", "192.168.4.1",
                    "192.168.4.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def config(self, *args, **kw):
        if "hostname" in kw:
            self.hostname = kw["hostname"]
        if args or self.id == AP_IF:
            return __import__(__name__ + "_rare").config(self, args, kw)
        return None


def hostname(name=None):
    return "evse"
