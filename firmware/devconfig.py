# The device configuration (config.json): its keys, defaults and validation.
# Shared by main.py on the device and tools/config.py / tools/deploy.py on the host.
# No I/O except reading the file in load() and the certificate files in check_files();
# never put a secret value into a message.
import json
import os

import version
from compat import const

# The limits below are const(): an underscore name costs no interned name (qstr) on the device.

# A config.json is a few hundred bytes; refuse anything bigger before reading it into RAM.
_MAX_FILE_BYTES = const(4096)
# chargePointId: OCPP 1.6 gives no limit; 48 keeps the URL and Basic auth header short.
_ID_MAX_LEN = const(48)
# AuthorizationKey length bounds from the OCPP 1.6 Security Whitepaper.
KEY_MIN_LEN = 16
KEY_MAX_LEN = 40
# BootNotification chargePointVendor / chargePointModel maxLength (CiString20Type),
# chargePointSerialNumber (CiString25Type).
_VENDOR_MAX_LEN = const(20)
_MODEL_MAX_LEN = const(20)
_SERIAL_MAX_LEN = const(25)  # chargePointSerialNumber maxLength (BootNotification)
# WiFi (IEEE 802.11): SSID 1..32 bytes; WPA2 passphrase 8..63 characters or 64 hex digits.
_SSID_MAX_LEN = const(32)
_WIFI_PASSWORD_MIN_LEN = const(8)
_WIFI_PASSWORD_MAX_LEN = const(64)
# Board names are file names under boards/.
_BOARD_MAX_LEN = const(32)
# Paths on the device (data_dir, ca_cert, client_cert, client_key); host temp folders are long.
_PATH_MAX_LEN = const(128)
# Host names (ntp_host, the host part of csms_url).
_HOST_MAX_LEN = const(253)
# Status page password (HTTP Basic auth): as long as a WPA2 passphrase.
_STATUS_PASSWORD_MIN_LEN = const(8)
_STATUS_PASSWORD_MAX_LEN = const(64)
# Connector current limits (IEC 61851 PWM range; a board file may allow less).
_CURRENT_MIN_A = const(6)
_CURRENT_MAX_A = const(80)
# Characters a chargePointId may not contain: "/" splits the URL path, "?#%" and
# space change its meaning; ":" is refused only where HTTP Basic auth uses the id.
# The character sets are bytes, checked against s.encode(): iterating a str would intern
# each distinct character of the config as a name (qstr), never freed.
_ID_FORBIDDEN = const(b"/?#% ")
_HEX_DIGITS = const(b"0123456789abcdefABCDEF")  # an authorization key's, a 64-character WPA2 PSK's

_LOG_LEVELS = const(("error", "warning", "info", "debug"))
# The texts below are const() too: a literal of 10 characters or less would be an interned name.
_DEFAULT_MODEL = const("ESP32-EVSE")  # default chargePointModel
_WS_SCHEME = const("ws://")
_WSS_SCHEME = const("wss://")
_HOST_PUNCTUATION = const(b".-_[]:")  # besides letters and digits, in a host name or IP literal
_BOARD_NAME_PUNCTUATION = const(b"-_")  # besides lowercase letters and digits, in a board name
_PARENT_DIR = const("..")  # refused as a path component
_SSID_KEY = const("wifi.ssid")
_WIFI_PREFIX = const("wifi.")
# Config keys no module the sim board runs reads: const() texts, no interned names.
_WIFI = const("wifi")
_SSID = const("ssid")
_NTP_HOST = const("ntp_host")
_REAL_KIND = const("esp32")  # the kind validate() assumes for a board not named sim*: WiFi needed
# What _type_name() calls a JSON value of each type, in the order _type_name() tries the types.
_TYPE_NAMES = const(("null", "a boolean", "a number", "a number", "a string", "a list", "an object"))
# Board kinds that need WiFi; "sim" runs on the host network.
NETWORKED_KINDS = ("esp32", "esp8266")

