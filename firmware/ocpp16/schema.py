# Compact checks of what the CSMS sends us (its requests, its answers to our calls)
# from small tables: the JSON schemas never go on the device. Core tables live here,
# other profiles' load on first use. No I/O; says only whether a payload is well formed.
#
# Failure -> CALLERROR code (OCPP-J 1.6 section 4.2.3 wording; compared with the
# Mobility House `ocpp` library, ocpp/messages.py, which maps jsonschema failures):
#
#   failure                              code                          spec / library
#   -----------------------------------  ----------------------------  -------------------------------
#   action not known                     NotImplemented                "not known by receiver"; lib same
#   action known, profile not supported  NotSupported                  "recognized but not supported"
#   payload not a JSON object            FormationViolation            "not conform the PDU structure"
#   property not in the schema           FormationViolation            same; lib: FormatViolation (the
#                                                                      2.0 spelling of this code)
#   required field missing               OccurenceConstraintViolation  the field's cardinality (1..1) is
#                                                                      violated; lib: ProtocolError. We keep
#                                                                      ProtocolError ("incomplete") for
#                                                                      frames missing elements (rpc.parse)
#   wrong JSON type (also null, bool     TypeConstraintViolation       "violates data type constraints
#     for integer, 1.0 for integer)                                    (e.g. "somestring": 12)"; lib same
#   string longer than maxLength         TypeConstraintViolation       CiString20Type etc. are data types;
#                                                                      lib same
#   dateTime not RFC 3339 (timefmt)      TypeConstraintViolation       dateTime is a data type; the official
#   uri without a scheme                 TypeConstraintViolation       schemas only say "format" (not checked
#                                                                      by jsonschema without a format checker)
#   enum value not allowed               PropertyConstraintViolation   "field contains an invalid value";
#                                                                      lib: FormatViolation
#   decimal not a multiple of 0.1,       PropertyConstraintViolation   same; lib: FormatViolation
#     or not finite
#
# Table format: a spec is a tuple of fields (name, kind[, arg]). kind is one char,
# upper case when the field is required:
#   s string (arg: maxLength or None)     i integer (not bool, not 1.0)
#   d number, multiple of 0.1             b boolean
#   t dateTime (RFC 3339)                 u uri (scheme ":" ...)
#   e enum string (arg: allowed values)   o object (arg: spec, or "module.NAME" loaded lazily)
#   a array (arg: item (kind, arg))
from ocpp16 import rpc
from ocpp16 import timefmt

# ---------------------------------------------------------------- which action lives where
# Feature profile of every action the CSMS may call, and of every action whose answer we check.
# "Security" is the OCPP 1.6 Security Whitepaper extension.
CALL_PROFILES = {
    "ChangeAvailability": "Core", "ChangeConfiguration": "Core", "ClearCache": "Core",
    "DataTransfer": "Core", "GetConfiguration": "Core", "RemoteStartTransaction": "Core",
    "RemoteStopTransaction": "Core", "Reset": "Core", "UnlockConnector": "Core",
    "GetDiagnostics": "FirmwareManagement", "UpdateFirmware": "FirmwareManagement",
    "GetLocalListVersion": "LocalAuthListManagement", "SendLocalList": "LocalAuthListManagement",
    "CancelReservation": "Reservation", "ReserveNow": "Reservation",
    "ClearChargingProfile": "SmartCharging", "GetCompositeSchedule": "SmartCharging",
    "SetChargingProfile": "SmartCharging",
    "TriggerMessage": "RemoteTrigger",
    "CertificateSigned": "Security", "DeleteCertificate": "Security",
    "ExtendedTriggerMessage": "Security", "GetInstalledCertificateIds": "Security",
    "GetLog": "Security", "InstallCertificate": "Security", "SignedUpdateFirmware": "Security",
}
RESULT_PROFILES = {
    "Authorize": "Core", "BootNotification": "Core", "DataTransfer": "Core", "Heartbeat": "Core",
    "MeterValues": "Core", "StartTransaction": "Core", "StatusNotification": "Core",
    "StopTransaction": "Core",
    "DiagnosticsStatusNotification": "FirmwareManagement",
    "FirmwareStatusNotification": "FirmwareManagement",
    "SecurityEventNotification": "Security", "SignCertificate": "Security",
    "LogStatusNotification": "Security", "SignedFirmwareStatusNotification": "Security",
}
# Module holding each profile's tables (None: this one).
PROFILE_MODULES = {
    "Core": None, "FirmwareManagement": "schema_firmware", "LocalAuthListManagement": "schema_localauth",
    "Reservation": "schema_reservation", "SmartCharging": "schema_smart", "RemoteTrigger": "schema_trigger",
    "Security": "schema_security",
}

