# Board files: load() validates one (JSON path or dict) with messages that name
# the offending key; build() turns it into hal.Hardware with the esp32 drivers or
# hal.sim. Importable on CPython: drivers and machine are imported lazily.
from compat import const
import json

KINDS = ("esp32", "esp8266", "sim")
_MAX_CONNECTORS = const(4)  # connectors one board file may describe
_MIN_CURRENT_A = const(6)  # IEC 61851: no PWM offer below 6 A
_MAX_CURRENT_A = const(80)  # IEC 61851: highest duty-encoded current
_MODBUS_BAUDS = const((1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200))
METER_MODELS = ("sdm120", "sdm630", "abb_b23")
_SPI_BAUD_RANGE = const((100000, 10000000))  # MFRC522 SPI clock limits
_SETTLE_MS_RANGE = const((20, 5000))  # relay feedback settle time limits
_WATCHDOG_MS_RANGE = const((1000, 120000))  # hardware watchdog timeout limits
_ESP8266_ADC_FULL_SCALE_MV = const(1000)  # ESP8266 A0 spans 0..1.0 V
PORTAL_PASSWORD_LEN = (8, 63)         # WPA2 passphrase of the setup access point
_BUTTON_HOLD_MS_RANGE = const((1000, 30000))  # long press of the setup button
_BUTTON_HOLD_MS = const(5000)  # default long press that starts the setup portal
_PORTAL_KEYS = const(("password", "open", "button_pin", "button_active", "button_hold_ms", "status_page"))  # GPIO facts per chip.
ESP32_GPIOS = tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))
_ESP32_INPUT_ONLY = const((34, 35, 36, 37, 38, 39))
ESP32_ADC1 = tuple(range(32, 40))
_ESP8266_GPIOS = const((0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16))
ESP8266_HSPI = {"sck": 14, "mosi": 13, "miso": 12}
_FLASH_PINS = const((6, 7, 8, 9, 10, 11))  # wired to the SPI flash on both chips
_REPL_PINS = const((1, 3))  # UART0 TX/RX: REPL, boot log and flashing on both chips

TOP_KEYS = ("name", "kind", "connectors", "max_current_a", "phases", "voltage_v", "pilot", "relay",
            "reader", "rs485", "meter", "watchdog", "adc_full_scale_mv", "portal", "notes")


class BoardError(ValueError):
    pass


class _Checker:
    def __init__(self, board):
        self.board = board
        self.name = board.get("name") if isinstance(board.get("name"), str) else "?"
        self.kind = board.get("kind")
        self.pins = {}  # GPIO -> key that uses it

    def fail(self, msg):
        raise BoardError("board '%s': %s" % (self.name, msg))

    def get(self, d, key, path, types, required=True, default=None):
        if key not in d or d[key] is None:
            if required:
                self.fail("missing key %s" % path)
            return default
        v = d[key]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            names = "/".join(_type_name(t) for t in types)
            self.fail("%s must be %s, got %r" % (path, names, v))
        return v

    def number(self, d, key, path, lo, hi, required=True, default=None):
        v = self.get(d, key, path, (int,), required, default)
        if v is not None and not lo <= v <= hi:
            self.fail("%s %r is out of range (%d..%d)" % (path, v, lo, hi))
        return v

    def pin(self, d, key, path, output=False, required=True, shared=False):
        v = self.get(d, key, path, (int,), required)
        if v is None:
            return None
        if v in _FLASH_PINS:
            self.fail("%s %d is wired to the SPI flash (GPIO6-11)" % (path, v))
        if v in _REPL_PINS:
            self.fail("%s %d is UART0 (the REPL and flashing port, GPIO1/3)" % (path, v))
        gpios = _ESP8266_GPIOS if self.kind == "esp8266" else ESP32_GPIOS
        if v not in gpios:
            self.fail("%s %d is not a GPIO of the %s" % (path, v, self.kind.upper()))
        if output and self.kind == "esp32" and v in _ESP32_INPUT_ONLY:
            self.fail("%s %d is input-only (GPIO34-39) and cannot drive an output" % (path, v))
        if output and self.kind == "esp8266" and v == 16 and key == "pwm_pin":
            self.fail("%s 16 cannot run PWM on the ESP8266" % path)
        if v in self.pins and not shared:
            self.fail("pin %d used by both %s and %s" % (v, self.pins[v], path))
        self.pins[v] = path
        return v

    def items(self, key, n, required):
        """A per-connector section: one dict (n == 1) or a list of n dicts."""
        v = self.board.get(key)
        if v is None:
            if required:
                self.fail("missing key %s" % key)
            return []
        if isinstance(v, dict):
            if n != 1:
                self.fail("%s must be a list of %d entries, one per connector" % (key, n))
            return [(v, key)]
        if not isinstance(v, list) or len(v) != n:
            self.fail("%s must be an object (1 connector) or a list of %d objects" % (key, n))
        out = []
        for i, item in enumerate(v):
            path = "%s[%d]" % (key, i)
            if not isinstance(item, dict):
                self.fail("%s must be an object, got %r" % (path, item))
            out.append((item, path))
        return out


