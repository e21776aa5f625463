# OCPP-J 1.6 framing: CALL / CALLRESULT / CALLERROR text <-> tuples, message ids,
# error codes, and the entry points of the compact payload checks (ocpp16.schema).
# No I/O and no clock here: text in, tuples out (and back); the caller owns the socket.
import io
import json

# Message type numbers (OCPP-J 1.6 section 4.1.3).
CALL = 2
CALLRESULT = 3
CALLERROR = 4

# CALLERROR codes (OCPP-J 1.6 section 4.2.3), spelled exactly as the spec spells them.
NotImplemented = "NotImplemented"  # action not known by the receiver
NotSupported = "NotSupported"      # action known but not supported by the receiver
InternalError = "InternalError"    # the receiver failed while processing the action
ProtocolError = "ProtocolError"    # payload (here also: the frame) is incomplete
SecurityError = "SecurityError"    # a security issue stopped the action
FormationViolation = "FormationViolation"  # syntactically incorrect / not the PDU structure
PropertyConstraintViolation = "PropertyConstraintViolation"  # a field holds an invalid value
OccurenceConstraintViolation = "OccurenceConstraintViolation"  # a field occurs too few/many times
TypeConstraintViolation = "TypeConstraintViolation"  # a field has the wrong data type
GenericError = "GenericError"      # anything else
ERROR_CODES = (NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError,
               FormationViolation, PropertyConstraintViolation, OccurenceConstraintViolation,
               TypeConstraintViolation, GenericError)

# Bounds checked before json.loads runs (a board may lower them at start-up):
MAX_FRAME_CHARS = 65536     # second line of defence after the websocket's own limit
MAX_CONTAINERS = 512        # '{' + '[' chars in a frame (strings included): bounds the heap json needs;
                            # 512 small dicts ~ 35 KB on an ESP32; a SendLocalList of ~250 entries fits
MAX_ID_LEN = 36             # OCPP-J: a message id is a string of at most 36 characters
MAX_DESCRIPTION_LEN = 255   # errorDescription is cut to this on the way out (OCPP 2.x bound, kept here too)
UNKNOWN_ID = "-1"           # id of the CALLERROR answering a CALL whose id could not be read
ID_COUNTER_WRAP = 1000000000  # MessageIds counts 1..999999999, then starts again at 1
_HEADER_PEEK = 64           # chars scanned to recover type and id from an unparseable frame


class RpcError(Exception):
    """A frame or payload the receiver must refuse.

    code: one of ERROR_CODES. description: short text for errorDescription.
    msg_id: the frame's id when it could be recovered, else None.
    answer: True when the spec wants a CALLERROR sent back (the frame was, or may
    have been, a CALL); send it with msg_id, or UNKNOWN_ID when msg_id is None.
    False for broken CALLRESULT/CALLERROR frames (a CALLERROR only ever answers a
    CALL; the caller fails its pending call if msg_id matches) and for unknown
    message type numbers, which OCPP-J 1.6 section 4.1.3 says to ignore."""

    def __init__(self, code, description="", msg_id=None, answer=True):
        super().__init__(code, description)
        self.code = code
        self.description = description
        self.msg_id = msg_id
        self.answer = answer

    def __str__(self):
        return "%s: %s" % (self.code, self.description)


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
        if type(prefix) is not str or len(prefix) + len(str(ID_COUNTER_WRAP - 1)) > MAX_ID_LEN:
            raise ValueError("id prefix must be a string of at most %d chars"
                             % (MAX_ID_LEN - len(str(ID_COUNTER_WRAP - 1))))
        if type(seed) is not int or not 1 <= seed < ID_COUNTER_WRAP:
            raise ValueError("id seed must be an int in 1..%d" % (ID_COUNTER_WRAP - 1))
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

def _string(s, out):
    if len(s) == len(s.encode()):  # ASCII: both runtimes' json.dumps agree
        out.write(json.dumps(s))
        return
    parts = ['"']
    for ch in s:
        parts.append(json.dumps(ch)[1:-1] if ord(ch) < 0x80 else ch)
    parts.append('"')
    out.write("".join(parts))


def _dump(obj, out):
    t = type(obj)
    if t is str:
        _string(obj, out)
    elif t is dict:
        out.write("{")
        first = True
        for k in sorted(obj):
            if type(k) is not str:
                raise TypeError("JSON object keys must be strings")
            if not first:
                out.write(",")
            first = False
            _string(k, out)
            out.write(":")
            _dump(obj[k], out)
        out.write("}")
    elif t is list or t is tuple:
        out.write("[")
        first = True
        for v in obj:
            if not first:
                out.write(",")
            first = False
            _dump(v, out)
        out.write("]")
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


def _check_id(msg_id):
    if type(msg_id) is not str or not 0 < len(msg_id) <= MAX_ID_LEN:
        raise ValueError("message id must be a string of 1..%d chars" % MAX_ID_LEN)


def _check_payload(payload):
    if type(payload) is not dict:
        raise TypeError("OCPP payload must be a dict")


def encode_call(msg_id, action, payload):
    _check_id(msg_id)
    if type(action) is not str or not action:
        raise ValueError("action must be a non-empty string")
    _check_payload(payload)
    return dumps([CALL, msg_id, action, payload])


def encode_result(msg_id, payload):
    _check_id(msg_id)
    _check_payload(payload)
    return dumps([CALLRESULT, msg_id, payload])


