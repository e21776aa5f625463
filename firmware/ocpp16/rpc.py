# OCPP-J 1.6 framing: CALL / CALLRESULT / CALLERROR text <-> tuples, message ids. The error
# codes and RpcError live in ocpp16.callerror, the payload checks in ocpp16.schema; both are
# named here too (rpc.RpcError, rpc.validate_call), where the charge point looks for them.
# No I/O and no clock here: text in, tuples out (and back); the caller owns the socket.
import io
import json

from ocpp16.callerror import (ERROR_CODES, FormationViolation, GenericError, InternalError, NotImplemented,
                              NotSupported, OccurenceConstraintViolation, PropertyConstraintViolation,
                              ProtocolError, RpcError, SecurityError, TypeConstraintViolation)
from ocpp16.schema import validate_call, validate_result

# Message type numbers (OCPP-J 1.6 section 4.1.3).
CALL = 2
CALLRESULT = 3
CALLERROR = 4
_NAMES = ("CALL", "CALLRESULT", "CALLERROR")  # by type number - 2; its element count: _ELEMENTS
_ELEMENTS = (4, 3, 5)

# Bounds checked before json.loads runs (a board may lower them at start-up):
MAX_FRAME_CHARS = 65536     # second line of defence after the websocket's own limit
MAX_CONTAINERS = 512        # '{' + '[' chars in a frame (strings included): bounds the heap json needs;
                            # 512 small dicts ~ 35 KB on an ESP32; a SendLocalList of ~250 entries fits
MAX_ID_LEN = 36             # OCPP-J: a message id is a string of at most 36 characters
MAX_DESCRIPTION_LEN = 255   # errorDescription is cut to this on the way out (OCPP 2.x bound, kept here too)
UNKNOWN_ID = "-1"           # id of the CALLERROR answering a CALL whose id could not be read
ID_COUNTER_WRAP = 1000000000  # MessageIds counts 1..999999999, then starts again at 1
_HEADER_PEEK = 64           # chars scanned to recover type and id from an unparseable frame


def reply_for(err):
    """The CALLERROR text that answers `err` (an RpcError), or None when nothing must be sent."""
    if not err.answer:
        return None
    return encode_error(err.msg_id if err.msg_id is not None else UNKNOWN_ID, err.code, err.description)


class MessageIds:
    """Ids for our CALLs: prefix + a counter ("1", "2", ...), so a scenario gives the
    same transcript on every runtime. Ids must be unique per sender on one connection
    (OCPP-J, "message ID"); use a prefix (e.g. the boot count) to keep them unique across reboots."""

    def __init__(self, prefix="", seed=1):
        room = MAX_ID_LEN - len(str(ID_COUNTER_WRAP - 1))  # what the counter leaves for the prefix
        if not (type(prefix) is str and len(prefix) <= room and type(seed) is int and 1 <= seed < ID_COUNTER_WRAP):
            raise ValueError("id prefix: a string of at most %d chars; seed: an int in 1..%d"
                             % (room, ID_COUNTER_WRAP - 1))
        self.prefix = prefix
        self.counter = seed

    def next(self):
        n = self.counter
        self.counter = n + 1 if n + 1 < ID_COUNTER_WRAP else 1
        return self.prefix + str(n)


# ---------------------------------------------------------------- encoding
# Our own small encoder: dict keys are written sorted and non-ASCII text as raw UTF-8
# (not \uXXXX: MicroPython's json does not join surrogate pairs when reading), so
# CPython and MicroPython (whose dicts do not keep insertion order and whose json has
# no sort_keys/ensure_ascii) produce byte-identical frames.