def _type_name(t):
    return {int: "an integer", str: "a string", dict: "an object", list: "a list",
            float: "a number", bool: "true/false"}.get(t, t.__name__)


def _check_portal(c, b):
    """The setup access point and status page: {"password", "open", "button_pin",
    "button_active", "button_hold_ms", "status_page"}, every key optional."""
    p = b.get("portal")
    if p is None:
        return
    p = c.get(b, "portal", "portal", (dict,))
    for k in p:
        if k not in _PORTAL_KEYS:
            c.fail("unknown key portal.%s (known: %s)" % (k, ", ".join(_PORTAL_KEYS)))
    pw = c.get(p, "password", "portal.password", (str,), required=False)
    if pw is not None and not PORTAL_PASSWORD_LEN[0] <= len(pw) <= PORTAL_PASSWORD_LEN[1]:
        c.fail("portal.password must be %d to %d characters (WPA2)" % PORTAL_PASSWORD_LEN)
    opened = c.get(p, "open", "portal.open", (bool,), required=False, default=False)
    if opened and pw is not None:
        c.fail("portal.open is true but portal.password is set: choose one")
    c.get(p, "status_page", "portal.status_page", (bool,), required=False)
    if c.kind != "sim":
        c.pin(p, "button_pin", "portal.button_pin", required=False)
    fa = c.get(p, "button_active", "portal.button_active", (int,), required=False, default=0)
    if fa not in (0, 1):
        c.fail("portal.button_active must be 0 or 1, got %r" % (fa,))
    c.number(p, "button_hold_ms", "portal.button_hold_ms", _BUTTON_HOLD_MS_RANGE[0], _BUTTON_HOLD_MS_RANGE[1],
             required=False)
    if p.get("button_pin") is not None and p.get("button_hold_ms") is None:
        b["portal"] = p = dict(p)  # the caller's dict stays as it was
        p["button_hold_ms"] = _BUTTON_HOLD_MS