DEFAULTS = {
    "security_profile": 0,
    "authorization_key": None,
    _WIFI: None,
    "log_level": "info",
    "vendor": version.NAME,  # default chargePointVendor: this firmware's name
    "serial": None,  # chargePointSerialNumber; None: made from the chip id (version.serial)
    "model": _DEFAULT_MODEL,
    "serial": None,  # chargePointSerialNumber; also the CN of the charger's certificate (profile 3)
    "data_dir": "data",
    "ca_cert": None,
    "client_cert": None,
    "client_key": None,
    _NTP_HOST: None,
    "status_password": None,  # status page (port 80) Basic auth password; None: page off
    "max_current_a": None,  # connector maximum current; None: the board file's max_current_a
    "sim": None,  # simulator options (speed, trace, scenario) read by app.py; sim boards only
}
_REQUIRED = const(("csms_url", "charge_point_id", "board"))
KNOWN = _REQUIRED + tuple(sorted(DEFAULTS))
# Values never shown in messages or logs.
_SECRET_KEYS = const(("authorization_key", "wifi.password", "status_password"))


class ConfigError(Exception):
    """A config.json problem; str() is "config.json: <key>: <what is wrong>"."""

    def __init__(self, key, msg):
        if key:
            msg = "config.json: %s: %s" % (key, msg)
        else:
            msg = "config.json: %s" % msg
        super().__init__(msg)
        self.key = key


def _type_name(v):
    for i, t in enumerate((type(None), bool, int, float, str, list, dict)):  # bool before int
        if isinstance(v, t):
            return _TYPE_NAMES[i]
    return type(v).__name__


def _string(cfg, key):
    v = cfg[key]
    if not isinstance(v, str):
        raise ConfigError(key, "must be a string, not %s" % _type_name(v))
    return v


def _printable(s):
    for o in s.encode():  # a non-ASCII character's bytes are all above 0x7E
        if o < 0x20 or o > 0x7E:
            return False
    return True


def _check_host(key, host):
    if not host:
        raise ConfigError(key, "has no host name")
    if len(host) > _HOST_MAX_LEN:
        raise ConfigError(key, "host name longer than %d characters" % _HOST_MAX_LEN)
    for i, o in enumerate(host.encode()):
        if not (0x61 <= o | 0x20 <= 0x7A or 0x30 <= o <= 0x39 or o in _HOST_PUNCTUATION):
            # the bytes before i are ASCII, one character each: host[i] is the character
            raise ConfigError(key, "host name contains %r" % host[i])


