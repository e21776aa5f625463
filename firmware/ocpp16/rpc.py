# OCPP-J 1.6 framing: CALL / CALLRESULT / CALLERROR text <-> tuples, message ids, the CALLERROR
# codes (rpc.<code>, see __getattr__). RpcError and the payload checks live in ocpp16.schema, why a frame
# is refused in ocpp16.badframe (loaded only for a bad frame); the charge point finds what it
# needs of them here (rpc.RpcError, rpc.validate_call, the codes its handlers raise).
# No I/O and no clock here: text in, tuples out (and back); the caller owns the socket.
import io
import json

from compat import const
from ocpp16 import profiles
from ocpp16.schema import RpcError, validate_call, validate_result

# Message type numbers (OCPP-J 1.6 section 4.1.3).
# (parse's tuples of the three have 4, 3 and 5 elements: ChargePoint.receive tells them apart by that)
_CALL = const(2)
_CALLRESULT = const(3)
_CALLERROR = const(4)
_ELEMENTS = const((4, 3, 5))  # a frame's element count, by type number - 2
# The ten CALLERROR codes of OCPP-J 1.6 (section 4.2.3), spelled as the spec spells them: the only
# ones a CALLERROR we send may carry. NotImplemented: action not known by the receiver; NotSupported:
# known, not supported; InternalError: the receiver failed while processing it; ProtocolError: the
# payload (here also: the frame) is incomplete; SecurityError; FormationViolation: syntactically
# incorrect, not the PDU structure; PropertyConstraintViolation: a field holds an invalid value;
# OccurenceConstraintViolation: a field occurs too few/many times; TypeConstraintViolation: a field
# has the wrong data type; GenericError: anything else.
_ERROR_CODES = const("NotImplemented NotSupported InternalError ProtocolError SecurityError FormationViolation PropertyConstraintViolation OccurenceConstraintViolation TypeConstraintViolation GenericError")  # noqa: E501

# Bounds checked before json.loads runs (a board may lower MAX_CONTAINERS at start-up):
_MAX_FRAME_CHARS = const(65536)  # second line of defence after the websocket's own limit (badframe gets it)
MAX_CONTAINERS = 512        # '{' + '[' chars in a frame (strings included): bounds the heap json needs;
                            # 512 small dicts ~ 35 KB on an ESP32; a SendLocalList of ~250 entries fits
_MAX_ID_LEN = const(36)     # OCPP-J: a message id is a string of at most 36 characters
_MAX_DESCRIPTION_LEN = const(255)  # errorDescription is cut to this on the way out (OCPP 2.x bound, kept here too)
_BADFRAME = const("ocpp16.badframe")  # why a frame is refused (its dotted name: no name "badframe" interned)
_ID_COUNTER_WRAP = const(1000000000)  # MessageIds counts 1..999999999, then starts again at 1


def __getattr__(name):
    """A CALLERROR code by its name (rpc.InternalError is "InternalError"): the codes are their
    own text, so a module that names one interns that name, and rpc none (ten globals cost ten)."""
    if name in _ERROR_CODES.split():
        return name
    raise AttributeError(name)


class MessageIds:
    """Ids for our CALLs: id_prefix + a counter ("1", "2", ...), so a scenario gives the
    same transcript on every runtime. Ids must be unique per sender on one connection
    (OCPP-J, "message ID"); use a prefix (e.g. the boot count) to keep them unique across reboots."""

    def __init__(self, id_prefix="", seed=1):
        # id_prefix (ChargePoint's): a string of at most 36 - 9 chars (what the counter leaves),
        # seed: an int in 1..999999999
        if not (type(id_prefix) is str and len(id_prefix) <= _MAX_ID_LEN - 9 and type(seed) is int
                and 1 <= seed < _ID_COUNTER_WRAP):
            raise ValueError(id_prefix, seed)
        self.id_prefix = id_prefix
        self.seed = seed  # the next number

    def next(self):
        n = self.seed
        self.seed = n + 1 if n + 1 < _ID_COUNTER_WRAP else 1
        return self.id_prefix + str(n)


# ---------------------------------------------------------------- encoding
# Our own small encoder: dict keys are written sorted and non-ASCII text as raw UTF-8
# (not \uXXXX: MicroPython's json does not join surrogate pairs when reading), so
# CPython and MicroPython (whose dicts do not keep insertion order and whose json has
# no sort_keys/ensure_ascii) produce byte-identical frames. What cannot be encoded (a bug of
# the caller: every payload this firmware builds is JSON) raises with the offending value as its
# argument and no prose (a text held ~70 B of RAM for ever in each raise).

