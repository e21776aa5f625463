# Board files: load() validates one (JSON path or dict) with messages that name
# the offending key; build() turns it into hal.Hardware with the esp32 drivers or
# hal.sim. Importable on CPython: drivers and machine are imported lazily. The device
# sections of an esp32/esp8266 board are checked by the on-demand hal/esp32/build.py.
from compat import const
import json

_KINDS = const(("esp32", "esp8266", "sim"))
_MAX_CONNECTORS = const(4)  # connectors one board file may describe
_MIN_CURRENT_A = const(6)  # IEC 61851: no PWM offer below 6 A
_MAX_CURRENT_A = const(80)  # IEC 61851: highest duty-encoded current
METER_MODELS = ("sdm120", "sdm630", "abb_b23")  # checked by hal/esp32/build.py
_PORTAL_PASSWORD_LEN = const((8, 63)) # WPA2 passphrase of the setup access point
_BUTTON_HOLD_MS_RANGE = const((1000, 30000))  # long press of the setup button
_BUTTON_HOLD_MS = const(5000)  # default long press that starts the setup portal
# What a message calls a value of each JSON type _type_name() knows (a const(): no interned names).
_TYPE_NAMES = const(("an integer", "a string", "an object", "a list", "a number", "true/false"))
_NOTES_KEY = const("notes")  # for people reading the file: dropped after the check
_PORTAL_KEYS = const(("password", "open", "button_pin", "button_active", "button_hold_ms", "status_page"))
_BUTTON_PIN = const("button_pin")  # a const(): the literal would be an interned name (a sim board has no button)


class BoardError(ValueError):
    pass


class _Checker:
    def __init__(self, board):
        self.board = board
        self.name = board.get("name") if isinstance(board.get("name"), str) else "?"
        self.kind = board.get("kind")

    def fail(self, msg):
        raise BoardError("board '%s': %s" % (self.name, msg))

    def get(self, d, key, path, types, required=True, default=None):
        """d[key], checked; `path`: the section d is ("" at the top level), for the messages."""
        path = path + "." + key if path else key
        if key not in d or d[key] is None:
            if required:
                self.fail("missing key %s" % path)
            return default
        v = d[key]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            names = "/".join(_type_name(t) for t in types)
            self.fail("%s must be %s, got %r" % (path, names, v))
        return v

    def number(self, d, key, path, limits, required=True, default=None):
        """An integer d[key] within limits (lowest, highest)."""
        v = self.get(d, key, path, (int,), required, default)
        if v is not None and not limits[0] <= v <= limits[1]:
            self.fail("%s %r is out of range (%d..%d)" % ((path + "." + key if path else key, v) + limits))
        return v


def _type_name(t):
    for i, u in enumerate((int, str, dict, list, float, bool)):
        if t is u:
            return _TYPE_NAMES[i]
    return t.__name__


def _check_portal(c, b):
    """The setup access point and status page: {"password", "open", "button_pin",
    "button_active", "button_hold_ms", "status_page"}, every key optional."""
    p = b.get("portal")
    if p is None:
        return
    p = c.get(b, "portal", "", (dict,))
    for k in p:
        if k not in _PORTAL_KEYS:
            c.fail("unknown key portal.%s (known: %s)" % (k, ", ".join(_PORTAL_KEYS)))
    pw = c.get(p, "password", "portal", (str,), required=False)
    if pw is not None and not _PORTAL_PASSWORD_LEN[0] <= len(pw) <= _PORTAL_PASSWORD_LEN[1]:
        c.fail("portal.password must be %d to %d characters (WPA2)" % _PORTAL_PASSWORD_LEN)
    opened = c.get(p, "open", "portal", (bool,), required=False, default=False)
    if opened and pw is not None:
        c.fail("portal.open is true but portal.password is set: choose one")
    c.get(p, "status_page", "portal", (bool,), required=False)
    if c.kind != "sim":
        c.pin(p, _BUTTON_PIN, "portal", required=False)
    fa = c.get(p, "button_active", "portal", (int,), required=False, default=0)
    if fa not in (0, 1):
        c.fail("portal.button_active must be 0 or 1, got %r" % (fa,))
    c.number(p, "button_hold_ms", "portal", _BUTTON_HOLD_MS_RANGE, required=False)
    if p.get(_BUTTON_PIN) is not None and p.get("button_hold_ms") is None:
        b["portal"] = p = dict(p)  # the caller's dict stays as it was
        p["button_hold_ms"] = _BUTTON_HOLD_MS


def validate(board):
    if not isinstance(board, dict):
        raise BoardError("board: must be a JSON object, got %s" % type(board).__name__)
    c = _Checker(board)
    c.get(board, "name", "", (str,))
    kind = c.get(board, "kind", "", (str,))
    if kind not in _KINDS:
        c.fail("kind %r is not one of %s" % (kind, ", ".join(_KINDS)))
    c.number(board, "connectors", "", (1, _MAX_CONNECTORS))
    c.number(board, "max_current_a", "", (_MIN_CURRENT_A, _MAX_CURRENT_A))
    phases = c.get(board, "phases", "", (int,), required=False, default=1)
    if phases not in (1, 3):
        c.fail("phases must be 1 or 3, got %r" % (phases,))
    if c.kind == "sim":
        _check_portal(c, board)
        return board  # hal.sim reads its own keys
    # The device sections (pins, pilot, relay, reader, RS485, meters, watchdog, ADC): only a
    # real board's image has them, loaded for the check (a sim board interns none of it).
    from hal import on_demand
    return on_demand("OtherError", "hal.esp32.build", "check", board)


def load(path):
    """A validated board dict from a JSON file path (or a board dict); BoardError names the bad key."""
    if isinstance(path, dict):
        return validate(dict(path))
    if not isinstance(path, str):
        return validate(path)  # names the wrong type
    try:
        with open(path) as f:
            board = json.load(f)
    except OSError as e:
        raise BoardError("board file %s: cannot read (%s)" % (path, e))
    except ValueError as e:
        raise BoardError("board file %s: not valid JSON (%s)" % (path, e))
    board = validate(board)
    board.pop(_NOTES_KEY, None)  # no RAM for it on the device
    return board


def build(board):
    """hal.Hardware for a validated board: esp32 drivers on the device, hal.sim for "sim"."""
    if board.get("kind") == "sim":
        from hal import sim
        return sim.build(board)
    import sys
    from hal.esp32 import build as b
    try:
        return b.build(board)
    finally:  # boot-time code: give its RAM back (hal.board itself is dropped after boot)
        sys.modules.pop("hal.esp32.build", None)
        esp32 = sys.modules.get("hal.esp32")
        if esp32 is not None and "build" in esp32.__dict__:
            del esp32.__dict__["build"]
