# Why a frame is refused: the RpcError (code, id, whether to answer) for a frame that
# rpc.parse could not accept, and for one the WebSocket read to its end without keeping it;
# the description of a payload ocpp16.schema refuses (why()). Imported by rpc and schema for
# the call and unloaded after it (a good frame never needs it). No I/O.
#
# Frame-level failures (payload failures: see the table in ocpp16/schema.py):
#   longer than rpc's limit, more than MAX_CONTAINERS        FormationViolation
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
# a CALL but its id cannot be read, the answer carries rpc.UNKNOWN_ID ("-1": OCPP-J 1.6
# names no id for this case; "-1" is the customary one and no CALL of a sane CSMS
# uses it) so the CSMS still sees the refusal in its log.
# Known runtime difference: MicroPython's json accepts some malformed JSON (trailing
# commas, missing commas/colons, non-string keys) that CPython refuses; such frames
# then meet the same structural checks, so codes can differ only for those frames.
from compat import const
from ocpp16 import rpc
from ocpp16.rpc import FormationViolation, InternalError, PropertyConstraintViolation, ProtocolError
from ocpp16.schema import RpcError

_HEADER_PEEK = const(64)  # chars scanned to recover type and id from an unparseable frame
_WS = const(" \t\r\n")    # JSON whitespace
_NAMES = const(("CALL", "CALLRESULT", "CALLERROR"))  # by type number - 2
_NAME_IN_ERROR = const(40)  # chars of a CSMS-chosen name (unknown action or field) quoted in a description
_CALL = const(2)  # OCPP-J 1.6 section 4.1.3 (rpc's own is private too: no name on the device)


def why(n, path, arg):
    """The errorDescription of ocpp16.schema's refusal n (its _NOT_OBJECT, ... numbers; the
    code is schema's) of the field at path: "<path>: <why>". arg: the limit of _LONGER,
    (object, spec) for _NOT_ALLOWED (the field the spec does not name goes in the path); n 12
    and 13 (schema_core's): the action (arg) is unknown, or none of our CALLs is answered so."""
    if n >= 12:
        return ("unknown action %s", "no answer is expected to %s")[n - 12] % str(arg)[:_NAME_IN_ERROR]
    if n == 2:   # _NOT_ALLOWED
        obj, spec = arg
        names = [f[1:].split("=")[0] for f in spec.split()]
        for k in obj:
            if k not in names:
                path += str(k)[:_NAME_IN_ERROR]
                break
    return "payload is not an object" if n == 0 else path + ": " + (
        "required field missing", "field not allowed here", "longer than %s", "not an RFC 3339 dateTime",
        "value not allowed", "string expected", "integer expected", "number expected", "boolean expected",
        "object expected", "array expected")[n - 1].replace("%s", str(arg))


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
                if head[:1] == '"' and j > 0 and "\\" not in head[1:j] and rpc.valid_id(head[1:j]):
                    msg_id = head[1:j]
    # answered only when it is (or may be) a CALL: a broken CALLRESULT or CALLERROR is not,
    # an unknown type number is ignored (4.1.3)
    return RpcError(code, why, msg_id, mtype is None or mtype == _CALL)


def too_large(head, size):
    """rpc.refused("too_large", ...): head is the frame's first bytes (the id of a CALL is read from them)."""
    n = 0
    while n < len(head) and head[n] < 128:  # ASCII only: the head may end inside a character
        n += 1
    return _unparseable(bytes(head[:n]).decode(), FormationViolation, "frame too large (%d bytes)" % size)


def parse(text, msg, err, max_chars):
    """The RpcError for a frame rpc.parse refused: text as it came (str or bytes; decoded when
    that worked), msg what json.loads made of it (None when it did not run or failed), err
    what it raised, max_chars rpc's limit of a frame's length (_MAX_FRAME_CHARS)."""
    if len(text) > max_chars:
        if type(text) is not str:
            text = bytes(text[:_HEADER_PEEK]).decode("utf-8", "ignore")
        return _unparseable(text, FormationViolation, "frame longer than %d" % max_chars)
    if type(text) is not str:
        try:
            text = bytes(text).decode("utf-8")
        except (UnicodeError, ValueError, TypeError):
            return RpcError(FormationViolation, "frame is not UTF-8 text")
    if text.count("{") + text.count("[") > rpc.MAX_CONTAINERS:
        # 64 KB of "{}," would be ~22000 dicts: far more heap than an ESP32 has
        return _unparseable(text, FormationViolation, "more than %d objects and arrays" % rpc.MAX_CONTAINERS)
    if isinstance(err, MemoryError):
        return _unparseable(text, InternalError, "frame too big to parse in free memory")
    if err is not None:  # ValueError; RuntimeError: CPython's RecursionError on deep nesting
        return _unparseable(text, FormationViolation, "frame is not JSON")
    if type(msg) is not list:
        return RpcError(FormationViolation, "frame is not a JSON array")
    n = len(msg)
    if n == 0:
        return RpcError(ProtocolError, "frame has no message type")
    mtype = msg[0]
    msg_id = msg[1] if n > 1 and rpc.valid_id(msg[1]) else None
    if type(mtype) is not int:
        return RpcError(FormationViolation, "message type is not an integer", msg_id)
    k = mtype - _CALL  # 0 CALL, 1 CALLRESULT, 2 CALLERROR
    if not 0 <= k <= 2:
        return RpcError(PropertyConstraintViolation, "unknown message type %d" % mtype, msg_id, False)
    answer = k == 0
    if n < 2:
        return RpcError(ProtocolError, "frame has no message id", None, answer)
    if type(msg[1]) is not str:
        return RpcError(FormationViolation, "message id is not a string", None, answer)
    if msg_id is None:
        return RpcError(FormationViolation, "message id length not in 1..36", None, answer)  # OCPP-J's bound
    want = (4, 3, 5)[k]
    if n != want:
        return RpcError(ProtocolError if n < want else FormationViolation,
                        "%s has %d elements, needs %d" % (_NAMES[k], n, want), msg_id, answer)
    for i in range(2, n - 1):  # the action of a CALL; code and description of a CALLERROR
        if type(msg[i]) is not str:
            return RpcError(FormationViolation, "action is not a string" if answer
                            else "error code and description must be strings", msg_id, answer)
    # only the last element is left: not an object, else parse would have taken the frame
    return RpcError(FormationViolation, "error details is not an object" if k == 2
                    else "payload is not an object", msg_id, answer)