# ---------------------------------------------------------------- shared pieces
AUTHORIZATION_STATUS = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
ID_TAG_INFO = (
    ("expiryDate", "t"),
    ("parentIdTag", "s", 20),
    ("status", "E", AUTHORIZATION_STATUS),
)

# ---------------------------------------------------------------- Core: CSMS -> CP requests
CALLS = {
    "ChangeAvailability": (
        ("connectorId", "I"),
        ("type", "E", ("Inoperative", "Operative")),
    ),
    "ChangeConfiguration": (
        ("key", "S", 50),
        ("value", "S", 500),
    ),
    "ClearCache": (),
    "DataTransfer": (
        ("vendorId", "S", 255),
        ("messageId", "s", 50),
        ("data", "s"),
    ),
    "GetConfiguration": (
        ("key", "a", ("s", 50)),
    ),
    "RemoteStartTransaction": (
        ("connectorId", "i"),
        ("idTag", "S", 20),
        ("chargingProfile", "o", "schema_smart.CHARGING_PROFILE"),
    ),
    "RemoteStopTransaction": (
        ("transactionId", "I"),
    ),
    "Reset": (
        ("type", "E", ("Hard", "Soft")),
    ),
    "UnlockConnector": (
        ("connectorId", "I"),
    ),
}

# ---------------------------------------------------------------- Core: CSMS answers to our calls
RESULTS = {
    "Authorize": (
        ("idTagInfo", "O", ID_TAG_INFO),
    ),
    "BootNotification": (
        ("status", "E", ("Accepted", "Pending", "Rejected")),
        ("currentTime", "T"),
        ("interval", "I"),
    ),
    "DataTransfer": (
        ("status", "E", ("Accepted", "Rejected", "UnknownMessageId", "UnknownVendorId")),
        ("data", "s"),
    ),
    "Heartbeat": (
        ("currentTime", "T"),
    ),
    "MeterValues": (),
    "StartTransaction": (
        ("idTagInfo", "O", ID_TAG_INFO),
        ("transactionId", "I"),
    ),
    "StatusNotification": (),
    "StopTransaction": (
        ("idTagInfo", "o", ID_TAG_INFO),
    ),
}


# ---------------------------------------------------------------- checking
NAME_IN_ERROR = 40  # chars of a CSMS-chosen name (unknown action or field) quoted in an error

def _module(name):
    pkg = __import__("ocpp16." + name)
    return getattr(pkg, name)


def _tables(profile, calls):
    name = PROFILE_MODULES[profile]
    if name is None:
        return CALLS if calls else RESULTS
    mod = _module(name)
    return mod.CALLS if calls else mod.RESULTS


def _lazy(ref):
    mod, attr = ref.split(".")
    return getattr(_module(mod), attr)


def check_call(action, payload, supported=None):
    """Raise rpc.RpcError unless `payload` is a valid request `action` from the CSMS.
    supported: None (all profiles), or a collection of profile and/or action names."""
    profile = CALL_PROFILES.get(action)
    if profile is None:
        raise rpc.RpcError(rpc.NotImplemented, "unknown action %s" % str(action)[:NAME_IN_ERROR])
    if supported is not None and action not in supported and profile not in supported:
        raise rpc.RpcError(rpc.NotSupported, "%s (%s) is not supported" % (action, profile))
    try:
        spec = _tables(profile, True)[action]
    except ImportError:  # a small board may ship without an optional profile's tables
        raise rpc.RpcError(rpc.NotSupported, "%s (%s) is not installed" % (action, profile))
    check_payload(payload, spec)