def validate(cfg, kind=None, warning=None, max_current_a=None):
    """Check a config dict; return a new dict with defaults filled (keys whose value is None
    left out) and the URL normalised. `kind` (the board kind) comes from the board file when known ("esp32",
    "esp8266", "sim"); `warning(msg)` receives advice that is not an error;
    `max_current_a` (the board file's) bounds the config's max_current_a."""
    if not isinstance(cfg, dict):
        raise ConfigError(None, "must be a JSON object, not %s" % _type_name(cfg))
    for k in cfg:
        if k not in KNOWN:
            raise ConfigError(k, "unknown key (known: %s)" % ", ".join(KNOWN))
    for k in _REQUIRED:
        if k not in cfg or cfg[k] is None:
            raise ConfigError(k, "required")
    out = {}
    for k in DEFAULTS:
        v = cfg.get(k)
        out[k] = DEFAULTS[k] if v is None else v
    for k in _REQUIRED:
        out[k] = cfg[k]

    p = out["security_profile"]
    if isinstance(p, bool) or not isinstance(p, int):
        raise ConfigError("security_profile", "must be a whole number 0 to 3, not %s" % _type_name(p))
    if not 0 <= p <= 3:
        raise ConfigError("security_profile", "must be 0 to 3, got %d" % p)

    url = _string(out, "csms_url")
    if not _printable(url) or " " in url:
        raise ConfigError("csms_url", "must not contain spaces or control characters")
    if url.startswith(_WS_SCHEME):
        rest = url[5:]
    elif url.startswith(_WSS_SCHEME):
        rest = url[6:]
    else:
        raise ConfigError("csms_url", "must start with ws:// or wss://")
    if "?" in rest or "#" in rest:
        raise ConfigError("csms_url", "must not contain a query (?) or fragment (#)")
    i = rest.find("/")
    hostport = rest if i < 0 else rest[:i]
    if "@" in hostport:
        raise ConfigError("csms_url", "must not contain user:password@ (use authorization_key)")
    host = hostport
    if hostport.startswith("["):  # IPv6 literal
        j = hostport.find("]")
        if j < 0:
            raise ConfigError("csms_url", "unclosed [ in host")
        host, port = hostport[: j + 1], hostport[j + 1 :]
        if port and not port.startswith(":"):
            raise ConfigError("csms_url", "junk after ]")
        port = port[1:]
    elif ":" in hostport:
        host, port = hostport.split(":", 1)
    else:
        port = None
    _check_host("csms_url", host)
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("csms_url", "port must be a number from 1 to 65535")
    # The firmware appends "/<charge_point_id>": drop trailing slashes so it is not doubled.
    url = url.rstrip("/")
    out["csms_url"] = url
    cpid = _string(out, "charge_point_id")
    if not cpid:
        raise ConfigError("charge_point_id", "must not be empty")
    if len(cpid) > _ID_MAX_LEN:
        raise ConfigError("charge_point_id", "longer than %d characters (%d)" % (_ID_MAX_LEN, len(cpid)))
    if not _printable(cpid):
        raise ConfigError("charge_point_id", "must be printable ASCII")
    for o in _ID_FORBIDDEN:
        if o in cpid.encode():
            raise ConfigError("charge_point_id", "must not contain %r" % chr(o))
    if ":" in cpid and p in (1, 2):
        raise ConfigError("charge_point_id", "must not contain ':' with security_profile %d (HTTP Basic auth user name)" % p)
    out["charge_point_id"] = cpid
    b = _string(out, "board")
    if not b:
        raise ConfigError("board", "must not be empty")
    if len(b) > _BOARD_MAX_LEN:
        raise ConfigError("board", "longer than %d characters" % _BOARD_MAX_LEN)
    for o in b.encode():
        if not (0x61 <= o <= 0x7A or 0x30 <= o <= 0x39 or o in _BOARD_NAME_PUNCTUATION):
            raise ConfigError("board", "must be a board file name: lowercase letters, digits, '-' and '_'")
    out["board"] = b
    if out["csms_url"].endswith("/" + out["charge_point_id"]):
        raise ConfigError("csms_url", "must not end with the charge point id (the firmware appends /%s)" % out["charge_point_id"])
    if p >= 2 and not out["csms_url"].startswith(_WSS_SCHEME):
        raise ConfigError("security_profile", "%d needs a wss:// csms_url" % p)

    key = out["authorization_key"]
    if key is not None:
        if not isinstance(key, str):
            raise ConfigError("authorization_key", "must be a string, not %s" % _type_name(key))
        if not KEY_MIN_LEN <= len(key) <= KEY_MAX_LEN:
            raise ConfigError("authorization_key", "must be %d to %d characters, got %d" % (KEY_MIN_LEN, KEY_MAX_LEN, len(key)))
        if not _printable(key):
            raise ConfigError("authorization_key", "must be printable ASCII")
        if warning and [o for o in key.encode() if o not in _HEX_DIGITS]:
            warning("config.json: authorization_key: not hexadecimal; OCPP recommends a random hex key")
        if warning and p in (0, 3):
            warning("config.json: authorization_key: set but security_profile %d does not use it" % p)
    elif p in (1, 2):
        raise ConfigError("authorization_key", "required for security_profile %d" % p)

    if kind is None:  # the board file not at hand: 'sim' boards are named sim, sim-* or sim_*
        kind = "sim" if b[:3] == "sim" and b[3:4].encode() in _BOARD_NAME_PUNCTUATION else _REAL_KIND
    w = out[_WIFI]
    if w is None:
        if kind in NETWORKED_KINDS:
            raise ConfigError(_WIFI, "required for board kind %s ({\"ssid\": ..., \"password\": ...})" % kind)
    else:
        if not isinstance(w, dict):
            raise ConfigError(_WIFI, "must be an object {\"ssid\": ..., \"password\": ...}, not %s" % _type_name(w))
        for k in w:
            if k not in ("ssid", "password"):
                raise ConfigError(_WIFI_PREFIX + k, "unknown key (known: ssid, password)")
        if _SSID not in w:
            raise ConfigError(_SSID_KEY, "required")
        ssid = w[_SSID]
        if not isinstance(ssid, str):
            raise ConfigError(_SSID_KEY, "must be a string, not %s" % _type_name(ssid))
        if not ssid or len(ssid.encode()) > _SSID_MAX_LEN:
            raise ConfigError(_SSID_KEY, "must be 1 to %d bytes" % _SSID_MAX_LEN)
        pw = w.get("password", "")
        if pw is None:
            pw = ""
        if not isinstance(pw, str):
            raise ConfigError("wifi.password", "must be a string, not %s" % _type_name(pw))
        if pw and not (_WIFI_PASSWORD_MIN_LEN <= len(pw) <= _WIFI_PASSWORD_MAX_LEN):
            raise ConfigError("wifi.password", "must be empty (open network) or %d to %d characters, got %d" % (_WIFI_PASSWORD_MIN_LEN, _WIFI_PASSWORD_MAX_LEN, len(pw)))
        if len(pw) == _WIFI_PASSWORD_MAX_LEN:
            for o in pw.encode():
                if o not in _HEX_DIGITS:
                    raise ConfigError("wifi.password", "64 characters is only allowed as a hex PSK")
        out[_WIFI] = {_SSID: ssid, "password": pw}
    lv = out["log_level"]
    if lv not in _LOG_LEVELS:
        raise ConfigError("log_level", "must be one of %s" % ", ".join(_LOG_LEVELS))
    for k, n in (("vendor", _VENDOR_MAX_LEN), ("model", _MODEL_MAX_LEN), ("serial", _SERIAL_MAX_LEN)):
        if k == "serial" and out[k] is None:
            continue  # made from the chip id at boot
        s = _string(out, k)
        if not s or len(s) > n:
            raise ConfigError(k, "must be 1 to %d characters (BootNotification limit), got %d" % (n, len(s)))
        if not _printable(s):
            raise ConfigError(k, "must be printable ASCII")
    if out["serial"] is not None:
        s = _string(out, "serial")
        if not s or len(s) > _SERIAL_MAX_LEN or not _printable(s):
            raise ConfigError("serial", "must be 1 to %d printable ASCII characters" % _SERIAL_MAX_LEN)
    for k in ("data_dir", "ca_cert", "client_cert", "client_key"):
        if out[k] is None:
            continue
        s = _string(out, k)
        if not s:
            raise ConfigError(k, "must not be empty")
        if len(s) > _PATH_MAX_LEN:
            raise ConfigError(k, "longer than %d characters" % _PATH_MAX_LEN)
        if not _printable(s):
            raise ConfigError(k, "must be printable ASCII")
        if _PARENT_DIR in s.split("/"):
            raise ConfigError(k, "must not contain '..'")
    if p >= 2 and out["ca_cert"] is None:
        raise ConfigError("ca_cert", "required for security_profile %d (the CSMS certificate must be verified)" % p)
    if p == 3:
        for k in ("client_cert", "client_key"):
            if out[k] is None:
                raise ConfigError(k, "required for security_profile 3 (TLS client certificate)")
    if out["sim"] is not None:
        if not isinstance(out["sim"], dict):
            raise ConfigError("sim", "must be an object, not %s" % _type_name(out["sim"]))
        if kind != "sim":
            raise ConfigError("sim", "only allowed with a sim board, not board kind %s" % kind)
    if out[_NTP_HOST] is not None:
        _check_host(_NTP_HOST, _string(out, _NTP_HOST))
    a = out["max_current_a"]
    if a is not None:
        if isinstance(a, bool) or not isinstance(a, int):
            raise ConfigError("max_current_a", "must be a whole number of amperes, not %s" % _type_name(a))
        hi = _CURRENT_MAX_A if max_current_a is None else min(max_current_a, _CURRENT_MAX_A)
        if not _CURRENT_MIN_A <= a <= hi:
            raise ConfigError("max_current_a", "must be %d to %d A%s, got %d" % (
                _CURRENT_MIN_A, hi, "" if max_current_a is None else " (the board's maximum)", a))
        out["max_current_a"] = a
    if out["status_password"] is not None:
        pw = _string(out, "status_password")
        if not _STATUS_PASSWORD_MIN_LEN <= len(pw) <= _STATUS_PASSWORD_MAX_LEN:
            raise ConfigError("status_password", "must be %d to %d characters, got %d" % (
                _STATUS_PASSWORD_MIN_LEN, _STATUS_PASSWORD_MAX_LEN, len(pw)))
        if not _printable(pw):
            raise ConfigError("status_password", "must be printable ASCII")
        out["status_password"] = pw
    # Kept for the charger's life: a key whose value is None (not set, no default) is left out,
    # so readers use cfg.get(key) for those (a slot and a key string less each, ~0.5 KB in all).
    return {k: out[k] for k in out if out[k] is not None}