def encode_error(msg_id, code, description="", details=None):
    _check_id(msg_id)
    if code not in ERROR_CODES:  # never send a code a 1.6 CSMS cannot know (e.g. 2.0's FormatViolation)
        raise ValueError("not an OCPP 1.6 error code: %r" % (code,))
    if len(description) > MAX_DESCRIPTION_LEN:
        description = description[:MAX_DESCRIPTION_LEN]
    return dumps([CALLERROR, msg_id, code, description, details if details is not None else {}])


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

def _valid_id(x):
    return type(x) is str and 0 < len(x) <= MAX_ID_LEN


def _peek_header(text):
    """(type, id) read from the start of a frame that json cannot parse
    (truncated, too large, broken further on); None where unreadable."""
    head = text[:_HEADER_PEEK]
    i = 0
    n = len(head)

    def skip(i):
        while i < n and head[i] in " \t\r\n":
            i += 1
        return i

    i = skip(i)
    if i >= n or head[i] != "[":
        return None, None
    i = skip(i + 1)
    j = i
    while j < n and "0" <= head[j] <= "9":
        j += 1
    if j == i or j - i > 3:
        return None, None
    mtype = int(head[i:j])
    i = skip(j)
    if i >= n or head[i] != ",":
        return mtype, None
    i = skip(i + 1)
    if i >= n or head[i] != '"':
        return mtype, None
    j = head.find('"', i + 1)
    if j < 0:
        return mtype, None
    msg_id = head[i + 1:j]
    if "\\" in msg_id or not _valid_id(msg_id):
        return mtype, None
    return mtype, msg_id


def _unparseable(text, code, why):
    mtype, msg_id = _peek_header(text)
    if mtype == CALLRESULT or mtype == CALLERROR:
        return RpcError(code, why, msg_id, False)
    if mtype is not None and mtype != CALL:  # unknown type number: ignored (4.1.3)
        return RpcError(code, why, msg_id, False)
    return RpcError(code, why, msg_id if mtype == CALL else None)


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
    if mtype == CALL:
        return _call(msg, n, msg_id)
    if mtype == CALLRESULT:
        return _result(msg, n, msg_id)
    if mtype == CALLERROR:
        return _error(msg, n, msg_id)
    raise RpcError(PropertyConstraintViolation, "unknown message type %d" % mtype, msg_id, False)


def _frame_id(msg, n, answer):
    if n < 2:
        raise RpcError(ProtocolError, "frame has no message id", None, answer)
    x = msg[1]
    if type(x) is not str:
        raise RpcError(FormationViolation, "message id is not a string", None, answer)
    if not _valid_id(x):
        raise RpcError(FormationViolation, "message id length not in 1..%d" % MAX_ID_LEN, None, answer)
    return x


def _count(n, want, what, msg_id, answer):
    if n < want:
        raise RpcError(ProtocolError, "%s has %d elements, needs %d" % (what, n, want), msg_id, answer)
    if n > want:
        raise RpcError(FormationViolation, "%s has %d elements, needs %d" % (what, n, want), msg_id, answer)


def _call(msg, n, msg_id):
    msg_id = _frame_id(msg, n, True)
    _count(n, 4, "CALL", msg_id, True)
    action = msg[2]
    if type(action) is not str:
        raise RpcError(FormationViolation, "action is not a string", msg_id)
    payload = msg[3]
    if type(payload) is not dict:
        raise RpcError(FormationViolation, "payload is not an object", msg_id)
    return (CALL, msg_id, action, payload)


def _result(msg, n, msg_id):
    msg_id = _frame_id(msg, n, False)
    _count(n, 3, "CALLRESULT", msg_id, False)
    if type(msg[2]) is not dict:
        raise RpcError(FormationViolation, "payload is not an object", msg_id, False)
    return (CALLRESULT, msg_id, msg[2])


def _error(msg, n, msg_id):
    msg_id = _frame_id(msg, n, False)
    _count(n, 5, "CALLERROR", msg_id, False)
    # Any string is taken as the code: some servers send 2.0 names (FormatViolation).
    if type(msg[2]) is not str or type(msg[3]) is not str:
        raise RpcError(FormationViolation, "error code and description must be strings", msg_id, False)
    if type(msg[4]) is not dict:
        raise RpcError(FormationViolation, "error details is not an object", msg_id, False)
    return (CALLERROR, msg_id, msg[2], msg[3], msg[4])


# ---------------------------------------------------------------- payload checks

def validate_call(action, payload, supported=None):
    """Check a CSMS->CP request. Raises RpcError: NotImplemented for an action this
    firmware does not know, NotSupported when `supported` (a collection of feature
    profile names and/or action names; None = all) holds neither the action nor its
    profile, else the constraint codes listed in ocpp16/schema.py."""
    from ocpp16 import schema
    try:
        schema.check_call(action, payload, supported)
    finally:
        _drop_profile_tables()


def validate_result(action, payload):
    """Check the CSMS's CALLRESULT payload for our CALL `action`. Raises RpcError;
    the caller treats it as a failed delivery of that CALL."""
    from ocpp16 import schema  # resident: every answer to our CALLs is checked
    try:
        schema.check_result(action, payload)
    except (ImportError, MemoryError) as e:  # a profile's tables failed to load: not delivered, retried
        raise RpcError(InternalError, "schema of %s not loaded: %r" % (action, e))
    finally:
        _drop_profile_tables()


def _drop_profile_tables():
    """The per-profile tables (ocpp16/schema_<profile>.py) are loaded per check: unload them."""
    import sys
    from ocpp16 import profiles
    for name in [m for m in sys.modules if m.startswith("ocpp16.schema_")]:
        profiles.unload(name)