def check_result(action, payload):
    """Raise rpc.RpcError unless `payload` is a valid CALLRESULT to our call `action`."""
    profile = RESULT_PROFILES.get(action)
    if profile is None:
        raise rpc.RpcError(rpc.NotImplemented, "no answer is expected to %s" % str(action)[:NAME_IN_ERROR])
    try:
        spec = _tables(profile, False)[action]
    except ImportError:
        raise rpc.RpcError(rpc.NotSupported, "%s (%s) is not installed" % (action, profile))
    check_payload(payload, spec)


def check_payload(payload, spec):
    """Raise rpc.RpcError unless payload (a whole request/answer) matches spec."""
    if type(payload) is not dict:
        raise rpc.RpcError(rpc.FormationViolation, "payload is not an object")
    _object(payload, spec, "")


def _fail(code, path, what):
    raise rpc.RpcError(code, "%s: %s" % (path, what))


def _object(obj, spec, prefix):
    seen = 0
    for f in spec:
        name = f[0]
        if name in obj:
            seen += 1
            _value(obj[name], f[1].lower(), f[2] if len(f) > 2 else None, prefix + name)
        elif f[1] < "a":
            _fail(rpc.OccurenceConstraintViolation, prefix + name, "required field missing")
    if seen != len(obj):
        for k in obj:
            if not _known(spec, k):
                _fail(rpc.FormationViolation, prefix + str(k)[:NAME_IN_ERROR], "field not allowed here")


def _known(spec, key):
    for f in spec:
        if f[0] == key:
            return True
    return False


def _value(v, kind, arg, path):
    t = type(v)
    if kind == "s" or kind == "t" or kind == "u" or kind == "e":
        if t is not str:
            _fail(rpc.TypeConstraintViolation, path, "string expected")
        if kind == "s":
            if arg is not None and len(v) > arg:
                _fail(rpc.TypeConstraintViolation, path, "longer than %d" % arg)
        elif kind == "e":
            if v not in arg:
                _fail(rpc.PropertyConstraintViolation, path, "value not allowed")
        elif kind == "t":
            if not timefmt.is_datetime(v):
                _fail(rpc.TypeConstraintViolation, path, "not an RFC 3339 dateTime")
        elif not _is_uri(v):
            _fail(rpc.TypeConstraintViolation, path, "not a URI")
    elif kind == "i":
        if t is not int:
            _fail(rpc.TypeConstraintViolation, path, "integer expected")
    elif kind == "d":
        if t is not int and t is not float:
            _fail(rpc.TypeConstraintViolation, path, "number expected")
        if t is float and not _tenths(v):
            _fail(rpc.PropertyConstraintViolation, path, "not a multiple of 0.1")
    elif kind == "b":
        if t is not bool:
            _fail(rpc.TypeConstraintViolation, path, "boolean expected")
    elif kind == "o":
        if t is not dict:
            _fail(rpc.TypeConstraintViolation, path, "object expected")
        if type(arg) is str:
            try:
                arg = _lazy(arg)
            except ImportError:
                # The optional profile's tables are not on this board, so nothing here can
                # use the field (a ChargingProfile in RemoteStartTransaction): let it pass.
                return
        _object(v, arg, path + ".")
    elif kind == "a":
        if t is not list:
            _fail(rpc.TypeConstraintViolation, path, "array expected")
        ikind = arg[0]
        iarg = arg[1] if len(arg) > 1 else None
        for i in range(len(v)):
            _value(v[i], ikind, iarg, "%s[%d]" % (path, i))
    else:
        raise ValueError("bad spec kind %r at %s" % (kind, path))


TENTHS_REL_TOLERANCE = 2e-7   # float rounding allowance (single-precision floats on ESP32)
TENTHS_ABS_TOLERANCE = 1e-6   # in tenths; 16.05 is 160.5 tenths and fails


def _tenths(x):
    """x is finite and a multiple of 0.1 within float rounding."""
    if x != x or x - x != 0:  # NaN, or +-inf (inf - inf is NaN)
        return False
    q = x * 10
    return abs(q - round(q)) <= TENTHS_ABS_TOLERANCE + abs(q) * TENTHS_REL_TOLERANCE


def _is_uri(s):
    # RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ":"
    i = s.find(":")
    if i < 1 or i == len(s) - 1:
        return False
    for j in range(i):
        c = s[j]
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or (j and ("0" <= c <= "9" or c in "+-."))):
            return False
    return " " not in s