def check_files(cfg):
    """The certificate files named in a validated config must exist, and ca_cert must hold
    CA certificates (PEM, one or several, or DER): else TLS fails much later and vaguely."""
    for key in ("ca_cert", "client_cert", "client_key"):
        p = cfg.get(key)
        try:
            p and os.stat(p)
        except OSError:
            raise ConfigError(key, "file %s not found on the device (copy it: mpremote fs cp <file> :%s)" % (p, p))
    p = cfg.get("ca_cert")
    if p:
        from net import tls
        try:
            tls.load_ca(p)
        except (ValueError, OSError) as e:
            raise ConfigError("ca_cert", "%s: %s" % (p, e))


def secrets(raw):
    """The secret values in a (possibly invalid) config dict, to register with log.secret()."""
    found = []
    if not isinstance(raw, dict):
        return found
    v = raw.get("authorization_key")
    if isinstance(v, str) and v:
        found.append(v)
    w = raw.get(_WIFI)
    if isinstance(w, dict):
        v = w.get("password")
        if isinstance(v, str) and v:
            found.append(v)
    v = raw.get("status_password")
    if isinstance(v, str) and v:
        found.append(v)
    return found


def read(path):
    """Parse config.json into a dict without validating it (ConfigError on I/O or JSON errors)."""
    try:
        size = os.stat(path)[6]
    except OSError:
        raise ConfigError(None, "file not found: %s" % path)
    if size > _MAX_FILE_BYTES:
        raise ConfigError(None, "file is %d bytes, more than the %d allowed" % (size, _MAX_FILE_BYTES))
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(None, "cannot read %s (%s)" % (path, e))
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(None, "not valid JSON (check commas, quotes and braces)")


def load(path, kind=None, warning=None):
    """Read and validate config.json; return the dict with defaults filled."""
    return validate(read(path), kind, warning)


def describe(cfg):
    """One-line summary for the console; secrets shown as "(set)"."""
    w = cfg.get(_WIFI)
    # Whole phrases, not "(set)" / "(none)" / "(open)": a literal of 10 characters or less is
    # an interned name (qstr), never freed.
    return "id %s, board %s, csms %s, security profile %d, %s, %s" % (
        cfg["charge_point_id"],
        cfg["board"],
        cfg["csms_url"],
        cfg["security_profile"],
        "authorization key (set)" if cfg.get("authorization_key") else "authorization key (none)",
        (("wifi %r password (set)" if w["password"] else "wifi %r password (open)") % (w[_SSID],)) if w
        else "wifi (none)",
    )