def _dump(obj, out):
    t = type(obj)
    if t is str:
        if len(obj) == len(obj.encode()):  # ASCII: both runtimes' json.dumps agree
            out.write(json.dumps(obj))
            return
        out.write('"')
        for ch in obj:
            out.write(json.dumps(ch)[1:-1] if ord(ch) < 0x80 else ch)
        out.write('"')
    elif t is dict or t is list or t is tuple:
        d = t is dict
        out.write("{" if d else "[")
        sep = ""
        for v in (sorted(obj) if d else obj):
            out.write(sep)
            sep = ","
            if d:
                if type(v) is not str:
                    raise TypeError("JSON object keys must be strings")
                _dump(v, out)
                out.write(":")
                v = obj[v]
            _dump(v, out)
        out.write("}" if d else "]")
    elif obj is None or t is bool or t is int or t is float:
        out.write(json.dumps(obj))
    else:
        raise TypeError("cannot encode %s as JSON" % t)


def dumps(obj):
    """Compact JSON of obj: no spaces, sorted keys, non-ASCII as raw UTF-8. Written into one
    growing buffer: a list of the pieces (one heap object each) needed several times the
    frame's size, and failed first near the heap's limit."""
    out = io.StringIO()
    _dump(obj, out)
    return out.getvalue()


def _frame(msg):
    """The text of msg (a frame as a list: type, id, ..., payload or details)."""
    if not _valid_id(msg[1]):
        raise ValueError("message id must be a string of 1..%d chars" % MAX_ID_LEN)
    if type(msg[-1]) is not dict:
        raise TypeError("OCPP payload must be a dict")
    return dumps(msg)


def encode_call(msg_id, action, payload):
    if type(action) is not str or not action:
        raise ValueError("action must be a non-empty string")
    return _frame([CALL, msg_id, action, payload])


def encode_result(msg_id, payload):
    return _frame([CALLRESULT, msg_id, payload])


def encode_error(msg_id, code, description="", details=None):
    if code not in ERROR_CODES:  # never send a code a 1.6 CSMS cannot know (e.g. 2.0's FormatViolation)
        raise ValueError("not an OCPP 1.6 error code: %r" % (code,))
    return _frame([CALLERROR, msg_id, code, description[:MAX_DESCRIPTION_LEN],
                   details if details is not None else {}])


# ---------------------------------------------------------------- parsing
# Frame-level failures (payload failures: see the table in ocpp16/schema.py):
#   longer than MAX_FRAME_CHARS, more than MAX_CONTAINERS   FormationViolation
#   not JSON (also: not UTF-8, nested past CPython's limit)  FormationViolation
#   json.loads out of heap                                  InternalError
#   not an array; type not an int; id not a string or not   FormationViolation
#     1..36 chars; action not a string; payload, details
#     not objects; code/description not strings; too many
#     elements                                              FormationViolation
#   empty array or too few elements ("incomplete")          ProtocolError
#   unknown message type number                             PropertyConstraintViolation, answer=False
# Who gets an answer: a CALLERROR only ever answers a CALL. A broken CALLRESULT or
# CALLERROR is not answered (msg_id still set, so the caller can fail its pending
# call); an unknown type number is ignored (OCPP-J 1.6 4.1.3). When the frame may be
# a CALL but its id cannot be read, the answer carries UNKNOWN_ID ("-1": OCPP-J 1.6
# names no id for this case; "-1" is the customary one and no CALL of a sane CSMS
# uses it) so the CSMS still sees the refusal in its log.
# Known runtime difference: MicroPython's json accepts some malformed JSON (trailing
# commas, missing commas/colons, non-string keys) that CPython refuses; such frames
# then meet the same structural checks, so codes can differ only for those frames.

_WS = " \t\r\n"  # JSON whitespace


def _valid_id(x):
    return type(x) is str and 0 < len(x) <= MAX_ID_LEN


