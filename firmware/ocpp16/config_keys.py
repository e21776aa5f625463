# OCPP 1.6 configuration keys: type, access, default and validation of each, and the
# GetConfiguration / ChangeConfiguration logic. Loaded by config.Config at start-up (start)
# and for those two calls, then unloaded (ocpp16.profiles); the values live in Config. The
# read-only keys that are facts of this firmware are in config_facts (never in the RAM form).
from compat import const
import store
from ocpp16 import profiles

# AuthorizationKey length (OCPP 1.6 Security Whitepaper); devconfig KEY_MIN_LEN / KEY_MAX_LEN
# hold config.json to the same (test_config_keys checks they agree).
_AUTH_KEY_LEN = const((16, 40))
_CPO_NAME_MAX = const(64)  # CpoName: X.520 upper bound of an organizationName
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_CPO_NAME = const("CpoName")
_TRUE = const("true")  # a boolean's text (ChangeConfiguration, GetConfiguration)
_FALSE = const("false")

_INT = const(0)
_BOOL = const(1)
_STR = const(2)
_CSL = const(3)  # comma-separated list

_RO = const(0)  # read-only
_RW = const(1)  # read-write
_REBOOT = const(2)  # read-write, takes effect after a reboot (ChangeConfiguration answers RebootRequired)
_WO = const(3)  # write-only: never returned by GetConfiguration (AuthorizationKey)

# Measurands this firmware can sample (MeterValuesSampledData & co., their KEYS arg _MEASURED,
# accept only these; named once: a const() tuple is copied into each constant that holds it).
_MEASURED = const(1)
_MEASURANDS = const(("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
                     "Voltage", "Current.Offered"))
_CSL_MAX_ITEMS = const(6)  # the *MaxLength keys below: items in a measurand list
_MAX_VALUE_CHARS = const(500)  # ChangeConfiguration value maxLength in the 1.6 schema

# name: (type, access, default, (min, max) for _INT / _MEASURED for a _CSL of measurands / (min, max) length for _STR);
# the read-only keys here are those the charger sets and the lists' *MaxLength (config_facts: the rest)
KEYS = {
    "AllowOfflineTxForUnknownId": (_BOOL, _RW, False, None),
    "AuthorizationCacheEnabled": (_BOOL, _RW, True, None),
    "AuthorizeRemoteTxRequests": (_BOOL, _RW, True, None),
    "BlinkRepeat": (_INT, _RW, 0, (0, 1000)),
    "ClockAlignedDataInterval": (_INT, _RW, 0, (0, 86400)),
    "ConnectionTimeOut": (_INT, _RW, 60, (1, 3600)),
    "ConnectorPhaseRotation": (_CSL, _RW, "0.Unknown", None),
    "HeartbeatInterval": (_INT, _RW, 300, (0, 86400)),
    "LightIntensity": (_INT, _RW, 100, (0, 100)),
    "LocalAuthorizeOffline": (_BOOL, _RW, True, None),
    "LocalPreAuthorize": (_BOOL, _RW, False, None),
    "MaxEnergyOnInvalidId": (_INT, _RW, 0, (0, 1000000)),
    "MeterValuesAlignedData": (_CSL, _RW, "Energy.Active.Import.Register", _MEASURED),
    "MeterValuesAlignedDataMaxLength": (_INT, _RO, _CSL_MAX_ITEMS, None),
    "MeterValuesSampledData": (_CSL, _RW, "Energy.Active.Import.Register,Power.Active.Import", _MEASURED),
    "MeterValuesSampledDataMaxLength": (_INT, _RO, _CSL_MAX_ITEMS, None),
    "MeterValueSampleInterval": (_INT, _RW, 60, (0, 86400)),
    "MinimumStatusDuration": (_INT, _RW, 0, (0, 3600)),
    "NumberOfConnectors": (_INT, _RO, 1, None),
    "ResetRetries": (_INT, _RW, 1, (0, 10)),
    "StopTransactionOnEVSideDisconnect": (_BOOL, _RW, True, None),
    "StopTransactionOnInvalidId": (_BOOL, _RW, True, None),
    "StopTxnAlignedData": (_CSL, _RW, "", _MEASURED),
    "StopTxnAlignedDataMaxLength": (_INT, _RO, _CSL_MAX_ITEMS, None),
    "StopTxnSampledData": (_CSL, _RW, "Energy.Active.Import.Register", _MEASURED),
    "StopTxnSampledDataMaxLength": (_INT, _RO, _CSL_MAX_ITEMS, None),
    "SupportedFeatureProfiles": (_CSL, _RO, "Core", None),
    "TransactionMessageAttempts": (_INT, _RW, 3, (1, 100)),
    "TransactionMessageRetryInterval": (_INT, _RW, 60, (1, 86400)),
    "UnlockConnectorOnEVSideDisconnect": (_BOOL, _RW, True, None),
    "WebSocketPingInterval": (_INT, _RW, 60, (0, 3600)),
    "LocalAuthListEnabled": (_BOOL, _RW, True, None),
    "AuthorizationKey": (_STR, _WO, "", _AUTH_KEY_LEN),
    # Security whitepaper keys. SecurityProfile changes go through ocpp16.secprofile (only raised,
    # prerequisites checked).
    "SecurityProfile": (_INT, _RW, 0, (0, 3)),
    _CPO_NAME: (_STR, _RW, "", (1, _CPO_NAME_MAX)),
}


