# OCPP 1.6 configuration keys: type, access, default and validation of each, and the
# GetConfiguration / ChangeConfiguration logic. Loaded by config.Config at start-up (defaults)
# and for those two calls, then unloaded (ocpp16.profiles); the values live in Config.
import store
from ocpp16.auth import LOCAL_LIST_MAX, SEND_LOCAL_LIST_MAX
from ocpp16.config import (AUTH_KEY_LEN, CERTIFICATE_CHAIN_MAX, CERTIFICATE_STORE_MAX, CPO_NAME_MAX,
                           SMART_MAX_PERIODS, SMART_MAX_PROFILES, SMART_MAX_STACK_LEVEL)

INT = "i"
BOOL = "b"
STR = "s"
CSL = "l"   # comma-separated list

RO = "ro"   # read-only
RW = "rw"   # read-write
REBOOT = "reboot"  # read-write, takes effect after a reboot (ChangeConfiguration answers RebootRequired)
WO = "wo"   # write-only: never returned by GetConfiguration (AuthorizationKey)

# Measurands this firmware can sample (MeterValuesSampledData & co. accept only these).
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage", "Current.Offered")
CSL_MAX_ITEMS = 6  # the *MaxLength keys below: items in a measurand list
MAX_VALUE_CHARS = 500  # ChangeConfiguration value maxLength in the 1.6 schema

CPO_NAME_LEN = (1, CPO_NAME_MAX)  # CpoName: its length

# One key a line, in GetConfiguration's order: name|type|access|default|rule, the rule being
# "min-max" of an INT's value or of a STR's length, the allowed items of a CSL, empty for none;
# "=NAME" as a default or a rule is the constant NAME of this module. One string: with a dict of
# tuples the module held 10.6 KB while loaded, 5.2 KB so. spec() reads a line.
KEYS = (
        "\nAllowOfflineTxForUnknownId|b|rw|false|"
        "\nAuthorizationCacheEnabled|b|rw|true|"
        "\nAuthorizeRemoteTxRequests|b|rw|true|"
        "\nBlinkRepeat|i|rw|0|0-1000"
        "\nClockAlignedDataInterval|i|rw|0|0-86400"
        "\nConnectionTimeOut|i|rw|60|1-3600"
        "\nConnectorPhaseRotation|l|rw|0.Unknown|"
        "\nConnectorPhaseRotationMaxLength|i|ro|2|"
        "\nGetConfigurationMaxKeys|i|ro|60|"
        "\nHeartbeatInterval|i|rw|300|0-86400"
        "\nLightIntensity|i|rw|100|0-100"
        "\nLocalAuthorizeOffline|b|rw|true|"
        "\nLocalPreAuthorize|b|rw|false|"
        "\nMaxEnergyOnInvalidId|i|rw|0|0-1000000"
        "\nMeterValuesAlignedData|l|rw|Energy.Active.Import.Register|=MEASURANDS"
        "\nMeterValuesAlignedDataMaxLength|i|ro|=CSL_MAX_ITEMS|"
        "\nMeterValuesSampledData|l|rw|Energy.Active.Import.Register,Power.Active.Import|=MEASURANDS"
        "\nMeterValuesSampledDataMaxLength|i|ro|=CSL_MAX_ITEMS|"
        "\nMeterValueSampleInterval|i|rw|60|0-86400"
        "\nMinimumStatusDuration|i|rw|0|0-3600"
        "\nNumberOfConnectors|i|ro|1|"
        "\nResetRetries|i|rw|1|0-10"
        "\nStopTransactionOnEVSideDisconnect|b|rw|true|"
        "\nStopTransactionOnInvalidId|b|rw|true|"
        "\nStopTxnAlignedData|l|rw||=MEASURANDS"
        "\nStopTxnAlignedDataMaxLength|i|ro|=CSL_MAX_ITEMS|"
        "\nStopTxnSampledData|l|rw|Energy.Active.Import.Register|=MEASURANDS"
        "\nStopTxnSampledDataMaxLength|i|ro|=CSL_MAX_ITEMS|"
        "\nSupportedFeatureProfiles|l|ro|Core|"
        "\nSupportedFeatureProfilesMaxLength|i|ro|6|"
        "\nTransactionMessageAttempts|i|rw|3|1-100"
        "\nTransactionMessageRetryInterval|i|rw|60|1-86400"
        "\nUnlockConnectorOnEVSideDisconnect|b|rw|true|"
        "\nWebSocketPingInterval|i|rw|60|0-3600"
        "\nLocalAuthListEnabled|b|rw|true|"
        "\nLocalAuthListMaxLength|i|ro|=LOCAL_LIST_MAX|"
        "\nSendLocalListMaxLength|i|ro|=SEND_LOCAL_LIST_MAX|"
        "\nAuthorizationKey|s|wo||=AUTH_KEY_LEN"
        # Reservation profile (ocpp16/reserve_ops.py): a ReserveNow for connector 0 holds one
        # connector free for its idTag without choosing which.
        "\nReserveConnectorZeroSupported|b|ro|true|"
        "\nChargeProfileMaxStackLevel|i|ro|=SMART_MAX_STACK_LEVEL|"
        "\nChargingScheduleAllowedChargingRateUnit|l|ro|Current,Power|"
        "\nChargingScheduleMaxPeriods|i|ro|=SMART_MAX_PERIODS|"
        "\nConnectorSwitch3to1PhaseSupported|b|ro|false|"
        "\nMaxChargingProfilesInstalled|i|ro|=SMART_MAX_PROFILES|"
        # Security whitepaper keys. SecurityProfile changes go through ocpp16.secprofile (only raised,
        # prerequisites checked); the others are facts of this firmware.
        "\nSecurityProfile|i|rw|0|0-3"
        "\nCpoName|s|rw||=CPO_NAME_LEN"
        "\nCertificateSignedMaxChainSize|i|ro|=CERTIFICATE_CHAIN_MAX|"
        "\nCertificateStoreMaxLength|i|ro|=CERTIFICATE_STORE_MAX|"
        "\nAdditionalRootCertificateCheck|b|ro|false|"
        "\n")


