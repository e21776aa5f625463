# Compact checks of what the CSMS sends us (its requests, its answers to our calls) from small
# tables, and the tables of the answers; the request tables (schema_core, schema_<profile>) load
# for one check and are unloaded after it. No I/O; only says whether a payload is well formed.
# Also RpcError, the one exception a refused frame or payload raises (rpc, badframe and
# schema_core find it here). Its codes are written as the text they are (rpc's _ERROR_CODES
# lists the ten, rpc.<code> names them for the handlers): a literal longer than 10 characters
# costs no interned name, a global one each.
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
# Table format: a table is one string, ";action:spec" for each action and ";" at the end. A
# spec is a string of fields separated by spaces, parsed when a payload is checked (strings cost
# far less heap than dicts of tuples: schema_core's 2.0 KB held 4.7 KB that way). A field is
# a kind char, the field's name, then "=" and an argument for some kinds. The kind is upper
# case when the field is required:
#   s string (arg: maxLength; none: any)   i integer (not bool, not 1.0)
#   d number, multiple of 0.1              b boolean
#   t dateTime (RFC 3339)                  u uri (scheme ":" ...)
#   e enum string (arg: the allowed values separated by ",")
#   o object (arg: NAME of a spec in the same module, or module.NAME: loaded with that module,
#     and let through unchecked when that module is not on the board)
#   a array (arg: the item's kind char, then its argument: "s50", "oNAME")
# e.g. "SidTag=20 iconnectorId Etype=Hard,Soft" is a required idTag of at most 20 chars,
# an optional integer connectorId and a required type "Hard" or "Soft".
import sys

from compat import const
from ocpp16 import profiles
from ocpp16 import timefmt



class RpcError(Exception):
    """A frame or payload the receiver must refuse.

    code: one of the CALLERROR codes (rpc's _ERROR_CODES). description: short text for errorDescription.
    msg_id: the frame's id when it could be recovered, else None.
    answer: True when the spec wants a CALLERROR sent back (the frame was, or may
    have been, a CALL); send it with msg_id, or failures' _UNKNOWN_ID when msg_id is None.
    False for broken CALLRESULT/CALLERROR frames (a CALLERROR only ever answers a
    CALL; the caller fails its pending call if msg_id matches) and for unknown
    message type numbers, which OCPP-J 1.6 section 4.1.3 says to ignore. Its str():
    "code: description"."""

    def __init__(self, code, description="", msg_id=None, answer=True):
        self.code = code
        self.description = description
        self.msg_id = msg_id
        self.answer = answer

    def __str__(self):  # (a __str__, not super().__init__(text): its closure held ~150 B more)
        return "%s: %s" % (self.code, self.description)


# ---------------------------------------------------------------- answers to our CALLs
# The CSMS answers an idle or charging charger checks every period, at each connect and at a
# transaction's start and stop: resident (loading a table then, with the queue's own on-demand
# code, raised the smallest heap a session needs by ~6 KB). The answers to every other CALL we
# send (DataTransfer, the Firmware Management and Security notifications) are in schema_core's
# _RESULTS, loaded for that check.
_RESULTS = const(";Authorize:OidTagInfo=ID_TAG_INFO"
                 ";BootNotification:Estatus=Accepted,Pending,Rejected TcurrentTime Iinterval"
                 ";Heartbeat:TcurrentTime;MeterValues:"
                 ";StartTransaction:OidTagInfo=ID_TAG_INFO ItransactionId"
                 ";StatusNotification:"
                 ";StopTransaction:oidTagInfo=ID_TAG_INFO;")
ID_TAG_INFO = "texpiryDate sparentIdTag=20 Estatus=Accepted,Blocked,Expired,Invalid,ConcurrentTx"

_CALL_TABLES = const("schema_core")  # the profile of every CSMS request, the module of its table, Core's tables
_KINDS = const("steuidboa")  # the kind chars
_BADFRAME = const("ocpp16.badframe")  # (its dotted name: no name "badframe" interned until it loads)
# Why a field is refused (badframe.why(n, ...): the texts load only for a refusal)
_NOT_OBJECT = const(0)       # "payload is not an object"
_MISSING = const(1)          # "required field missing"
_NOT_ALLOWED = const(2)      # "field not allowed here" (the field found there)
_LONGER = const(3)           # "longer than N"
_NOT_DATETIME = const(4)     # "not an RFC 3339 dateTime"
_NOT_ALLOWED_VALUE = const(5)  # "value not allowed"
_EXPECTED = const(6)         # "<type> expected", 6 + the type: string integer number boolean object array