def start(cfg, values):
    """A new Config's RAM form: names ",name,...," with the writable keys first, list the
    values in that order (the defaults, then `values`, then what the file at cfg.path holds),
    writable how many keys are writable, saved a bit per key the file holds. A fact of
    config_facts joins them only when set (Config.at)."""
    order = [name for name in KEYS if KEYS[name][1] != _RO]
    cfg.writable = len(order)
    order += [name for name in KEYS if KEYS[name][1] == _RO]
    cfg.names = "," + ",".join(order) + ","
    cfg.list = list(tuple(KEYS[name][2] for name in order))
    for name in (values or ()):
        cfg[name] = values[name]
    cfg.saved = 0
    saved = store.load(cfg.path, {}) if cfg.path else {}
    for name in saved:
        try:
            i = cfg.at(name, True)
        except (KeyError, ImportError, MemoryError):  # a key this firmware no longer has (or
            continue                                 # config_facts cannot load): kept in the file only
        cfg.list[i] = saved[name]
        cfg.saved |= 1 << i


def listing(cfg, names=None):
    """GetConfiguration: (configurationKey list, unknownKey list), with config_facts loaded
    for the call."""
    known = []
    unknown = []
    try:
        facts = profiles.load("config_facts").KEYS
        for name in (names if names else list(KEYS) + list(facts)):
            access = _RO if name in facts else KEYS[name][1] if name in KEYS else _WO
            if access == _WO:   # no such key, or AuthorizationKey
                if names:
                    unknown.append(name)
                continue
            try:
                value = cfg.list[cfg.at(name)]
            except KeyError:   # a fact at its value
                value = facts[name]
            known.append({"key": name, "readonly": access == _RO,
                          "value": (_TRUE if value else _FALSE) if type(value) is bool else str(value)})
    finally:
        profiles.unload("config_facts")
    return known, unknown


def change(name, text):
    """ChangeConfiguration's check: (Accepted, RebootRequired, Rejected or NotSupported, the
    value to set or None). Config.change sets it once this module is unloaded again."""
    spec = KEYS.get(name)
    if spec is None:
        try:
            if name in profiles.load("config_facts").KEYS:
                return "Rejected", None
        finally:
            profiles.unload("config_facts")
        return "NotSupported", None
    kind, access, _, arg = spec
    value = None if access == _RO else parse(kind, text, arg)
    if value is None:
        return "Rejected", None
    return "RebootRequired" if access == _REBOOT else "Accepted", value


def parse(kind, text, arg):
    """Value from its ChangeConfiguration text, or None when it is not valid."""
    if not isinstance(text, str) or len(text) > _MAX_VALUE_CHARS:
        return None
    if kind == _BOOL:
        t = text.lower()
        return True if t == _TRUE else (False if t == _FALSE else None)
    if kind == _INT:
        t = text.strip()
        if not t or not (t.isdigit() or (t[0] == "-" and t[1:].isdigit())):
            return None
        v = int(t)
        if arg and not (arg[0] <= v <= arg[1]):
            return None
        return v
    if kind == _CSL:
        items = [s.strip() for s in text.split(",") if s.strip()]
        if len(items) > _CSL_MAX_ITEMS:
            return None
        if arg:  # _MEASURED
            for it in items:
                if it not in _MEASURANDS:
                    return None
        return ",".join(items)
    if arg and not (arg[0] <= len(text) <= arg[1]):
        return None
    return text