def spec(name):
    """(type, access, default, rule) of the key `name`, or None when this firmware has no such
    key. rule: (min, max) of an INT's value or a STR's length, the allowed items of a CSL, or None."""
    i = KEYS.find("\n%s|" % name)
    line = KEYS[i + 1:KEYS.find("\n", i + 1)].split("|") if i >= 0 else None
    if not line or line[0] != name:  # not found, or a name with "|" or a newline in it
        return None
    kind, access, default, rule = line[1:]
    if default[:1] == "=":
        default = globals()[default[1:]]
    elif kind == INT:
        default = int(default)
    elif kind == BOOL:
        default = default == "true"
    if rule[:1] == "=":
        rule = globals()[rule[1:]]
    elif rule:
        i = rule.find("-")
        rule = (int(rule[:i]), int(rule[i + 1:]))
    else:
        rule = None
    return kind, access, default, rule


def key_names():
    """Every key, in the table's order."""
    return [line[:line.find("|")] for line in KEYS.split("\n") if line]


def defaults():
    """(value of every key, names of the read-only keys), for a new Config."""
    values = {}
    read_only = []
    for name in key_names():
        kind, access, default, _ = spec(name)
        values[name] = default
        if access == RO:
            read_only.append(name)
    return values, tuple(read_only)


def listing(cfg, names=None):
    """GetConfiguration: (configurationKey list, unknownKey list)."""
    known = []
    unknown = []
    for name in (names if names else key_names()):
        s = spec(name)
        if s is None or s[1] == WO:
            if names:
                unknown.append(name)
            continue
        known.append({"key": name, "readonly": s[1] == RO, "value": render(s[0], cfg.values[name])})
    return known, unknown


def change(cfg, name, text):
    """ChangeConfiguration: returns Accepted, Rejected, RebootRequired or NotSupported."""
    s = spec(name)
    if s is None:
        return "NotSupported"
    kind, access, _, rule = s
    if access == RO:
        return "Rejected"
    value = parse(kind, text, rule)
    if value is None:
        return "Rejected"
    cfg.values[name] = value
    if cfg.path:
        cfg.saved[name] = value
        store.save(cfg.path, cfg.saved)
    return "RebootRequired" if access == REBOOT else "Accepted"


def render(kind, value):
    if kind == BOOL:
        return "true" if value else "false"
    return str(value)


def parse(kind, text, rule):
    """Value from its ChangeConfiguration text, or None when it is not valid."""
    if not isinstance(text, str) or len(text) > MAX_VALUE_CHARS:
        return None
    if kind == BOOL:
        t = text.lower()
        return True if t == "true" else (False if t == "false" else None)
    if kind == INT:
        t = text.strip()
        if not t or not (t.isdigit() or (t[0] == "-" and t[1:].isdigit())):
            return None
        v = int(t)
        if rule and not (rule[0] <= v <= rule[1]):
            return None
        return v
    if kind == CSL:
        items = [s.strip() for s in text.split(",") if s.strip()]
        if len(items) > CSL_MAX_ITEMS:
            return None
        if rule:
            for it in items:
                if it not in rule:
                    return None
        return ",".join(items)
    if rule and not (rule[0] <= len(text) <= rule[1]):
        return None
    return text