def _unparseable(text, code, why):
    """The RpcError for a frame json cannot parse (truncated, too large, broken further on),
    with the type and id read from the frame's start where they are readable."""
    mtype = msg_id = None
    head = text[:_HEADER_PEEK].lstrip(_WS)
    if head[:1] == "[":
        head = head[1:].lstrip(_WS)
        j = 0
        while j < len(head) and "0" <= head[j] <= "9":
            j += 1
        if 0 < j <= 3:
            mtype = int(head[:j])
            head = head[j:].lstrip(_WS)
            if head[:1] == ",":
                head = head[1:].lstrip(_WS)
                j = head.find('"', 1)
                if head[:1] == '"' and j > 0 and "\\" not in head[1:j] and _valid_id(head[1:j]):
                    msg_id = head[1:j]
    # answered only when it is (or may be) a CALL: a broken CALLRESULT or CALLERROR is not,
    # an unknown type number is ignored (4.1.3)
    return RpcError(code, why, msg_id, mtype is None or mtype == CALL)


def too_large(head, size):
    """The RpcError for a frame the WebSocket layer read to its end without keeping it:
    head is its first bytes (the id of a CALL is read from them), size its length."""
    n = 0
    while n < len(head) and head[n] < 128:  # ASCII only: the head may end inside a character
        n += 1
    return _unparseable(bytes(head[:n]).decode(), FormationViolation, "frame too large (%d bytes)" % size)


def parse(text):
    """One OCPP-J frame (str or bytes) -> tuple:
    (CALL, id, action, payload) | (CALLRESULT, id, payload) |
    (CALLERROR, id, code, description, details). Raises RpcError (see its doc)."""
    if len(text) > MAX_FRAME_CHARS:
        if type(text) is not str:
            text = bytes(text[:_HEADER_PEEK]).decode("utf-8", "ignore")
        raise _unparseable(text, FormationViolation, "frame longer than %d" % MAX_FRAME_CHARS)
    if type(text) is not str:
        try:
            text = bytes(text).decode("utf-8")
        except (UnicodeError, ValueError, TypeError):
            raise RpcError(FormationViolation, "frame is not UTF-8 text")
    if text.count("{") + text.count("[") > MAX_CONTAINERS:
        # 64 KB of "{}," would be ~22000 dicts: far more heap than an ESP32 has
        raise _unparseable(text, FormationViolation, "more than %d objects and arrays" % MAX_CONTAINERS)
    try:
        msg = json.loads(text)
    except MemoryError:
        raise _unparseable(text, InternalError, "frame too big to parse in free memory")
    except (ValueError, RuntimeError):  # RuntimeError: CPython's RecursionError on deep nesting
        raise _unparseable(text, FormationViolation, "frame is not JSON")
    if type(msg) is not list:
        raise RpcError(FormationViolation, "frame is not a JSON array")
    n = len(msg)
    if n == 0:
        raise RpcError(ProtocolError, "frame has no message type")
    mtype = msg[0]
    msg_id = msg[1] if n > 1 and _valid_id(msg[1]) else None
    if type(mtype) is not int:
        raise RpcError(FormationViolation, "message type is not an integer", msg_id)
    if not CALL <= mtype <= CALLERROR:
        raise RpcError(PropertyConstraintViolation, "unknown message type %d" % mtype, msg_id, False)
    answer = mtype == CALL
    if n < 2:
        raise RpcError(ProtocolError, "frame has no message id", None, answer)
    if type(msg[1]) is not str:
        raise RpcError(FormationViolation, "message id is not a string", None, answer)
    if msg_id is None:
        raise RpcError(FormationViolation, "message id length not in 1..%d" % MAX_ID_LEN, None, answer)
    want = _ELEMENTS[mtype - CALL]
    if n != want:
        raise RpcError(ProtocolError if n < want else FormationViolation,
                       "%s has %d elements, needs %d" % (_NAMES[mtype - CALL], n, want), msg_id, answer)
    for i in range(2, n - 1):  # the action of a CALL; code and description of a CALLERROR
        if type(msg[i]) is not str:
            raise RpcError(FormationViolation, "action is not a string" if answer
                           else "error code and description must be strings", msg_id, answer)
    if type(msg[-1]) is not dict:
        raise RpcError(FormationViolation, "error details is not an object" if mtype == CALLERROR
                       else "payload is not an object", msg_id, answer)
    return tuple(msg)