def validate(board):
    if not isinstance(board, dict):
        raise BoardError("board: must be a JSON object, got %s" % type(board).__name__)
    c = _Checker(board)
    c.get(board, "name", "name", (str,))
    kind = c.get(board, "kind", "kind", (str,))
    if kind not in KINDS:
        c.fail("kind %r is not one of %s" % (kind, ", ".join(KINDS)))
    c.number(board, "connectors", "connectors", 1, _MAX_CONNECTORS)
    c.number(board, "max_current_a", "max_current_a", _MIN_CURRENT_A, _MAX_CURRENT_A)
    phases = c.get(board, "phases", "phases", (int,), required=False, default=1)
    if phases not in (1, 3):
        c.fail("phases must be 1 or 3, got %r" % (phases,))
    if c.kind == "sim":
        _check_portal(c, board)
        return board  # hal.sim reads its own keys
    for k in board:
        if k not in TOP_KEYS:
            c.fail("unknown key %r (known: %s)" % (k, ", ".join(TOP_KEYS)))
    n = board["connectors"]
    for p, path in c.items("pilot", n, True):
        if c.kind == "esp8266":
            adc = c.get(p, "adc_pin", path + ".adc_pin", (int,))
            if adc != 0:
                c.fail("%s.adc_pin %d: the ESP8266 has one ADC, A0 (adc_pin 0)" % (path, adc))
        else:
            adc = c.pin(p, "adc_pin", path + ".adc_pin")
            if adc not in ESP32_ADC1:
                c.fail("%s.adc_pin %d is not an ADC1 pin (GPIO32-39)" % (path, adc))
        c.pin(p, "pwm_pin", path + ".pwm_pin", output=True)
        t = c.get(p, "thresholds_mv", path + ".thresholds_mv", (dict,))
        prev = None
        for k in ("A", "B", "C", "D", "E", "diode"):
            v = c.number(t, k, "%s.thresholds_mv.%s" % (path, k), 0, 3300)
            if prev is not None and v >= prev[1]:
                c.fail("%s.thresholds_mv.%s %d must be below %s %d (states from +12 V down)"
                       % (path, k, v, prev[0], prev[1]))
            prev = (k, v)
    for r, path in c.items("relay", n, True):
        c.pin(r, "pin", path + ".pin", output=True)
        c.pin(r, "feedback_pin", path + ".feedback_pin", required=False)
        fa = c.get(r, "feedback_active", path + ".feedback_active", (int,), required=False, default=1)
        if fa not in (0, 1):
            c.fail("%s.feedback_active must be 0 or 1, got %r" % (path, fa))
        c.number(r, "settle_ms", path + ".settle_ms", _SETTLE_MS_RANGE[0], _SETTLE_MS_RANGE[1], required=False)
    if board.get("reader") is not None:
        r = c.get(board, "reader", "reader", (dict,))
        t = c.get(r, "type", "reader.type", (str,))
        if t != "mfrc522":
            c.fail("reader.type %r is not supported (mfrc522)" % t)
        c.number(r, "baudrate", "reader.baudrate", _SPI_BAUD_RANGE[0], _SPI_BAUD_RANGE[1], required=False)
        if c.kind == "esp8266":
            for k, fixed in ESP8266_HSPI.items():
                v = r.get(k, fixed)
                if v != fixed:
                    c.fail("reader.%s %r: ESP8266 hardware SPI uses GPIO%d" % (k, v, fixed))
                c.pin({k: fixed}, k, "reader." + k)
        else:
            bus = c.get(r, "spi", "reader.spi", (int,))
            if bus not in (1, 2):
                c.fail("reader.spi %r must be 1 (HSPI) or 2 (VSPI)" % (bus,))
            c.pin(r, "sck", "reader.sck", output=True)
            c.pin(r, "mosi", "reader.mosi", output=True)
            c.pin(r, "miso", "reader.miso")
        c.pin(r, "cs", "reader.cs", output=True)
        c.pin(r, "rst", "reader.rst", output=True, required=False)
    meters = c.items("meter", n, False)
    if meters:
        r = c.get(board, "rs485", "rs485", (dict,))
        if c.kind == "esp8266":
            c.fail("rs485: the ESP8266 has no free UART (UART0 is the REPL, UART1 transmits only)")
        u = c.get(r, "uart", "rs485.uart", (int,))
        if u not in (1, 2):
            c.fail("rs485.uart %r must be 1 or 2 (UART0 is the REPL)" % (u,))
        c.pin(r, "tx", "rs485.tx", output=True)
        c.pin(r, "rx", "rs485.rx")
        c.pin(r, "de_pin", "rs485.de_pin", output=True, required=False)
        baud = c.get(r, "baud", "rs485.baud", (int,))
        if baud not in _MODBUS_BAUDS:
            c.fail("rs485.baud %r is not one of %s" % (baud, ", ".join(str(x) for x in _MODBUS_BAUDS)))
        parity = r.get("parity")
        if parity not in (None, 0, 1) or isinstance(parity, bool):
            c.fail("rs485.parity must be null (none), 0 (even) or 1 (odd), got %r" % (parity,))
        stop = r.get("stop", 1)
        if stop not in (1, 2) or isinstance(stop, bool):
            c.fail("rs485.stop must be 1 or 2, got %r" % (stop,))
        seen = {}
        for m, path in meters:
            model = c.get(m, "model", path + ".model", (str,))
            if model not in METER_MODELS:
                c.fail("%s.model %r is not one of %s" % (path, model, ", ".join(METER_MODELS)))
            addr = c.number(m, "address", path + ".address", 1, 247, required=False, default=1)
            if addr in seen:
                c.fail("%s.address %d is used by %s too (one RS485 bus)" % (path, addr, seen[addr]))
            seen[addr] = path
            ph = c.get(m, "phases", path + ".phases", (int,), required=False)
            if ph is not None and (ph not in (1, 3) or model == "sdm120" and ph != 1):
                c.fail("%s.phases %r does not fit a %s" % (path, ph, model))
    elif board.get("rs485") is not None:
        c.fail("rs485 is set but no meter uses it")
    wd = board.get("watchdog")
    if wd is not None:
        wd = c.get(board, "watchdog", "watchdog", (dict,))
        c.number(wd, "timeout_ms", "watchdog.timeout_ms", _WATCHDOG_MS_RANGE[0], _WATCHDOG_MS_RANGE[1],
                 required=False)
        loops = c.get(wd, "loops", "watchdog.loops", (list,), required=False)
        if loops is not None and (not loops or not all(isinstance(x, str) for x in loops)):
            c.fail("watchdog.loops must be a non-empty list of loop names")
    _check_portal(c, board)  # after the device pins: a clash names the device first
    if "adc_full_scale_mv" in board:
        if c.kind != "esp8266":
            c.fail("adc_full_scale_mv applies to the esp8266 only (ESP32 reads calibrated microvolts)")
        c.number(board, "adc_full_scale_mv", "adc_full_scale_mv", 100, 3300)
    elif c.kind == "esp8266":
        board["adc_full_scale_mv"] = _ESP8266_ADC_FULL_SCALE_MV
    return board


def load(path_or_dict):
    """A validated board dict from a JSON file path or a dict; BoardError names the bad key."""
    if isinstance(path_or_dict, dict):
        return validate(dict(path_or_dict))
    if not isinstance(path_or_dict, str):
        return validate(path_or_dict)  # names the wrong type
    try:
        with open(path_or_dict) as f:
            board = json.load(f)
    except OSError as e:
        raise BoardError("board file %s: cannot read (%s)" % (path_or_dict, e))
    except ValueError as e:
        raise BoardError("board file %s: not valid JSON (%s)" % (path_or_dict, e))
    board = validate(board)
    board.pop("notes", None)  # for people reading the file: no RAM for it on the device
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