# ---------------------------------------------------------------- checking
def validate_call(action, payload, supported=None):
    """Check a CSMS->CP request. Raises RpcError: NotImplemented for an action this
    firmware does not know, NotSupported when `supported` (a collection of feature
    profile names and/or action names; None = all) holds neither the action nor its
    profile (schema_core.tables), else the constraint codes in the table above. The
    tables are unloaded after. supported False: `payload` answers our CALL `action`."""
    try:
        module, spec = profiles.load(_CALL_TABLES).tables(action, supported)
        check_payload(payload, spec, module)
    finally:  # the request tables (ocpp16/schema_*.py) load per check
        for name in list(sys.modules):
            if name.startswith("ocpp16.schema_"):
                profiles.unload(name)


def validate_result(action, payload):
    """Check the CSMS's CALLRESULT payload for our CALL `action`. Raises RpcError;
    the caller treats it as a failed delivery of that CALL (also when the table of a
    rare answer cannot be loaded: InternalError, checked again with the next answer)."""
    key = ";" + action + ":"  # ";action:spec" each, ";" at the end; action: ours, a str
    i = _RESULTS.find(key)
    if i >= 0:
        i += len(key)
        return check_payload(payload, _RESULTS[i:_RESULTS.find(";", i)])
    try:
        validate_call(action, payload, False)
    except RpcError:
        raise
    except Exception:  # its table did not load (ImportError, MemoryError)
        raise RpcError("InternalError", "answer tables not loaded")


def fail(code, path, n, arg=None):
    """Raise RpcError `code` for the field at path, described by badframe.why(n, path, arg),
    loaded for it (the code needs no text: when that module cannot load, the path alone).
    Also schema_core's refusals of an action (n 12, 13: badframe.why)."""
    try:
        what = profiles.load(_BADFRAME).why(n, path, arg)
    except Exception:  # ImportError, MemoryError
        what = path
    finally:
        profiles.unload(_BADFRAME)
    raise RpcError(code, what)


def check_payload(obj, text, module=None, path=""):
    """Raise RpcError unless obj (a whole request/answer, or an object in it: path is its path and
    ".", "" at the top) matches the spec `text`, whose references name specs of `module` (None:
    this one)."""
    if type(obj) is not dict:
        fail("FormationViolation", path, _NOT_OBJECT)
    seen = 0
    for f in text.split():  # a field: kind char, name, "=" and its argument for some kinds
        i = f.find("=")
        name = f[1:] if i < 0 else f[1:i]
        # (the kind char sliced, not indexed: s[0] interns each distinct one-character string)
        if name in obj:
            seen += 1
            _value(obj[name], f[:1].lower(), None if i < 0 else f[i + 1:], module, path + name)
        elif f[:1] < "a":
            fail("OccurenceConstraintViolation", path + name, _MISSING)
    if seen != len(obj):   # a field the spec does not name
        fail("FormationViolation", path, _NOT_ALLOWED, (obj, text))


def _value(v, kind, arg, module, path):
    t = type(v)
    k = _KINDS.find(kind)  # 0 s, 1 t, 2 e, 3 u (strings), 4 i, 5 d, 6 b, 7 o, 8 a
    if k < 0:
        raise ValueError(kind, path)   # a table of ours is wrong
    if not (t is str if k < 4 else t is int if k == 4 else t is bool if k == 6
            else t is dict if k == 7 else t is list if k == 8 else t is int or t is float):
        fail("TypeConstraintViolation", path, _EXPECTED + max(k - 3, 0))
    if k == 0:
        if arg is not None and len(v) > int(arg):
            fail("TypeConstraintViolation", path, _LONGER, arg)
    elif k == 1:
        try:
            timefmt.parse_datetime(v)  # out of heap for the parser: refused all the same
        except ValueError:
            fail("TypeConstraintViolation", path, _NOT_DATETIME)
    elif k == 2:
        if v not in arg.split(","):
            fail("PropertyConstraintViolation", path, _NOT_ALLOWED_VALUE)
    elif k == 3 or k == 5 and t is float:
        # only requests have these: schema_core, loaded for their check, has the rules
        profiles.load(_CALL_TABLES).check_kind(v, kind, path)
    elif k == 7:
        i = arg.find(".")
        if i > 0:
            try:
                module = profiles.load(arg[:i])
            except ImportError:
                # The optional profile's tables are not on this board, so nothing here can
                # use the field (a ChargingProfile in RemoteStartTransaction): let it pass.
                return
            arg = arg[i + 1:]
        check_payload(v, getattr(module, arg) if module else globals()[arg], module, path + ".")
    elif k == 8:
        for i in range(len(v)):
            _value(v[i], arg[:1], arg[1:] or None, module, path + "[" + str(i) + "]")  # (rpc has "[" "]")