def _frame(obj, out=None):
    """The text of obj (a frame as a list: type, id, ..., payload or details): compact JSON, no
    spaces, sorted keys, non-ASCII as raw UTF-8. Written into one growing buffer, out (given: obj
    is a value of the frame, written into it; one function, not two: one name fewer for ever): a
    list of the pieces (one heap object each) needed several times the frame's size, and failed
    first near the heap's limit. Refused (ValueError): an id that is not a string of 1..36 chars,
    a CALL's action that is not a non-empty string, a CALLERROR's code that is not one of OCPP 1.6
    (never send a code a 1.6 CSMS cannot know, e.g. 2.0's FormatViolation)."""
    if out is None:  # the whole frame
        m = obj[0]
        if not valid_id(obj[1]) or m == _CALL and not (type(obj[2]) is str and obj[2]) \
                or m == _CALLERROR and obj[2] not in _ERROR_CODES.split():
            raise ValueError(obj[:3])   # not sent: id, action or code
        if type(obj[-1]) is not dict:
            raise TypeError(obj[-1])    # not sent: the payload (details) is no object
        out = io.StringIO()
        _frame(obj, out)
        return out.getvalue()
    t = type(obj)
    if t is dict or t is list or t is tuple:
        d = t is dict
        out.write("{" if d else "[")
        sep = ""
        for v in (sorted(obj) if d else obj):
            out.write(sep)
            sep = ","
            if d:
                if type(v) is not str:
                    raise TypeError(v)   # an object key that is not a string
                _frame(v, out)
                out.write(":")
                v = obj[v]
            _frame(v, out)
        out.write("}" if d else "]")
    elif t is str and len(obj) != len(obj.encode()):  # not ASCII (ASCII: both runtimes' json.dumps agree)
        out.write('"')
        for ch in obj:
            out.write(json.dumps(ch)[1:-1] if ord(ch) < 0x80 else ch)
        out.write('"')
    elif obj is None or t is str or t is bool or t is int or t is float:
        out.write(json.dumps(obj))
    else:
        raise TypeError(t)   # no JSON form


def encode_call(msg_id, action, payload):
    return _frame([_CALL, msg_id, action, payload])


def encode_result(msg_id, payload):
    return _frame([_CALLRESULT, msg_id, payload])


def encode_error(msg_id, code, description="", data=None):
    """data: the errorDetails object (None: {})."""
    return _frame([_CALLERROR, msg_id, code, description[:_MAX_DESCRIPTION_LEN], data if data is not None else {}])


# ---------------------------------------------------------------- parsing
# What is refused, with which code and whether it is answered: ocpp16/badframe.py, which
# names the failure once parse found one (a good frame never loads it).

def valid_id(x):
    return type(x) is str and 0 < len(x) <= _MAX_ID_LEN


def parse(text):
    """One OCPP-J frame (str or bytes) -> tuple:
    (CALL, id, action, payload) | (CALLRESULT, id, payload) |
    (CALLERROR, id, code, description, details). Raises RpcError (see its doc)."""
    msg = err = None
    try:
        if len(text) <= _MAX_FRAME_CHARS:
            if type(text) is not str:
                text = bytes(text).decode("utf-8")
            if text.count("{") + text.count("[") <= MAX_CONTAINERS:
                msg = json.loads(text)
    except Exception as e:  # not UTF-8, not JSON (RecursionError on CPython), out of heap
        err = e
    if type(msg) is list and msg and type(msg[0]) is int and _CALL <= msg[0] <= _CALLERROR \
            and len(msg) == _ELEMENTS[msg[0] - _CALL] and valid_id(msg[1]) and type(msg[-1]) is dict \
            and (msg[0] == _CALLRESULT or type(msg[2]) is str and type(msg[-2]) is str):
        return tuple(msg)
    raise refused("parse", text, msg, err, _MAX_FRAME_CHARS)


def refused(fn, *args):
    """ocpp16.badframe.<fn>(*args): the RpcError naming why a frame is refused, with the module
    loaded for the call: "parse" (text, msg, err, the frame's size limit) for parse(), "too_large" (head, size) for a
    frame the WebSocket layer read to its end without keeping it (head its first bytes: the id
    of a CALL is read from them; size its length). Out of heap for it, the frame is refused all
    the same (not answered: whether it was a CALL is not known)."""
    try:
        return getattr(profiles.load(_BADFRAME), fn)(*args)
    except Exception:  # ImportError, MemoryError
        return RpcError("InternalError", "frame refused (no heap to say why)", None, False)
    finally:
        profiles.unload(_BADFRAME)
